#!/usr/bin/env bash
# bench/version.sh [BUILD_DIR] - `brock --version` against `curl --version`:
# median wall time and median peak RSS over N runs each, interleaved in the same
# run, measured by bench_launch (posix_spawn, so the launcher's memory is not
# folded into the child's ru_maxrss). Prints a markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
n=${RUNS:-200}
launch=$build/bench/bench_launch
[ -x "$launch" ] || { echo "version.sh: $launch not built (make bench)" >&2; exit 2; }
get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
b_w=() b_r=() c_w=() c_r=()
for round in 1 2 3; do
  b=$("$launch" "$n" "$build/brock" --version); c=$("$launch" "$n" curl --version)
  b_w+=("$(get median_wall_us "$b")"); b_r+=("$(get median_maxrss_kb "$b")")
  c_w+=("$(get median_wall_us "$c")"); c_r+=("$(get median_maxrss_kb "$c")")
done
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
bw=$(med "${b_w[@]}") br=$(med "${b_r[@]}") cw=$(med "${c_w[@]}") cr=$(med "${c_r[@]}")
echo "| command | median wall (µs) | median peak RSS (KiB) |"
echo "|---|---:|---:|"
echo "| brock --version | $bw | $br |"
echo "| curl --version | $cw | $cr |"
awk -v bw="$bw" -v cw="$cw" -v br="$br" -v cr="$cr" \
  'BEGIN { printf "| ratio brock/curl | %.2f× | %.2f× |\n", bw / cw, br / cr }'
