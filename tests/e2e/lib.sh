# tests/e2e/lib.sh - TAP helpers for end-to-end scripts (sourced).
#
#   check "description" command args...   passes if the command exits 0
#   expect_rc N "description" command...  passes if the command exits N
#   ok "description" / not_ok "description" [detail]
#   done_testing                           prints the plan; call last
#
# $BROCK_BIN is the brock binary under test; $BROCK_BUILD its build dir.
set -u
_n=0
_failed=0
BROCK=${BROCK_BIN:-build/brock}
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/brock-e2e.XXXXXX")
trap 'rm -rf "$E2E_TMP"; [ -n "${_cleanup:-}" ] && eval "$_cleanup"' EXIT

ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() {
  _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $1"
  [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /' >&2
  return 0
}
check() {
  local d=$1; shift
  if "$@" >"$E2E_TMP/out" 2>&1; then ok "$d"; else not_ok "$d" "$(tail -n 20 "$E2E_TMP/out")"; fi
}
expect_rc() {
  local want=$1 d=$2 rc; shift 2
  "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$d"; else not_ok "$d (exit $rc, wanted $want)" "$(tail -n 20 "$E2E_TMP/err")"; fi
}
# Run cleanup code at exit (appended).
at_exit() { _cleanup="${_cleanup:-}${_cleanup:+;}$1"; }
done_testing() { echo "1..$_n"; }

# start_emulator [ARGS...]: start `brock emulate --port 0` in the background,
# set EMU_URL to its address and stop it at exit.
start_emulator() {
  local fifo=$E2E_TMP/emu.out.$$.$RANDOM
  EMU_URL=
  "$BROCK" emulate --port 0 "$@" >"$fifo" 2>"$fifo.err" &
  EMU_PID=$!
  at_exit "kill $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null"
  local i
  for i in $(seq 1 100); do
    [ -f "$fifo" ] && EMU_URL=$(sed -n '1s/^listening on //p' "$fifo")
    [ -n "$EMU_URL" ] && return 0
    kill -0 "$EMU_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "# emulator did not start: $(cat "$fifo.err")" >&2
  return 1
}

# start_gateway [SERVE ARGS...]: `brock serve --port 0 ARGS` in the background,
# its output in $E2E_TMP/gw.out and gw.err (GW_OUT, GW_ERR); sets GW_URL (from
# the first stdout line, "listening on URL") and GW_PID. Returns 1 if it did
# not start.
start_gateway() {
  GW_URL=
  GW_OUT=$E2E_TMP/gw.out GW_ERR=$E2E_TMP/gw.err
  "$BROCK" serve --port 0 "$@" >"$GW_OUT" 2>"$GW_ERR" &
  GW_PID=$!
  at_exit "kill $GW_PID 2>/dev/null"
  local i line
  for i in $(seq 1 100); do
    line=$(head -n 1 "$GW_OUT" 2>/dev/null)
    case $line in "listening on "*) GW_URL=${line#listening on }; return 0 ;; esac
    kill -0 "$GW_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
