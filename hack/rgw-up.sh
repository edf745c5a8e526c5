#!/usr/bin/env bash
# hack/rgw-up.sh DIR - start a single-node Ceph (mon + memstore OSD) and RGW on
# loopback in DIR (research/testinfra.md §3b). Takes ~14 s. Writes DIR/env with
# RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY. Stop with hack/rgw-down.sh DIR.
# Ports: RGW_PORT and RGW_MON_PORT if given, else two free ones below the
# kernel's ephemeral range (no outgoing connection can hold them). A bring-up
# that fails (a port taken meanwhile, a daemon slow under load) is torn down
# and tried again on fresh ports, up to 3 times; callers read DIR/env.
set -eu
D=$(mkdir -p "$1" && cd "$1" && pwd)
free_pair() {
    /usr/bin/python3 - <<'PY'
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(500):
    p = random.randrange(20000, max(20002, lo - 2))
    socks = []
    try:
        for q in (p, p + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", q))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p, p + 1)
    break
PY
}
if [ "${2:-}" = --once ]; then
# One bring-up in its own process, so that set -e holds (a caller's && would void it).
PORT=$3 MON=$4
cd "$D"
FSID=$(cat /proc/sys/kernel/random/uuid)
mkdir -p run log mon.a osd.0 rgw.a
cat > ceph.conf <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON
mon initial members = a
public addr = 127.0.0.1
keyring = $D/\$name.keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
ms bind msgr2 = false
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $D/mon.\$id
admin socket = $D/run/\$name.asok
[osd]
osd data = $D/osd.\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
osd class dir = /usr/lib/x86_64-linux-gnu/rados-classes
admin socket = $D/run/\$name.asok
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw dns name = localhost
rgw data = $D/rgw.a
admin socket = $D/run/\$name.asok
CONF
q() { "$@" >>"$D/log/setup.log" 2>&1; }
q ceph-authtool --create-keyring mon..keyring --gen-key -n mon. --cap mon 'allow *'
q ceph-authtool --create-keyring client.admin.keyring --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
q ceph-authtool mon..keyring --import-keyring client.admin.keyring
q monmaptool --create --addv a "[v1:127.0.0.1:$MON]" --fsid "$FSID" monmap
q ceph-mon -c ceph.conf --mkfs -i a --monmap monmap --keyring mon..keyring
cp mon..keyring mon.a.keyring
q ceph-mon -c ceph.conf -i a
U=$(cat /proc/sys/kernel/random/uuid)
q ceph-authtool --create-keyring osd.0.keyring --gen-key -n osd.0
echo "{\"cephx_secret\": \"$(ceph-authtool -p -n osd.0 osd.0.keyring)\"}" > osd.json
q timeout 60 ceph -c ceph.conf osd new "$U" -i osd.json
q ceph-osd -c ceph.conf -i 0 --mkfs --osd-uuid "$U"
q ceph-osd -c ceph.conf -i 0
for _ in $(seq 1 120); do
    timeout 10 ceph -c ceph.conf osd stat 2>/dev/null | grep -q "1 up" && break
    sleep 0.5
done
timeout 60 ceph -c ceph.conf auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
    > client.rgw.a.keyring 2>>"$D/log/setup.log"
# in the foreground of its own session, so that $! is its pid and a bind error is seen at once
setsid radosgw -f -c ceph.conf -n client.rgw.a >>"$D/log/setup.log" 2>&1 </dev/null &
echo $! > run/rgw.fg.pid
for i in $(seq 1 240); do
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$PORT" && break
    kill -0 "$(cat run/rgw.fg.pid)" 2>/dev/null || exit 1  # it died (a port taken, say)
    sleep 0.25
done
q timeout 60 radosgw-admin -c ceph.conf user create --uid=tempo --display-name=tempo \
    --access-key=TEMPOKEY --secret-key=TEMPOSECRET
curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT"
cat > env <<ENV
RGW_ENDPOINT=127.0.0.1:$PORT
RGW_HOSTNAME=localhost:$PORT
RGW_ACCESS_KEY=TEMPOKEY
RGW_SECRET_KEY=TEMPOSECRET
ENV
exit 0
fi
PORT=${RGW_PORT:-} MON=${RGW_MON_PORT:-}
for try in 1 2 3; do
    if [ -z "$PORT" ] || [ -z "$MON" ]; then read -r PORT MON < <(free_pair); fi
    rm -f "$D/env"  # an earlier run's; a try writes it only once RGW answers
    if bash "$0" "$D" --once "$PORT" "$MON"; then exit 0; fi
    echo "rgw-up: try $try on ports $PORT/$MON failed; last log lines:" >&2
    tail -n 5 "$D"/log/*.log >&2 2>/dev/null || true
    bash "$(dirname "$0")/rgw-down.sh" "$D"
    mkdir -p "$D/failed.$try"
    find "$D" -mindepth 1 -maxdepth 1 ! -name 'failed.*' -exec mv -t "$D/failed.$try/" {} +
    PORT= MON=
done
echo "rgw-up: RGW did not start after 3 tries (see $D/failed.*)" >&2
exit 1
