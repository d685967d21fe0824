#!/usr/bin/env bash
# `brock doctor` end to end: against the in-process emulator, against a
# separately started emulator through the AWS endpoint overrides, with each kind
# of broken setting. Never reaches the network: every endpoint is loopback.
. "$(dirname "$0")/lib.sh"
SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

expect_rc 0 "doctor --emulator passes" "$BROCK" doctor --emulator
grep -q "arn:aws:iam::123456789012:user/emulator" "$E2E_TMP/out" && ok "doctor --emulator shows who the keys are" || not_ok "doctor --emulator identity" "$(cat "$E2E_TMP/out")"
grep -q -- "--emulator" "$E2E_TMP/out" && ok "doctor names the emulator as the endpoint's source" || not_ok "endpoint source --emulator"

grep -q "model .*us.anthropic.claude-sonnet-4-6 (sonnet): access OK" "$E2E_TMP/out" && ok "doctor checks model access for the aliases" || not_ok "model access" "$(cat "$E2E_TMP/out")"
grep -q "latency .*us-west-2 .*us-east-1 .*eu-west-1 .*ap-southeast-1" "$E2E_TMP/out" && ok "doctor measures latency to the four regions" || not_ok "latency" "$(cat "$E2E_TMP/out")"

start_emulator --deny-model anthropic.claude-opus-4-6-v1 || { not_ok "emulator starts"; done_testing; exit 0; }
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" doctor >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 4 ] && grep -q "model .*us.anthropic.claude-opus-4-6-v1 (opus): .*AccessDenied" "$E2E_TMP/out" \
  && ok "doctor reports a model without access (exit 4)" || not_ok "denied model (exit $rc)" "$(cat "$E2E_TMP/out")"
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" ANTHROPIC_MODEL=haiku \
    "$BROCK" doctor --json >"$E2E_TMP/out" 2>&1; rc=$?
node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); if (d.models.length!==1||d.models[0].access!=="ok"||Object.keys(d.latency).length!==4) throw 1' "$E2E_TMP/out" \
  && ok "doctor --json: ANTHROPIC_MODEL narrows the model check; latency per region" || not_ok "doctor json models" "$(cat "$E2E_TMP/out")"

# environment credentials, STS through AWS_ENDPOINT_URL_STS, Bedrock through AWS_ENDPOINT_URL
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=eu-west-1 ANTHROPIC_MODEL=haiku \
    AWS_ENDPOINT_URL_STS="$EMU_URL" AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" doctor --debug >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && ok "doctor with environment keys passes" || not_ok "doctor with environment keys (exit $rc)" "$(cat "$E2E_TMP/out" "$E2E_TMP/err")"
grep -q "credentials.*environment" "$E2E_TMP/out" && ok "doctor names the environment provider" || not_ok "provider named" "$(cat "$E2E_TMP/out")"
grep -q "region .*eu-west-1 (from AWS_REGION)" "$E2E_TMP/out" && ok "doctor shows the region and its source" || not_ok "region source"
grep -q "sts .*AWS_ENDPOINT_URL_STS" "$E2E_TMP/out" && ok "doctor shows the STS endpoint override" || not_ok "sts endpoint source"
grep -q "bedrock .*(AWS_ENDPOINT_URL;" "$E2E_TMP/out" && ok "doctor shows the global endpoint override" || not_ok "bedrock endpoint source"
grep -q "identity .*arn:aws:iam::123456789012" "$E2E_TMP/out" && ok "GetCallerIdentity signed by brock answers" || not_ok "identity"
if grep -qF -- "$SECRET" "$E2E_TMP/out" "$E2E_TMP/err"; then not_ok "no secret in doctor output or debug log"; else ok "no secret in doctor output or debug log"; fi

# --json
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=tok-SECRET-123 ANTHROPIC_MODEL=haiku \
    AWS_CREDENTIAL_EXPIRATION=2099-01-01T00:00:00Z AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" doctor --json >"$E2E_TMP/out" 2>"$E2E_TMP/err"
if node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (d.credentials.provider !== "environment") throw new Error("provider " + d.credentials.provider);
  if (!d.credentials.temporary || !d.credentials.expires_at.startsWith("2099-01-01")) throw new Error("expiry");
  if (!/\*+MPLE$/.test(d.credentials.access_key_id)) throw new Error("masked key");
  if (d.identity.account !== "123456789012") throw new Error("account");
  if (d.region.source !== "default" || d.region.name !== "us-west-2") throw new Error("region");
  if (!d.checks.every(c => c.status !== "fail")) throw new Error("a check failed");
' "$E2E_TMP/out" 2>"$E2E_TMP/err.js"; then ok "doctor --json reports provider, expiry, identity, region"; else not_ok "doctor --json" "$(cat "$E2E_TMP/err.js" "$E2E_TMP/out")"; fi
grep -q "tok-SECRET-123" "$E2E_TMP/out" && not_ok "session token not in --json" || ok "session token not in --json"

