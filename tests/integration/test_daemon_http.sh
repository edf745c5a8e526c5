#!/usr/bin/env bash
# The compactor's HTTP surface: ready at once, liveness apart from readiness,
# masked secrets in /status/config, metrics that promtool accepts, clean stop.
. "$(dirname "$0")/../lib.sh"
BIN="$BUILD/bin/tempo-compactor"
W=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/bucket" "$W/state"
cat > "$W/tempo.yaml" <<YAML
target: compactor
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 0
  grpc_listen_port: 9095
storage:
  trace:
    backend: local
    local:
      path: $W/bucket
    s3:
      secret_key: \${TC_TEST_SECRET}
compactor:
  state_dir: $W/state
  ring:
    kvstore:
      store: memberlist
YAML

start=$(date +%s.%N)
TC_TEST_SECRET=hunter2-do-not-log "$BIN" -config.file="$W/tempo.yaml" -config.expand-env=true \
    >"$W/log" 2>&1 &
PID=$!
WAIT_SECS=5 wait_for grep -q 'msg="server listening"' "$W/log"
PORT=$(log_port "$W/log")
U="http://127.0.0.1:$PORT"
if WAIT_SECS=1 wait_for curl -sf "$U/ready"; then
    ready=$(date +%s.%N)
    secs=$(echo "$ready - $start" | bc -l 2>/dev/null || awk "BEGIN{print $ready-$start}")
    echo "# ready after ${secs}s"
    tap_ok "ready within 1s of start"
else
    tap_fail "ready within 1s of start" "$(cat "$W/log")"
fi
tap_check "live answers 200" curl -sf "$U/live"
cfg=$(curl -sf "$U/status/config")
if printf '%s' "$cfg" | grep -q 'secret_key: "\*\*\*\*\*\*\*\*"' &&
    ! printf '%s' "$cfg" | grep -q hunter2 && ! grep -q hunter2 "$W/log"; then
    tap_ok "secret_key masked in /status/config and logs"
else
    tap_fail "secret_key masked in /status/config and logs" "$cfg"
fi
if printf '%s' "$cfg" | grep -q "path: $W/bucket"; then
    tap_ok "/status/config shows the effective config"
else
    tap_fail "/status/config shows the effective config" "$cfg"
fi
curl -sf "$U/metrics" >"$W/metrics"
if out=$(promtool check metrics <"$W/metrics" 2>&1) && grep -q '^tempo_build_info{' "$W/metrics"; then
    tap_ok "promtool check metrics accepts tempo-compactor /metrics"
else
    tap_fail "promtool check metrics accepts tempo-compactor /metrics" "$out"
fi
v=$(curl -sf "$U/status/version")
case "$v" in *'"version":"'*) tap_ok "/status/version is JSON with a version" ;;
*) tap_fail "/status/version is JSON with a version" "$v" ;; esac
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/no/such/path")
[ "$code" = 404 ] && tap_ok "unknown path is 404" || tap_fail "unknown path is 404" "$code"
if grep -q 'key=compactor.ring.kvstore' "$W/log"; then
    tap_ok "unused Tempo keys are accepted with a warning"
else
    tap_fail "unused Tempo keys are accepted with a warning" "$(cat "$W/log")"
fi
kill -TERM "$PID"
if WAIT_SECS=5 wait_for bash -c "! kill -0 $PID"; then
    wait "$PID"; rc=$?
    [ "$rc" -eq 0 ] && tap_ok "SIGTERM stops the daemon cleanly" || tap_fail "SIGTERM stops the daemon cleanly" "rc=$rc"
else
    tap_fail "SIGTERM stops the daemon cleanly" "still running"
fi
PID=

# bad config: clear message naming file, line, column and key; exit 1
printf 'storage:\n  trace:\n    blocklist_poll: 5 minutes\n' >"$W/bad.yaml"
out=$("$BIN" -config.file="$W/bad.yaml" 2>&1); rc=$?
if [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q 'bad.yaml:3:21: storage.trace.blocklist_poll: invalid duration'; then
    tap_ok "invalid config exits 1 naming file, line, column and key"
else
    tap_fail "invalid config exits 1 naming file, line, column and key" "rc=$rc $out"
fi
tap_done
