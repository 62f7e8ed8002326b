#!/usr/bin/env bash
# Installs what is missing (and what the README's Python example needs),
# builds notifyd and runs it on its embedded default (gRPC :50051,
# WebSocket/HTTP :8080, data in ./data). Extra arguments go to notifyd, e.g.
# scripts/run.sh --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target notifyd
exec ./build/notifyd "$@"
