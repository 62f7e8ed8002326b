#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60) on a copy of its corpus, two at a time. A crash
# fails the run and leaves the input in build-fuzz/crashes/: add it to
# fuzz/corpus/<target>/ so every build replays it from then on.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
command -v clang-14 >/dev/null || { echo "fuzz: clang-14 is missing (scripts/deps.sh test)" >&2; exit 1; }
CC=clang-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DNOTIFYD_FUZZ=ON -DNOTIFYD_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p build-fuzz/crashes
run_one() {
  t=$1
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$t/." "$work/"
  if build-fuzz/fuzz_"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="build-fuzz/crashes/${t}-" -print_final_stats=1 "$work" \
       >"build-fuzz/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$t.log" | grep -o '[0-9]*$') runs in ${secs}s, no crash"
    rm -rf "$work"
  else
    echo "fuzz $t: FAILED -- see build-fuzz/$t.log"; tail -30 "build-fuzz/$t.log"; rm -rf "$work"; return 1
  fi
}
export -f run_one
export secs
for f in fuzz/fuzz_*.c; do t=${f#fuzz/fuzz_}; echo "${t%.c}"; done | xargs -P 2 -I{} bash -c 'run_one {}'
