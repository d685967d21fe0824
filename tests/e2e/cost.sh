#!/usr/bin/env bash
# Cost end to end against `brock emulate` (scenario tests/e2e/scenarios/
# cost_usage.json: every answer bills 1,000 input, 500 output and 2,000
# cache-read tokens): the ledger row of a call and its cost worked out by
# hand, a prices override, budgets (the warning at 80 %, the refusal at 100 %
# with exit 8 and no request sent, --ignore-budget, --max-budget-usd), the
# response cache (hit, miss, --no-cache, expiry, eviction, `brock cache`),
# --model auto, fallback after throttling, no secret in the ledger, cache
# keys or identity file, and `brock usage` output (golden text with
# hand-written expectations, --json shape). Only loopback. Ledgers are
# pre-filled with python's sqlite3 in a temporary BROCK_DATA_DIR.
. "$(dirname "$0")/lib.sh"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_MAX_ATTEMPTS=1 AWS_REGION=us-west-2
unset AWS_SESSION_TOKEN AWS_BEARER_TOKEN_BEDROCK BROCK_LOG_GROUP
SCEN=$(cd "$(dirname "$0")/scenarios" && pwd)
WS=$E2E_TMP/ws
mkdir -p "$WS"
WS=$(cd "$WS" && pwd -P)
echo "file-content-1234" >"$WS/a.txt"
export XDG_CONFIG_HOME=$E2E_TMP/config
mkdir -p "$XDG_CONFIG_HOME/brock"

sed -e "s|@WS@|$WS|g" "$SCEN/cost_usage.json" >"$E2E_TMP/cost_usage.json"
start_emulator --scenario "$E2E_TMP/cost_usage.json" || { not_ok "emulator starts"; done_testing; exit 0; }

