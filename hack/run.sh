#!/usr/bin/env bash
# hack/run.sh - README's first command. On a fresh Debian bookworm machine
# (no make, no compiler) it installs what the build needs, builds, and runs
# the compactor on the embedded demo: a local-directory bucket, no cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh --build
exec make run
