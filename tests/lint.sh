#!/usr/bin/env bash
# Static checks: the proto passes buf's STANDARD lint and format and only grows, the C
# sources follow .clang-format, clang-tidy finds nothing (.clang-tidy), and
# no module of src/ includes another that includes it back.
# Usage: tests/lint.sh proto|format|tidy|cycles [build dir, for tidy: default build]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case "${1:-all}" in
proto)
  buf=node_modules/.bin/buf
  [ -x "$buf" ] || { echo "buf missing: run scripts/deps.sh test" >&2; exit 1; }
  (cd proto && "../$buf" lint && "../$buf" format --exit-code -d --path notification)
  echo "proto: buf lint and format clean"
  # The contract only grows (buf breaking, FILE rules of proto/buf.yaml): the work tree
  # against HEAD, and every commit that changed the proto against its parent
  if git rev-parse -q --verify HEAD >/dev/null 2>&1; then
    "$buf" breaking proto --against ".git#ref=HEAD,subdir=proto"
    n=0
    for c in $(git log --format=%H -- proto/notification); do
      git rev-parse -q --verify "$c~1" >/dev/null || continue # the first version
      "$buf" breaking ".git#ref=$c,subdir=proto" --against ".git#ref=$(git rev-parse "$c~1"),subdir=proto"
      n=$((n + 1))
    done
    echo "proto: no breaking change in the work tree or in $n commits"
  else
    echo "proto: not a git checkout: buf breaking has no history to compare with"
  fi
  ;;
cycles)
  python3 tests/include_cycles.py "$top"
  ;;
format)
  files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'fuzz/*.c' 'bench/*.c' 2>/dev/null || true)
  [ -n "$files" ] || files=$(find src tests -name '*.[ch]')
  clang-format --dry-run -Werror $files
  echo "format: clean"
  ;;
tidy)
  # the flags of each file come from the CMake build's compile_commands.json
  build=${2:-build}
  command -v clang-tidy >/dev/null || { echo "clang-tidy missing: run scripts/deps.sh test" >&2; exit 1; }
  [ -f "$build/compile_commands.json" ] || {
    echo "tidy: no $build/compile_commands.json: configure $build with cmake first" >&2
    exit 1
  }
  files=$(git ls-files 'src/*.c' 2>/dev/null || true)
  [ -n "$files" ] || files=$(find src -name '*.c')
  # one file per run, two at a time; a file's findings are printed together
  # shellcheck disable=SC2016
  if ! printf '%s\n' "$files" | xargs -P2 -n1 sh -c \
    'out=$(clang-tidy -p "$0" --quiet "$1" 2>&1) || { printf "%s\n" "$out" | grep -v " generated\.$"; exit 1; }' "$build"; then
    echo "tidy: findings above (a false positive: // NOLINT(check-name): why)" >&2
    exit 1
  fi
  echo "tidy: clean"
  ;;
esac
