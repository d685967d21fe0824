#!/usr/bin/env bash
# tests/e2e/monitor_sigkill.sh - killing brock while it ships loses no audit
# event. Each of 25 rounds makes two model calls with `brock -p` (one
# spooled event each), starts `brock logs flush`, and kills it with SIGKILL
# at a random moment (0-350 ms; the emulator holds every CloudWatch Logs
# answer 250 ms after storing the events, so kills land before, during and
# after calls). A last flush ships the rest. Every event must then be in the
# emulator's log store at least once; duplicates (a kill between the
# emulator's accept and the spool delete) are counted and reported.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
command -v node >/dev/null || { echo "1..0 # SKIP node is not installed"; exit 0; }

work=$E2E_TMP/work
mkdir -p "$work/.brock" "$E2E_TMP/data"
export BROCK_DATA_DIR=$E2E_TMP/data
printf '{"brock": {"monitoring": {"exit_deadline_ms": 0}}}\n' >"$work/.brock/settings.json"
start_emulator || { not_ok "emulator starts"; done_testing; exit 0; }
export AWS_ENDPOINT_URL=$EMU_URL AWS_REGION=us-west-2 BROCK_LOG_GROUP=/brock/kill
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
b() { (cd "$work" && "$BROCK" "$@"); }

curl -sf -X POST -H 'content-type: application/json' \
  --data '{"type": "slow", "delay_ms": 250, "count": -1, "operations": ["logs"]}' "$EMU_URL/_emulator/faults" >/dev/null \
  && ok "CloudWatch Logs answers slowed to 250 ms" || not_ok "slow fault"

calls=0 failed_calls=0 killed=0 finished=0
# a first flush runs to the end: it creates the group and the stream
b -p "first call" >/dev/null 2>&1 && calls=$((calls + 1))
b logs flush >"$E2E_TMP/out" 2>&1 && ok "a first flush creates the group and stream" || not_ok "first flush" "$(cat "$E2E_TMP/out")"
for round in $(seq 1 25); do
  for k in 1 2; do
    if b -p "round $round call $k" >/dev/null 2>&1; then calls=$((calls + 1)); else failed_calls=$((failed_calls + 1)); fi
  done
  (cd "$work" && exec "$BROCK" logs flush) >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 350)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ $? -eq 137 ]; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
done
[ $failed_calls -eq 0 ] && ok "$calls model calls spooled their events" || not_ok "$failed_calls model calls failed"
[ $killed -ge 15 ] && ok "$killed of 25 flushes killed with SIGKILL ($finished finished first)" \
  || not_ok "only $killed flushes were killed ($finished finished first)"

curl -sf -X DELETE "$EMU_URL/_emulator/faults" >/dev/null
b logs flush >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && ok "the restart ships the rest" || not_ok "last flush (exit $rc)" "$(cat "$E2E_TMP/out" "$E2E_TMP/err")"
b logs status --json >"$E2E_TMP/status.json" 2>&1
node -e 'if (JSON.parse(require("fs").readFileSync(process.argv[1])).spool.events !== 0) process.exit(1)' "$E2E_TMP/status.json" \
  && ok "the spool is empty" || not_ok "spool not empty" "$(cat "$E2E_TMP/status.json")"

curl -sf "$EMU_URL/_emulator/logs?group=/brock/kill" >"$E2E_TMP/logs.json"
node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const want = Number(process.argv[2]);
  const seen = new Map();
  for (const g of d.logGroups) for (const s of g.logStreams) for (const e of s.events) {
    const m = JSON.parse(e.message);
    seen.set(m.session, (seen.get(m.session) || 0) + 1);
  }
  const total = [...seen.values()].reduce((a, b) => a + b, 0);
  const lost = want - seen.size;
  console.log(`# ${want} events spooled, ${seen.size} arrived, ${lost} lost, ${total - seen.size} duplicates`);
  process.exit(lost === 0 ? 0 : 1);' "$E2E_TMP/logs.json" "$calls" >"$E2E_TMP/count" 2>&1
rc=$?
cat "$E2E_TMP/count"
[ $rc -eq 0 ] && ok "no event lost: $(sed 's/^# //' "$E2E_TMP/count")" || not_ok "events lost" "$(cat "$E2E_TMP/count")"
done_testing
