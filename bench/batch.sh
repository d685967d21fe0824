#!/usr/bin/env bash
# bench/batch.sh [BUILD_DIR] - `brock batch` against the emulator, beside the AWS
# SDK for JavaScript with a promise pool of the same size on the same emulator
# and input (bench/batch_peer.mjs). 10,000 short records, concurrency 64;
# the emulator runs in its own process, so its work is not counted. For each:
# records/s, CPU per record (user + system from wait4 / records) and peak RSS,
# medians of RUNS runs (bench_batch). brock is measured with its usage ledger
# (one SQLite row per record, committed in groups of 64: the default) and
# without a store, to show what the ledger costs. Loopback only. Prints a
# markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
runs=${RUNS:-5}
records=${RECORDS:-10000}
conc=${CONCURRENCY:-64}
launch=$build/bench/bench_batch
brock=$build/brock
[ -x "$launch" ] && [ -x "$brock" ] || { echo "batch.sh: build first (make)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brock-batch-bench.XXXXXX")
"$brock" emulate --port 0 >"$tmp/emu.out" 2>"$tmp/emu.err" &
emu=$!
trap 'kill $emu 2>/dev/null; rm -rf "$tmp"' EXIT
url=
for _ in $(seq 100); do url=$(sed -n '1s/^listening on //p' "$tmp/emu.out"); [ -n "$url" ] && break; sleep 0.05; done
[ -n "$url" ] || { echo "batch.sh: the emulator did not start" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_ENDPOINT_URL=$url AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true NODE_NO_WARNINGS=1
model=us.anthropic.claude-haiku-4-5-20251001-v1:0
python3 -c "
for i in range($records): print('{\"id\": \"r%d\", \"prompt\": \"Say hello to record %d\"}' % (i, i))" >"$tmp/in.jsonl"
get() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
row() { # label result
  awk -v l="$1" -v rps="$(get records_per_s "$2")" -v c="$(get cpu_us_per_record "$2")" -v r="$(get median_maxrss_kb "$2")" \
      -v w="$(get median_wall_us "$2")" \
    'BEGIN { printf "| %s | %.0f | %.2f | %.1f | %.1f |\n", l, rps, w / 1e6, c, r / 1024 }'
}
# interleaved: ledger, no store, peer, and again
b=() n=() j=()
for _ in 1 2; do
  b+=("$(BROCK_DATA_DIR=$tmp/data "$launch" "$runs" "$records" "$brock" batch "$tmp/in.jsonl" -o "$tmp/out.jsonl" \
        --restart --concurrency "$conc" --model "$model")")
  n+=("$(BROCK_DATA_DIR=/proc/nonexistent "$launch" "$runs" "$records" "$brock" batch "$tmp/in.jsonl" -o "$tmp/out2.jsonl" \
        --restart --concurrency "$conc" --model "$model")")
  j+=("$("$launch" "$(( runs > 2 ? runs / 2 : 1 ))" "$records" node "$top/bench/batch_peer.mjs" "$tmp/in.jsonl" \
        "$tmp/peer.jsonl" "$conc" "$model")")
done
# the second round is the one reported (warm page cache, JIT, the emulator's allocations)
echo "| $records records, concurrency $conc | records/s | wall (s) | CPU per record (µs) | peak RSS (MiB) |"
echo "|---|---:|---:|---:|---:|"
row "brock batch (usage ledger: a SQLite row per record, 64 per commit)" "${b[1]}"
row "brock batch without a store (no ledger, no cache)" "${n[1]}"
row "AWS SDK for JavaScript, promise pool of $conc (node)" "${j[1]}"
[ "$(wc -l <"$tmp/out.jsonl")" -eq "$records" ] && [ "$(wc -l <"$tmp/peer.jsonl")" -eq "$records" ] ||
  { echo "batch.sh: an output is incomplete" >&2; exit 1; }
awk -v b="$(get cpu_us_per_record "${b[1]}")" -v n="$(get cpu_us_per_record "${n[1]}")" -v j="$(get cpu_us_per_record "${j[1]}")" \
    -v br="$(get median_maxrss_kb "${b[1]}")" 'BEGIN {
  printf "\ntargets: CPU <= 50 us per record (%s with the ledger, %s without), RSS <= 50 MiB (%s)\n",
         b <= 50 ? "met" : "NOT met", n <= 50 ? "met" : "not met", br / 1024 <= 50 ? "met" : "NOT met"
  printf "brock uses %.0fx less CPU per record than the SDK (%.0fx without the ledger)\n", j / b, j / n }'
