#!/usr/bin/env bash
# tests/e2e/gateway_tls.sh - `brock serve` with TLS on the listener: a
# throw-away CA and server certificate (openssl), curl over HTTP/2 (ALPN) and
# HTTP/1.1, TLS 1.1 refused, cleartext refused on the TLS port, the AWS SDK for
# JavaScript over TLS with only the CA added (NODE_EXTRA_CA_CERTS), the
# non-loopback rule (refused without TLS, allowed with it), clear errors for a
# missing or mismatched key, and SIGHUP: the certificate renewed without a
# restart (a connection held across it), the keys file read again, bad files
# leaving what was in use. Traffic stays on 127.0.0.1.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
command -v openssl >/dev/null || { echo "1..0 # SKIP no openssl command"; exit 0; }
export HOME="$E2E_TMP/home" BROCK_DATA_DIR="$E2E_TMP/data"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL BROCK_LOG_GROUP
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-west-2 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
d=$E2E_TMP/pki
mkdir -p "$d"
(
  cd "$d" || exit 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj /CN=brock-test-ca &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
      -subj /CN=localhost &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext \
      -out server.pem &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout renewed.key -out renewed.csr \
      -subj /CN=localhost &&
    openssl x509 -req -in renewed.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ext \
      -out renewed.pem &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem \
      -days 2 -subj /CN=other
) >"$E2E_TMP/openssl.log" 2>&1 || { not_ok "openssl makes the test certificates" "$(tail -5 "$E2E_TMP/openssl.log")"; done_testing; exit 0; }
chmod 600 "$d"/*.key

start_emulator || { not_ok "the emulator starts"; done_testing; exit 0; }
key=tls-gateway-key-0123456789abcdef
serve() { start_gateway --endpoint-url "$EMU_URL" --key "$key=dev/tls" "$@" && GW=$GW_URL; }
if serve --tls-cert "$d/server.pem" --tls-key "$d/server.key"; then
  ok "the gateway starts with --tls-cert and --tls-key"
else
  not_ok "the gateway starts with TLS" "$(cat "$GW_ERR")"
  done_testing
  exit 0
fi
case $GW in https://127.0.0.1:*) ok "it says https:// ($GW)" ;; *) not_ok "https URL" "$GW" ;; esac
grep -q 'warning: the TLS certificate .*server.pem ends in 2 days (CN=localhost, valid until 20.*renew it and send SIGHUP' "$GW_ERR" &&
  ok "a certificate that ends within 14 days gets a warning at start ($(grep 'ends in' "$GW_ERR" | head -c 120))" ||
  not_ok "expiry warning" "$(cat "$GW_ERR")"
port=${GW##*:}

v=$(curl -sS --cacert "$d/ca.pem" -o "$E2E_TMP/h2" -w '%{http_version} %{http_code}' "$GW/_gateway/health" 2>&1)
[ "$v" = "2 200" ] && grep -q '"status":"ok"' "$E2E_TMP/h2" && ok "curl: HTTP/2 over TLS (ALPN h2), certificate verified" ||
  not_ok "HTTP/2 over TLS" "$v"
v=$(curl -sS --http1.1 --cacert "$d/ca.pem" -o /dev/null -w '%{http_version} %{http_code}' "$GW/_gateway/health" 2>&1)
[ "$v" = "1.1 200" ] && ok "curl: HTTP/1.1 over TLS" || not_ok "HTTP/1.1 over TLS" "$v"
curl -sS --tls-max 1.1 --cacert "$d/ca.pem" -o /dev/null "$GW/_gateway/health" 2>"$E2E_TMP/tls11"
rc=$?
[ "$rc" = 35 ] && ok "TLS 1.1 is refused (curl exit 35: $(head -c 120 "$E2E_TMP/tls11"))" ||
  not_ok "TLS 1.1 refused" "rc=$rc $(cat "$E2E_TMP/tls11")"
v=$(curl -sS --tlsv1.3 --cacert "$d/ca.pem" -o /dev/null -w '%{http_code}' "$GW/_gateway/health" 2>&1)
[ "$v" = 200 ] && ok "TLS 1.3 is taken" || not_ok "TLS 1.3" "$v"
v=$(curl -sS --tlsv1.2 --tls-max 1.2 --cacert "$d/ca.pem" -o /dev/null -w '%{http_code}' "$GW/_gateway/health" 2>&1)
[ "$v" = 200 ] && ok "TLS 1.2 is taken" || not_ok "TLS 1.2" "$v"
if curl -sS -m 5 -o /dev/null "http://127.0.0.1:$port/_gateway/health" 2>/dev/null; then
  not_ok "cleartext HTTP on the TLS port is refused"
else
  ok "cleartext HTTP on the TLS port gets no answer"
fi
kill -0 "$GW_PID" 2>/dev/null && ok "the gateway is still up after the bad handshakes" || not_ok "gateway alive"

req='{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"over tls"}]}'
model=us.anthropic.claude-sonnet-4-5-20250929-v1%3A0
v=$(curl -sS --cacert "$d/ca.pem" -H "Authorization: Bearer $key" -H 'content-type: application/json' -d "$req" \
  -o "$E2E_TMP/inv" -w '%{http_code}' "$GW/model/$model/invoke" 2>&1)
[ "$v" = 200 ] && grep -q 'Hello from brock emulate' "$E2E_TMP/inv" && ok "InvokeModel through the TLS gateway" ||
  not_ok "InvokeModel over TLS" "$v $(head -c 300 "$E2E_TMP/inv")"
v=$(curl -sS --cacert "$d/ca.pem" -H "Authorization: Bearer not-the-key-0123456789abcdef" -d "$req" \
  -o "$E2E_TMP/bad" -w '%{http_code}' "$GW/model/$model/invoke" 2>&1)
[ "$v" = 403 ] && ok "an unknown key over TLS gets 403" || not_ok "unknown key over TLS" "$v"

if command -v node >/dev/null && [ -d "$top/tests/js/node_modules/@aws-sdk/client-bedrock-runtime" ]; then
  (cd "$top/tests/js" && NODE_EXTRA_CA_CERTS="$d/ca.pem" timeout 120 node gateway_tls.mjs "$GW" "$key") \
    >"$E2E_TMP/js.tap" 2>"$E2E_TMP/js.err"
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "AWS SDK JS: ${line#ok * - }" ;;
      "not ok "*) not_ok "AWS SDK JS: ${line#not ok * - }" "$(grep '^#' "$E2E_TMP/js.tap" | head -5)" ;;
    esac
  done <"$E2E_TMP/js.tap"
  grep -q '^ok ' "$E2E_TMP/js.tap" || not_ok "the AWS SDK for JavaScript ran" "$(tail -5 "$E2E_TMP/js.err")"
else
  ok "# SKIP the AWS SDK for JavaScript is not installed (tests/js)"
fi
kill -TERM "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null
grep -q -e "$key" -e 'PRIVATE KEY' "$GW_OUT" "$GW_ERR" && not_ok "no key in the output" ||
  ok "no key or private key material in the gateway's output"

# SIGHUP reads the certificate and key again (a renewal without a restart):
# new connections get the new one, a connection already open keeps its own,
# and files that do not load leave the one in use.
live=$E2E_TMP/live
mkdir -p "$live"
cp "$d/server.pem" "$live/cert.pem"
cp "$d/server.key" "$live/key.pem"
chmod 600 "$live/key.pem"
serial_of() { openssl x509 -noout -serial -in "$1" 2>/dev/null; }
served_serial() { # port -> the serial of the certificate a new connection gets
  openssl s_client -connect "127.0.0.1:$1" -CAfile "$d/ca.pem" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
wait_err() { # pattern -> waits up to 5 s for it in the gateway's stderr
  for _ in $(seq 1 100); do grep -q -- "$1" "$GW_ERR" && return 0; sleep 0.05; done
  return 1
}
if serve --tls-cert "$live/cert.pem" --tls-key "$live/key.pem"; then
  rport=${GW##*:}
  old=$(serial_of "$d/server.pem") new=$(serial_of "$d/renewed.pem")
  [ -n "$old" ] && [ "$(served_serial "$rport")" = "$old" ] && ok "reload: the first certificate is served ($old)" ||
    not_ok "reload: first certificate" "$(served_serial "$rport") vs $old"
  # a connection opened before the reload, held open by a FIFO
  mkfifo "$E2E_TMP/held.in"
  openssl s_client -connect "127.0.0.1:$rport" -CAfile "$d/ca.pem" -quiet <"$E2E_TMP/held.in" >"$E2E_TMP/held.out" 2>/dev/null &
  held_pid=$!
  exec 7>"$E2E_TMP/held.in"
  printf 'GET /_gateway/health HTTP/1.1\r\nHost: localhost\r\n\r\n' >&7
  for _ in $(seq 1 100); do grep -q '"status":"ok"' "$E2E_TMP/held.out" && break; sleep 0.05; done
  cp "$d/renewed.pem" "$live/cert.pem"
  cp "$d/renewed.key" "$live/key.pem"
  kill -HUP "$GW_PID"
  wait_err 'read again' && grep -q 'read again: CN=localhost, valid until 20' "$GW_ERR" &&
    ok "reload: SIGHUP says what it read ($(grep 'read again' "$GW_ERR" | head -n 1))" ||
    not_ok "reload: the SIGHUP message" "$(cat "$GW_ERR")"
  [ "$(grep -c 'ends in' "$GW_ERR")" = 1 ] && ok "reload: the renewed 30-day certificate gets no warning (the first did)" ||
    not_ok "reload: expiry warnings" "$(cat "$GW_ERR")"
  [ "$(served_serial "$rport")" = "$new" ] && ok "reload: new connections get the renewed certificate ($new)" ||
    not_ok "reload: renewed certificate served" "$(served_serial "$rport") vs $new"
  v=$(curl -sS --cacert "$d/ca.pem" -H "Authorization: Bearer $key" -H 'content-type: application/json' -d "$req" \
    -o /dev/null -w '%{http_code}' "$GW/model/$model/invoke" 2>&1)
  [ "$v" = 200 ] && ok "reload: InvokeModel over the renewed certificate, verified" || not_ok "reload: call after" "$v"
  printf 'GET /_gateway/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&7
  exec 7>&-
  for _ in $(seq 1 100); do kill -0 "$held_pid" 2>/dev/null || break; sleep 0.05; done
  kill "$held_pid" 2>/dev/null
  n=$(grep -o 'HTTP/1.1 200' "$E2E_TMP/held.out" | wc -l)
  [ "$n" = 2 ] && ok "reload: the connection opened before it still answers (2 responses on it)" ||
    not_ok "reload: the held connection" "$n responses: $(head -c 300 "$E2E_TMP/held.out")"
  echo 'not a certificate' >"$live/cert.pem"
  kill -HUP "$GW_PID"
  wait_err 'stays in use' && grep -q 'cert.pem' "$GW_ERR" &&
    ok "reload: a broken certificate file is named and the one in use stays ($(grep 'stays in use' "$GW_ERR" | head -c 160))" ||
    not_ok "reload: broken file" "$(cat "$GW_ERR")"
  [ "$(served_serial "$rport")" = "$new" ] && kill -0 "$GW_PID" 2>/dev/null &&
    ok "reload: still serving the renewed certificate after the failed reload" || not_ok "reload: after failure" "$(served_serial "$rport")"
  h=$(curl -sS --cacert "$d/ca.pem" "$GW/_gateway/health" 2>&1)
  case $h in *'"tls_reloads":1,"tls_reload_errors":1'*) ok "reload: /_gateway/health counts 1 reload and 1 error" ;;
    *) not_ok "reload: health counters" "$h" ;; esac
  kill -TERM "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
  grep -q 'PRIVATE' "$GW_ERR" && not_ok "reload: no key material in the output" || ok "reload: no key material in the output"
else
  not_ok "the gateway starts for the reload checks" "$(cat "$GW_ERR")"
fi
# SIGHUP reads the keys file again: a key added, one removed, --key kept
kf=$E2E_TMP/keys.json
k1=reload-key-one-0123456789abcdef k2=reload-key-two-0123456789abcdef
printf '{"keys": [{"token": "%s", "user": "ann"}]}\n' "$k1" >"$kf"
chmod 600 "$kf"
call() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H 'content-type: application/json' \
  -d "$req" "$GW_URL/model/$model/invoke"; }
if start_gateway --endpoint-url "$EMU_URL" --key "$key=dev" --keys-file "$kf"; then
  [ "$(call "$k1")/$(call "$k2")" = 200/403 ] && ok "keys reload: before, the file's key works and the next is unknown" ||
    not_ok "keys reload: before" "$(call "$k1")/$(call "$k2")"
  printf '{"keys": [{"token": "%s", "user": "ben", "project": "web"}]}\n' "$k2" >"$kf"
  kill -HUP "$GW_PID"
  wait_err 'client keys were read again' &&
    ok "keys reload: SIGHUP says so ($(grep 'keys were read again' "$GW_ERR" | head -n 1))" ||
    not_ok "keys reload: message" "$(cat "$GW_ERR")"
  [ "$(call "$k2")/$(call "$k1")/$(call "$key")" = 200/403/200 ] &&
    ok "keys reload: the new key works, the removed one gets 403, the --key one stays" ||
    not_ok "keys reload: after" "$(call "$k2")/$(call "$k1")/$(call "$key")"
  printf '{"keys": [{"token": "%s", "user": "ben"},\n  {"token": "short", "user": "eve"}]}\n' "$k2" >"$kf"
  kill -HUP "$GW_PID"
  wait_err 'keys read before stay in use' && grep -q 'keys.json: keys\[1\]: "token"' "$GW_ERR" && [ "$(call "$k2")" = 200 ] &&
    ok "keys reload: a bad keys file is named with the entry at fault, and the keys stay ($(grep 'stay in use' "$GW_ERR" | head -c 160))" ||
    not_ok "keys reload: bad file" "$(cat "$GW_ERR")"
  h=$(curl -s "$GW_URL/_gateway/health")
  case $h in *'"keys_reloads":1,"keys_reload_errors":1'*) ok "keys reload: /_gateway/health counts 1 reload and 1 error" ;;
    *) not_ok "keys reload: health" "$h" ;; esac
  grep -q -e "$k1" -e "$k2" "$GW_ERR" "$GW_OUT" && not_ok "keys reload: no key in the output" ||
    ok "keys reload: no key in the output"
  kill -TERM "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
else
  not_ok "a gateway with a keys file starts" "$(cat "$GW_ERR")"
fi
# with only --key and no TLS there is nothing to read again: SIGHUP neither
# stops it nor fails
if start_gateway --endpoint-url "$EMU_URL" --key "$key=dev"; then
  kill -HUP "$GW_PID"
  wait_err 'nothing to read again' && sleep 0.2 && kill -0 "$GW_PID" 2>/dev/null &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$GW_URL/_gateway/health")" = 200 ] &&
    ok "SIGHUP to a gateway without TLS or keys file: it says there is nothing to read again and keeps serving" ||
    not_ok "SIGHUP without TLS" "$(cat "$GW_ERR")"
  kill -TERM "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
else
  not_ok "a cleartext gateway starts" "$(cat "$GW_ERR")"
fi

# beyond loopback: refused without TLS, with a message that says what to do
"$BROCK" serve --host 0.0.0.0 --port 0 --endpoint-url "$EMU_URL" --key "$key=dev" >/dev/null 2>"$E2E_TMP/nl.err"
rc=$?
[ "$rc" = 2 ] && grep -q -- '--tls-cert' "$E2E_TMP/nl.err" && ok "--host 0.0.0.0 without TLS is refused (exit 2, names --tls-cert)" ||
  not_ok "non-loopback without TLS" "rc=$rc $(cat "$E2E_TMP/nl.err")"
# with TLS it binds all addresses; the check connects over loopback only
if serve --host 0.0.0.0 --tls-cert "$d/server.pem" --tls-key "$d/server.key"; then
  v=$(curl -sS --cacert "$d/ca.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:${GW##*:}/_gateway/health" 2>&1)
  [ "$v" = 200 ] && ok "--host 0.0.0.0 with TLS listens (checked over 127.0.0.1)" || not_ok "0.0.0.0 with TLS" "$v"
  kill "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
else
  not_ok "--host 0.0.0.0 with TLS starts" "$(cat "$GW_ERR")"
fi

# bad TLS files: exit 2 and a message naming the file
"$BROCK" serve --port 0 --endpoint-url "$EMU_URL" --key "$key=dev" --tls-cert "$d/server.pem" \
  --tls-key "$d/other.key" >/dev/null 2>"$E2E_TMP/mm.err"
rc=$?
[ "$rc" = 2 ] && grep -q 'does not match' "$E2E_TMP/mm.err" && grep -q 'other.key' "$E2E_TMP/mm.err" &&
  ok "a key that does not match the certificate: exit 2, says so ($(head -c 100 "$E2E_TMP/mm.err"))" ||
  not_ok "mismatched key" "rc=$rc $(cat "$E2E_TMP/mm.err")"
"$BROCK" serve --port 0 --endpoint-url "$EMU_URL" --key "$key=dev" --tls-cert "$d/server.pem" >/dev/null 2>"$E2E_TMP/nk.err"
rc=$?
[ "$rc" = 2 ] && grep -q 'key' "$E2E_TMP/nk.err" && ok "--tls-cert without --tls-key: exit 2" ||
  not_ok "cert without key" "rc=$rc $(cat "$E2E_TMP/nk.err")"
"$BROCK" serve --port 0 --endpoint-url "$EMU_URL" --key "$key=dev" --tls-cert "$d/missing.pem" \
  --tls-key "$d/server.key" >/dev/null 2>"$E2E_TMP/nf.err"
rc=$?
[ "$rc" = 2 ] && grep -q 'missing.pem' "$E2E_TMP/nf.err" && ok "a missing certificate file: exit 2, named" ||
  not_ok "missing cert" "rc=$rc $(cat "$E2E_TMP/nf.err")"
grep -q 'PRIVATE' "$E2E_TMP/mm.err" "$E2E_TMP/nk.err" "$E2E_TMP/nf.err" && not_ok "no key material in errors" ||
  ok "no key material in the errors"
done_testing
