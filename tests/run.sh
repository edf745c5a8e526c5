#!/usr/bin/env bash
# tests/run.sh - run every test program and print one closing line.
#
# Test programs speak TAP: unit binaries in $BUILD/tests/test_*, and scripts
# tests/**/test_*.sh and tests/**/test_*.py. Each runs in its own process
# under a timeout. A program that exits non-zero without reporting a failed
# case counts as one failure. The last line is "N passed, N failed, N skipped".
#
# usage: tests/run.sh [BUILD_DIR] [NAME_FILTER]
set -u
BUILD=${1:-build}
FILTER=${2:-}
TIMEOUT=${TC_TEST_TIMEOUT:-900}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export TC_BUILD="$BUILD"
[ -f .tools/env.sh ] && . .tools/env.sh

pass=0 fail=0 skip=0
failed_names=()

run_one() {
    local name=$1; shift
    local out rc np nf ns to=$TIMEOUT
    # The e2e runs the whole autoscaling loop twice (KEDA-rules scaler, then builtin):
    # ~12 min on a quiet machine, so it gets its own limit (0 keeps "no limit").
    [ "$name" = test_e2e.py ] && [ "$TIMEOUT" != 0 ] && to=${TC_E2E_TIMEOUT:-2100}
    echo "# --- $name"
    out=$(timeout -k 10 "$to" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -v '^1\.\.' || true
    np=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+' || true)
    ns=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+.*# SKIP' || true)
    nf=$(printf '%s\n' "$out" | grep -cE '^not ok [0-9]+' || true)
    np=$((np - ns))
    if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
        [ "$rc" -eq 124 ] && echo "# $name: timed out after ${to}s" || echo "# $name: exited $rc"
        nf=1
    fi
    [ "$nf" -gt 0 ] && failed_names+=("$name")
    pass=$((pass + np)); fail=$((fail + nf)); skip=$((skip + ns))
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    n=$(basename "$t")
    [ -n "$FILTER" ] && [[ "$n" != *"$FILTER"* ]] && continue
    run_one "$n" "$t"
done
while IFS= read -r t; do
    n=$(basename "$t")
    [ -n "$FILTER" ] && [[ "$n" != *"$FILTER"* ]] && continue
    case "$t" in
    *.sh) run_one "$n" bash "$t" ;;
    *.py) run_one "$n" /usr/bin/python3 "$t" ;;
    esac
done < <(find tests -name 'test_*.sh' -o -name 'test_*.py' | sort)

if [ "${#failed_names[@]}" -gt 0 ]; then
    echo "# failed: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