# a wrong secret: the emulator refuses the signature, doctor says so and exits 4
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wrong-secret-value AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" doctor >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 4 ] && ok "wrong secret: exit 4" || not_ok "wrong secret: exit $rc"
# STS (awsQuery) answers SignatureDoesNotMatch where Bedrock says InvalidSignatureException
grep -q "SignatureDoesNotMatch" "$E2E_TMP/out" && ok "wrong secret: AWS error type shown" || not_ok "wrong secret message" "$(cat "$E2E_TMP/out")"
grep -q "wrong-secret-value" "$E2E_TMP/out" && not_ok "wrong secret not echoed" || ok "wrong secret not echoed"

# no credentials anywhere: exit 4 and the places looked
env -u AWS_ACCESS_KEY_ID AWS_ENDPOINT_URL="$EMU_URL" "$BROCK" doctor >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 4 ] && ok "no credentials: exit 4" || not_ok "no credentials: exit $rc"
grep -q "no AWS credentials found: looked in environment variables" "$E2E_TMP/out" && ok "no credentials: says where it looked" || not_ok "no credentials message" "$(cat "$E2E_TMP/out")"

# a profile with static keys from a credentials file, chosen with --profile
mkdir -p "$E2E_TMP/aws"
printf '[dev]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = %s\n' "$SECRET" >"$E2E_TMP/aws/credentials"
printf '[profile dev]\nregion = ap-southeast-1\nservices = local\n[services local]\nsts =\n  endpoint_url = %s\nbedrock_runtime =\n  endpoint_url = %s\n' "$EMU_URL" "$EMU_URL" >"$E2E_TMP/aws/config"
env -u AWS_ENDPOINT_URL ANTHROPIC_MODEL=haiku AWS_CONFIG_FILE="$E2E_TMP/aws/config" AWS_SHARED_CREDENTIALS_FILE="$E2E_TMP/aws/credentials" \
    AWS_ACCESS_KEY_ID=AKIDIGNORED AWS_SECRET_ACCESS_KEY=ignored \
    "$BROCK" doctor --profile dev >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && ok "profile from files with a [services] endpoint passes" || not_ok "profile dev (exit $rc)" "$(cat "$E2E_TMP/out")"
grep -q "region .*ap-southeast-1 (from profile dev)" "$E2E_TMP/out" && ok "region from the profile" || not_ok "region from profile" "$(cat "$E2E_TMP/out")"
grep -q "sts .*profile dev services local" "$E2E_TMP/out" && ok "STS endpoint from the profile's services section" || not_ok "services endpoint" "$(cat "$E2E_TMP/out")"
grep -q "credentials .*shared-credentials\|credentials .*profile" "$E2E_TMP/out" && ok "--profile skips environment keys" || not_ok "--profile provider" "$(cat "$E2E_TMP/out")"

# a malformed config file: exit 3 and file:line
printf '[profile dev]\nthis line has no equals sign\n' >"$E2E_TMP/aws/config"
env AWS_CONFIG_FILE="$E2E_TMP/aws/config" "$BROCK" doctor >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 3 ] && ok "malformed config: exit 3" || not_ok "malformed config: exit $rc" "$(cat "$E2E_TMP/out")"
grep -q "$E2E_TMP/aws/config:2:" "$E2E_TMP/out" && ok "malformed config: file:line named" || not_ok "malformed config message" "$(cat "$E2E_TMP/out")"

# an unknown profile named explicitly
env AWS_CONFIG_FILE=/dev/null "$BROCK" doctor --profile nosuch >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 3 ] && grep -q "nosuch" "$E2E_TMP/out" && ok "unknown --profile: exit 3 naming it" || not_ok "unknown profile (exit $rc)" "$(cat "$E2E_TMP/out")"

# plain http to a non-loopback endpoint is refused
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL=http://192.0.2.1:9 \
    "$BROCK" doctor >"$E2E_TMP/out" 2>&1; rc=$?
grep -q "refusing plain http" "$E2E_TMP/out" && ok "plain http to a remote host refused" || not_ok "plain http refusal (exit $rc)" "$(cat "$E2E_TMP/out")"
# api-key: a short-term Bedrock API key, that doctor then recognises
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET "$BROCK" api-key --region us-east-1 --expires 900 \
    >"$E2E_TMP/key" 2>"$E2E_TMP/err"; rc=$?
key=$(cat "$E2E_TMP/key")
[ $rc -eq 0 ] && [[ $key == bedrock-api-key-* ]] && ok "api-key mints a bedrock-api-key- token" || not_ok "api-key (exit $rc)" "$(cat "$E2E_TMP/err")"
decoded=$(printf '%s' "${key#bedrock-api-key-}" | base64 -d 2>/dev/null)
[[ $decoded == bedrock.amazonaws.com/\?Action=CallWithBearerToken* && $decoded == *X-Amz-Expires=900* && $decoded == *%2Fus-east-1%2Fbedrock%2Faws4_request* && $decoded == *"&Version=1" ]] \
  && ok "api-key token is the presigned CallWithBearerToken URL" || not_ok "api-key token shape" "$decoded"
