#!/usr/bin/env bash
# hack/run-demo.sh - the main job on its embedded default: the compactor on a
# local-directory bucket, no cluster. Ctrl-C (or SIGTERM) stops it cleanly.
#
#   DEMO_DIR (default .demo/) holds the bucket, the config, the poll state and
#            compactor.pid (the daemon's PID while it runs).
#   PORT     (default 3200) is the HTTP port: /ready /metrics /status/compaction ...
#   DEMO_WAIT (default 180) is how long, in seconds, to wait for the backlog to
#            drain before the "after" summary is printed anyway.
# It prints what the bucket holds before compaction, waits until the
# compactor has drained its backlog (tempodb_compaction_outstanding_blocks 0
# for every tenant), prints the bucket again, and keeps running.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DEMO_DIR=${DEMO_DIR:-$top/.demo}
PORT=${PORT:-3200}
DEMO_WAIT=${DEMO_WAIT:-180}
mkdir -p "$DEMO_DIR/state"
# Generated aside and renamed into place, so a failed or interrupted
# generation is redone next time instead of leaving a half-made bucket.
if [ ! -d "$DEMO_DIR/bucket" ] || [ -z "$(ls -A "$DEMO_DIR/bucket")" ]; then
    rm -rf "$DEMO_DIR/bucket.tmp" "$DEMO_DIR/bucket"
    bash hack/gen-demo-bucket.sh "$DEMO_DIR/bucket.tmp"
    mv "$DEMO_DIR/bucket.tmp" "$DEMO_DIR/bucket"
fi
sed -e "s|@BUCKET@|$DEMO_DIR/bucket|" -e "s|@STATE@|$DEMO_DIR/state|" -e "s|@PORT@|$PORT|" \
    hack/demo/tempo.yaml > "$DEMO_DIR/tempo.yaml"
python3 hack/demo/summary.py "$DEMO_DIR/bucket" before
"${TC_BUILD:-build}/bin/tempo-compactor" -config.file="$DEMO_DIR/tempo.yaml" &
pid=$!
echo "$pid" > "$DEMO_DIR/compactor.pid"
# Ctrl-C or SIGTERM: forward SIGTERM (the daemon's graceful shutdown) and exit
# with its status, 0 when it stopped cleanly. `|| rc=$?` keeps set -e from
# leaving before the pid file is removed.
stop() {
    trap - INT TERM
    kill -TERM "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    rm -f "$DEMO_DIR/compactor.pid"
    echo "demo: compactor (pid $pid) stopped, exit status $rc" >&2
    exit "$rc"
}
trap stop INT TERM
echo "demo: compactor pid $pid (in $DEMO_DIR/compactor.pid; Ctrl-C stops it), bucket $DEMO_DIR/bucket," \
    "config $DEMO_DIR/tempo.yaml, http://127.0.0.1:$PORT/status" >&2
# The backlog has drained when some job ran and no tenant has outstanding blocks.
drained() {
    local m
    m=$(curl -sf "http://127.0.0.1:$PORT/metrics") || return 1
    printf '%s\n' "$m" | grep -qE '^tempodb_compaction_blocks_total\{' || return 1
    ! printf '%s\n' "$m" | grep -E '^tempodb_compaction_outstanding_blocks\{' | grep -qvE ' 0$'
}
# Drained four checks in a row (over 3 s, longer than the demo's 2 s
# compaction_cycle): a job's commit lowers the count at once, but the next
# level's jobs count only from the next plan.
calm=0
for _ in $(seq 1 "$DEMO_WAIT"); do
    if drained; then calm=$((calm + 1)); else calm=0; fi
    [ "$calm" -ge 4 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 1 & wait $!
done
python3 hack/demo/summary.py "$DEMO_DIR/bucket" after
curl -sf "http://127.0.0.1:$PORT/status/compaction" | head -c 600 >&2 && echo >&2 || true
rc=0
wait "$pid" || rc=$?
rm -f "$DEMO_DIR/compactor.pid"
exit "$rc"
