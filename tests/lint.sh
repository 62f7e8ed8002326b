#!/usr/bin/env bash
# Static checks: the proto passes buf's STANDARD lint and format, and the C
# sources follow .clang-format.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case "${1:-all}" in
proto)
  buf=node_modules/.bin/buf
  [ -x "$buf" ] || { echo "buf missing: run scripts/deps.sh test" >&2; exit 1; }
  (cd proto && "../$buf" lint && "../$buf" format --exit-code -d --path notification)
  echo "proto: buf lint and format clean"
  ;;
format)
  files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'fuzz/*.c' 'bench/*.c' 2>/dev/null || true)
  [ -n "$files" ] || files=$(find src tests -name '*.[ch]')
  clang-format --dry-run -Werror $files
  echo "format: clean"
  ;;
esac
