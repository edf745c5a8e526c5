#!/usr/bin/env bash
# hack/rgw-down.sh DIR - stop what hack/rgw-up.sh DIR started (by its pid files).
D=$1
pids=
for f in "$D"/run/*rgw*.pid "$D"/run/osd.*.pid "$D"/run/mon.*.pid; do
    [ -f "$f" ] && pids="$pids $(cat "$f")"
done
[ -n "$pids" ] || exit 0
kill $pids 2>/dev/null
for _ in $(seq 1 50); do
    alive=
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
done
kill -9 $pids 2>/dev/null
exit 0
