#!/usr/bin/env bash
# Installs what notifyd needs from Debian 12 (and npm for the test tooling),
# skipping what is already there. Usage: scripts/deps.sh build|run|test
#   build: compile notifyd; run: also what the README's Python example needs;
#   test: everything the test command uses
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-build}

build_pkgs=(gcc make cmake pkg-config ca-certificates
  libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libwebsockets-dev libjwt-dev
  libjansson-dev libssl-dev uthash-dev libcmocka-dev libsqlite3-dev
  libhiredis-dev libev-dev)
# examples/python/send_notification.py: gRPC and the stub generator
example_pkgs=(python3 python3-grpcio python3-grpc-tools)
test_pkgs=(python3 python3-grpcio python3-grpc-tools python3-websockets python3-pytest
  python3-jwt python3-cryptography openssl clang-format clang-tidy curl prometheus clang-14 libclang-rt-14-dev yamllint redis-server
  chromium protobuf-compiler protobuf-compiler-grpc python3-pip python3-setuptools python3-wheel)

pkgs=("${build_pkgs[@]}")
[ "$what" = run ] && pkgs+=("${example_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${example_pkgs[@]}" "${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$what" = test ]; then
  if ! command -v npm >/dev/null; then
    # a machine that already has Node (>= 18) keeps it; Debian's nodejs/npm otherwise
    "${sudo[@]}" apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "deps: npm ci (test tooling)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  fi
fi
