#!/usr/bin/env bash
# bench/gateway.sh [BUILD_DIR] - what `brock serve` adds, with `brock emulate`
# (another process) as its upstream, on loopback. Load: wrk (Debian's `wrk`)
# with bench/gateway.lua (the POST, its headers and body; one JSON line of
# results).
#
# For InvokeModel (non-streamed) and InvokeModelWithResponseStream at 1, 50
# and 500 concurrent keep-alive connections, the same wrk load goes straight
# to the emulator and through the gateway, interleaved ROUNDS times; the
# tables give the medians over the rounds, the added latency is gateway minus
# direct (p50 and p99 of the medians). These closed loops saturate the
# machine from 50 connections on (wrk, the emulator and the gateway share its
# cores), so there the difference is mostly queueing; a second table runs 50
# and 500 connections that each wait a random time between answers (wrk's
# delay() hook; mean connections / PACED_RATE s, so about PACED_RATE req/s
# in all), a bounded rate that leaves CPU idle, and shows the added latency
# per request without the queue. Then cached answers per
# second (a deterministic request answered from the gateway's memory tier)
# and the gateway's RSS while 500 streams are open (the emulator holds them:
# a scenario delays the events; /_gateway/health says when all are open).
# The gateway's CPU per request (its utime + stime over the run / requests)
# is the figure the machine's other load moves least. Last, on a machine
# of 2 cores or more, the paced table again with the gateway alone on CPU 1
# and wrk and the emulator on CPU 0 (taskset; the direct runs pinned the
# same way): what the gateway adds when it does not also take CPU from its
# own clients and upstream. Where this user may use SCHED_FIFO, the shared
# paced table runs once more with a second gateway started with --realtime.
# Then a busy machine: 2 busy loops per core (killed after the table) and a
# paced BUSY_RATE (500) calls/s, direct and through the gateway, with the
# maximum latency too.
#
# The closed loops also go through build/bench/bench_relay (make bench), a
# TCP relay that copies bytes both ways and reads no HTTP: what one more hop
# on loopback adds when it costs almost no CPU, the floor under any gateway.
# And straight to the emulator with the request SigV4-signed once per run by
# AWS's JavaScript signer (bench/gateway_sign.mjs; needs node and tests/js's
# packages): the emulator then verifies a signature on every call, as it does
# for every call the gateway forwards (the gateway re-signs with its own
# credentials), so that column is what the upstream's own extra work adds
# with no gateway at all.
#
# Every run is bounded: -d SECONDS (DURATION, default 5), -c connections,
# -t 1 or 2 threads. Targets (issue 7): <= 1 ms added p99, >= 10,000 cached
# answers/s, <= 100 MB at 500 streams.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
brock=$build/brock
lua=$top/bench/gateway.lua
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
PACED_RATE=${PACED_RATE:-2000}
[ -x "$brock" ] || { echo "build first: make (needs $brock)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (Debian package wrk: scripts/install-deps --test)"; exit 1; }
command -v curl >/dev/null || { echo "needs curl"; exit 1; }

. "$top/bench/gateway_lib.sh"
bench_setup gw
printf '{"keys": [{"ApiKey": "%s", "Arn": "arn:aws:iam::123456789012:user/bench"}]}\n' "$emu_key" >"$tmp/emu-keys.json"
cat >"$tmp/scenario.json" <<'JSON'
{"rules": [{"match": {"contains": "hold this stream open"},
            "response": {"text": "a b c d e f g h i j", "event_delay_ms": 3000}}]}
JSON

"$brock" emulate --port 0 --keys "$tmp/emu-keys.json" --scenario "$tmp/scenario.json" >"$tmp/emu" 2>"$tmp/emu.err" &
emu_pid=$!
pids+=("$emu_pid")
emu=$(wait_url "$tmp/emu" "$emu_pid")
# One key sends all of wrk's load (up to 500 connections, and 500 open
# streams for the RSS reading): it may hold every upstream slot here, and
# send without a limit of requests a minute.
"$brock" serve --port 0 --endpoint-url "$emu" --max-per-client 512 --max-rpm-per-client 0 --key "$gw_key=bench/gateway" >"$tmp/gw" 2>"$tmp/gw.err" &
gw_pid=$!
pids+=("$gw_pid")
gw=$(wait_url "$tmp/gw" "$gw_pid")
# The relay, when built: the same hop as the gateway with none of its work.
relay=
if [ -x "$build/bench/bench_relay" ]; then
  "$build/bench/bench_relay" "$emu" >"$tmp/relay" 2>"$tmp/relay.err" &
  relay_pid=$!
  pids+=("$relay_pid")
  relay=$(wait_url "$tmp/relay" "$relay_pid")
