#!/usr/bin/env bash
# tests/e2e/batch.sh - `brock batch` end to end against `brock emulate` in its
# own process, configured the AWS SDK way (AWS_ENDPOINT_URL, keys in the
# environment): 1,000 records under 30 % throttling and 5xx faults; the same
# run killed with SIGKILL midway and run again (no duplicates, nothing
# missing, in order); the usage ledger after a normal run, a SIGKILL and a
# SIGTERM (never behind the output); malformed lines reported by line number; --format text;
# --prompt-file; and --engine bedrock: a job round trip, `status`, `list`,
# `fetch`, a stopped job and a failed job.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 BROCK_DATA_DIR=$E2E_TMP/data BROCK_EMULATE_BATCH_STEP_MS=40
cd "$E2E_TMP" || exit 1

# Five groups of answers with fixed usage; each answer takes 5 ms, so a
# 1,000-record run at concurrency 8 lasts long enough to be killed midway.
python3 - >scenario.json <<'PY'
import json
rules = [{"match": {"regex": "^g%d " % g},
          "response": {"text": "answer g%d" % g, "first_byte_delay_ms": 5,
                       "usage": {"input_tokens": 1000 + g, "output_tokens": 10 + g}}} for g in range(5)]
print(json.dumps({"rules": rules}))
PY
start_emulator --scenario scenario.json || { not_ok "emulator started"; done_testing; exit 0; }
export AWS_ENDPOINT_URL=$EMU_URL
ok "emulator started at $EMU_URL"

python3 -c '
for i in range(1000): print("{\"id\": \"r%d\", \"prompt\": \"g%d record %d\"}" % (i, i % 5, i))' >in.jsonl

# check_output FILE N: N records, lines 1..N in order, ids r0..r(N-1), each
# once, every one ok with its group's text and usage.
check_output() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
assert data.endswith(b"\n"), "the output ends inside a record"
recs = [json.loads(l) for l in data.decode().splitlines()]
assert len(recs) == n, "%d records, expected %d" % (len(recs), n)
ids = [r["id"] for r in recs]
assert len(set(ids)) == n, "duplicate records"
for i, r in enumerate(recs):
    g = i % 5
    assert r["line"] == i + 1 and r["id"] == "r%d" % i, "record %d out of order: %s" % (i, r["id"])
    assert r["status"] == "ok", "record %d: %s" % (i, r.get("error"))
    assert r["text"] == "answer g%d" % g, r["text"]
    assert r["usage"]["input_tokens"] == 1000 + g and r["usage"]["output_tokens"] == 10 + g, r["usage"]
PY
}

# ---- 1,000 records under throttling and 5xx ----------------------------------------------
curl -s "$EMU_URL/_emulator/faults" -d '[{"type": "throttling", "count": -1, "probability": 0.3},
  {"type": "internal", "count": -1, "probability": 0.03}, {"type": "unavailable", "count": -1, "probability": 0.02}]' \
  >/dev/null
