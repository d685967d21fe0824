#!/usr/bin/env bash
# bench/store.sh [BUILD_DIR] - the store's per-request bookkeeping: ledger
# insert + budget check on a 100k-row ledger, cache lookups on 10k entries,
# spool append, spool read+delete throughput, one request's bookkeeping
# together, against a bare SQLite INSERT (the floor). Prints a markdown table.
#
# Builds nothing: runs BUILD_DIR/bench/bench_store (default build/; `make bench`
# makes it). The database goes to a fresh directory under BUILD_DIR (a disk,
# unlike a tmpfs /tmp on some machines), removed afterwards.
#
# Environment: STORE_BENCH_ROWS (ledger rows, default 100000),
# STORE_BENCH_ENTRIES (cache entries, default 10000), STORE_BENCH_ITERS
# (timed operations per figure, default 3000).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bin=$build/bench/bench_store
if [ ! -x "$bin" ]; then
  echo "store.sh: $bin not found: build it (make bench) or pass the build dir" >&2
  exit 2
fi
data=$(mktemp -d "$build/bench-store.XXXXXX")
trap 'rm -rf "$data"' EXIT
echo "SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo '?'), file system of $build: $(df -T "$build" | awk 'NR==2 {print $2}')"
echo
"$bin" "$data/db" "${STORE_BENCH_ROWS:-100000}" "${STORE_BENCH_ENTRIES:-10000}" "${STORE_BENCH_ITERS:-3000}" |
  grep -v '^RESULT'