fi
case "$emu$gw" in *127.0.0.1*127.0.0.1*) ;; *) echo "not on loopback: $emu $gw" >&2; exit 1 ;; esac

cached='{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"temperature":0,"messages":[{"role":"user","content":"a cached answer"}]}'
hold='{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"hold this stream open"}]}'

run() { # url token op body conns [seconds [delay_ms]] -> one JSON line
  local t=$(( $5 > 1 ? 2 : 1 ))
  GW_TOKEN=$2 GW_BODY=$4 GW_DELAY_MS=${7:-0} GW_HEADERS_FILE=${HDRS:-} \
    timeout $(( ${6:-$DURATION} + 30 )) $WRK_PIN wrk -s "$lua" --latency -t "$t" -c "$5" -d "${6:-$DURATION}s" --timeout 10s \
    "$1/model/$model/$3" >"$tmp/wrk.out" 2>&1 || :
  sed -n 's/^json //p' "$tmp/wrk.out" | grep . || { echo "wrk failed: $(tail -3 "$tmp/wrk.out")" >&2; echo '{}'; }
}
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime
hz=$(getconf CLK_TCK)
WRK_PIN= # "taskset -c 0" while the pinned table runs
run_gw() { # like run, through the gateway, adding "cpu_us": the gateway's CPU per request
  local t0 t1 out
  t0=$(cpu_ticks "$gw_pid")
  out=$(run "$gw" "$gw_key" "$@")
  t1=$(cpu_ticks "$gw_pid")
  local us
  us=$(echo "$out" | field requests | awk -v d=$((t1 - t0)) -v hz="$hz" '{printf "%.1f", $1 ? d * 1e6 / hz / $1 : 0}')
  echo "${out%\}}, \"cpu_us\": ${us:-0}}"
}
sum() { awk '{s+=$1} END {print s+0}'; }

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
health() { curl -s --max-time 2 "$gw/_gateway/health" || :; }
hold_rss() { # label
  local before during threads hold_pid streaming=0
  before=$(rss "$gw_pid")
  GW_TOKEN=$gw_key GW_BODY=$hold timeout 60 wrk -s "$lua" -t 2 -c 500 -d 8s --timeout 30s \
    "$gw/model/$model/invoke-with-response-stream" >"$tmp/hold" 2>&1 &
  hold_pid=$!
  for _ in $(seq 1 60); do
    streaming=$(health | field streaming)
    [ "${streaming:-0}" -ge 500 ] && break
    sleep 0.1
  done
  sleep 1
  during=$(rss "$gw_pid")
  threads=$(awk '/Threads/ {print $2}' "/proc/$gw_pid/status")
  streaming=$(health | field streaming)
  wait "$hold_pid" || :
  echo "RSS with 500 open streams ($1): $((during / 1024)) MiB ($during KiB; $((before / 1024)) MiB before;" \
    "$threads threads; ${streaming:-?} streams open at the reading)"
  sleep 1 # the gateway cancels the 500 upstream calls wrk left
}

