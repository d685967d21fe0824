#!/usr/bin/env bash
# bench/print.sh [BUILD_DIR] - `brock -p` against the emulator, beside the same
# prompt through the AWS SDK for JavaScript (InvokeModelWithResponseStream), in
# the same run. For each: median process wall time and median peak RSS over
# RUNS runs (bench_launch: posix_spawn + wait4), and brock's overhead = its
# wall time minus the emulator's own handling time for those requests (from
# the emulator's debug log). Loopback only. Prints a markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
runs=${RUNS:-50}
launch=$build/bench/bench_launch
brock=$build/brock
[ -x "$launch" ] && [ -x "$brock" ] || { echo "print.sh: build first (make)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brock-print-bench.XXXXXX")
"$brock" emulate --port 0 --debug >"$tmp/emu.out" 2>"$tmp/emu.log" &
emu=$!
trap 'kill $emu 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do url=$(sed -n '1s/^listening on //p' "$tmp/emu.out" 2>/dev/null); [ -n "$url" ] && break; sleep 0.05; done
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_ENDPOINT_URL=$url AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true
prompt="Explain what a TLS session ticket is in one paragraph."
get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
: >"$tmp/emu.log"
b=$("$launch" "$runs" "$brock" -p "$prompt")
server_ms=$(grep -ao 'invoke-with-response-stream HTTP/1.1 -> 200, [0-9]* bytes, [0-9.]* ms' "$tmp/emu.log" \
  | awk '{print $(NF-1)}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
j=$(NODE_NO_WARNINGS=1 "$launch" "$((runs / 5 > 5 ? runs / 5 : 5))" node "$top/bench/print_peer.mjs" "$url" "$prompt")
bw=$(get median_wall_us "$b") br=$(get median_maxrss_kb "$b") jw=$(get median_wall_us "$j") jr=$(get median_maxrss_kb "$j")
bc=$(get median_cpu_us "$b") jc=$(get median_cpu_us "$j")
echo "| command | median wall (ms) | median CPU (ms) | median peak RSS (MiB) |"
echo "|---|---:|---:|---:|"
awk -v w="$bw" -v c="$bc" -v r="$br" 'BEGIN { printf "| brock -p (InvokeModelWithResponseStream) | %.1f | %.1f | %.1f |\n", w / 1000, c / 1000, r / 1024 }'
awk -v w="$jw" -v c="$jc" -v r="$jr" 'BEGIN { printf "| AWS SDK for JavaScript, same call (node) | %.1f | %.1f | %.1f |\n", w / 1000, c / 1000, r / 1024 }'
awk -v w="$bw" -v s="$server_ms" -v jw="$jw" -v br="$br" -v jr="$jr" 'BEGIN {
  printf "\nemulator handling time per request (median): %.1f ms\n", s
  printf "brock overhead (wall - emulator time): %.1f ms (target <= 10 ms); peak RSS %.1f MiB (target <= 15 MiB)\n", w / 1000 - s, br / 1024
  printf "brock is %.1fx faster and uses %.1fx less memory than the SDK process\n", jw / w, jr / br }'
