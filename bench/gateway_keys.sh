#!/usr/bin/env bash
# bench/gateway_keys.sh [BUILD_DIR] - what a gateway key's place in a large
# keys file costs. `brock serve --emulator` with a keys file of KEYS keys
# (default 4096, the most a file may hold); one wrk connection in a closed loop
# sends InvokeModel with the file's first key, then with its last, interleaved
# ROUNDS times (default 5) of DURATION s (default 3). Prints the medians of
# p50 / p99 and of the process's CPU per call (gateway and its in-process
# emulator together). With a scan of the keys the last key costs more; with
# an index both cost the same.
#
# Then with the upstream slots full (--max-upstream 4, so calls queue for
# admission): 50 connections with one key, against a gateway whose keys file
# holds only that key and one whose file holds KEYS keys, interleaved the
# same way: req/s and CPU per call. A scan of every client per admission
# makes the large file cost more; a ring of the clients that wait does not.
#
# Last, reloads: RELOADS (default 40) SIGHUPs 0.1 s apart to the gateway with
# the KEYS-key file, each reading it again. The event loop's own CPU per
# reload (the main thread's time on CPU from /proc/PID/task/PID/schedstat,
# less the same span without reloads) is what every call waits for; one wrk
# connection in a closed loop meanwhile shows the longest call, against a run
# without reloads. Bounded; loopback only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
brock=$build/brock
KEYS=${KEYS:-4096}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
[ -x "$brock" ] || { echo "build first: make (needs $brock)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (Debian package wrk: scripts/install-deps --test)"; exit 1; }

. "$top/bench/gateway_lib.sh"
bench_setup keys
pid=

key() { printf 'bench-key-%05d-0123456789abcdef' "$1"; }
{
  printf '{"keys": ['
  for i in $(seq 0 $((KEYS - 1))); do
    [ "$i" = 0 ] || printf ','
    printf '{"token": "%s", "user": "u%d"}' "$(key "$i")" "$i"
  done
  printf ']}\n'
} >"$tmp/keys.json"
chmod 600 "$tmp/keys.json"

printf '{"keys": [{"token": "%s", "user": "u%d"}]}\n' "$(key $((KEYS - 1)))" $((KEYS - 1)) >"$tmp/one.json"
chmod 600 "$tmp/one.json"

# serve NAME KEYS_FILE [ARGS...]: start a gateway (its output in $tmp/NAME.*); sets url and pid
serve() {
  local name=$1 file=$2
  shift 2
  "$brock" serve --emulator --port 0 --keys-file "$file" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  pids+=("$pid")
  url=
  for _ in $(seq 1 200); do
    url=$(sed -n '1s/^listening on //p' "$tmp/$name.out")
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "the gateway did not start: $(cat "$tmp/$name.err")" >&2; exit 1; }
  case $url in http://127.0.0.1:*) ;; *) echo "not on loopback: $url" >&2; exit 1 ;; esac
}
serve main "$tmp/keys.json"

model=us.anthropic.claude-sonnet-4-5-20250929-v1%3A0
body='{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"which key"}]}'
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
run() { # token -> "p50 p99 cpu_us"
  local t0 t1 out
  t0=$(ticks)
  out=$(GW_TOKEN=$1 GW_BODY=$body timeout $((DURATION + 30)) wrk -s "$top/bench/gateway.lua" --latency -t 1 -c 1 \
    -d "${DURATION}s" "$url/model/$model/invoke" | sed -n 's/^json //p')
  t1=$(ticks)
  echo "$out" | awk -v d=$((t1 - t0)) -v hz="$hz" '{
    match($0, /"requests": [0-9]+/); n = substr($0, RSTART + 12, RLENGTH - 12)
    match($0, /"errors": [0-9]+/); e = substr($0, RSTART + 10, RLENGTH - 10)
    match($0, /"p50_ms": [0-9.]+/); p50 = substr($0, RSTART + 10, RLENGTH - 10)
    match($0, /"p99_ms": [0-9.]+/); p99 = substr($0, RSTART + 10, RLENGTH - 10)
    if (e + 0) { print "wrk: " e " errors" > "/dev/stderr"; exit 1 }
    printf "%s %s %.1f\n", p50, p99, n ? d * 1e6 / hz / n : 0 }'
}
first=$(key 0) last=$(key $((KEYS - 1)))
run "$first" >/dev/null # warm up
: >"$tmp/first"; : >"$tmp/last"
for _ in $(seq 1 "$ROUNDS"); do
  run "$first" >>"$tmp/first"
  run "$last" >>"$tmp/last"
done
echo "gateway keys benchmark: $KEYS keys, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "$(date -u +%Y-%m-%dT%H:%MZ); ROUNDS=$ROUNDS, ${DURATION} s per run, one connection, closed loop"
echo
echo "| key | p50 (ms) | p99 (ms) | CPU µs/call (gateway + emulator) |"
echo "|---|---:|---:|---:|"
for w in first last; do
  printf '| %s | %.3f | %.3f | %.0f |\n' "$w" "$(cut -d' ' -f1 "$tmp/$w" | median)" \
    "$(cut -d' ' -f2 "$tmp/$w" | median)" "$(cut -d' ' -f3 "$tmp/$w" | median)"