table() { # paced_ms conns... (reads op from the caller)
  local delay=$1 c
  shift
  for c in "$@"; do
    : >"$tmp/d"; : >"$tmp/g"; : >"$tmp/r"; : >"$tmp/s"
    for _ in $(seq 1 "$ROUNDS"); do
      run "$emu" "$emu_key" "$op" "$body" "$c" "$DURATION" "$delay" >>"$tmp/d"
      if [ -n "$SIGNED_COLS" ]; then
        node "$top/bench/gateway_sign.mjs" "$emu/model/$model/$op" "$body" >"$tmp/sig"
        HDRS=$tmp/sig run "$emu" "" "$op" "$body" "$c" "$DURATION" "$delay" >>"$tmp/s"
      fi
      [ -z "$RELAY_COLS" ] || run "$relay" "$emu_key" "$op" "$body" "$c" "$DURATION" "$delay" >>"$tmp/r"
      run_gw "$op" "$body" "$c" "$DURATION" "$delay" >>"$tmp/g"
    done
    d50=$(field p50_ms <"$tmp/d" | median); d99=$(field p99_ms <"$tmp/d" | median)
    g50=$(field p50_ms <"$tmp/g" | median); g99=$(field p99_ms <"$tmp/g" | median)
    drps=$(field rps <"$tmp/d" | median); grps=$(field rps <"$tmp/g" | median)
    cpu=$(field cpu_us <"$tmp/g" | median)
    errs=$(cat "$tmp/d" "$tmp/g" "$tmp/r" "$tmp/s" | field errors | sum)
    signed_cells=
    if [ -n "$SIGNED_COLS" ]; then
      s50=$(field p50_ms <"$tmp/s" | median); s99=$(field p99_ms <"$tmp/s" | median)
      signed_cells=$(printf ' %.3f / %.3f | %.0f |' "$(echo "$s50 - $d50" | bc -l)" "$(echo "$s99 - $d99" | bc -l)" \
        "$(field rps <"$tmp/s" | median)")
    fi
    relay_cells=
    if [ -n "$RELAY_COLS" ]; then
      r50=$(field p50_ms <"$tmp/r" | median); r99=$(field p99_ms <"$tmp/r" | median)
      relay_cells=$(printf ' %.3f / %.3f | %.0f |' "$(echo "$r50 - $d50" | bc -l)" "$(echo "$r99 - $d99" | bc -l)" \
        "$(field rps <"$tmp/r" | median)")
    fi
    printf '| %s | %d | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %.0f | %.0f | %.0f |%s%s%s\n' "$op" "$c" "$d50" "$d99" \
      "$g50" "$g99" "$(echo "$g50 - $d50" | bc -l)" "$(echo "$g99 - $d99" | bc -l)" "$drps" "$grps" "$cpu" \
      "$relay_cells" "$signed_cells" "$([ "$errs" = 0 ] || echo " $errs errors")"
  done
}

echo "gateway benchmark: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ); ROUNDS=$ROUNDS, ${DURATION} s per run"
echo
hold_rss "a fresh gateway"
echo
echo "Closed loop (each connection sends again as soon as its answer is complete):"
echo
RELAY_COLS= SIGNED_COLS=
header() {
  echo "| call | connections | direct p50 / p99 (ms) | via gateway p50 / p99 (ms) | added p50 / p99 (ms) | direct req/s | gateway req/s | gateway CPU µs/req |${RELAY_COLS:+ relay added p50 / p99 (ms) | relay req/s |}${SIGNED_COLS:+ signed direct added p50 / p99 (ms) | signed req/s |}"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|${RELAY_COLS:+---:|---:|}${SIGNED_COLS:+---:|---:|}"
}
[ -n "$relay" ] && RELAY_COLS=1 || echo "(no build/bench/bench_relay: make bench adds the relay's columns)"
if command -v node >/dev/null && [ -d "$top/tests/js/node_modules/@smithy/signature-v4" ]; then
  SIGNED_COLS=1
else
  echo "(no node or tests/js packages: scripts/install-deps --test and npm ci in tests/js add the signed columns)"
fi
header
for op in invoke invoke-with-response-stream; do table 0 1 50 500; done
RELAY_COLS= SIGNED_COLS=
echo
echo "Paced (each connection waits a random 0..2 x connections / $PACED_RATE s after an answer: about $PACED_RATE req/s offered in all):"
echo
paced_tables() { # both calls at 50 and 500 paced connections, with the header
  header
  for op in invoke invoke-with-response-stream; do
    for c in 50 500; do table $((c * 1000 / PACED_RATE)) "$c"; done
  done
}
paced_tables

# The same with `brock serve --realtime` (the event loop at SCHED_FIFO 1),
# where this user may do that: a second gateway, the cores still shared.
if chrt -f 1 true 2>/dev/null; then
  "$brock" serve --port 0 --realtime --endpoint-url "$emu" --max-per-client 512 --max-rpm-per-client 0 --key "$gw_key=bench/gateway" >"$tmp/gwrt" 2>"$tmp/gwrt.err" &
  rt_pid=$!
  pids+=("$rt_pid")
  rt=$(wait_url "$tmp/gwrt" "$rt_pid")
  if curl -s "$rt/_gateway/health" | grep -q '"realtime":true'; then
    echo
    echo "Paced, \`brock serve --realtime\` (the event loop at SCHED_FIFO 1; the cores shared as above):"
    echo
    keep_gw=$gw keep_pid=$gw_pid
    gw=$rt gw_pid=$rt_pid
    paced_tables
    gw=$keep_gw gw_pid=$keep_pid
  fi
  kill "$rt_pid" 2>/dev/null || :
  wait "$rt_pid" 2>/dev/null || :
