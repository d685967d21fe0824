#!/usr/bin/env bash
# tests/e2e/gateway_claude.sh - Claude Code from npm, unchanged, through
# `brock serve` to `brock emulate`:
#
#   CLAUDE_CODE_USE_BEDROCK=1 ANTHROPIC_BEDROCK_BASE_URL=<gateway>
#   AWS_BEARER_TOKEN_BEDROCK=<gateway key> claude -p ...
#
# Claude Code is installed once into $BROCK_BUILD/claude-code (npm; it is
# large, so not in tests/js/package.json), at the version this was last
# checked with (CLAUDE_CODE_VERSION overrides; "latest" for the newest). When npm cannot install it the
# script skips with the reason. Checked: Claude Code's answer, what it sent
# (the emulator's request log: the inference-profile listing on the runtime
# URL, one-token probes, the streamed turn with its Bedrock body), and the
# gateway's books (ledger rows with the key's user and project).
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
build=${BROCK_BUILD:-$(dirname "$BROCK")}
cc_version=${CLAUDE_CODE_VERSION:-2.1.332}
cache=$(cd "$build" && pwd)/claude-code-$cc_version
claude=$cache/node_modules/.bin/claude
if [ ! -x "$claude" ]; then
  mkdir -p "$cache"
  if ! command -v npm >/dev/null ||
     ! timeout 600 npm install --prefix "$cache" --no-audit --no-fund --loglevel=error \
       "@anthropic-ai/claude-code@$cc_version" >"$E2E_TMP/npm.log" 2>&1 || [ ! -x "$claude" ]; then
    echo "1..0 # SKIP npm could not install @anthropic-ai/claude-code: $(tail -n 1 "$E2E_TMP/npm.log" 2>/dev/null)"
    exit 0
  fi
fi
if ! "$claude" --version >"$E2E_TMP/ver" 2>&1; then
  echo "1..0 # SKIP the installed Claude Code does not run here: $(head -n 1 "$E2E_TMP/ver")"
  exit 0
fi
ok "Claude Code $(head -n 1 "$E2E_TMP/ver") is installed in $cache"

export HOME="$E2E_TMP/home" BROCK_DATA_DIR="$E2E_TMP/data" XDG_CONFIG_HOME="$E2E_TMP/home/.config"
mkdir -p "$HOME" "$E2E_TMP/project"
unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL BROCK_LOG_GROUP
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-west-2 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

start_emulator || { not_ok "the emulator starts"; done_testing; exit 0; }
key=cc-gateway-Key-0123456789abcdef
start_gateway --endpoint-url "$EMU_URL" --key "$key=dev/claude-code" ||
  { not_ok "the gateway starts" "$(cat "$GW_ERR")"; done_testing; exit 0; }
gw=$GW_URL
gw_pid=$GW_PID

# Claude Code sees only the gateway: no AWS credentials, no other endpoint.
run_claude() {
  (cd "$E2E_TMP/project" && env -i HOME="$HOME" PATH=/usr/bin:/bin TERM=dumb \
    CLAUDE_CODE_USE_BEDROCK=1 ANTHROPIC_BEDROCK_BASE_URL="$gw" AWS_BEARER_TOKEN_BEDROCK="$1" \
    AWS_REGION=us-west-2 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
    ${CC_MAX_RETRIES:+CLAUDE_CODE_MAX_RETRIES=$CC_MAX_RETRIES} ${CC_MODEL:+ANTHROPIC_MODEL=$CC_MODEL} \
    timeout 180 "$claude" -p "$2" --output-format json)
}

if run_claude "$key" "say hello to the brock gateway" >"$E2E_TMP/cc.json" 2>"$E2E_TMP/cc.err"; then
  ok "claude -p exits 0 through the gateway"
else
  not_ok "claude -p through the gateway" "$(tail -n 20 "$E2E_TMP/cc.err"; head -c 2000 "$E2E_TMP/cc.json")"
fi
if node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (r.is_error || !String(r.result).includes("Hello from brock emulate")) process.exit(1);
' "$E2E_TMP/cc.json" 2>/dev/null; then
  ok "Claude Code shows the upstream's answer"
else
  not_ok "Claude Code's answer" "$(head -c 2000 "$E2E_TMP/cc.json")"
fi

curl -s "$EMU_URL/_emulator/requests" >"$E2E_TMP/reqs.json"
node -e '
  const { requests } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const lines = [];
  const say = (ok, what) => lines.push(`${ok ? "ok" : "not ok"}\t${what}`);
  const cp = requests.filter((r) => r.path && r.path.startsWith("/inference-profiles"));
  say(cp.length > 0, "Claude Code listed inference profiles through the gateway (control plane, re-signed)");
  const inv = requests.filter((r) => r.operation && r.operation.startsWith("invoke"));
  const probes = inv.filter((r) => r.operation === "invoke" && r.body && r.body.max_tokens === 1);
  say(probes.length > 0, `one-token /invoke probes went upstream (${probes.length})`);
  const turn = inv.filter((r) => r.operation === "invoke-with-response-stream").pop();
  say(!!turn, "the turn was streamed (invoke-with-response-stream)");
  const b = turn ? turn.body : {};
  say(b && b.anthropic_version === "bedrock-2023-05-31" && Array.isArray(b.messages) && b.max_tokens > 1,
      "the streamed body is a Bedrock Messages body");
  say(b && b.metadata && typeof b.metadata.user_id === "string", "metadata.user_id got through");
  const roles = (b.messages || []).map((m) => m.role);
  say(!roles.includes("system"), "no role:system message reached Bedrock");
  say(requests.every((r) => !r.auth || r.auth.type === "none" || r.auth.accessKeyId === "AKIAIOSFODNN7EXAMPLE"),
      "every upstream call was signed with the gateway credentials");
  console.log(lines.join("\n"));
