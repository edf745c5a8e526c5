#!/usr/bin/env bash
# The fakeapi.py command line as other tests use it from shell: --port-file, --kubeconfig,
# --crd (YAML), --fault, FAKEAPI_PORT line, admin endpoints with curl, TLS, clean SIGTERM stop.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

/usr/bin/python3 "$here/fakeapi.py" --port-file "$tmp/port" --kubeconfig "$tmp/kc" \
    --crd "$here/testdata/widget-crd.yaml" --load "$here/testdata/preload.yaml" \
    --fault '{"action":"error","code":503,"method":"GET","path":"/widgets$","count":1}' \
    >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
pids+=("$pid")
if WAIT_SECS=15 wait_for test -s "$tmp/port"; then tap_ok "server writes --port-file"; else
    tap_fail "server writes --port-file" "$(cat "$tmp/stderr")"; tap_done; exit; fi
port=$(cat "$tmp/port")
url=http://127.0.0.1:$port
wait_for grep -q "FAKEAPI_PORT=$port" "$tmp/stdout" && tap_ok "prints FAKEAPI_PORT=<port>" ||
    tap_fail "prints FAKEAPI_PORT=<port>" "$(cat "$tmp/stdout")"
grep -q "server: $url" "$tmp/kc" && tap_ok "--kubeconfig points at the server" ||
    tap_fail "--kubeconfig points at the server" "$(cat "$tmp/kc")"

w=/apis/fake.test.dev/v1alpha1/namespaces/default/widgets
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$url$w")
[ "$code" = 503 ] && grep -q '"reason": "ServiceUnavailable"' "$tmp/body" &&
    tap_ok "--fault installed at start (503 once)" ||
    tap_fail "--fault installed at start (503 once)" "$code $(cat "$tmp/body")"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "$url$w")
[ "$code" = 200 ] && grep -q '"kind": "WidgetList"' "$tmp/body" &&
    tap_ok "--crd preloaded the YAML CRD" || tap_fail "--crd preloaded the YAML CRD" "$code"

code=$(curl -s -o "$tmp/body" -w '%{http_code}' \
    "$url/apis/fake.test.dev/v1alpha1/namespaces/preloaded/widgets/seeded/scale")
[ "$code" = 200 ] && grep -q '"selector": "app=seeded"' "$tmp/body" &&
    curl -sf "$url/api/v1/namespaces/preloaded/configmaps/seed" >/dev/null &&
    tap_ok "--load created the namespace, ConfigMap and Widget with status" ||
    tap_fail "--load created the namespace, ConfigMap and Widget with status" "$code $(cat "$tmp/body")"
/usr/bin/python3 "$here/fakeapi.py" --load "$here/testdata/preload.yaml" >/dev/null 2>"$tmp/err3"
rc=$?
[ "$rc" != 0 ] && grep -q 'no resource serves fake.test.dev/v1alpha1 Widget' "$tmp/err3" &&
    tap_ok "--load of an unknown kind fails at start naming it" ||
    tap_fail "--load of an unknown kind fails at start naming it" "rc=$rc $(cat "$tmp/err3")"

curl -s -XPOST "$url/fake/faults" -d '{"action":"error","code":409,"method":"POST","path":"/widgets$"}' \
    >"$tmp/f" && grep -q '"ids"' "$tmp/f" && tap_ok "POST /fake/faults with curl" ||
    tap_fail "POST /fake/faults with curl" "$(cat "$tmp/f")"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' "$url$w" \
    -d '{"apiVersion":"fake.test.dev/v1alpha1","kind":"Widget","metadata":{"name":"a"},"spec":{}}')
[ "$code" = 409 ] && tap_ok "injected 409 on POST" || tap_fail "injected 409 on POST" "$code"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' "$url$w" \
    -d '{"apiVersion":"fake.test.dev/v1alpha1","kind":"Widget","metadata":{"name":"a"},"spec":{}}')
[ "$code" = 201 ] && tap_ok "next POST succeeds" || tap_fail "next POST succeeds" "$code $(cat "$tmp/body")"
curl -s "$url/fake/store" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
names = [o["metadata"]["name"] for o in d["objects"] if o["kind"] == "Widget"]
sys.exit(0 if names == ["a", "seeded"] and int(d["resourceVersion"]) > 0 else 1)' &&
    tap_ok "GET /fake/store dumps objects" || tap_fail "GET /fake/store dumps objects"

kill -TERM "$pid"
rc=0
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then tap_fail "SIGTERM stops the server"; else
    wait "$pid"; rc=$?
    [ "$rc" = 0 ] && tap_ok "SIGTERM stops the server (exit 0)" ||
        tap_fail "SIGTERM stops the server (exit 0)" "rc=$rc $(cat "$tmp/stderr")"
fi

# TLS with a throw-away self-signed certificate
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1; then
    /usr/bin/python3 "$here/fakeapi.py" --port-file "$tmp/port2" --tls-cert "$tmp/cert.pem" \
        --tls-key "$tmp/key.pem" --token t0k >/dev/null 2>"$tmp/stderr2" &
    pids+=("$!")
    if WAIT_SECS=15 wait_for test -s "$tmp/port2"; then
        u2=https://127.0.0.1:$(cat "$tmp/port2")
        c1=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" "$u2/api/v1/namespaces")
        c2=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" \
            -H 'Authorization: Bearer t0k' "$u2/api/v1/namespaces")
        [ "$c1" = 401 ] && [ "$c2" = 200 ] && tap_ok "--tls-cert/--tls-key with --token" ||
            tap_fail "--tls-cert/--tls-key with --token" "$c1 $c2 $(cat "$tmp/stderr2")"
    else
        tap_fail "TLS server starts" "$(cat "$tmp/stderr2")"
    fi
else
    tap_skip "--tls-cert/--tls-key with --token" "openssl could not make a certificate"
fi
tap_done
