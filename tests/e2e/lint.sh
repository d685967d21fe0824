#!/usr/bin/env bash
# tests/e2e/lint.sh - scripts/lint.sh (cppcheck over the C sources) finds nothing, and
# it does find a planted out-of-bounds read, so a clean result means something.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if ! command -v cppcheck >/dev/null; then
  echo "1..0 # SKIP cppcheck is not installed (scripts/install-deps --test)"
  exit 0
fi

"$top/scripts/lint.sh" >"$E2E_TMP/out" 2>&1 && ok "cppcheck finds nothing in src/, tests/, fuzz/, bench/" \
  || not_ok "cppcheck findings (scripts/lint.sh)" "$(tail -n 40 "$E2E_TMP/out")"

# The same settings on a copy of one file with an index read past its array.
mkdir -p "$E2E_TMP/tree/scripts" "$E2E_TMP/tree/src"
cp "$top/scripts/lint.sh" "$E2E_TMP/tree/scripts/"
cat >"$E2E_TMP/tree/src/planted.c" <<'C'
int planted(const int *v, int n);
int planted(const int *v, int n)
{
    int a[4] = {0};
    for (int i = 0; i <= 4; i++)
        a[i] = v[i % n];
    return a[0];
}
C
"$E2E_TMP/tree/scripts/lint.sh" >"$E2E_TMP/out" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q "planted.c:6:.*arrayIndexOutOfBounds" "$E2E_TMP/out" \
  && ok "a planted out-of-bounds write is reported with file:line and lint exits 1" \
  || not_ok "planted finding (exit $rc)" "$(cat "$E2E_TMP/out")"
done_testing