' "$E2E_TMP/reqs.json" >"$E2E_TMP/checks" 2>"$E2E_TMP/checks.err" || :
while IFS="$(printf '\t')" read -r verdict what; do
  if [ "$verdict" = ok ]; then ok "$what"; else not_ok "$what" "$(head -c 1500 "$E2E_TMP/reqs.json")"; fi
done <"$E2E_TMP/checks"
[ -s "$E2E_TMP/checks" ] || not_ok "the request log could be read" "$(cat "$E2E_TMP/checks.err")"

# An unknown key: Claude Code reports the refusal (exit non-zero).
# Claude Code retries a Bedrock 403 for minutes (with backoff, refreshing
# AWS credentials): without CLAUDE_CODE_MAX_RETRIES=0 this call only ever
# ended by `timeout 180` (exit 124), which the old check took for a refusal.
CC_MAX_RETRIES=0 run_claude "not-a-key-0123456789abcdef" "hi" >"$E2E_TMP/bad.json" 2>"$E2E_TMP/bad.err"
rc=$?
if [ "$rc" -ne 124 ] && grep -q '"api_error_status":403' "$E2E_TMP/bad.json"; then
  ok "an unknown key is refused: Claude Code shows the gateway's 403 (exit $rc)"
else
  not_ok "unknown key refused (exit $rc)" "$(head -c 1000 "$E2E_TMP/bad.json"; tail -n 5 "$E2E_TMP/bad.err")"
fi

# An application inference profile as the model (how teams tag Claude Code's
# spend): Claude Code asks GetInferenceProfile through the gateway, which
# learns the profile's model from that answer and books the turn at Haiku
# 4.5's price instead of an estimate.
arn=$(cd "$top/tests/js" && AWS_REGION=us-west-2 node make_profile.mjs "$EMU_URL" claude-code-team 2>"$E2E_TMP/mkp.err")
case $arn in
  arn:aws:bedrock:us-west-2:*:application-inference-profile/*)
    if CC_MODEL=$arn run_claude "$key" "hello through a profile" >"$E2E_TMP/app.json" 2>"$E2E_TMP/app.err"; then
      ok "claude -p with an application inference profile as its model exits 0"
    else
      not_ok "claude -p with a profile" "$(tail -n 20 "$E2E_TMP/app.err"; head -c 2000 "$E2E_TMP/app.json")"
    fi
    curl -s "$EMU_URL/_emulator/requests" >"$E2E_TMP/reqs2.json"
    node -e '
      const { requests } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const arn = process.argv[2];
      const got = requests.some((r) => r.method === "GET" && decodeURIComponent(r.path) === `/inference-profiles/${arn}`);
      const used = requests.some((r) => r.modelId === arn && r.operation === "invoke-with-response-stream");
      process.exit(got && used ? 0 : 1);
    ' "$E2E_TMP/reqs2.json" "$arn" &&
      ok "Claude Code looked the profile up through the gateway and streamed its turn on it" ||
      not_ok "the profile's lookup and turn upstream" "$(head -c 1500 "$E2E_TMP/reqs2.json")"
    curl -s "$gw/_gateway/health" >"$E2E_TMP/health.json"
    grep -q '"profiles_known":1,' "$E2E_TMP/health.json" &&
      ok "the gateway knows the profile's model (/_gateway/health profiles_known)" ||
      not_ok "the gateway learned the profile's model" "$(cat "$E2E_TMP/health.json")"
    ;;
  *) not_ok "an application inference profile was made (AWS SDK)" "$arn $(cat "$E2E_TMP/mkp.err")" ;;
esac

kill -TERM "$gw_pid" 2>/dev/null
wait "$gw_pid" 2>/dev/null
if command -v sqlite3 >/dev/null && [ -n "${arn:-}" ]; then
  priced=$(sqlite3 "$BROCK_DATA_DIR/brock.db" \
    "select count(*) from ledger where model='$arn' and routing like '%priced as Claude Haiku 4.5 (application inference profile)%' and cost_usd > 0")
  [ "${priced:-0}" -ge 1 ] && ok "the profile's turn is booked at Haiku 4.5's price ($priced rows)" ||
    not_ok "the profile's ledger row" "$(sqlite3 "$BROCK_DATA_DIR/brock.db" "select model, cost_usd, routing from ledger")"
fi
if command -v sqlite3 >/dev/null; then
  rows=$(sqlite3 "$BROCK_DATA_DIR/brock.db" "select count(*) from ledger where user='dev' and project='claude-code'")
  [ "${rows:-0}" -ge 2 ] && ok "the ledger has Claude Code's calls as dev/claude-code ($rows rows)" ||
    not_ok "ledger rows for Claude Code" "$rows"
fi
grep -q -e "$key" -e 'wJalrXUtnFEMI' "$E2E_TMP/gw.out" "$E2E_TMP/gw.err" &&
  not_ok "no key in the gateway's output" || ok "no key in the gateway's output"
done_testing