"$BROCK" batch in.jsonl -o out.jsonl --model haiku --concurrency 16 >stdout.txt 2>stderr.txt
rc=$?
[ "$rc" -eq 0 ] && ok "1,000 records under 30 % throttling and 5xx: exit 0" || not_ok "throttled run (exit $rc)" "$(tail stderr.txt)"
if check_output out.jsonl 1000 2>err.txt; then ok "every record once, in order, with the scenario's usage"
else not_ok "the throttled run's output" "$(cat err.txt)"; fi
grep -q "1000 records -> out.jsonl: 1000 ok" stderr.txt && ok "the summary counts them" || not_ok "summary" "$(cat stderr.txt)"
throttled=$(curl -s "$EMU_URL/_emulator/requests" | python3 -c '
import json, sys; r = json.load(sys.stdin)["requests"]; print(sum(1 for x in r if x.get("status") == 429))')
[ "${throttled:-0}" -gt 50 ] && ok "the emulator throttled ($throttled 429s in its last 1000 requests)" \
  || not_ok "faults applied" "throttled=$throttled"
[ ! -s stdout.txt ] && ok "nothing on stdout" || not_ok "stdout is empty" "$(head stdout.txt)"
perm=$(stat -c %a out.jsonl.checkpoint)
[ "$perm" = 600 ] && ok "the checkpoint is 0600" || not_ok "checkpoint mode $perm"
curl -s -X DELETE "$EMU_URL/_emulator/faults" >/dev/null

# ---- killed midway, run again -----------------------------------------------------------
"$BROCK" batch in.jsonl -o killed.jsonl --model haiku --concurrency 8 2>killed.err &
pid=$!
for _ in $(seq 1 400); do
  n=$(cat killed.jsonl 2>/dev/null | wc -l)
  [ "$n" -ge 300 ] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
before=$(wc -l <killed.jsonl)
if [ "$before" -ge 300 ] && [ "$before" -lt 1000 ]; then ok "SIGKILL midway ($before records written)"
else not_ok "the run was killed midway" "$before records"; fi
# a half-written last line, as a kill inside write(2) would leave
printf '{"line": 99999, "id": "half' >>killed.jsonl
curl -s -X DELETE "$EMU_URL/_emulator/requests" >/dev/null
"$BROCK" batch in.jsonl -o killed.jsonl --model haiku --concurrency 8 2>resumed.err
rc=$?
[ "$rc" -eq 0 ] && ok "the same command again completes" || not_ok "resume (exit $rc)" "$(tail resumed.err)"
if check_output killed.jsonl 1000 2>err.txt; then ok "after the kill: no duplicate, none missing, in order"
else not_ok "the resumed output" "$(cat err.txt)"; fi
asked=$(curl -s "$EMU_URL/_emulator/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')
[ "$asked" -le $((1000 - before + 40)) ] && ok "the second run asked only for what was missing ($asked requests)" \
  || not_ok "resume asked again for done records" "$asked requests for $((1000 - before)) records"
grep -q "done before" resumed.err && ok "the summary says what was done before" || not_ok "resume summary" "$(cat resumed.err)"
"$BROCK" batch in.jsonl -o killed.jsonl --model sonnet 2>other.err
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--restart" other.err && ok "other options on a used output: refused (exit 2), --restart named" \
  || not_ok "checkpoint mismatch" "exit $rc: $(cat other.err)"

# ---- the usage ledger: grouped rows, a kill, SIGTERM ---------------------------------------
# Ledger rows are committed in groups, always before their records reach the
# output: after a SIGKILL the books hold at least a row per record written
# and never more than the calls answered; the resumed run adds a row per call
# it makes; a normal run has exactly one row per record.
calls() { BROCK_DATA_DIR=$1 "$BROCK" usage --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["calls"])'; }
answered() { curl -s "$EMU_URL/_emulator/requests" | python3 -c '
import json, sys; print(sum(1 for r in json.load(sys.stdin)["requests"] if r.get("status") == 200))'; }
BROCK_DATA_DIR=$E2E_TMP/books1 "$BROCK" batch in.jsonl -o books1.jsonl --model haiku --concurrency 16 2>books1.err
rows=$(calls "$E2E_TMP/books1")
[ "$rows" = 1000 ] && ok "a normal run: exactly one ledger row per record" || not_ok "ledger rows of a normal run" "$rows rows"
curl -s -X DELETE "$EMU_URL/_emulator/requests" >/dev/null
# slow answers now and then put records out of order
curl -s "$EMU_URL/_emulator/faults" -d '{"type": "slow", "count": -1, "probability": 0.05, "delay_ms": 40}' >/dev/null
BROCK_DATA_DIR=$E2E_TMP/books2 "$BROCK" batch in.jsonl -o books2.jsonl --model haiku --concurrency 8 2>books2.err &
pid=$!
for _ in $(seq 1 400); do
  n=$(cat books2.jsonl 2>/dev/null | wc -l)
  [ "$n" -ge 300 ] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
written=$(wc -l <books2.jsonl)
rows=$(calls "$E2E_TMP/books2")
first=$(answered)
if [ "$written" -ge 300 ] && [ "$written" -lt 1000 ] && [ "$rows" -ge "$written" ] && [ "$rows" -le "$first" ]; then
  ok "SIGKILL: the ledger holds a row per record written ($rows rows, $written records, $first answers)"
else not_ok "the ledger after SIGKILL" "$rows rows, $written records written, $first calls answered"; fi
curl -s -X DELETE "$EMU_URL/_emulator/requests" >/dev/null
BROCK_DATA_DIR=$E2E_TMP/books2 "$BROCK" batch in.jsonl -o books2.jsonl --model haiku --concurrency 8 2>books2b.err
rc=$?
second=$(answered)
total=$(calls "$E2E_TMP/books2")
if [ "$rc" -eq 0 ] && check_output books2.jsonl 1000 2>err.txt && [ "$total" -eq $((rows + second)) ] && [ "$total" -ge 1000 ]; then
  ok "resumed: the output is whole and the ledger gained a row per call ($rows + $second = $total)"
else not_ok "resume after SIGKILL: rows and output" "exit $rc, $rows + $second != $total rows; $(cat err.txt books2b.err | tail -3)"; fi
curl -s -X DELETE "$EMU_URL/_emulator/requests" >/dev/null
BROCK_DATA_DIR=$E2E_TMP/books3 "$BROCK" batch in.jsonl -o books3.jsonl --model haiku --concurrency 8 2>books3.err &
pid=$!
for _ in $(seq 1 400); do
  n=$(cat books3.jsonl 2>/dev/null | wc -l)
  [ "$n" -ge 200 ] && break
  sleep 0.01
done
kill -TERM "$pid"
wait "$pid"
rc=$?
written=$(wc -l <books3.jsonl)
rows=$(calls "$E2E_TMP/books3")
asked=$(answered)
# (the emulator may have answered some of the 8 requests in flight, which brock abandoned)
if [ "$rc" -eq 130 ] && [ "$written" -lt 1000 ] && [ "$rows" -ge "$written" ] && [ "$rows" -le "$asked" ] &&
   [ "$rows" -ge $((asked - 8)) ]; then
  ok "SIGTERM stops like Ctrl-C (exit 130): every call it got an answer to is in the ledger ($rows rows, $written written)"
else not_ok "SIGTERM" "exit $rc, $rows rows, $asked answered, $written written; $(tail -2 books3.err)"; fi
curl -s -X DELETE "$EMU_URL/_emulator/faults" >/dev/null

# ---- Ctrl-C: exit 130, what is done is kept, the same command finishes ---------------------
"$BROCK" batch in.jsonl -o int.jsonl --model haiku --concurrency 4 2>int.err &
pid=$!
for _ in $(seq 1 400); do
  n=$(cat int.jsonl 2>/dev/null | wc -l)
  [ "$n" -ge 50 ] && break
  sleep 0.01
done
kill -INT "$pid"
wait "$pid"
rc=$?
kept=$(wc -l <int.jsonl)
[ "$rc" -eq 130 ] && [ "$kept" -lt 1000 ] && grep -q "interrupted" int.err &&
  ok "Ctrl-C: exit 130 with $kept records kept" || not_ok "SIGINT (exit $rc, $kept records)" "$(tail -3 int.err)"
"$BROCK" batch in.jsonl -o int.jsonl --model haiku --concurrency 16 2>int2.err && check_output int.jsonl 1000 2>err.txt &&
  ok "after Ctrl-C the same command completes the output" || not_ok "resume after SIGINT" "$(cat err.txt int2.err | tail)"

# ---- malformed lines ------------------------------------------------------------------------
printf '%s\n' '{"id": "a", "prompt": "g0 fine"}' '{"prompt": "g1 broken"' '' 'g2 a plain line' '{"promt": "x"}' \
  '{"prompt": "g3 z", "max_tokens": 0}' >bad.jsonl
"$BROCK" batch bad.jsonl -o bad.out --model haiku 2>bad.err
rc=$?
[ "$rc" -eq 3 ] && ok "malformed lines: exit 3" || not_ok "malformed lines exit $rc" "$(cat bad.err)"
grep -q "warning: bad.jsonl:2:" bad.err && grep -q 'warning: bad.jsonl:5: unknown field "promt"' bad.err &&
  grep -q 'warning: bad.jsonl:6: "max_tokens"' bad.err && ok "each malformed line is reported with its line number" \
  || not_ok "malformed-line warnings" "$(cat bad.err)"
python3 - bad.out <<'PY' 2>err.txt && ok "the rest is processed: ok, invalid, ok, invalid, invalid by line" || not_ok "bad.out" "$(cat err.txt)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = [(1, "ok"), (2, "invalid"), (4, "ok"), (5, "invalid"), (6, "invalid")]
assert [(r["line"], r["status"]) for r in recs] == want, [(r["line"], r["status"]) for r in recs]
PY

# ---- text format, prompt files -----------------------------------------------------------------
printf 'g4 review this file:' >prompt.txt
printf 'int a;\n' >a.c
printf 'int b;\n' >b.c
"$BROCK" batch --prompt-file prompt.txt a.c b.c -o review.txt --format text --model haiku 2>review.err
rc=$?
[ "$rc" -eq 0 ] && grep -q '^### line 1 a.c: ok (1004 in, 14 out' review.txt && grep -q '^### line 2 b.c: ok' review.txt &&
  grep -q '^answer g4$' review.txt && ok "--prompt-file with --format text" || not_ok "prompt files (exit $rc)" "$(cat review.err review.txt)"

# ---- Bedrock batch inference ----------------------------------------------------------------------
head -n 150 in.jsonl >job.jsonl
bedrock=(--engine bedrock --s3-prefix s3://brock-batch/e2e/ --role-arn arn:aws:iam::123456789012:role/BatchRole
  --poll-interval 0.05 --model us.anthropic.claude-haiku-4-5-20251001-v1:0)
"$BROCK" batch job.jsonl -o job.out "${bedrock[@]}" --job-name e2e-job -v 2>job.err
rc=$?
[ "$rc" -eq 0 ] && ok "--engine bedrock: the job ran" || not_ok "bedrock engine (exit $rc)" "$(tail job.err)"
if check_output job.out 150 2>err.txt; then ok "--engine bedrock: the same ordered output"; else not_ok "job.out" "$(cat err.txt)"; fi
python3 - job.out out.jsonl <<'PY' 2>err.txt && ok "--engine bedrock: half the local engine's cost, record by record" || not_ok "batch price" "$(cat err.txt)"
import json, sys
b = [json.loads(l) for l in open(sys.argv[1])]
l = [json.loads(x) for x in open(sys.argv[2])][:150]
for x, y in zip(b, l):
    assert abs(x["cost_usd"] * 2 - y["cost_usd"]) < 1e-12, (x["cost_usd"], y["cost_usd"])
PY
job=$(sed -n 's/.*batch inference job \(arn:[^ ]*\).*/\1/p' job.err | head -n 1)
[ -n "$job" ] && ok "-v names the job ($job)" || not_ok "job arn in -v output" "$(cat job.err)"
"$BROCK" batch status "$job" >status.txt 2>&1 && grep -q '^status    Completed' status.txt &&
  grep -q '^records   150 processed of 150 (150 ok' status.txt && ok "brock batch status" || not_ok "status" "$(cat status.txt)"
"$BROCK" batch status "$job" --json >status.json 2>&1 &&
  python3 -c 'import json,sys; j=json.load(open("status.json")); assert j["status"]=="Completed" and j["jobName"]=="e2e-job"' \
  && ok "brock batch status --json" || not_ok "status --json" "$(cat status.json)"
"$BROCK" batch list >list.txt 2>&1 && grep -q 'e2e-job' list.txt && ok "brock batch list" || not_ok "list" "$(cat list.txt)"
"$BROCK" batch fetch "$job" -o fetched.out 2>fetch.err && cmp -s fetched.out job.out &&
  ok "brock batch fetch rebuilds the same output" || not_ok "fetch" "$(cat fetch.err; diff fetched.out job.out | head)"

# too few records for a job: refused, the local engine suggested
head -n 20 in.jsonl >small.jsonl
"$BROCK" batch small.jsonl -o small.out "${bedrock[@]}" 2>small.err
rc=$?
[ "$rc" -eq 2 ] && grep -q "at least 100 records" small.err && grep -q "local engine" small.err &&
  ok "fewer than 100 records: refused with a pointer to the local engine" || not_ok "min records (exit $rc)" "$(cat small.err)"

# a failed job
curl -s "$EMU_URL/_emulator/batch" -d '{"fail_next": "Input validation failed: injected by the e2e test"}' >/dev/null
"$BROCK" batch job.jsonl -o failed.out "${bedrock[@]}" 2>failed.err
rc=$?
[ "$rc" -eq 5 ] && grep -q "ended as Failed: Input validation failed: injected by the e2e test" failed.err &&
  ok "a failed job: exit 5 with the job's message" || not_ok "failed job (exit $rc)" "$(cat failed.err)"

# a stopped job: stop it from another brock while the first waits. -v names
# the job as soon as it is created; the stop waits until records are done.
# Each step 1.5 s: the job is InProgress with records done for two steps (3 s),
# room for a status poll and a `brock batch stop` on a loaded machine (at
# 400 ms the window was 800 ms, and one poll can take 0.5-0.9 s under load).
curl -s "$EMU_URL/_emulator/batch" -d '{"step_ms": 1500}' >/dev/null
"$BROCK" batch in.jsonl -o stopped.out "${bedrock[@]}" -v 2>stopped.err &
pid=$!
sid=
for _ in $(seq 1 100); do
  sid=$(sed -n 's/.*batch inference job \(arn:[^ ]*\).*/\1/p' stopped.err | head -n 1)
  [ -n "$sid" ] && break
  sleep 0.1
done
[ -n "$sid" ] && ! grep -q ' -> stopped.out: ' stopped.err && ok "-v names the job while it runs" ||
  not_ok "job arn while it runs" "$(cat stopped.err)"
for _ in $(seq 1 100); do
  "$BROCK" batch status "$sid" --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if j["status"] == "InProgress" and j.get("processedRecordCount", 0) > 0 else 1)' 2>/dev/null && break
  sleep 0.1
done
"$BROCK" batch stop "$sid" >stop.txt 2>&1 && ok "brock batch stop" || not_ok "stop" "$(cat stop.txt)"
wait "$pid"
rc=$?
python3 - stopped.out <<'PY' 2>err.txt && [ "$rc" -eq 5 ] && ok "a stopped job: what ran is kept, the rest says RecordMissing (exit 5)" \
  || not_ok "stopped job (exit $rc)" "$(cat err.txt stopped.err | tail)"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1000 and [r["line"] for r in recs] == list(range(1, 1001))
ok = sum(r["status"] == "ok" for r in recs)
missing = sum(r["status"] == "error" and r["error"]["code"] == "RecordMissing" for r in recs)
assert ok > 0 and missing > 0 and ok + missing == 1000, (ok, missing)
PY

# an application inference profile as the model: brock batch asks Bedrock its
# model (AWS SDK-made profile, copied from Haiku 4.5's us. profile) and prices
# the records as it, with its 10 % premium; nothing estimated
parn=$(cd "$top/tests/js" && AWS_REGION=us-east-1 node make_profile.mjs "$EMU_URL" batch-team 2>"$E2E_TMP/mkp.err")
case $parn in
  arn:aws:bedrock:us-east-1:*:application-inference-profile/*)
    head -n 5 in.jsonl >five.jsonl
    # a sixth line names a second profile: asked too, once
    parn2=$(cd "$top/tests/js" && AWS_REGION=us-east-1 node make_profile.mjs "$EMU_URL" batch-team-2 2>>"$E2E_TMP/mkp.err")
    printf '{"id": "r5", "prompt": "g0 record 5", "model": "%s"}\n' "$parn2" >>five.jsonl
    "$BROCK" batch -v --model "$parn" -o profile.out five.jsonl >profile.txt 2>profile.err
    rc=$?
    python3 - profile.out <<'PY' 2>err.txt && [ "$rc" -eq 0 ] && grep -q "runs Claude Haiku 4.5" profile.err &&
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 6, len(recs)
for i, r in enumerate(recs):
    g = i % 5
    want = ((1000 + g) * 1.1 + (10 + g) * 5.5) / 1e6
    assert abs(r["cost_usd"] - want) < 1e-9, (r["cost_usd"], want)
PY
      ! grep -q "no price is known" profile.err && [ "$(grep -c "runs Claude Haiku 4.5" profile.err)" -eq 2 ] &&
      ok "--model <application inference profile>, and another a line names: each asked once, priced as Haiku 4.5 (exit $rc)" ||
      not_ok "batch with a profile (exit $rc)" "$(cat err.txt profile.err | tail)"
    ;;
  *) not_ok "make an application inference profile with the AWS SDK for JavaScript" "$parn $(cat "$E2E_TMP/mkp.err")" ;;
esac

# no secret anywhere
if grep -r -q 'wJalrXUtnFEMI' ./*.err ./*.out ./*.jsonl ./*.txt data 2>/dev/null; then not_ok "no secret in outputs, logs or the store"
else ok "no secret in outputs, logs or the store"; fi
done_testing
