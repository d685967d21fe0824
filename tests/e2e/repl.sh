#!/usr/bin/env bash
# The REPL in a real terminal: `brock` driven in tmux (send-keys, capture-pane)
# against `brock emulate` with tests/e2e/scenarios/repl_session.json (@WS@ is
# the workspace). Checks: banner and prompt; a Markdown answer rendered; text
# streaming in before the answer ends; Ctrl-C during a slow stream returns to
# the prompt and the REPL goes on; the spinner while waiting; an Edit's
# permission question with its diff, answered 1 (the file changes) and 3 with
# feedback (the file stays, the model gets the feedback: request log); /cost
# with tokens and dollars; /exit, Ctrl-D and Ctrl-C twice exit 0; history
# (file 0600, Up recalls, Ctrl-C clears the line); a first prompt from the
# command line; no terminal: a usage error naming -p; a typo of a command.
# NO_COLOR=1 for stable captures; every wait polls the pane with a timeout.
. "$(dirname "$0")/lib.sh"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
SCEN=$(cd "$(dirname "$0")/scenarios" && pwd)
SOCK=brock-test-$$
at_exit "tmux -L $SOCK kill-server 2>/dev/null; rm -f '${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK'"

if ! command -v tmux >/dev/null; then
  not_ok "tmux is installed (the REPL tests need it)"
  done_testing
  exit 0
fi

WS=$E2E_TMP/ws
mkdir -p "$WS" "$E2E_TMP/home"
WS=$(cd "$WS" && pwd -P)
DATA=$E2E_TMP/data
MAIN_C=$(printf 'int main(void)\n{\n    return 1;\n}')
echo "$MAIN_C" >"$WS/main.c"
sed -e "s|@WS@|$WS|g" "$SCEN/repl_session.json" >"$E2E_TMP/repl_session.json"
start_emulator --scenario "$E2E_TMP/repl_session.json" || { not_ok "the emulator starts"; done_testing; exit 0; }