# fresh_data: a new, empty data directory
fresh_data() { export BROCK_DATA_DIR=$E2E_TMP/data.$1; rm -rf "$BROCK_DATA_DIR"; mkdir -p "$BROCK_DATA_DIR"; }
# b ARGS...: brock in the workspace against the emulator; stdout, stderr, rc
b() { (cd "$WS" && AWS_ENDPOINT_URL=$EMU_URL "$BROCK" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?; }
reset_emu() { curl -sf -X POST -d '' "$EMU_URL/_emulator/reset" >/dev/null || echo "# emulator reset failed" >&2; }
reqs() { curl -sf "$EMU_URL/_emulator/requests" >"$E2E_TMP/reqs.json"; }
settings() { printf '%s\n' "$1" >"$XDG_CONFIG_HOME/brock/settings.json"; }
# py 'code' DESC: a check in python with R (the emulator's requests), L (ledger rows), OUT, ERR
py() {
  reqs
  if python3 - "$E2E_TMP/reqs.json" "$BROCK_DATA_DIR/brock.db" "$E2E_TMP/out" "$E2E_TMP/err" >"$E2E_TMP/py" 2>&1 <<PY
import json, sqlite3, sys, os
R = json.load(open(sys.argv[1]))["requests"]
L = []
if os.path.exists(sys.argv[2]):
    db = sqlite3.connect("file:" + sys.argv[2] + "?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    L = [dict(r) for r in db.execute("SELECT * FROM ledger ORDER BY id")]
OUT = open(sys.argv[3]).read()
ERR = open(sys.argv[4]).read()
def model_reqs(): return [r for r in R if r.get("operation", "").startswith(("invoke", "converse"))]
def close(a, b): return abs(a - b) < 1e-9
$1
PY
  then ok "$2"; else not_ok "$2" "$(cat "$E2E_TMP/py" "$E2E_TMP/err")"; fi
}
# prefill: rows into the ledger and its daily rollup, as store_ledger_insert writes them
# prefill 'add(time_ms, project, user, model, inp, out, cr, cw, cost, status, hit)'...
prefill() {
  [ -f "$BROCK_DATA_DIR/brock.db" ] || "$BROCK" cache stats >/dev/null 2>&1
  python3 - "$BROCK_DATA_DIR/brock.db" <<PY
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
NOW = int(time.time() * 1000)
def add(t, project, user, model, inp, out, cr, cw, cost, status="ok", hit=0):
    db.execute("INSERT INTO ledger(time_ms, session_id, user, project, model, profile, region, api, input_tokens,"
               " output_tokens, cache_read_tokens, cache_write_tokens, latency_ms, ttft_ms, retries, status,"
               " request_id, cost_usd, cache_hit, routing) VALUES(?,'',?,?,?,?,'us-west-2','messages',?,?,?,?,100,50,0,?,'',?,?,'')",
               (t, user, project, model, "us." + model, inp, out, cr, cw, status, cost, hit))
    db.execute("INSERT INTO ledger_day(day, project, user, model, calls, input_tokens, output_tokens, cache_read_tokens,"
               " cache_write_tokens, cost_usd, cache_hits, errors, latency_ms) VALUES(?,?,?,?,1,?,?,?,?,?,?,?,100)"
               " ON CONFLICT(day, project, user, model) DO UPDATE SET calls = calls + 1,"
               " input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,"
               " cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,"
               " cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,"
               " cost_usd = cost_usd + excluded.cost_usd, cache_hits = cache_hits + excluded.cache_hits,"
               " errors = errors + excluded.errors, latency_ms = latency_ms + excluded.latency_ms",
               (t // 86400000, project, user, model, inp, out, cr, cw, cost, hit, 0 if status == "ok" else 1))
$1
db.commit()
PY
}
rep() { local i; for ((i = 0; i < $2; i++)); do printf '%s' "$1"; done; }
EMU_ARN=arn:aws:iam::123456789012:user/emulator

# --- one call: its ledger row, every field, and the cost worked out by hand
fresh_data row
settings '{}'
reset_emu
b -p --tools "" --output-format json "price this"
[ $rc -eq 0 ] && ok "a priced call: exit 0" || not_ok "priced call (exit $rc)" "$(cat "$E2E_TMP/err")"
# us. Sonnet 4.6 (10 % over global): 1,000 x 3.30 + 500 x 16.50 + 2,000 x 0.33 = 12,210 per million
py '
rs = model_reqs()
assert len(rs) == 1, len(rs)
assert len(L) == 1, L
r = L[0]
assert r["user"] == "'$EMU_ARN'", r["user"]
assert r["project"] == "'"$WS"'", r["project"]
assert r["model"] == "anthropic.claude-sonnet-4-6" and r["profile"] == "us.anthropic.claude-sonnet-4-6", r
assert r["region"] == "us-west-2" and r["api"] == "messages", r
assert (r["input_tokens"], r["output_tokens"], r["cache_read_tokens"], r["cache_write_tokens"]) == (1000, 500, 2000, 0), r
assert r["latency_ms"] > 0 and r["ttft_ms"] > 0 and r["retries"] == 0, r
assert r["status"] == "ok" and r["cache_hit"] == 0, r
assert r["request_id"] == rs[0]["requestId"], (r["request_id"], rs[0]["requestId"])
assert close(r["cost_usd"], 0.01221), r["cost_usd"]
assert r["routing"] == "turn: model given", r["routing"]
assert len(r["session_id"]) == 36, r["session_id"]
j = json.loads(OUT)
assert close(j["total_cost_usd"], 0.01221), j["total_cost_usd"]
' "the ledger row has every field; cost 0.01221 USD as hand-computed; -p json agrees"

# two calls of one turn (a tool loop): two rows, one session
reset_emu
b -p "LOOP: read a.txt"
py '
assert len(model_reqs()) == 2, len(model_reqs())
assert len(L) == 3, len(L)
assert L[1]["session_id"] == L[2]["session_id"] != L[0]["session_id"], L
assert all(close(r["cost_usd"], 0.01221) for r in L)
' "a tool loop: one row per model call, in the same session"

# --- price overrides: a file with its date; a bad one names line and column
cat >"$XDG_CONFIG_HOME/brock/prices.json" <<'JSON'
{"date": "2026-09-01", "source": "our negotiated rates",
 "models": {"anthropic.claude-sonnet-4-6": {"input": 2, "output": 10}}}
JSON
fresh_data prices
reset_emu
b -p -v --tools "" "price this"
# input 2 x 1.1, output 10 x 1.1, cache read as the catalog's 0.33: 2,200 + 5,500 + 660 = 8,360 per million
py '
assert close(L[0]["cost_usd"], 0.00836), L[0]["cost_usd"]
assert "prices from '"$XDG_CONFIG_HOME"'/brock/prices.json (dated 2026-09-01)" in ERR, ERR
' "an override in ~/.config/brock/prices.json: 0.00836 USD, the file and its date in --verbose"
printf '{"date": "2026-09-01",\n "models": {"sonnet": {"input": "two"}}}\n' >"$XDG_CONFIG_HOME/brock/prices.json"
b -p --tools "" "price this"
[ $rc -eq 3 ] && grep -q "prices.json:2:33: models.sonnet.input: expected a number" "$E2E_TMP/err" \
  && ok "a bad prices file: exit 3 naming file:line:col and the field" || not_ok "bad prices (exit $rc)" "$(cat "$E2E_TMP/err")"
settings '{"brock": {"prices_file": "~/nowhere/prices.json"}}'
b -p --tools "" "price this"
[ $rc -eq 3 ] && grep -q "brock.prices_file: .*nowhere/prices.json does not exist" "$E2E_TMP/err" \
  && ok "brock.prices_file naming a missing file: exit 3" || not_ok "missing prices_file (exit $rc)" "$(cat "$E2E_TMP/err")"
rm -f "$XDG_CONFIG_HOME/brock/prices.json"

# --- budgets: 80 % warns, 100 % refuses with exit 8 and sends nothing
fresh_data budget
settings '{"brock": {"budget": {"daily_usd": 0.05, "monthly_usd": 100}}}'
prefill 'add(NOW - 1000, "/elsewhere", "someone", "anthropic.claude-sonnet-4-6", 1, 1, 0, 0, 0.04)'
reset_emu
b -p --tools "" "price this"
[ $rc -eq 0 ] && grep -q "brock: warning: budget: 80% of the daily limit used: \$0.0400 of \$0.0500 today (UTC) (brock.budget.daily_usd in $XDG_CONFIG_HOME/brock/settings.json)" "$E2E_TMP/err" \
  && ok "80 % of the daily budget: a warning on stderr, the request goes" || not_ok "80 % warning (exit $rc)" "$(cat "$E2E_TMP/err")"
reset_emu
b -p --tools "" "price this"
want="brock: budget: the daily limit of \$0.0500 is reached: \$0.0522 spent today (UTC); the request was not sent. The limit is set by brock.budget.daily_usd in $XDG_CONFIG_HOME/brock/settings.json: raise the limit there, wait for the next UTC day, or run with --ignore-budget"
[ $rc -eq 8 ] && [ "$(cat "$E2E_TMP/err")" = "$want" ] && ok "100 %: exit 8 with what, spent, where and how" \
  || not_ok "budget refusal (exit $rc)" "$(cat "$E2E_TMP/err")"
py '
assert not model_reqs(), model_reqs()
assert len(L) == 2, L
' "a refused run sends no request and writes no row"
b -p --tools "" --output-format json "price this"
py '
assert not model_reqs()
j = json.loads(OUT)
assert j["is_error"] and "daily limit" in j["error"], j
' "-p json: the refusal is an error result"
b -p --tools "" --ignore-budget "price this"
py 'assert len(model_reqs()) == 1' "--ignore-budget: the request goes ($rc)"
[ $rc -eq 0 ] || not_ok "--ignore-budget exit $rc"
# a project file may tighten the user's limit, never loosen it
mkdir -p "$WS/.brock"
echo '{"brock": {"budget": {"daily_usd": 1000}}}' >"$WS/.brock/settings.json"
reset_emu
b -p --tools "" "price this"
[ $rc -eq 8 ] && ok "a project settings file cannot raise the user's daily limit" || not_ok "project loosened the budget (exit $rc)"
rm -rf "$WS/.brock"
# --max-budget-usd: the second call of a tool loop is refused
fresh_data runbudget
settings '{}'
reset_emu
b -p --max-budget-usd 0.01 "LOOP: read a.txt"
[ $rc -eq 8 ] && grep -q "the --max-budget-usd limit of \$0.0100 is reached: \$0.0122 spent in this run" "$E2E_TMP/err" \
  && ok "--max-budget-usd: exit 8 before the second call" || not_ok "--max-budget-usd (exit $rc)" "$(cat "$E2E_TMP/err")"
py 'assert len(model_reqs()) == 1 and len(L) == 1, (len(model_reqs()), len(L))' "--max-budget-usd: one request, one row"
b -p --max-budget-usd abc "x"
[ $rc -eq 2 ] && ok "--max-budget-usd abc: usage error" || not_ok "--max-budget-usd abc (exit $rc)"

# --- the response cache: a repeated deterministic -p run never reaches the model
fresh_data cache
settings '{}'
reset_emu
b -p --tools "" --temperature 0 "cache me please"
cp "$E2E_TMP/out" "$E2E_TMP/first.out"
reset_emu
b -p -v --tools "" --temperature 0 "cache me please"
py '
assert not model_reqs(), [r["path"] for r in model_reqs()]
assert OUT == open("'"$E2E_TMP/first.out"'").read(), OUT
assert len(L) == 2 and L[1]["cache_hit"] == 1 and L[1]["cost_usd"] == 0, L[1]
assert L[1]["input_tokens"] == 0 and L[1]["request_id"] == "", L[1]
assert "cache hit, saved $0.012210 (1000 in, 500 out, 2000 cache read, 0 cache write tokens" in L[1]["routing"], L[1]["routing"]
assert "response cache: hit for us.anthropic.claude-sonnet-4-6" in ERR and "saved $0.012210" in ERR, ERR
' "a second identical run: no request, the same answer, a cache-hit row at 0 USD, said in --verbose"
reset_emu
b -p --tools "" --temperature 0 --no-cache "cache me please"
py 'assert len(model_reqs()) == 1 and L[-1]["cache_hit"] == 0' "--no-cache: the request goes"
reset_emu
b -p --tools "" "cache me please"
b -p --tools "" "cache me please"
py 'assert len(model_reqs()) == 2' "no --temperature 0: not cached"
reset_emu
b -p --tools "" --cache "cache me too"
b -p --tools "" --cache "cache me too"
py 'assert len(model_reqs()) == 1 and L[-1]["cache_hit"] == 1' "--cache: cached without --temperature 0"
reset_emu
b -p --temperature 0 "LOOP: read a.txt"
b -p --temperature 0 "LOOP: read a.txt"
py '
rs = model_reqs()
# the first call of each run is cacheable only if its answer has no tool use: it has one here,
# and the second call carries tool results: nothing is cached
assert len(rs) == 4, len(rs)
' "answers with tool use and requests with tool results are never cached"
# expiry
settings '{"brock": {"cache": {"ttl_s": 1}}}'
reset_emu
b -p --tools "" --temperature 0 "expire me"
sleep 2.2
b -p --tools "" --temperature 0 "expire me"
py 'assert len(model_reqs()) == 2 and L[-1]["cache_hit"] == 0' "past brock.cache.ttl_s the entry has expired"
b cache stats --json
py 'j = json.loads(OUT); assert j["expirations"] >= 1 and j["ttl_s"] == 1, j' "cache stats counts the expiration"
# eviction: a limit that holds one entry and a half
settings '{}'
b cache clear
b -p --tools "" --temperature 0 "entry one"
b cache stats --json
one=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$E2E_TMP/out")
mb=$(python3 -c "print($one * 1.5 / 1048576)")
settings "{\"brock\": {\"cache\": {\"max_mb\": $mb}}}"
reset_emu
b -p --tools "" --temperature 0 "entry two"
b -p --tools "" --temperature 0 "entry one"
b cache stats --json
py '
assert len(model_reqs()) == 2, len(model_reqs())
j = json.loads(OUT)
assert j["evictions"] >= 1 and j["entries"] == 1, j
' "over brock.cache.max_mb the least recently used entry is evicted"
b cache stats
grep -q "^Response cache: 1 entry, " "$E2E_TMP/out" && grep -q "^Lookups: " "$E2E_TMP/out" \
  && ok "brock cache stats" || not_ok "cache stats text" "$(cat "$E2E_TMP/out")"
b cache clear
[ "$(cat "$E2E_TMP/out")" = "Removed 1 entry from the response cache." ] && ok "brock cache clear" || not_ok "cache clear" "$(cat "$E2E_TMP/out")"
b cache stats --json
py 'j = json.loads(OUT); assert j["entries"] == 0 and j["hits"] == 0' "after clear: empty, counters reset"
b cache purge
[ $rc -eq 2 ] && ok "brock cache purge: usage error" || not_ok "cache purge (exit $rc)"

# --- --model auto
fresh_data auto
settings '{}'
reset_emu
b -p -v --tools "" --model auto "design the architecture of a job queue"
py '
rs = model_reqs()
assert rs[0]["modelId"] == "us.anthropic.claude-opus-4-6-v1", rs[0]["modelId"]
assert L[-1]["profile"] == "us.anthropic.claude-opus-4-6-v1", L[-1]
assert "turn: auto -> opus (planning/hard-reasoning words" in L[-1]["routing"], L[-1]["routing"]
assert "routing: turn: auto -> opus" in ERR, ERR
' "--model auto: design work goes to Opus; --verbose and the ledger say why"
reset_emu
b -p --tools "" --model auto "fix the typo in README.md"
py 'assert model_reqs()[0]["modelId"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0", model_reqs()[0]["modelId"]' \
  "--model auto: a typo goes to Haiku"
settings '{"brock": {"router": {"rules": [{"match": "README", "model": "sonnet"}]}}}'
reset_emu
b -p --tools "" --model auto "fix the typo in README.md"
py '
assert model_reqs()[0]["modelId"] == "us.anthropic.claude-sonnet-4-6"
assert "brock.router.rules[0] matched" in L[-1]["routing"], L[-1]["routing"]
' "a user rule in brock.router.rules wins"
settings '{"brock": {"router": {"rules": [{"match": "(", "model": "sonnet"}]}}}'
b -p --tools "" --model auto "x"
[ $rc -eq 3 ] && grep -q "brock.router.rules\[0\].match: bad regular expression" "$E2E_TMP/err" \
  && ok "a bad router rule: exit 3 naming it" || not_ok "bad rule (exit $rc)" "$(cat "$E2E_TMP/err")"

# --- fallback after throttling: to another model, then stay there
fresh_data fallback
settings '{"brock": {"fallback": ["haiku"]}}'
reset_emu
curl -sf "$EMU_URL/_emulator/faults" -d '{"type": "throttling", "count": -1, "model": "us.anthropic.claude-sonnet-4-6"}' >/dev/null
b -p --tools "" "price this"
py '
ids = [r["modelId"] for r in model_reqs()]
assert ids == ["us.anthropic.claude-sonnet-4-6", "us.anthropic.claude-haiku-4-5-20251001-v1:0"], ids
assert [r["status"] for r in L] == ["ThrottlingException", "ok"], [r["status"] for r in L]
assert "fallback -> us.anthropic.claude-haiku-4-5-20251001-v1:0 in us-west-2 after throttling" in L[1]["routing"], L[1]["routing"]
assert "throttled on us.anthropic.claude-sonnet-4-6 in us-west-2" in ERR, ERR
' "throttled after retries: brock.fallback moves to Haiku; both calls are rows"
[ $rc -eq 0 ] || not_ok "fallback run exit $rc" "$(cat "$E2E_TMP/err")"
settings '{"brock": {"fallback": ["us-east-1"]}}'
reset_emu
curl -sf "$EMU_URL/_emulator/faults" -d '{"type": "throttling", "count": 1}' >/dev/null
b -p --tools "" "price this"
py '
rs = model_reqs()
assert [r["auth"]["region"] for r in rs] == ["us-west-2", "us-east-1"], [r["auth"] for r in rs]
assert L[-1]["region"] == "us-east-1", L[-1]
' "a region in brock.fallback: the call moves to us-east-1 (signed for it)"

# --- background work: compaction calls are rows of their own, marked as such
fresh_data compact
settings '{}'
for i in 1 2 3 4; do
  python3 -c 'import sys; print("\n".join("line %d of a big file number %s, padded to make it long enough" % (n, sys.argv[1]) for n in range(120)))' $i >"$WS/big$i.txt"
done
sed -e "s|@WS@|$WS|g" "$SCEN/agent_compact.json" >"$E2E_TMP/agent_compact.json"
MAIN_EMU=$EMU_URL
start_emulator --scenario "$E2E_TMP/agent_compact.json" || { not_ok "compaction emulator"; done_testing; exit 0; }
(cd "$WS" && BROCK_CONTEXT_WINDOW=6000 AWS_ENDPOINT_URL=$EMU_URL "$BROCK" -p --tools Read "read the four big files" \
  >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?
py '
bg = [r for r in L if r["routing"].startswith("compact (background)")]
assert bg, [r["routing"] for r in L]
assert all(r["model"] == "anthropic.claude-haiku-4-5-20251001-v1:0" for r in bg), bg
assert bg[0]["routing"] == "compact (background): Haiku-class model for background work", bg[0]["routing"]
assert all(r["routing"] == "turn: model given" for r in L if r not in bg)
assert len(L) == len(model_reqs()), (len(L), len(model_reqs()))
' "compaction summaries are ledger rows marked background, on the Haiku-class model (exit $rc)"
rm -f "$WS"/big*.txt
EMU_URL=$MAIN_EMU

# --- no secret in the ledger, the cache keys or the identity file
fresh_data secrets
settings '{}'
cat >"$E2E_TMP/keys.json" <<'JSON'
{"keys": [{"AccessKeyId": "ASIAE2ECOSTSECRET01", "SecretAccessKey": "Zq8SecretAccessKeyForCostTestZq8SecretAcc",
           "SessionToken": "FwoGZXIvYXdzECostTestSessionTokenSHOULDNEVERAPPEAR", "Arn": "arn:aws:sts::111122223333:assumed-role/dev/carol"}]}
JSON
kill "$EMU_PID" 2>/dev/null; wait "$EMU_PID" 2>/dev/null
start_emulator --scenario "$E2E_TMP/cost_usage.json" --keys "$E2E_TMP/keys.json" || { not_ok "emulator with keys"; done_testing; exit 0; }
(cd "$WS" && AWS_ENDPOINT_URL=$EMU_URL AWS_ACCESS_KEY_ID=ASIAE2ECOSTSECRET01 \
  AWS_SECRET_ACCESS_KEY=Zq8SecretAccessKeyForCostTestZq8SecretAcc \
  AWS_SESSION_TOKEN=FwoGZXIvYXdzECostTestSessionTokenSHOULDNEVERAPPEAR \
  "$BROCK" -p --tools "" --temperature 0 "my password is hunter2-PROMPTSECRET" >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?
[ $rc -eq 0 ] && ok "a run with session credentials" || not_ok "secrets run (exit $rc)" "$(cat "$E2E_TMP/err")"
py '
import glob
assert L and L[0]["user"] == "arn:aws:sts::111122223333:assumed-role/dev/carol", L
db = sqlite3.connect("file:" + sys.argv[2] + "?mode=ro", uri=True)
dump = "\n".join(db.iterdump())
ledger = json.dumps(L)
keys = " ".join(r[0].hex() if isinstance(r[0], bytes) else str(r[0]) for r in db.execute("SELECT key FROM cache"))
ident = open(os.path.join(os.path.dirname(sys.argv[2]), "identity.json")).read()
for s in ["Zq8SecretAccessKeyForCostTest", "FwoGZXIvYXdzECostTestSessionToken", "ASIAE2ECOSTSECRET01"]:
    assert s not in dump, s
    for f in glob.glob(os.path.dirname(sys.argv[2]) + "/*"):
        assert s.encode() not in open(f, "rb").read(), (s, f)
for where, text in [("ledger", ledger), ("cache keys", keys), ("identity", ident)]:
    assert "PROMPTSECRET" not in text and "hunter2" not in text, where
assert len(keys) == 64 and all(c in "0123456789abcdef" for c in keys), keys
st = os.stat(os.path.join(os.path.dirname(sys.argv[2]), "identity.json")).st_mode & 0o777
assert st == 0o600, oct(st)
' "no secret key, session token or access key id anywhere in the data dir; no prompt in the ledger, cache keys or identity file (0600)"

# --- brock usage: golden output from a hand-made ledger
fresh_data usage
prefill '
D = lambda d, h: (1786320000000 + (d - 10) * 86400000 + h * 3600000)  # 2026-08-10T00:00Z + ...
A, B = "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob"
add(D(-11, 9), "/src/app", A, "anthropic.claude-sonnet-4-6", 1, 1, 0, 0, 5.0)  # 2026-07-30: before --since
add(D(10, 10), "/src/app", A, "anthropic.claude-sonnet-4-6", 10000, 2000, 50000, 5000, 0.1)
add(D(10, 11), "/src/app", A, "anthropic.claude-haiku-4-5-20251001-v1:0", 4000, 500, 0, 0, 0.0065)
add(D(11, 9), "/src/lib", B, "anthropic.claude-sonnet-4-6", 20000, 4000, 0, 0, 0.2)
add(D(12, 12), "/src/app", A, "anthropic.claude-opus-4-6-v1", 1000, 1000, 0, 0, 0.05)
add(D(12, 13), "/src/app", A, "anthropic.claude-opus-4-6-v1", 0, 0, 0, 0, 0, status="ThrottlingException")
add(D(12, 14), "/src/app", A, "anthropic.claude-opus-4-6-v1", 0, 0, 0, 0, 0, hit=1)
'
F=█
{
  echo "Spend per day (USD, UTC days), since 2026-08-01"
  echo "  2026-08-10  $(rep $F 25)▌$(rep ' ' 22)  \$0.1065  2 calls"
  echo "  2026-08-11  $(rep $F 48)  \$0.2000  1 call"
  echo "  2026-08-12  $(rep $F 12)$(rep ' ' 36)  \$0.0500  3 calls"
  echo
  echo "Tokens per model, since 2026-08-01"
  echo "  claude-sonnet-4-6$(rep ' ' 13)  $(rep $F 10)  91.0k  85.0k in, 6.0k out, \$0.3000"
  echo "  claude-haiku-4-5-20251001-v1:0  ▌$(rep ' ' 9)   4.5k  4.0k in, 500 out, \$0.0065"
  echo "  claude-opus-4-6-v1$(rep ' ' 12)  ▎$(rep ' ' 9)   2.0k  1.0k in, 1.0k out, \$0.0500"
  echo
  echo "Total: \$0.3565 in 6 calls (1 from the response cache, 1 failed); tokens: 35.0k in, 7.5k out, 50.0k cache read, 5.0k cache write"
} >"$E2E_TMP/want"
(cd "$WS" && COLUMNS=80 LC_ALL=C.UTF-8 "$BROCK" usage --since 2026-08-01 >"$E2E_TMP/got" 2>&1)
diff "$E2E_TMP/want" "$E2E_TMP/got" >"$E2E_TMP/diff" && ok "brock usage: spend per day and tokens per model (golden, UTF-8)" \
  || not_ok "usage golden" "$(cat "$E2E_TMP/diff")"
{
  echo "Spend per day (USD, UTC days), since 2026-08-01"
  echo "  2026-08-10  $(rep '#' 26)$(rep ' ' 22)  \$0.1065  2 calls"
  echo "  2026-08-11  $(rep '#' 48)  \$0.2000  1 call"
  echo "  2026-08-12  $(rep '#' 12)$(rep ' ' 36)  \$0.0500  3 calls"
  echo
  echo "Total: \$0.3565 in 6 calls (1 from the response cache, 1 failed); tokens: 35.0k in, 7.5k out, 50.0k cache read, 5.0k cache write"
} >"$E2E_TMP/want"
(cd "$WS" && COLUMNS=80 LC_ALL=C "$BROCK" usage day --since 2026-08-01 >"$E2E_TMP/got" 2>&1)
diff "$E2E_TMP/want" "$E2E_TMP/got" >"$E2E_TMP/diff" && ok "brock usage day: ASCII bars outside a UTF-8 locale (golden)" \
  || not_ok "usage ascii golden" "$(cat "$E2E_TMP/diff")"
{
  echo "Spend per project (USD), since 2026-08-01"
  echo "  /src/lib  $(rep $F 50)  \$0.2000  1 call"
  echo "  /src/app  $(rep $F 39)▏$(rep ' ' 10)  \$0.1565  5 calls"
  echo
  echo "Spend per user (USD), since 2026-08-01"
  echo "  …:aws:iam::111122223333:user/bob  $(rep $F 26)  \$0.2000  1 call"
  echo "  …ws:iam::111122223333:user/alice  $(rep $F 20)▍$(rep ' ' 5)  \$0.1565  5 calls"
  echo
  echo "Total: \$0.3565 in 6 calls (1 from the response cache, 1 failed); tokens: 35.0k in, 7.5k out, 50.0k cache read, 5.0k cache write"
} >"$E2E_TMP/want"
(cd "$WS" && COLUMNS=80 LC_ALL=C.UTF-8 "$BROCK" usage project user --since 2026-08-01 >"$E2E_TMP/got" 2>&1)
diff "$E2E_TMP/want" "$E2E_TMP/got" >"$E2E_TMP/diff" && ok "brock usage project user: ARNs keep their end (golden)" \
  || not_ok "usage project/user golden" "$(cat "$E2E_TMP/diff")"
b usage --since 2026-08-01 --json
py '
j = json.loads(OUT)
assert list(j) == ["since", "until", "total", "by_day", "by_model", "by_project", "by_user"], list(j)
assert j["since"] == "2026-08-01T00:00:00Z", j["since"]
fields = ["calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_hits", "errors", "cost_usd", "latency_ms_mean"]
assert list(j["total"]) == fields, list(j["total"])
t = j["total"]
assert (t["calls"], t["input_tokens"], t["output_tokens"], t["cache_hits"], t["errors"]) == (6, 35000, 7500, 1, 1), t
assert close(t["cost_usd"], 0.3565), t
assert [(d["day"], d["calls"]) for d in j["by_day"]] == [("2026-08-10", 2), ("2026-08-11", 1), ("2026-08-12", 3)], j["by_day"]
assert all(list(d) == ["day"] + fields for d in j["by_day"])
m = {d["model"]: d for d in j["by_model"]}
assert set(m) == {"anthropic.claude-sonnet-4-6", "anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-opus-4-6-v1"}, m
assert close(m["anthropic.claude-sonnet-4-6"]["cost_usd"], 0.3) and m["anthropic.claude-sonnet-4-6"]["calls"] == 2
assert {d["project"]: d["calls"] for d in j["by_project"]} == {"/src/app": 5, "/src/lib": 1}
assert {d["user"]: d["calls"] for d in j["by_user"]} == {"arn:aws:iam::111122223333:user/alice": 5, "arn:aws:iam::111122223333:user/bob": 1}
' "brock usage --json: the shape and the hand-made totals"
b usage --since all --json
py 'j = json.loads(OUT); assert j["since"] is None and j["total"]["calls"] == 7' "--since all includes July"
b usage --since 2026-02-30
[ $rc -eq 2 ] && grep -q -- "--since: expected a date" "$E2E_TMP/err" && ok "--since 2026-02-30: usage error" || not_ok "bad since (exit $rc)"
b usage nonsense
[ $rc -eq 2 ] && ok "brock usage nonsense: usage error" || not_ok "usage nonsense (exit $rc)"
fresh_data empty
b usage --since 7d
grep -q "  no model calls" "$E2E_TMP/out" && grep -q "^Total: \$0.0000 in 0 calls" "$E2E_TMP/out" \
  && ok "an empty ledger says so" || not_ok "empty usage" "$(cat "$E2E_TMP/out" "$E2E_TMP/err")"

# --- application inference profiles: only Bedrock knows the model behind one.
# brock asks (GetInferenceProfile) and prices the calls as that model; one it
# cannot learn is booked at the catalog's highest prices so a budget holds.
rm -f "$XDG_CONFIG_HOME/brock/prices.json"
settings '{}'
top=$(cd "$(dirname "$0")/../.." && pwd)
reset_emu
arn=$(cd "$top/tests/js" && AWS_REGION=us-west-2 node make_profile.mjs "$EMU_URL" brock-cost-team 2>"$E2E_TMP/mkp.err")
case $arn in
  arn:aws:bedrock:us-west-2:*:application-inference-profile/*)
    fresh_data profile
    b -p -v --tools "" --model "$arn" "price this"
    # us. Haiku 4.5 (the profile copies it): 1,000 x 1.10 + 500 x 5.50 + 2,000 x 0.11 = 4,070 per million
    py '
arn = "'"$arn"'"
gets = [r for r in R if r.get("method") == "GET" and r.get("path", "").startswith("/inference-profiles/")]
assert len(gets) == 1, [r.get("path") for r in R]
assert len(model_reqs()) == 1 and model_reqs()[0]["modelId"] == arn, model_reqs()
assert len(L) == 1 and L[0]["model"] == arn, L
assert close(L[0]["cost_usd"], 0.00407), L[0]["cost_usd"]
assert "price estimated" not in L[0]["routing"], L[0]["routing"]
assert "runs Claude Haiku 4.5 (Bedrock" in ERR and "GetInferenceProfile); its calls are priced as it" in ERR, ERR
' "--model <application inference profile ARN>: brock asks Bedrock its model (AWS SDK-made profile) and books Haiku 4.5's price (exit $rc)"
    [ "$(stat -c %a "$BROCK_DATA_DIR/profiles.json" 2>/dev/null)" = 600 ] &&
      python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["entries"]; assert e[sys.argv[2]]["model"] == "anthropic.claude-haiku-4-5-20251001-v1:0", e' \
        "$BROCK_DATA_DIR/profiles.json" "$arn" &&
      ok "the answer is kept in profiles.json (0600)" || not_ok "profiles.json" "$(ls -l "$BROCK_DATA_DIR"; cat "$BROCK_DATA_DIR/profiles.json")"
    reset_emu
    b -p -v --tools "" --model "$arn" "price this"
    py '
gets = [r for r in R if r.get("method") == "GET" and r.get("path", "").startswith("/inference-profiles/")]
assert not gets, gets
assert len(L) == 2 and close(L[1]["cost_usd"], 0.00407), L
assert "runs Claude Haiku 4.5 (kept from an earlier GetInferenceProfile)" in ERR, ERR
' "the next run asks no more: the kept answer prices it the same (exit $rc)"
    ;;
  *) not_ok "make an application inference profile with the AWS SDK for JavaScript" "$arn $(cat "$E2E_TMP/mkp.err")" ;;
esac
fresh_data ceiling
settings '{"brock": {"budget": {"daily_usd": 0.05, "monthly_usd": 100}}}'
reset_emu
gone=arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/nosuchprofile1
b -p --tools "" --model "$gone" "price this"
rc1=$rc
cp "$E2E_TMP/err" "$E2E_TMP/err1"
# the ceiling (Opus 4.1): 1,000 x 15 + 500 x 75 + 2,000 x 1.50 = 55,500 per million
py '
assert len(L) == 1, L
assert close(L[0]["cost_usd"], 0.0555), L[0]["cost_usd"]
assert L[0]["routing"].endswith("; price estimated"), L[0]["routing"]
' "a profile Bedrock will not describe: booked at the catalog's highest prices, routing says price estimated (exit $rc1)"
grep -q "brock: warning: could not learn which model $gone runs (GetInferenceProfile): ResourceNotFoundException" "$E2E_TMP/err1" &&
  grep -q "no price is known for $gone: its calls are booked at the catalog's highest prices (\$15 in, \$75 out" "$E2E_TMP/err1" &&
  ok "the lookup failure and the estimate are each one warning, with AWS's error type" ||
  not_ok "profile warnings" "$(cat "$E2E_TMP/err1")"
b -p --tools "" --model "$gone" "price this"
[ $rc -eq 8 ] && grep -q "daily limit of \$0.0500 is reached: \$0.0555 spent today" "$E2E_TMP/err" &&
  ok "the estimate counts against the budget: the next call is refused (exit 8)" ||
  not_ok "estimate vs budget (exit $rc)" "$(cat "$E2E_TMP/err")"
settings '{}'

done_testing
