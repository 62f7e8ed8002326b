#!/usr/bin/env bash
# Fails when gen/ is not what protoc-c makes from proto/ today
# (fix: cmake --build build --target gen, then commit gen/).
set -euo pipefail
protoc_c=${1:-protoc-c}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$top/proto" && "$protoc_c" -I. --c_out="$tmp" notification/v1/notification.proto grpc/health/v1/health.proto \
  grpc/reflection/v1/reflection.proto)
if ! diff -ru "$tmp" "$top/gen"; then
  echo "gen/ is stale: run 'cmake --build build --target gen' and commit gen/" >&2
  exit 1
fi
echo "gen/ is up to date"