grep -qF -- "$SECRET" "$E2E_TMP/key" "$E2E_TMP/err" && not_ok "api-key output holds no secret key" || ok "api-key output holds no secret key"
env AWS_BEARER_TOKEN_BEDROCK="$key" AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" doctor >"$E2E_TMP/out" 2>&1
grep -q "api-key .*short-term Bedrock API key .*region us-east-1" "$E2E_TMP/out" && ok "doctor recognises the API key" || not_ok "doctor api key" "$(cat "$E2E_TMP/out")"
expect_rc 2 "api-key --expires over 12 h is a usage error" env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=x "$BROCK" api-key --expires 50000
# api-key: a short-term Bedrock API key, that doctor then recognises
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET "$BROCK" api-key --region us-east-1 --expires 900 \
    >"$E2E_TMP/key" 2>"$E2E_TMP/err"; rc=$?
key=$(cat "$E2E_TMP/key")
[ $rc -eq 0 ] && [[ $key == bedrock-api-key-* ]] && ok "api-key mints a bedrock-api-key- token" || not_ok "api-key (exit $rc)" "$(cat "$E2E_TMP/err")"
decoded=$(printf '%s' "${key#bedrock-api-key-}" | base64 -d 2>/dev/null)
[[ $decoded == bedrock.amazonaws.com/\?Action=CallWithBearerToken* && $decoded == *X-Amz-Expires=900* && $decoded == *%2Fus-east-1%2Fbedrock%2Faws4_request* && $decoded == *"&Version=1" ]] \
  && ok "api-key token is the presigned CallWithBearerToken URL" || not_ok "api-key token shape" "$decoded"
grep -qF -- "$SECRET" "$E2E_TMP/key" "$E2E_TMP/err" && not_ok "api-key output holds no secret key" || ok "api-key output holds no secret key"
env AWS_BEARER_TOKEN_BEDROCK="$key" AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" doctor >"$E2E_TMP/out" 2>&1
grep -q "api-key .*short-term Bedrock API key .*region us-east-1" "$E2E_TMP/out" && ok "doctor recognises the API key" || not_ok "doctor api key" "$(cat "$E2E_TMP/out")"
expect_rc 2 "api-key --expires over 12 h is a usage error" env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=x "$BROCK" api-key --expires 50000
# monitoring: a configured audit log group is checked (exists? reachable?)
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" ANTHROPIC_MODEL=haiku \
    BROCK_LOG_GROUP=/brock/doctor-test "$BROCK" doctor >"$E2E_TMP/out" 2>&1
grep -q "monitoring .*log group /brock/doctor-test (from BROCK_LOG_GROUP) does not exist: run brock setup monitoring" "$E2E_TMP/out" \
  && ok "doctor says a configured log group is missing" || not_ok "doctor missing log group" "$(cat "$E2E_TMP/out")"
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" \
    "$BROCK" setup monitoring --log-group /brock/doctor-test >"$E2E_TMP/out" 2>&1 || not_ok "setup monitoring" "$(cat "$E2E_TMP/out")"
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" ANTHROPIC_MODEL=haiku \
    BROCK_LOG_GROUP=/brock/doctor-test "$BROCK" doctor >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "monitoring .*audit events ship to log group /brock/doctor-test" "$E2E_TMP/out" \
  && ok "after setup monitoring, doctor finds the log group" || not_ok "doctor log group (exit $rc)" "$(cat "$E2E_TMP/out")"
# an application inference profile as the model: doctor says which model it runs
top=$(cd "$(dirname "$0")/../.." && pwd)
parn=$(cd "$top/tests/js" && env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_REGION=us-west-2 \
  node make_profile.mjs "$EMU_URL" doctor-team 2>"$E2E_TMP/mkp.err")
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" AWS_REGION=us-west-2 \
    BROCK_DATA_DIR="$E2E_TMP/data-profile" "$BROCK" doctor --model "$parn" >"$E2E_TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "app-profile  *ok  *$parn runs Claude Haiku 4.5 (GetInferenceProfile)" "$E2E_TMP/out" \
  && ok "doctor --model <application inference profile>: which model it runs (exit 0)" \
  || not_ok "doctor app profile (exit $rc, $parn)" "$(cat "$E2E_TMP/out" "$E2E_TMP/mkp.err")"
gone=arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/nosuchprofile9
env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL="$EMU_URL" AWS_REGION=us-west-2 \
    BROCK_DATA_DIR="$E2E_TMP/data-profile" "$BROCK" doctor --model "$gone" >"$E2E_TMP/out" 2>&1
grep -q "app-profile  *warn  *$gone: which model it runs is unknown (ResourceNotFoundException" "$E2E_TMP/out" \
  && ok "doctor warns of a profile Bedrock will not describe, with AWS's error type" \
  || not_ok "doctor unknown profile" "$(cat "$E2E_TMP/out")"
done_testing
