#!/usr/bin/env bash
# hack/run.sh - README's first command. On a fresh Debian bookworm machine
# (no make, no compiler) it installs what the build needs, builds, and runs
# the compactor on the embedded demo: a local-directory bucket, no cluster.
#
# The demo itself is hack/run-demo.sh (PORT and DEMO_DIR are described
# there). It is exec'd, not run under make, so the PID the caller holds is
# the demo's: a SIGTERM or Ctrl-C reaches it and it stops the daemon, whose
# own PID it prints and writes to $DEMO_DIR/compactor.pid.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh --build
make -j"$(nproc)" all
exec bash hack/run-demo.sh
