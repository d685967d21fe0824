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
expect_rc 2 "unknown option exits 2" "$BROCK" --frobnicate
grep -q -- "--frobnicate" "$E2E_TMP/err" && ok "unknown option is named" || not_ok "unknown option is named"
expect_rc 2 "missing option value exits 2" "$BROCK" doctor --region
expect_rc 2 "unknown command exits 2" "$BROCK" frobnicate
grep -q "frobnicate" "$E2E_TMP/err" && ok "unknown command is named" || not_ok "unknown command is named"
done_testing
