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
exec make test
