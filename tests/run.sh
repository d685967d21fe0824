#!/usr/bin/env bash
# tests/run.sh BUILD_DIR - run brock's whole suite and print "N passed, N failed" last.
#
# Runs, in order: every unit-test binary under BUILD_DIR/tests (cmocka, TAP
# output), every end-to-end script tests/e2e/*.sh (TAP lines too), and a replay
# of every fuzz corpus through the fuzz targets. A test binary that dies
# before finishing its plan counts its missing tests as failed.
#
# Environment: BROCK_TESTDATA (the shared AWS test vectors; found next to the
# repository or its origin when unset), TEST_FILTER (substring of a unit-test
# binary or e2e script name), TEST_VERBOSE=1 (show every line). test_gateway
# also takes TEST_CASE (a cmocka pattern of test names) when run by hand.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
build=$(cd "$build" && pwd) || { echo "run.sh: no build dir $1"; exit 2; }
export BROCK_BUILD=$build BROCK_BIN=$build/brock BROCK_TOP=$top
# Plain `make` builds only the binary: the suite needs `make all` (every test
# binary, the fuzz replays). Say so rather than run a part and call it a pass.
if [ -z "${TEST_FILTER:-}" ] && { [ ! -x "$build/brock" ] || [ -z "$(find "$build/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | head -n1)" ]; }; then
  echo "run.sh: $build has no test programs or no brock: build them first (make all, or make SAN=1 all)" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

# Find the shared test vectors: $BROCK_TESTDATA, ../shared/testdata, or next to
# the repository this one was cloned from.
if [ -z "${BROCK_TESTDATA:-}" ]; then
  for cand in "$top/../shared/testdata" \
              "$(git -C "$top" remote get-url origin 2>/dev/null)/../shared/testdata"; do
    if [ -d "$cand" ]; then BROCK_TESTDATA=$(cd "$cand" && pwd); break; fi
  done
fi
export BROCK_TESTDATA=${BROCK_TESTDATA:-}

# Tests must never reach the network or a real AWS account.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE \
      AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION \
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
      AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
export AWS_EC2_METADATA_DISABLED=true
# Anything that would fall back to a real AWS endpoint goes to a closed
# loopback port instead (tests that need an endpoint set their own).
export AWS_ENDPOINT_URL=http://127.0.0.1:9
export AWS_CONFIG_FILE=/nonexistent/brock-test/config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/brock-test/credentials
export NO_COLOR=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/brock-run.XXXXXX")
export TMPDIR=$scratch HOME=$scratch/home
mkdir -p "$HOME"
trap 'rm -rf "$scratch"' EXIT

passed=0 failed=0
failures=()

# run_tap NAME COMMAND...: run a TAP producer and count its results.
run_tap() {
  local name=$1; shift
  local out rc planned=0 seen=0 p=0 f=0 line in_failure= pending=
  out=$("$@" 2>"$scratch/stderr"); rc=$?
  # A failed test's diagnostics always show: cmocka prints fail_msg() text
  # before its "not ok" line, and the assertion and file:line as "# " lines
  # after it.
  while IFS= read -r line; do
    case $line in
      "ok "*) p=$((p+1)); seen=$((seen+1)); in_failure=; pending=; [ -n "${TEST_VERBOSE:-}" ] && echo "  $line";;
      "not ok "*) f=$((f+1)); seen=$((seen+1)); in_failure=1; failures+=("$name: ${line#not ok }")
                  printf '%s' "$pending"; pending=; echo "  $line";;
      1..*) n=${line#1..}; n=${n%%[!0-9]*}; planned=$((planned + ${n:-0}));;
      "# "*) { [ -n "$in_failure" ] || [ -n "${TEST_VERBOSE:-}" ]; } && echo "  $line";;
      *) pending+="  $line"$'\n';;
    esac
  done <<<"$out"
  if [ "$seen" -lt "$planned" ]; then
    f=$((f + planned - seen)); failures+=("$name: $((planned - seen)) test(s) never reported (crash?)")
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1; failures+=("$name: exited $rc")
  fi
  if [ "$f" -gt 0 ] || [ -n "${TEST_VERBOSE:-}" ]; then
    # the start (what went wrong first) and the end (sanitizer summaries)
    local nl; nl=$(wc -l <"$scratch/stderr")
    if [ "$nl" -le 40 ]; then
      sed 's/^/  stderr: /' "$scratch/stderr"
    else
      head -n 25 "$scratch/stderr" | sed 's/^/  stderr: /'
      echo "  stderr: [... $((nl - 40)) lines ...]"
      tail -n 15 "$scratch/stderr" | sed 's/^/  stderr: /'
    fi
  fi
  printf '%-48s %4d passed, %d failed\n' "$name" "$p" "$f"
  passed=$((passed + p)); failed=$((failed + f))
}

