# tests/lib.sh - helpers for TAP shell tests: sourced, not run.
#   tap_ok NAME / tap_fail NAME [detail] / tap_skip NAME REASON / tap_check NAME CMD...
#   tap_done exits 1 when any case failed.
TAP_N=0
TAP_FAILED=0
tap_ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
tap_fail() {
    TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
    echo "not ok $TAP_N - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /' | head -40
    return 0
}
tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }
tap_check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then tap_ok "$name"; else tap_fail "$name" "$out"; fi
}
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }

# wait_for CMD...: retry for up to WAIT_SECS (default 10) seconds
wait_for() {
    local deadline=$((SECONDS + ${WAIT_SECS:-10}))
    while [ $SECONDS -lt $deadline ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# log_port FILE: the port from a "server listening ... port=N" log line
log_port() { sed -n 's/.*msg="server listening".* port=\([0-9]*\).*/\1/p' "$1" | head -1; }

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TC_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
