#!/usr/bin/env bash
# `brock -p` as an agent, end to end against `brock emulate` with the
# scenarios in tests/e2e/scenarios/ (@WS@ / @OUT@ become the workspace and a
# directory outside it): read then edit (the file changes exactly), a failing
# command's output back to the model, refused tools, a path outside the
# workspace, --max-turns, --continue / --resume and `brock sessions`,
# compaction past a small window, cache points in the request bodies,
# DISABLE_PROMPT_CACHING, --api converse, stream-json, a PreToolUse hook.
# Only loopback. Checks read the emulator's request log.
. "$(dirname "$0")/lib.sh"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
SCEN=$(cd "$(dirname "$0")/scenarios" && pwd)
OUT=$E2E_TMP/outside
mkdir -p "$OUT"
echo "outside text" >"$OUT/outside.txt"

# new_ws NAME: a fresh workspace in $WS
new_ws() { WS=$E2E_TMP/$1; rm -rf "$WS"; mkdir -p "$WS"; WS=$(cd "$WS" && pwd -P); }
# emu SCENARIO: an emulator answering from the scenario with @WS@ and @OUT@ filled in
emu() {
  sed -e "s|@WS@|$WS|g" -e "s|@OUT@|$OUT|g" "$SCEN/$1" >"$E2E_TMP/$1"
  start_emulator --scenario "$E2E_TMP/$1" || { not_ok "emulator starts with $1"; done_testing; exit 0; }
}
# b ARGS...: brock in the workspace against the emulator; stdout, stderr, rc
b() { (cd "$WS" && AWS_ENDPOINT_URL=$EMU_URL "$BROCK" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?; }
reset_emu() { curl -sf -X POST -d '' "$EMU_URL/_emulator/reset" >/dev/null || echo "# emulator reset failed" >&2; }
reqs() { curl -sf "$EMU_URL/_emulator/requests" >"$E2E_TMP/reqs.json"; }
# py 'python code' DESC: run a check over the request log ($R = requests) and the output files
py() {
  if python3 - "$E2E_TMP/reqs.json" "$E2E_TMP/out" "$E2E_TMP/err" >"$E2E_TMP/py" 2>&1 <<PY
import json, sys
R = json.load(open(sys.argv[1]))["requests"] if sys.argv[1] else []
OUT = open(sys.argv[2]).read()
ERR = open(sys.argv[3]).read()
def model_reqs(): return [r for r in R if r.get("operation", "").startswith(("invoke", "converse"))]
def msgs(r): return r["body"]["messages"]
def results(r):
    m = msgs(r)[-1]
    return {b["tool_use_id"]: b for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result"}
def count(v, key):
    if isinstance(v, dict): return sum((k == key) + count(x, key) for k, x in v.items())
    if isinstance(v, list): return sum(count(x, key) for x in v)
    return 0
$1
PY
  then ok "$2"; else not_ok "$2" "$(cat "$E2E_TMP/py" "$E2E_TMP/err")"; fi
}

# --- read a file, then edit it: the file on disk changes exactly
new_ws edit
printf 'int main(void)\n{\n    return 1;\n}\n' >"$WS/main.c"
emu agent_read_edit.json
b -p --allowedTools Edit "fix main.c"
[ $rc -eq 0 ] && ok "read then edit: exit 0" || not_ok "read then edit (exit $rc)" "$(cat "$E2E_TMP/err")"
[ "$(cat "$WS/main.c")" = "$(printf 'int main(void)\n{\n    return 0;\n}')" ] && ok "the file changed exactly" \
  || not_ok "file after edit" "$(cat "$WS/main.c")"
grep -q "Fixed: main returns 0 now." "$E2E_TMP/out" && grep -q "Let me read it first." "$E2E_TMP/out" \
  && ok "the answers' text streams to stdout" || not_ok "text output" "$(cat "$E2E_TMP/out")"
reqs
py '
rs = model_reqs()
assert len(rs) == 3, len(rs)
r1 = results(rs[1])["toolu_read_1"]
assert "return 1;" in r1["content"] and not r1.get("is_error"), r1
r2 = results(rs[2])["toolu_edit_1"]
assert not r2.get("is_error"), r2
' "the model got the file, then the edit's result"
# the same with --permission-mode acceptEdits, over the Converse API
printf 'int main(void)\n{\n    return 1;\n}\n' >"$WS/main.c"
reset_emu
b -p --permission-mode acceptEdits --api converse "fix main.c"
[ $rc -eq 0 ] && grep -q "return 0;" "$WS/main.c" && ok "acceptEdits over --api converse edits the file" \
  || not_ok "acceptEdits / converse (exit $rc)" "$(cat "$E2E_TMP/err")"
reqs
py '
rs = model_reqs()
assert [r["operation"] for r in rs] == ["converse-stream"] * 3, [r["operation"] for r in rs]
last = rs[2]["body"]["messages"][-1]["content"]
tr = [b["toolResult"] for b in last if "toolResult" in b]
assert tr and tr[0]["toolUseId"] == "toolu_edit_1" and tr[0].get("status") != "error", last
' "the Converse tool loop sends toolResult blocks"
# without permission the edit is refused and the file stays
printf 'int main(void)\n{\n    return 1;\n}\n' >"$WS/main.c"
reset_emu
b -p --output-format json "fix main.c"
grep -q "return 1;" "$WS/main.c" && ok "no --allowedTools: the edit is refused" || not_ok "edit refused" "$(cat "$WS/main.c")"
py '
r = json.loads(OUT)
assert r["subtype"] == "success" and r["num_turns"] == 3, r
d = r["permission_denials"]
assert len(d) == 1 and d[0]["tool_name"] == "Edit" and d[0]["tool_use_id"] == "toolu_edit_1", d
assert d[0]["tool_input"]["old_string"] == "return 1;", d
assert r["usage"]["input_tokens"] + r["usage"]["cache_read_input_tokens"] + r["usage"]["cache_creation_input_tokens"] > 0
assert r["total_cost_usd"] > 0
' "json: num_turns counts model calls, permission_denials lists the refusal"
# a PreToolUse hook blocks the edit (exit 2), its words go to the model
mkdir -p "$WS/.brock"
cat >"$WS/.brock/settings.json" <<'JSON'
{"hooks": {"PreToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "echo 'no edits on Fridays' >&2; exit 2"}]}]}}
JSON
reset_emu
b -p --allowedTools Edit "fix main.c"
reqs
grep -q "return 1;" "$WS/main.c" && py '
r = results(model_reqs()[2])["toolu_edit_1"]
assert r.get("is_error") and "no edits on Fridays" in r["content"], r
' "a PreToolUse hook (exit 2) blocks the edit and the model is told why" || not_ok "hook block" "$(cat "$WS/main.c")"
rm -rf "$WS/.brock"

# --- a failing command: its output goes back to the model as an error result
new_ws bash
emu agent_bash_fail.json
b -p --allowedTools "Bash(echo:*) Bash(ls:*)" "list it"
[ $rc -eq 0 ] && ok "failing command: the turn completes" || not_ok "bash fail (exit $rc)" "$(cat "$E2E_TMP/err")"
reqs
py '
rs = model_reqs()
assert len(rs) == 2, len(rs)
r = results(rs[1])["toolu_bash_1"]
assert r.get("is_error") is True, r
assert "checking" in r["content"] and "No such file" in r["content"], r
' "the next request carries the output with is_error"

# --- refused tools: a command without a rule, a path outside the workspace
new_ws denied
echo "keep me" >"$WS/keep.txt"
emu agent_denied.json
b -p --output-format json "clean up"
[ -f "$WS/keep.txt" ] && ok "a refused command does not run" || not_ok "keep.txt was deleted"
reqs
py '
res = results(model_reqs()[1])
rm, out, inside = res["toolu_rm_1"], res["toolu_out_1"], res["toolu_in_1"]
assert rm["is_error"] and "refused" in rm["content"] and "--allowedTools" in rm["content"], rm
assert out["is_error"] and "outside the workspace" in out["content"] and "outside text" not in out["content"], out
assert not inside.get("is_error") and "keep me" in inside["content"], inside
' "the model is told: the command and the outside path are refused, the inside read runs"
py '
d = json.loads(OUT)["permission_denials"]
assert sorted(x["tool_use_id"] for x in d) == ["toolu_out_1", "toolu_rm_1"], d
' "permission_denials lists both refusals"
grep -q "refused" "$E2E_TMP/err" && ok "refusals are reported on stderr" || not_ok "stderr refusals" "$(cat "$E2E_TMP/err")"

# --- --max-turns
new_ws loop
echo "int x;" >"$WS/main.c"
emu agent_loop.json
b -p --max-turns 2 --output-format json "loop forever"
[ $rc -eq 1 ] && ok "--max-turns reached: exit 1" || not_ok "max turns exit $rc" "$(cat "$E2E_TMP/err")"
reqs
py '
r = json.loads(OUT)
assert r["subtype"] == "error_max_turns" and r["is_error"] and r["num_turns"] == 2, r
assert len(model_reqs()) == 2, len(model_reqs())
' "json subtype error_max_turns after exactly 2 model calls"
b -p --max-turns 3 --output-format stream-json "loop forever"
py '
lines = [json.loads(l) for l in OUT.splitlines()]
assert lines[0]["type"] == "system" and lines[0]["subtype"] == "init", lines[0]
assert "Read" in lines[0]["tools"] and "Bash" in lines[0]["tools"], lines[0]["tools"]
types = [l["type"] for l in lines]
assert types == ["system", "assistant", "user", "assistant", "user", "assistant", "user", "result"], types
u = lines[2]["message"]["content"][0]
assert u["type"] == "tool_result", u
assert lines[-1]["num_turns"] == 3 and lines[-1]["subtype"] == "error_max_turns"
assert len({l["session_id"] for l in lines}) == 1
' "stream-json: init with tools, assistant and tool-result lines, result"

# --- sessions: --continue and --resume continue with the history
new_ws sessions
start_emulator || { not_ok "plain emulator"; done_testing; exit 0; }
b -p --output-format json "remember the word PAPAYA"
sid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "$E2E_TMP/out")
b -p --continue "what was the word?"
reqs
py '
m = msgs(model_reqs()[-1])
assert len(m) == 3, m
assert m[0]["content"][0]["text"] == "remember the word PAPAYA", m[0]
assert "PAPAYA" in m[1]["content"][0]["text"] and m[2]["content"][0]["text"] == "what was the word?", m
' "--continue: the emulator sees the earlier messages"
b -p --resume "${sid:0:8}" --output-format json "and again?"
reqs
py '
m = msgs(model_reqs()[-1])
assert len(m) == 5 and m[4]["content"][0]["text"] == "and again?", m
assert json.loads(OUT)["session_id"] == "'"$sid"'"
' "--resume ID-PREFIX continues the same session"
b sessions --json
py '
s = [x for x in json.loads(OUT) if x["id"] == "'"$sid"'"]
assert s and s[0]["directory"] == "'"$WS"'" and s[0]["title"] == "remember the word PAPAYA", s
assert s[0]["messages"] == 6 and s[0]["cost_usd"] > 0, s
' "brock sessions --json lists it (directory, title, messages, cost)"
b sessions
grep -q "$sid" "$E2E_TMP/out" && grep -q "remember the word PAPAYA" "$E2E_TMP/out" && ok "brock sessions shows a table" \
  || not_ok "sessions table" "$(cat "$E2E_TMP/out")"
new_ws empty
b -p --continue "nothing here"
[ $rc -ne 0 ] && grep -q "no saved session" "$E2E_TMP/err" && ok "--continue without a session is an error" \
  || not_ok "continue without session (exit $rc)" "$(cat "$E2E_TMP/err")"
b -p --resume 00000000-dead "x"
[ $rc -ne 0 ] && ok "--resume of an unknown id is an error (exit $rc)" || not_ok "resume unknown"

# --- compaction past a small window
new_ws compact
for i in 1 2 3 4; do
  python3 -c 'import sys; print("\n".join("line %d of a big file number %s, padded to make it long enough" % (n, sys.argv[1]) for n in range(120)))' $i >"$WS/big$i.txt"
done
emu agent_compact.json
(cd "$WS" && BROCK_CONTEXT_WINDOW=6000 AWS_ENDPOINT_URL=$EMU_URL "$BROCK" -p -v --tools Read "read the four big files" \
  >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?
[ $rc -eq 0 ] && grep -q "All four files are read." "$E2E_TMP/out" && ok "compaction: the turn completes" \
  || not_ok "compaction turn (exit $rc)" "$(cat "$E2E_TMP/err")"
grep -q "compacted the conversation" "$E2E_TMP/err" && ok "compaction is reported" || not_ok "compaction report" "$(cat "$E2E_TMP/err")"
reqs
py '
rs = model_reqs()
hk = [i for i, r in enumerate(rs) if "haiku" in r["modelId"]]
assert hk, [r["modelId"] for r in rs]
i = hk[0]
assert "You summarise a conversation" in json.dumps(rs[i]["body"]["system"])
after = rs[i + 1]
assert "haiku" not in after["modelId"]
first = msgs(after)[0]["content"][0]["text"]
assert "SUMMARY-OF-THE-READS" in first and "Files read or changed earlier" in first, first
assert len(msgs(after)) < len(msgs(rs[i - 1])) + 2, (len(msgs(after)), len(msgs(rs[i - 1])))
# tool_use / tool_result pairs are intact in every request
for r in rs[i + 1:]:
    m = msgs(r)
    for k, x in enumerate(m):
        ids = [b["id"] for b in x["content"] if b.get("type") == "tool_use"]
        if ids:
            got = [b["tool_use_id"] for b in m[k + 1]["content"] if b.get("type") == "tool_result"]
            assert got == ids, (ids, got)
' "the Haiku model summarised; the next request starts with the summary, pairs intact"

# --- cache points in the request body, and the cache read back
new_ws cache
printf 'int main(void)\n{\n    return 1;\n}\n' >"$WS/main.c"
emu agent_read_edit.json
b -p -v --allowedTools Edit "fix main.c"
reqs
py '
rs = model_reqs()
for n, r in enumerate(rs):
    b = r["body"]
    assert "cache_control" in b["tools"][-1] and all("cache_control" not in t for t in b["tools"][:-1])
    assert "cache_control" in b["system"][-1]
    assert "cache_control" in b["messages"][-1]["content"][-1]
    want = 3 if n == 0 else 4
    assert count(b, "cache_control") == want, (n, count(b, "cache_control"))
    if n: assert "cache_control" in b["messages"][-3]["content"][-1]
assert rs[1]["usage"]["cacheRead"] > 0 and rs[2]["usage"]["cacheRead"] > 0, [r["usage"] for r in rs]
' "cache points: last tool, system, moving end (+ previous end); later calls read the cache"
grep -q "cache read" "$E2E_TMP/err" && ok "--verbose shows cache read/write per call" || not_ok "verbose cache" "$(cat "$E2E_TMP/err")"
printf 'int main(void)\n{\n    return 1;\n}\n' >"$WS/main.c"
reset_emu
(cd "$WS" && DISABLE_PROMPT_CACHING=1 AWS_ENDPOINT_URL=$EMU_URL "$BROCK" -p --allowedTools Edit "fix main.c" \
  >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?
reqs
py '
rs = model_reqs()
assert len(rs) == 3 and all(count(r["body"], "cache_control") == 0 for r in rs)
assert all(r["usage"]["cacheRead"] == 0 and r["usage"]["cacheWrite"] == 0 for r in rs)
' "DISABLE_PROMPT_CACHING=1: no cache points"

# --- no tools: a plain answer, the tools are not sent
new_ws plain
start_emulator || { not_ok "plain emulator"; done_testing; exit 0; }
b -p --tools "" "just talk"
reqs
py '
r = model_reqs()[-1]["body"]
assert "tools" not in r, list(r)
assert "just talk" in OUT
' "--tools \"\": no tools in the request"
b -p --tools "Read,Nope" "x"
[ $rc -eq 2 ] && grep -q "unknown tool 'Nope'" "$E2E_TMP/err" && ok "--tools with an unknown name is a usage error" \
  || not_ok "--tools unknown (exit $rc)" "$(cat "$E2E_TMP/err")"
b -p --permission-mode yolo "x"
[ $rc -eq 2 ] && ok "a bad --permission-mode is a usage error" || not_ok "bad mode exit $rc"
done_testing