filter=${TEST_FILTER:-}
for t in $(find "$build/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
  rel=${t#"$build"/tests/}
  [ -n "$filter" ] && [[ $rel != *"$filter"* ]] && continue
  run_tap "unit/$rel" "$t"
done

for s in tests/e2e/*.sh; do
  [ -e "$s" ] || continue
  case $(basename "$s") in lib.sh) continue;; esac
  [ -n "$filter" ] && [[ $s != *"$filter"* ]] && continue
  run_tap "e2e/$(basename "$s" .sh)" bash "$s"
done

# Fuzz corpora replayed through the targets (crash or sanitizer report fails).
if [ -z "$filter" ] || [[ fuzz == *"$filter"* ]]; then
  for r in $(find "$build/fuzz-replay" -type f -perm -u+x 2>/dev/null | sort); do
    tgt=$(basename "$r"); corpus=fuzz/corpus/${tgt#fuzz_}
    if [ -d "$corpus" ] && "$r" "$corpus" 2>"$scratch/stderr"; then
      passed=$((passed + 1)); printf '%-48s    1 passed, 0 failed (%s)\n' "fuzz-replay/$tgt" "$(tail -n1 "$scratch/stderr")"
    else
      failed=$((failed + 1)); failures+=("fuzz-replay/$tgt: corpus $corpus failed")
      tail -n 20 "$scratch/stderr" | sed 's/^/  stderr: /'
    fi
  done
fi

# Short timed libFuzzer runs (scripts/test sets BROCK_FUZZ_DIR when clang built them).
if [ -n "${BROCK_FUZZ_DIR:-}" ] && { [ -z "$filter" ] || [[ fuzz == *"$filter"* ]]; }; then
  secs=${BROCK_FUZZ_SECONDS:-20}
  BROCK_FUZZ_DIR=$(cd "$BROCK_FUZZ_DIR" && pwd)
  for f in $(find "$BROCK_FUZZ_DIR" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x 2>/dev/null | sort); do
    tgt=$(basename "$f"); corpus=fuzz/corpus/${tgt#fuzz_}
    work=$scratch/fuzz-$tgt; mkdir -p "$work/corpus"
    cp -r "$corpus"/. "$work/corpus/" 2>/dev/null
    if (cd "$work" && "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 corpus \
          >"$scratch/fuzzlog" 2>&1); then
      passed=$((passed + 1))
      printf '%-48s    1 passed, 0 failed (%s runs in %ss)\n' "fuzz/$tgt" \
        "$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/fuzzlog" | grep -o '[0-9]*$')" "$secs"
    else
      failed=$((failed + 1)); failures+=("fuzz/$tgt: libFuzzer found a crash (see output above)")
      { grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$scratch/fuzzlog" || tail -n 5 "$scratch/fuzzlog"; } | head -n 20 | sed 's/^/  /'
      # the frames in brock's own code, and the input, so a CI log alone
      # is enough to reproduce the crash
      grep -E '^ +#[0-9]+ .*/(src|fuzz)/[^ ]+\.c:[0-9]+' "$scratch/fuzzlog" | head -n 8 | sed 's/^ */  /'
      for unit in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$unit" ] && [ "$(stat -c %s "$unit")" -le 4096 ] || continue
        echo "  input $(basename "$unit"), base64:"; base64 -w 76 "$unit" | sed 's/^/    /'
      done
      cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$top/fuzz/" 2>/dev/null
    fi
  done
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo; echo "Failures:"; printf '  %s\n' "${failures[@]}"
fi
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