# launch NAME [ARGS...]: brock in a new tmux session NAME (120x40); its exit
# status goes to $E2E_TMP/NAME.rc and the pane stays for capture.
launch() {
  local name=$1; shift
  {
    echo '#!/usr/bin/env bash'
    printf 'cd %q || exit 99\n' "$WS"
    printf 'env -i PATH=%q HOME=%q BROCK_DATA_DIR=%q NO_COLOR=1 TERM=%q LANG=C.UTF-8 ' \
      "$PATH" "$E2E_TMP/home" "$DATA" "${REPL_TERM:-xterm-256color}"
    printf 'AWS_ACCESS_KEY_ID=%q AWS_SECRET_ACCESS_KEY=%q AWS_ENDPOINT_URL=%q ' \
      "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$EMU_URL"
    printf 'AWS_CONFIG_FILE=/nonexistent/c AWS_SHARED_CREDENTIALS_FILE=/nonexistent/c AWS_EC2_METADATA_DISABLED=true '
    printf 'ASAN_OPTIONS=%q UBSAN_OPTIONS=%q ' "${ASAN_OPTIONS:-}" "${UBSAN_OPTIONS:-}"
    printf '%q ' "$BROCK" "$@"
    printf '\necho "EXIT=$?" >%q\nstty -a >%q 2>&1\nsleep 600\n' "$E2E_TMP/$name.rc" "$E2E_TMP/$name.stty"
  } >"$E2E_TMP/$name.sh"
  chmod +x "$E2E_TMP/$name.sh"
  tmux -L "$SOCK" new-session -d -s "$name" -x 120 -y 40 "$E2E_TMP/$name.sh"
}
pane() { tmux -L "$SOCK" capture-pane -p -t "$1" -S -400 2>/dev/null; }
keys() { local n=$1; shift; tmux -L "$SOCK" send-keys -t "$n" "$@"; }
# wait_for NAME REGEX [SECONDS]: poll the pane until an extended regex matches.
wait_for() {
  local t=${3:-15} i=0
  while [ "$i" -lt $((t * 20)) ]; do
    pane "$1" >"$E2E_TMP/pane"
    grep -Eq -- "$2" "$E2E_TMP/pane" && return 0
    sleep 0.05; i=$((i + 1))
  done
  return 1
}
# count NAME REGEX: lines of the pane that match
count() { pane "$1" | grep -Ec -- "$2"; }
# wait_count NAME REGEX N [SECONDS]: until at least N lines match
wait_count() {
  local t=${4:-15} i=0
  while [ "$i" -lt $((t * 20)) ]; do
    [ "$(count "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.05; i=$((i + 1))
  done
  return 1
}
# the last non-empty line of the pane is an empty prompt
at_prompt() {
  local i=0
  while [ "$i" -lt 200 ]; do
    [ "$(pane "$1" | sed '/^$/d' | tail -n 1)" = ">" ] && return 0
    sleep 0.05; i=$((i + 1))
  done
  return 1
}
rc_of() {
  local i=0
  while [ "$i" -lt 200 ]; do
    [ -s "$E2E_TMP/$1.rc" ] && { cat "$E2E_TMP/$1.rc"; return 0; }
    sleep 0.05; i=$((i + 1))
  done
  echo "EXIT=none"
}
show() { pane "$1" | tail -n "${2:-25}"; }
reqs() { curl -sf "$EMU_URL/_emulator/requests" >"$E2E_TMP/reqs.json"; }

# --- A: the main session ---------------------------------------------------
launch A
if wait_for A "permissions: default" && at_prompt A; then ok "the banner and the prompt appear"
else not_ok "banner and prompt" "$(show A)"; fi
grep -q "$WS" "$E2E_TMP/pane" && grep -Eq "us-west-2|us-east" "$E2E_TMP/pane" \
  && ok "the banner names the directory and the region" || not_ok "banner details" "$(show A)"

keys A "explain the plan" Enter
if wait_for A "MARKDOWN-END" && at_prompt A; then ok "a question gets its answer and the prompt comes back"
else not_ok "answer" "$(show A)"; fi
pane A >"$E2E_TMP/md"
# Markdown rendered for a plain terminal: heading underlined, emphasis markers
# gone, bullets and the code fence kept
if grep -qx "Plan" "$E2E_TMP/md" && grep -qx "====" "$E2E_TMP/md" \
  && grep -qx 'This is bold and `inline code`.' "$E2E_TMP/md" && grep -qx -- "- second item" "$E2E_TMP/md" \
  && grep -qx 'int x = 1;' "$E2E_TMP/md" && ! grep -q '\*\*' "$E2E_TMP/md"; then
  ok "the answer is rendered from Markdown"
else not_ok "markdown rendering" "$(tail -n 20 "$E2E_TMP/md")"; fi

# a slow stream: words show before the end; Ctrl-C stops it
keys A "count slowly" Enter
if wait_for A "alpha bravo" 10; then
  if grep -q "SLOW-END" "$E2E_TMP/pane"; then not_ok "text streams in" "the whole answer came at once"
  else ok "the answer streams in, word by word"; fi
else not_ok "streaming" "$(show A)"; fi
t0=$(date +%s%N)
keys A C-c
if wait_for A "Interrupted" 5 && at_prompt A; then
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  ok "Ctrl-C during the stream returns to the prompt (${ms} ms)"
else not_ok "Ctrl-C during the stream" "$(show A)"; fi
sleep 0.5
grep -q "SLOW-END" <(pane A) && not_ok "the stream stopped" "$(show A)" || ok "the rest of the stream is not shown"
keys A "explain it again" Enter
if wait_count A "MARKDOWN-END" 2 && at_prompt A; then ok "the REPL works after Ctrl-C"
else not_ok "after Ctrl-C" "$(show A)"; fi

# the spinner while waiting for the first token
keys A "think first" Enter
if wait_for A "Thinking… [0-9]+\.[0-9]s · [0-9]+ tokens" 5; then ok "a spinner with time and tokens while waiting"
else not_ok "spinner" "$(show A)"; fi
wait_for A "WAITED-ANSWER" 10 && ! grep -q "Thinking…" <(pane A | tail -n 3) \
  && ok "the spinner gives way to the answer" || not_ok "after the spinner" "$(show A)"
at_prompt A

# an edit asks; 1 applies it
keys A "fix main.c" Enter
if wait_for A "Do you want to make this edit to main.c\?" && wait_for A "3\. No, and tell Claude what to do differently"; then
  ok "an Edit shows the permission question"
else not_ok "permission question" "$(show A)"; fi
grep -q "^ *-    return 1;" "$E2E_TMP/pane" && grep -q "^ *+    return 0;" "$E2E_TMP/pane" \
  && grep -q "1. Yes" "$E2E_TMP/pane" && grep -q "2. Yes, and don't ask again for Edit(" "$E2E_TMP/pane" \
  && ok "the question shows the diff and the three answers" || not_ok "question contents" "$(show A 30)"
[ "$(cat "$WS/main.c")" = "$MAIN_C" ] && ok "nothing is changed before the answer" || not_ok "file changed early"
keys A 1
if wait_for A "EDIT-LOOP-DONE" && at_prompt A; then ok "answering 1 lets the turn finish"
else not_ok "after 1" "$(show A)"; fi
[ "$(cat "$WS/main.c")" = "$(printf 'int main(void)\n{\n    return 0;\n}')" ] && ok "answering 1 applied the edit" \
  || not_ok "the edit was applied" "$(cat "$WS/main.c")"

# a new conversation; 3 refuses with feedback
echo "$MAIN_C" >"$WS/main.c"
keys A "/clear" Enter
wait_for A "new conversation" && at_prompt A
keys A "fix main.c once more" Enter
wait_count A "Do you want to make this edit to main.c\?" 2 || not_ok "second question" "$(show A)"
keys A 3
if wait_for A "Tell Claude what to do differently"; then ok "answering 3 asks for feedback"
else not_ok "feedback prompt" "$(show A)"; fi
keys A "use exit code 2 instead" Enter
wait_count A "EDIT-LOOP-DONE" 2 && at_prompt A
[ "$(cat "$WS/main.c")" = "$MAIN_C" ] && ok "answering 3 left the file alone" || not_ok "file after 3" "$(cat "$WS/main.c")"
reqs
if python3 - "$E2E_TMP/reqs.json" <<'PY' >"$E2E_TMP/py" 2>&1
import json, sys
R = [r for r in json.load(open(sys.argv[1]))["requests"] if r.get("operation", "").startswith(("invoke", "converse"))]
last = R[-1]["body"]["messages"][-1]["content"]
res = [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"]
assert res, last
text = json.dumps(res[0]["content"])
assert "use exit code 2 instead" in text and res[0].get("is_error"), res[0]
PY
then ok "the model got the refusal with the feedback"; else not_ok "feedback in the request" "$(cat "$E2E_TMP/py")"; fi
grep -q "The user refused this tool call and said: use exit code 2 instead" <(pane A) \
  && ok "the refused call shows the feedback" || not_ok "refusal line" "$(show A)"

# Ctrl-C while a tool runs
keys A "run the long command" Enter
if wait_for A "Do you want to run this command\?" && grep -q "sleep 30" "$E2E_TMP/pane"; then
  ok "a command asks, showing the command"
else not_ok "Bash question" "$(show A)"; fi
keys A 1
if wait_for A "Bash\(sleep 30\)… [0-9]+\.[0-9]s" 5; then ok "the spinner names the running tool"
else not_ok "tool spinner" "$(show A)"; fi
t0=$(date +%s)
keys A C-c
if wait_count A "Interrupted\. What should Claude do instead\?" 2 5 && at_prompt A && [ $(( $(date +%s) - t0 )) -lt 10 ]; then
  ok "Ctrl-C stops the running command and returns to the prompt"
else not_ok "Ctrl-C during a tool" "$(show A)"; fi
grep -Eq "Bash\(sleep 30\)" <(pane A) && grep -qi "interrupted by the user" <(pane A) \
  && ok "the interrupted call is shown as such" || not_ok "interrupted tool line" "$(show A)"

keys A "/compact" Enter
if wait_for A "Compacted\. The context is now about [0-9,]+ tokens" && at_prompt A; then ok "/compact summarises the conversation"
else not_ok "/compact" "$(show A)"; fi
reqs
grep -q "Summarise it as instructed" "$E2E_TMP/reqs.json" && ok "/compact made the summary call" \
  || not_ok "no summary request"
keys A "break please" Enter
if wait_for A "Error: .*BROKEN-REQUEST" && at_prompt A; then ok "an error is shown and the REPL goes on"
else not_ok "error display" "$(show A)"; fi

keys A "/cost" Enter
if wait_for A 'Total cost: +\$[0-9]+\.[0-9]{4}' && wait_for A "Tokens: +[0-9,]+ in, [0-9,]+ out"; then
  ok "/cost shows a dollar figure and tokens"
else not_ok "/cost" "$(show A)"; fi
keys A "/exit" Enter
[ "$(rc_of A)" = "EXIT=0" ] && ok "/exit exits 0" || not_ok "/exit status: $(rc_of A)" "$(show A)"
if [ -f "$DATA/history" ] && [ "$(stat -c %a "$DATA/history")" = 600 ] && grep -qx "explain the plan" "$DATA/history"; then
  ok "the history file is written, mode 600"
else not_ok "history file" "$(ls -la "$DATA" 2>&1)"; fi

# --- B: a first prompt from the command line, exact /cost, history, Ctrl-D --
launch B "explain from the command line"
if wait_for B "> explain from the command line" && wait_for B "MARKDOWN-END" && at_prompt B; then
  ok "brock \"words\" starts with that prompt"
else not_ok "first prompt" "$(show B)"; fi
keys B "/cost" Enter
# the scenario's usage for this answer: 1234 in, 56 out, no cache
if wait_for B "Tokens: +1,234 in, 56 out, 0 cache read, 0 cache write" && wait_for B "Model calls: +1 \(1 turn\)" \
  && wait_for B 'Total cost: +\$0\.[0-9]*[1-9]'; then ok "/cost adds up the session's one call"
else not_ok "/cost figures" "$(show B)"; fi
at_prompt B
keys B Up
if wait_for B "^> /cost$" 5; then ok "Up recalls the last entry"; else not_ok "history recall" "$(show B)"; fi
keys B C-c
at_prompt B && ok "Ctrl-C clears the line" || not_ok "Ctrl-C with text" "$(show B)"
keys B "/model haiku" Enter
if wait_for B "Model: Claude Haiku" && at_prompt B; then ok "/model switches the model"
else not_ok "/model" "$(show B)"; fi
keys B "say it" Enter
if wait_for B "2\. Yes, and don't ask again for Bash\("; then ok "a command offers a rule for good"
else not_ok "always option" "$(show B)"; fi
keys B 2
if wait_for B "ECHO-DONE" && at_prompt B && grep -q '"Bash(echo' "$WS/.brock/settings.local.json" 2>/dev/null; then
  ok "answering 2 runs it and saves the rule in .brock/settings.local.json"
else not_ok "always-allow" "$(show B; cat "$WS/.brock/settings.local.json" 2>&1)"; fi
[ "$(stat -c %a "$WS/.brock/settings.local.json" 2>/dev/null)" = 600 ] && ok "the local settings file is 0600" \
  || not_ok "settings.local.json mode"
keys B "say it again" Enter
if wait_count B "ECHO-DONE" 2 && at_prompt B && [ "$(count B "Do you want to run this command")" -eq 1 ]; then
  ok "the saved rule is not asked again"
else not_ok "asked again" "$(show B)"; fi
reqs
if python3 - "$E2E_TMP/reqs.json" <<'PY' >"$E2E_TMP/py" 2>&1
import json, sys
R = [r for r in json.load(open(sys.argv[1]))["requests"] if r.get("operation", "").startswith(("invoke", "converse"))]
last = R[-1]
assert "haiku" in json.dumps(last.get("model") or last.get("model_id") or last["path"]), last["path"]
msgs = last["body"]["messages"]
# the conversation went on with the new model: the first prompt is still there
assert "explain from the command line" in json.dumps(msgs), msgs[0]
PY
then ok "the next turns go to the new model, with the conversation"; else not_ok "model switch in requests" "$(cat "$E2E_TMP/py")"; fi
keys B C-d
[ "$(rc_of B)" = "EXIT=0" ] && ok "Ctrl-D exits 0" || not_ok "Ctrl-D status: $(rc_of B)" "$(show B)"

# --- C: Ctrl-C twice at an empty prompt --------------------------------------
printf '# Project notes\nUse tabs.\n' >"$WS/BROCK.md"
launch C
at_prompt C
keys C "/resume" Enter
if wait_for C "Resume which" && wait_for C "explain from the command line"; then ok "/resume lists this directory's sessions"
else not_ok "/resume list" "$(show C)"; fi
n=$(pane C | grep -E "^ +[0-9]+\. .*explain from the command line" | sed -E 's/^ +([0-9]+)\..*/\1/' | head -n 1)
keys C "${n:-1}" Enter
if wait_for C "Resumed [0-9a-f-]+: explain from the command line" && at_prompt C; then ok "/resume picks one"
else not_ok "/resume pick" "$(show C)"; fi
keys C "/perm" Tab
if wait_for C "^> /permissions ?$" 5; then ok "Tab completes a command"; else not_ok "completion" "$(show C 60)"; fi
keys C Enter
if wait_for C "Permission mode: default" && wait_for C "Bash\(echo:\*\) +.*\.brock/settings\.local\.json"; then
  ok "/permissions shows the mode and the rules with their files"
else not_ok "/permissions" "$(show C)"; fi
keys C "/memory" Enter
if wait_for C "project +$WS/BROCK\.md +26 bytes"; then ok "/memory lists the memory files with sizes"
else not_ok "/memory" "$(show C)"; fi
at_prompt C
keys C C-c
if wait_for C "press Ctrl-C again to exit"; then ok "Ctrl-C at an empty prompt says how to leave"
else not_ok "first Ctrl-C" "$(show C)"; fi
keys C C-c
[ "$(rc_of C)" = "EXIT=0" ] && ok "a second Ctrl-C exits 0" || not_ok "Ctrl-C twice: $(rc_of C)" "$(show C)"
for n in A B C; do
  if grep -Eq '(^| )-(echo|icanon|isig)( |$)' "$E2E_TMP/$n.stty" 2>/dev/null || ! [ -s "$E2E_TMP/$n.stty" ]; then
    not_ok "session $n left the terminal as it found it" "$(cat "$E2E_TMP/$n.stty" 2>&1)"
  else ok "session $n left the terminal as it found it"; fi
done

# --- D: --temperature, then /model to a model that takes none -----------------
launch D --temperature 0.5
at_prompt D
keys D "/model us.anthropic.claude-opus-4-7" Enter
if wait_for D "Claude Opus 4\.7 takes no temperature" && wait_for D "staying on us\.anthropic\.claude-sonnet-4-6" &&
  at_prompt D; then ok "/model to a model that takes no temperature says why and stays"
else not_ok "/model with --temperature" "$(show D; cat "$E2E_TMP/D.sh")"; fi
keys D "/model arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/nosuchprofile7" Enter
if wait_for D "warning: could not learn which model" && wait_for D "ResourceNotFoundException" && at_prompt D; then
  ok "/model to a profile Bedrock will not describe: the REPL says so in its own lines"
else not_ok "/model unknown profile" "$(show D)"; fi
keys D C-d

# --- without a terminal --------------------------------------------------------
(cd "$WS" && "$BROCK" </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?
[ $rc -eq 2 ] && grep -q -- "brock -p" "$E2E_TMP/err" && ok "no terminal: a usage error pointing to -p" \
  || not_ok "no terminal (exit $rc)" "$(cat "$E2E_TMP/err")"
(cd "$WS" && "$BROCK" doctr </dev/null >"$E2E_TMP/out" 2>"$E2E_TMP/err"); rc=$?
[ $rc -eq 2 ] && grep -q "did you mean 'doctor'" "$E2E_TMP/err" && ok "a typo of a command is named" \
  || not_ok "typo (exit $rc)" "$(cat "$E2E_TMP/err")"

done_testing
