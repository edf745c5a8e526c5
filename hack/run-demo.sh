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
echo "demo: bucket $DEMO_DIR/bucket, config $DEMO_DIR/tempo.yaml, http://127.0.0.1:$PORT/status" >&2
exec "${TC_BUILD:-build}/bin/tempo-compactor" -config.file="$DEMO_DIR/tempo.yaml"
