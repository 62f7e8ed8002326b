#!/usr/bin/env bash
# Installs what is missing, builds notifyd twice -- plain (-Werror) and with
# AddressSanitizer + UndefinedBehaviorSanitizer -- and runs every test
# (unit, generated-code freshness, proto lint, format, fuzz corpus replay,
# end to end) on both, clang-tidy on the plain one, then fuzzes each
# libFuzzer target for FUZZ_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

jobs=$(nproc)
status=0
for variant in build build-asan; do
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$variant" = build-asan ] && flags=(-DCMAKE_BUILD_TYPE=Debug -DNOTIFYD_SANITIZE=ON)
  echo "== $variant: configure and build"
  cmake -S . -B "$variant" "${flags[@]}" >/dev/null
  cmake --build "$variant" -j"$jobs" >/dev/null
  echo "== $variant: tests"
  if ! (cd "$variant" && ctest -j"$jobs" --output-on-failure --timeout 900); then
    status=1
  fi
done
echo "== fuzzing (${FUZZ_SECONDS:=45} s per target)"
export FUZZ_SECONDS
tests/fuzz.sh || status=1
[ $status -eq 0 ] && echo "== all tests passed" || echo "== some tests FAILED"
exit $status
