#!/usr/bin/env bash
# Installs what is missing, builds notifyd three times -- plain (-Werror),
# with AddressSanitizer + UndefinedBehaviorSanitizer, and with
# ThreadSanitizer -- and runs every test (unit, generated-code freshness,
# proto lint, format, clang-tidy, fuzz corpus replay, end to end, browser,
# clients) on the first (clang-tidy only there), the same on the second and
# the unit and end-to-end suites on the third, then fuzzes each
# libFuzzer target for FUZZ_SECONDS. Every notifyd the end-to-end tests start
# runs with 2 WebSocket threads in the plain and ThreadSanitizer builds and
# with 1 in the ASan build (ND_TEST_WS_THREADS; a test may set its own).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

jobs=$(nproc)
status=0
# ThreadSanitizer: races inside gRPC and abseil (not built with it) are left
# out by tests/tsan.supp; any report in notifyd's own code fails the test
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=0 second_deadlock_stack=1 atexit_sleep_ms=0"
for variant in build build-asan build-tsan; do
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  select=()
  [ "$variant" = build-asan ] && flags=(-DCMAKE_BUILD_TYPE=Debug -DNOTIFYD_SANITIZE=ON)
  [ "$variant" = build-tsan ] && flags+=(-DNOTIFYD_TSAN=ON) && select=(-R '^(unit|e2e)_')
  echo "== $variant: configure and build"
  cmake -S . -B "$variant" "${flags[@]}" >/dev/null
  cmake --build "$variant" -j"$jobs" >/dev/null
  # the end-to-end suite with 2 WebSocket threads (plain, ThreadSanitizer) and with 1 (ASan)
  threads=2
  [ "$variant" = build-asan ] && threads=1
  echo "== $variant: tests (NOTIFYD_WS_THREADS=$threads)"
  if ! (cd "$variant" && ND_TEST_WS_THREADS=$threads ctest -j"$jobs" "${select[@]}" --output-on-failure --timeout 900); then
    status=1
  fi
done
echo "== fuzzing (${FUZZ_SECONDS:=30} s per target)"
export FUZZ_SECONDS
tests/fuzz.sh || status=1
[ $status -eq 0 ] && echo "== all tests passed" || echo "== some tests FAILED"
exit $status