done

# ---- the upstream slots full -------------------------------------------------------
C=${SATURATED_CONNECTIONS:-50}
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null || true
pids=()
serve one "$tmp/one.json" --max-upstream 4 --max-per-client 4 --no-cache
one_pid=$pid one_url=$url
serve many "$tmp/keys.json" --max-upstream 4 --max-per-client 4 --no-cache
many_pid=$pid many_url=$url
full() { # pid url -> "req/s cpu_us"
  local p=$1 u=$2 t0 t1 out
  t0=$(awk '{print $14 + $15}' "/proc/$p/stat")
  out=$(GW_TOKEN=$last GW_BODY=$body timeout $((DURATION + 30)) wrk -s "$top/bench/gateway.lua" --latency -t 1 -c "$C" \
    -d "${DURATION}s" "$u/model/$model/invoke" | sed -n 's/^json //p')
  t1=$(awk '{print $14 + $15}' "/proc/$p/stat")
  echo "$out" | awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$DURATION" '{
    match($0, /"requests": [0-9]+/); n = substr($0, RSTART + 12, RLENGTH - 12)
    match($0, /"errors": [0-9]+/); e = substr($0, RSTART + 10, RLENGTH - 10)
    if (e + 0) { print "wrk: " e " errors" > "/dev/stderr"; exit 1 }
    printf "%.0f %.1f\n", n / s, n ? d * 1e6 / hz / n : 0 }'
}
full "$one_pid" "$one_url" >/dev/null # warm up
full "$many_pid" "$many_url" >/dev/null
: >"$tmp/full_one"; : >"$tmp/full_many"
for _ in $(seq 1 "$ROUNDS"); do
  full "$one_pid" "$one_url" >>"$tmp/full_one"
  full "$many_pid" "$many_url" >>"$tmp/full_many"
done
echo
echo "The upstream slots full (--max-upstream 4): $C connections, closed loop, one key; CPU is the whole process's"
echo
echo "| keys file | req/s | CPU µs/call (gateway + emulator) |"
echo "|---|---:|---:|"
printf '| that key only | %.0f | %.1f |\n' "$(cut -d' ' -f1 "$tmp/full_one" | median)" "$(cut -d' ' -f2 "$tmp/full_one" | median)"
printf '| %d keys | %.0f | %.1f |\n' "$KEYS" "$(cut -d' ' -f1 "$tmp/full_many" | median)" "$(cut -d' ' -f2 "$tmp/full_many" | median)"

# ---- reloads ---------------------------------------------------------------------------
RELOADS=${RELOADS:-40}
now_ns() { date +%s%N; }
oncpu() { cut -d' ' -f1 "/proc/$many_pid/task/$many_pid/schedstat"; } # the loop thread, ns
readings() { grep -c 'client keys were read again' "$tmp/many.err" || :; }
sighups() { for _ in $(seq 1 "$RELOADS"); do kill -HUP "$many_pid"; sleep 0.1; done; sleep 0.5; }
span=$((RELOADS / 10 + 1))
probe() { # -> the longest call (ms) of one closed-loop connection for $span s
  GW_TOKEN=$last GW_BODY=$body timeout $((span + 30)) wrk -s "$top/bench/gateway.lua" --latency -t 1 -c 1 \
    -d "${span}s" "$many_url/model/$model/invoke" | sed -n 's/^json //p' |
    awk '{match($0, /"max_ms": [0-9.]+/); print substr($0, RSTART + 10, RLENGTH - 10)}'
}
# the loop's CPU when idle, then with the reloads alone (nothing else to serve)
t0=$(now_ns) c0=$(oncpu); sleep 2; t1=$(now_ns) c1=$(oncpu)
idle_rate=$(awk -v c="$((c1 - c0))" -v t="$((t1 - t0))" 'BEGIN {print c / t}')
n0=$(readings)
t0=$(now_ns) c0=$(oncpu); sighups; t1=$(now_ns) c1=$(oncpu)
n=$(( $(readings) - n0 ))
[ "$n" -gt 0 ] || { echo "no reload was done: $(tail -3 "$tmp/many.err")" >&2; exit 1; }
per=$(awk -v c="$((c1 - c0))" -v t="$((t1 - t0))" -v r="$idle_rate" -v n="$n" 'BEGIN {d = c - r * t; printf "%.2f", (d > 0 ? d : 0) / n / 1e6}')
# one connection's longest call without reloads, and while they come
quiet_max=$(probe)
probe >"$tmp/probe" &
probe_pid=$!
sighups
wait "$probe_pid"
echo
echo "Reloads: $RELOADS SIGHUPs 0.1 s apart to the gateway with the $KEYS-key file ($n readings put in use)"
echo
echo "| | value |"
echo "|---|---:|"
printf "| the event loop's CPU a reload (ms) | %s |\n" "$per"
printf '| longest call of one closed-loop connection over %d s, without reloads (ms) | %.1f |\n' "$span" "$quiet_max"
printf '| the same while reloading (ms) | %.1f |\n' "$(cat "$tmp/probe")"
