#!/bin/sh
# scripts/lint.sh (make lint) - static analysis of the C in src/, tests/,
# fuzz/ and bench/ with cppcheck (Debian package cppcheck): the warning and
# portability checks, with jansson's header read so its iteration macros
# parse (tests/js, npm's packages, is left out). Prints each finding as
# file:line:column: severity: message [id] and exits 1 when there is one.
# tests/e2e/lint.sh runs it as part of the suite.
set -eu
cd "$(dirname "$0")/.."
command -v cppcheck >/dev/null 2>&1 || { echo "lint: needs cppcheck (scripts/install-deps --test)" >&2; exit 2; }
jansson=$(echo '#include <jansson.h>' | cpp -H -o /dev/null 2>&1 | sed -n 's/^\. //p' | head -1)
[ -n "$jansson" ] || { echo "lint: jansson.h not found (libjansson-dev)" >&2; exit 2; }
dirs=
for d in src tests fuzz bench; do [ -d "$d" ] && dirs="$dirs $d"; done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cppcheck --quiet --error-exitcode=0 --enable=warning,portability --std=c11 --inline-suppr \
  -j"$(nproc 2>/dev/null || echo 2)" -I src --include="$jansson" \
  -i tests/js --template='{file}:{line}:{column}: {severity}: {message} [{id}]' $dirs 2>"$out"
if [ -s "$out" ]; then
  awk 1 "$out"
  echo "lint: $(grep -c ': \(error\|warning\|portability\|style\|performance\): ' "$out") finding(s)" >&2
  exit 1
fi
echo "lint: cppcheck $(cppcheck --version | sed 's/^Cppcheck //') found nothing in$dirs"
