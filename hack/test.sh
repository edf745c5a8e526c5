#!/usr/bin/env bash
# hack/test.sh - README's second command, and what CI runs. On a fresh Debian
# bookworm machine it installs everything the build and the tests need
# (hack/install-deps.sh), builds, and runs every test. The last line is
# "N passed, N failed, N skipped"; the exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! bash hack/install-deps.sh >&2; then
    echo "install-deps failed" >&2
    exit 1
fi
# CI runs the end-to-end autoscaling test (tests/e2e/test_e2e.py, ~6 min) inside make test,
# once; a plain `make test` skips it (`make e2e` runs it alone).
export TC_E2E=${TC_E2E:-1}
exec make test