fi

echo
run "$gw" "$gw_key" invoke "$cached" 1 1 >/dev/null # fill the cache
: >"$tmp/c"
for _ in $(seq 1 "$ROUNDS"); do run_gw invoke "$cached" 50 >>"$tmp/c"; done
echo "cached answers (50 connections, memory tier): $(field rps <"$tmp/c" | median) answers/s," \
  "p50 $(field p50_ms <"$tmp/c" | median) ms, p99 $(field p99_ms <"$tmp/c" | median) ms," \
  "gateway CPU $(field cpu_us <"$tmp/c" | median) µs/answer, $(field errors <"$tmp/c" | sum) errors"
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  # The tables above share every core among wrk, the emulator and the
  # gateway, so the gateway's CPU also slows its own clients and upstream,
  # which a deployment (clients and Bedrock elsewhere) does not see. Here
  # the gateway has CPU 1 to itself; wrk and the emulator share CPU 0, in
  # the direct runs too, so the baseline is the same machine minus a core.
  last=$(( $(nproc) - 1 ))
  taskset -a -p -c 1 "$gw_pid" >/dev/null
  taskset -a -p -c 0 "$emu_pid" >/dev/null
  WRK_PIN="taskset -c 0"
  echo
  echo "Paced, the gateway on a core of its own (CPU 1; wrk and the emulator on CPU 0, for the direct runs too):"
  echo
  paced_tables
  WRK_PIN=
  taskset -a -p -c "0-$last" "$gw_pid" >/dev/null
  taskset -a -p -c "0-$last" "$emu_pid" >/dev/null
fi

# A busy machine: 2 busy loops per core at the default priority (a build, a
# test run) share the cores with wrk, the emulator and the gateway, and a
# paced BUSY_RATE calls/s from 20 connections go direct and through the
# gateway. The maximum is here too: a gateway thread that holds a lock the
# loop needs and then waits for a core shows as a max of hundreds of ms.
BUSY_RATE=${BUSY_RATE:-500}
hogs=()
for _ in $(seq 1 $(( $(nproc) * 2 ))); do
  (while :; do :; done) &
  hogs+=($!)
  pids+=($!)
done
echo
echo "Paced $BUSY_RATE calls/s from 20 connections, with $(( $(nproc) * 2 )) busy loops on the $(nproc) cores (medians over the rounds):"
echo
echo "| call | direct p50 / p99 / max (ms) | via gateway p50 / p99 / max (ms) | gateway req/s |"
echo "|---|---:|---:|---:|"
for op in invoke invoke-with-response-stream; do
  : >"$tmp/d"; : >"$tmp/g"
  for _ in $(seq 1 "$ROUNDS"); do
    run "$emu" "$emu_key" "$op" "$body" 20 "$DURATION" $((20 * 1000 / BUSY_RATE)) >>"$tmp/d"
    run_gw "$op" "$body" 20 "$DURATION" $((20 * 1000 / BUSY_RATE)) >>"$tmp/g"
  done
  errs=$(cat "$tmp/d" "$tmp/g" | field errors | sum)
  printf '| %s | %.3f / %.3f / %.1f | %.3f / %.3f / %.1f | %.0f |%s\n' "$op" \
    "$(field p50_ms <"$tmp/d" | median)" "$(field p99_ms <"$tmp/d" | median)" "$(field max_ms <"$tmp/d" | median)" \
    "$(field p50_ms <"$tmp/g" | median)" "$(field p99_ms <"$tmp/g" | median)" "$(field max_ms <"$tmp/g" | median)" \
    "$(field rps <"$tmp/g" | median)" "$([ "$errs" = 0 ] || echo " $errs errors")"
done
kill "${hogs[@]}" 2>/dev/null || :
wait "${hogs[@]}" 2>/dev/null || :

echo
hold_rss "after the load above"
