#!/usr/bin/env bash
# bench/gateway_cpu.sh [BUILD_DIR] - where the CPU of a closed-loop call goes:
# the same wrk load (InvokeModel, CONNS connections, each sending again at
# once) straight to `brock emulate`, straight to it again with the request
# SigV4-signed as the gateway signs what it forwards ("signed": AWS's
# JavaScript signer, bench/gateway_sign.mjs, once per run, so the emulator
# verifies a signature on every call as it does behind the gateway; left out
# without node and tests/js's packages), through build/bench/bench_relay (a
# byte-copying hop that reads no HTTP) and through `brock serve`, and for
# each the CPU per call (utime + stime from /proc over the run / calls) of
# wrk, the emulator, the relay, and each named thread of the gateway (its
# loop on the main thread, brock-books for the ledger and audit event).
# ROUNDS rounds (default 3) of DURATION seconds (default 5), interleaved;
# medians. Loopback only; every run bounded by -d and a timeout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
brock=$build/brock
relay_bin=$build/bench/bench_relay
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50 500}
[ -x "$brock" ] && [ -x "$relay_bin" ] || { echo "build first: make bench (needs $brock and $relay_bin)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (Debian package wrk: scripts/install-deps --test)"; exit 1; }

. "$top/bench/gateway_lib.sh"
bench_setup cpu
printf '{"keys": [{"ApiKey": "%s", "Arn": "arn:aws:iam::123456789012:user/bench"}]}\n' "$emu_key" >"$tmp/emu-keys.json"
"$brock" emulate --port 0 --keys "$tmp/emu-keys.json" >"$tmp/emu" 2>"$tmp/emu.err" &
emu_pid=$!; pids+=("$emu_pid")
emu=$(wait_url "$tmp/emu" "$emu_pid")
"$relay_bin" "$emu" >"$tmp/relay" 2>"$tmp/relay.err" &
relay_pid=$!; pids+=("$relay_pid")
relay=$(wait_url "$tmp/relay" "$relay_pid")
"$brock" serve --port 0 --endpoint-url "$emu" --max-per-client 512 --max-rpm-per-client 0 --key "$gw_key=bench/gateway" >"$tmp/gw" 2>"$tmp/gw.err" &
gw_pid=$!; pids+=("$gw_pid")
gw=$(wait_url "$tmp/gw" "$gw_pid")
case "$emu$relay$gw" in *127.0.0.1*127.0.0.1*127.0.0.1*) ;; *) echo "not on loopback" >&2; exit 1 ;; esac

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "$1"; } # utime + stime of a /proc/.../stat
# "name ticks" for the emulator, the relay and each gateway thread (by name)
snap() {
  echo "emulator $(ticks /proc/$emu_pid/stat)"
  echo "relay $(ticks /proc/$relay_pid/stat)"
  for t in /proc/"$gw_pid"/task/*; do echo "gateway:$(tr ' ' _ <"$t/comm") $(ticks "$t/stat")"; done |
    awk '{s[$1] += $2} END {for (k in s) print k, s[k]}'
}
one() { # label url token conns [headers file] -> "label calls/s p99 name=us ..." (one line)
  snap | sort >"$tmp/a"
  GW_TOKEN=$3 GW_BODY=$body GW_HEADERS_FILE=${5:-} /usr/bin/time -f "%U %S" -o "$tmp/time" \
    timeout $((DURATION + 30)) wrk -s "$top/bench/gateway.lua" --latency -t 2 -c "$4" -d "${DURATION}s" --timeout 10s \
    "$2/model/$model/invoke" >"$tmp/wrk.out" 2>&1 || :
  sleep 1 # the gateway's books write what the run left queued
  snap | sort >"$tmp/b"
  local json n
  json=$(sed -n 's/^json //p' "$tmp/wrk.out")
  n=$(echo "$json" | sed -n 's/.*"requests": *\([0-9]*\).*/\1/p')
  [ -n "$n" ] && [ "$n" -gt 0 ] || { echo "wrk failed: $(tail -3 "$tmp/wrk.out")" >&2; exit 1; }
  case "$json" in *'"errors": 0,'*) ;; *) echo "$1: calls failed (a 403 here is a bad signature): $json" >&2; exit 1 ;; esac
  read -r u s <"$tmp/time"
  printf '%s %s %s wrk=%s' "$1" "$(echo "$json" | sed -n 's/.*"rps": *\([0-9.]*\).*/\1/p')" \
    "$(echo "$json" | sed -n 's/.*"p99_ms": *\([0-9.]*\).*/\1/p')" "$(awk -v t="$u $s" -v n="$n" 'BEGIN {split(t, a, " "); printf "%.1f", (a[1] + a[2]) * 1e6 / n}')"
  join "$tmp/a" "$tmp/b" | awk -v n="$n" -v hz="$hz" '{printf " %s=%.1f", $1, ($3 - $2) * 1e6 / hz / n}'
  echo
}
col() { # label key -> the median of key=VALUE over that label's lines
  grep "^$1 " "$tmp/runs" | tr ' ' '\n' | sed -n "s/^$2=//p" | median
}

echo "gateway CPU per call: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ); ROUNDS=$ROUNDS, ${DURATION} s per run, closed-loop InvokeModel"
echo
echo "| connections | path | calls/s | p99 (ms) | wrk µs/call | emulator µs/call | relay µs/call | gateway loop µs/call | gateway books µs/call |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
paths="direct relay gateway"
signed=false
if command -v node >/dev/null && [ -d "$top/tests/js/node_modules/@smithy/signature-v4" ]; then
  signed=true paths="direct signed relay gateway"
fi
for c in $CONNS; do
  : >"$tmp/runs"
  for _ in $(seq 1 "$ROUNDS"); do
    one direct "$emu" "$emu_key" "$c" >>"$tmp/runs"
    if $signed; then
      node "$top/bench/gateway_sign.mjs" "$emu/model/$model/invoke" "$body" >"$tmp/sig"
      one signed "$emu" "" "$c" "$tmp/sig" >>"$tmp/runs"
    fi
    one relay "$relay" "$emu_key" "$c" >>"$tmp/runs"
    one gateway "$gw" "$gw_key" "$c" >>"$tmp/runs"
  done
  for p in $paths; do
    rps=$(grep "^$p " "$tmp/runs" | awk '{print $2}' | median)
    p99=$(grep "^$p " "$tmp/runs" | awk '{print $3}' | median)
    printf '| %d | %s | %.0f | %.3f | %s | %s | %s | %s | %s |\n' "$c" "$p" "$rps" "$p99" "$(col "$p" wrk)" \
      "$(col "$p" emulator)" "$(col "$p" relay)" "$(col "$p" gateway:brock)" "$(col "$p" gateway:brock-books)"
  done
done
