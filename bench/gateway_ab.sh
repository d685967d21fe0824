#!/usr/bin/env bash
# bench/gateway_ab.sh BUILD_A BUILD_B - the paced tail of two gateway builds
# side by side: one `brock emulate` (BUILD_B's), a `brock serve` from each
# build in front of it, and the same paced wrk load (CONNS connections, each
# waiting a random 0..2 x DELAY ms after an answer; defaults 50 and 25 ms,
# about 2,000 calls/s) sent direct, to A and to B in turn, ROUNDS times
# (default 6) for DURATION seconds (default 5). Prints one line a run
# ("direct|A|B calls/s p50_ms p99_ms") and the medians. For telling a
# change from a noisy host: both builds see the same host at the same time.
# Loopback only; every run bounded by -d and a timeout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] && [ -x "$1/brock" ] && [ -x "$2/brock" ] || { echo "usage: $0 BUILD_A BUILD_B (each with a built brock)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (Debian package wrk: scripts/install-deps --test)"; exit 1; }
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
DELAY=${DELAY:-25}
OP=${OP:-invoke}

. "$top/bench/gateway_lib.sh"
bench_setup ab
printf '{"keys": [{"ApiKey": "%s", "Arn": "arn:aws:iam::123456789012:user/bench"}]}\n' "$emu_key" >"$tmp/emu-keys.json"
"$2/brock" emulate --port 0 --keys "$tmp/emu-keys.json" >"$tmp/emu" 2>"$tmp/emu.err" &
pids+=($!); emu=$(wait_url "$tmp/emu" $!)
for side in a b; do
  build=$1; [ $side = b ] && build=$2
  BROCK_DATA_DIR=$tmp/data-$side "$build/brock" serve --port 0 --endpoint-url "$emu" --max-per-client 512 \
    --max-rpm-per-client 0 --key "$gw_key=bench/$side" >"$tmp/g$side" 2>"$tmp/g$side.err" &
  pids+=($!); eval "g$side=\$(wait_url \"\$tmp/g$side\" \$!)"
done
case "$emu$ga$gb" in *127.0.0.1*127.0.0.1*127.0.0.1*) ;; *) echo "not on loopback" >&2; exit 1 ;; esac

run() { # url token -> "calls/s p50 p99"
  GW_TOKEN=$2 GW_BODY=$body GW_DELAY_MS=$DELAY timeout $((DURATION + 30)) \
    wrk -s "$top/bench/gateway.lua" --latency -t 2 -c "$CONNS" -d "${DURATION}s" --timeout 10s "$1/model/$model/$OP" 2>&1 |
    sed -n 's/^json //p' | sed 's/.*"rps": *\([0-9.]*\).*"p50_ms": *\([0-9.]*\).*"p99_ms": *\([0-9.]*\).*/\1 \2 \3/'
}
for _ in $(seq 1 "$ROUNDS"); do
  echo "direct $(run "$emu" "$emu_key")" | tee -a "$tmp/all"
  echo "A $(run "$ga" "$gw_key")" | tee -a "$tmp/all"
  echo "B $(run "$gb" "$gw_key")" | tee -a "$tmp/all"
done
for w in direct A B; do
  printf '%s: median calls/s %s, p50 %s ms, p99 %s ms\n' "$w" \
    "$(awk -v w=$w '$1 == w {print $2}' "$tmp/all" | median)" \
    "$(awk -v w=$w '$1 == w {print $3}' "$tmp/all" | median)" \
    "$(awk -v w=$w '$1 == w {print $4}' "$tmp/all" | median)"
done
