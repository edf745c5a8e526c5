#!/usr/bin/env bash
# hack/run-demo.sh - the main job on its embedded default: the compactor on a
# local-directory bucket, no cluster. Ctrl-C stops it.
#
#   DEMO_DIR (default .demo/) holds the bucket, the config and the poll state.
#   PORT (default 3200) is the HTTP port: /ready /metrics /status/blocklist ...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DEMO_DIR=${DEMO_DIR:-$top/.demo}
PORT=${PORT:-3200}
mkdir -p "$DEMO_DIR/bucket" "$DEMO_DIR/state"
if [ -x hack/gen-demo-bucket.sh ] && [ -z "$(ls -A "$DEMO_DIR/bucket")" ]; then
    hack/gen-demo-bucket.sh "$DEMO_DIR/bucket"
fi
sed -e "s|@BUCKET@|$DEMO_DIR/bucket|" -e "s|@STATE@|$DEMO_DIR/state|" -e "s|@PORT@|$PORT|" \
    hack/demo/tempo.yaml > "$DEMO_DIR/tempo.yaml"
echo "demo: bucket $DEMO_DIR/bucket, config $DEMO_DIR/tempo.yaml, http://127.0.0.1:$PORT/status" >&2
exec build/bin/tempo-compactor -config.file="$DEMO_DIR/tempo.yaml"
