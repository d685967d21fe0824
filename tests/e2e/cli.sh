#!/usr/bin/env bash
# The command line itself: version, help, usage errors and their exit codes.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "--version exits 0" "$BROCK" --version
grep -Eq '^brock [0-9]+\.[0-9]+\.[0-9]+ \(' "$E2E_TMP/out" && ok "--version names brock and its version" || not_ok "--version format" "$(cat "$E2E_TMP/out")"
grep -q 'libcurl/' "$E2E_TMP/out" && ok "--version lists libraries" || not_ok "--version lists libraries"
expect_rc 0 "--help exits 0" "$BROCK" --help
for w in doctor --region --profile --endpoint-url "Exit status"; do
  grep -q -- "$w" "$E2E_TMP/out" && ok "--help mentions $w" || not_ok "--help mentions $w"
done
# one command's help: its usage and the options it reads, not every option
expect_rc 0 "serve --help exits 0" "$BROCK" serve --help
grep -q "^Usage: brock serve --key" "$E2E_TMP/out" && grep -q -- "--realtime" "$E2E_TMP/out" &&
  grep -q -- "--tls-cert" "$E2E_TMP/out" && ! grep -q -- "--allowedTools" "$E2E_TMP/out" &&
  ! grep -q -- "--s3-prefix" "$E2E_TMP/out" && ok "serve --help shows serve's options only" ||
  not_ok "serve --help" "$(cat "$E2E_TMP/out")"
expect_rc 0 "help batch exits 0" "$BROCK" help batch
grep -q "^Usage: brock batch" "$E2E_TMP/out" && grep -q -- "--s3-prefix" "$E2E_TMP/out" &&
  ! grep -q -- "--tls-cert" "$E2E_TMP/out" && ok "help batch shows batch's options" || not_ok "help batch" "$(cat "$E2E_TMP/out")"
expect_rc 2 "help for an unknown command exits 2" "$BROCK" help frobnicate
grep -q "frobnicate" "$E2E_TMP/err" && ok "help names the unknown command" || not_ok "help frobnicate" "$(cat "$E2E_TMP/err")"
expect_rc 2 "unknown option exits 2" "$BROCK" --frobnicate
grep -q -- "--frobnicate" "$E2E_TMP/err" && ok "unknown option is named" || not_ok "unknown option is named"
expect_rc 2 "missing option value exits 2" "$BROCK" doctor --region
expect_rc 2 "unknown command exits 2" "$BROCK" frobnicate
grep -q "frobnicate" "$E2E_TMP/err" && ok "unknown command is named" || not_ok "unknown command is named"
expect_rc 0 "models lists the catalog" "$BROCK" models
for id in anthropic.claude-3-5-sonnet-20241022-v2:0 anthropic.claude-3-opus-20240229-v1:0 anthropic.claude-3-5-haiku-20241022-v1:0; do
  grep -q -- "$id" "$E2E_TMP/out" && ok "models lists seed model $id" || not_ok "models lists seed model $id"
done
expect_rc 0 "models --json" "$BROCK" models --json --region eu-west-1
if node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (d.aliases.sonnet !== "eu.anthropic.claude-sonnet-4-6") throw new Error("alias " + d.aliases.sonnet);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(d.prices_date)) throw new Error("date");
  const m = d.models.find(x => x.id === "anthropic.claude-3-opus-20240229-v1:0");
  if (!m || m.price_per_mtok.output !== 75) throw new Error("opus price");
  if (!d.models.every(x => x.context_tokens > 0 && x.max_output_tokens > 0)) throw new Error("limits");
  // the newer models are listed and marked, and no alias picks one
  const o55 = d.models.find(x => x.id === "anthropic.claude-opus-5-5");
  if (!o55 || o55.newer !== true || o55.price_per_mtok.input !== 4) throw new Error("opus 5.5");
  if (d.aliases.opus !== "eu.anthropic.claude-opus-4-6-v1") throw new Error("alias opus " + d.aliases.opus);
  if (d.models.find(x => x.id === "anthropic.claude-opus-4-6-v1").newer !== false) throw new Error("opus 4.6 newer");
  // long-prompt prices where a model has them; the 4.6 models on refuse a prefill
  const s45 = d.models.find(x => x.id === "anthropic.claude-sonnet-4-5-20250929-v1:0");
  if (!s45.long_prompt || s45.long_prompt.above_prompt_tokens !== 200000 || s45.long_prompt.price_per_mtok.input !== 6 ||
      s45.long_prompt.price_per_mtok.output !== 22.5) throw new Error("sonnet 4.5 long prompt");
  if (d.models.find(x => x.id === "anthropic.claude-sonnet-4-6").long_prompt !== undefined) throw new Error("4.6 long");
  if (s45.refuses_prefill !== false || o55.refuses_prefill !== true) throw new Error("prefill flags");
' "$E2E_TMP/out" 2>"$E2E_TMP/err"; then ok "models --json is valid and resolves aliases per region"; else not_ok "models --json content" "$(cat "$E2E_TMP/err")"; fi
done_testing
