#!/usr/bin/env bash
# hack/bench/run-all.sh - every benchmark, one after the other (`make bench`).
# Each prints its figures with ratios against a baseline measured in the same run.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
rc=0
echo "== hack/bench/poll";        bash hack/bench/poll || rc=1
echo "== hack/bench/controller";  /usr/bin/python3 hack/bench/controller || rc=1
echo "== hack/bench/parquet.sh";  bash hack/bench/parquet.sh || rc=1
echo "== hack/bench/compact";     bash hack/bench/compact || rc=1
exit "$rc"
