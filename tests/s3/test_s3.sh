#!/usr/bin/env bash
# tests/s3/test_s3.sh - the S3 backend against a real Ceph RGW on loopback,
# with boto3 as the second client and a fault proxy for retries. RGW is
# started once (~14 s) and shared by every case; everything stops on exit.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${TC_BUILD:-build}
bin="$top/$BUILD/tests/test_backend_s3"
if ! command -v radosgw >/dev/null || ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
    echo "1..1"; echo "ok 1 - s3 suite # SKIP radosgw or boto3 missing"; exit 0
fi
if [ ! -x "$bin" ]; then
    echo "1..1"; echo "not ok 1 - s3 suite: $bin not built"; exit 1
fi
dir=$(mktemp -d /tmp/tc-s3.XXXXXX)
proxy_pid=
proxy2_pid=
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
    [ -n "$proxy2_pid" ] && kill "$proxy2_pid" 2>/dev/null
    bash "$top/hack/rgw-down.sh" "$dir"
    rm -rf "$dir" "$dir.up"
}
trap cleanup EXIT
echo "1..5"
if ! timeout 600 bash "$top/hack/rgw-up.sh" "$dir" >"$dir.up" 2>&1; then
    echo "not ok 1 - rgw starts"; sed 's/^/# /' "$dir.up"; exit 1
fi
echo "ok 1 - rgw starts"
. "$dir/env"
export E=$RGW_ENDPOINT
boto() {
    /usr/bin/python3 - "$@" <<'PY'
import boto3, os, sys
s = boto3.client("s3", endpoint_url="http://" + os.environ["E"], aws_access_key_id="TEMPOKEY",
                 aws_secret_access_key="TEMPOSECRET", region_name="us-east-1")
if sys.argv[1] == "setup":
    for b in ("tempo", "tempo2"):
        s.create_bucket(Bucket=b)
    s.put_object(Bucket="tempo", Key="pfx/interop/from-boto3.txt", Body=b"written by boto3")
else:
    body = s.get_object(Bucket="tempo", Key="pfx/interop/from-c.txt")["Body"].read()
    assert body == b"written by C", body
    # boto3 lists what the C client wrote through shards and pages
    n = 0
    for page in s.get_paginator("list_objects_v2").paginate(Bucket="tempo", Prefix="pfx/paged/"):
        n += len(page.get("Contents", []))
    # 1400 block objects plus the tenant index the poller wrote (pb and json)
    assert n == 1402, n
    s.head_object(Bucket="tempo", Key="pfx/paged/index.pb.zst")
    s.head_object(Bucket="tempo", Key="pfx/paged/index.json.gz")
print("ok")
PY
}
if boto setup >/dev/null; then echo "ok 2 - boto3 creates buckets and writes"; else
    echo "not ok 2 - boto3 creates buckets and writes"; exit 1; fi
/usr/bin/python3 "$top/tests/s3/faultproxy.py" 0 "$RGW_ENDPOINT" --fail-every 3 \
    >"$dir/proxy.out" 2>&1 &
proxy_pid=$!
AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY \
    /usr/bin/python3 "$top/tests/s3/faultproxy.py" 0 "$RGW_ENDPOINT" --ignore-start-after \
    >"$dir/proxy2.out" 2>&1 &
proxy2_pid=$!
# Each proxy prints "ready <port>" once it listens; no guessing free ports.
px1= px2=
for _ in $(seq 1 100); do
    px1=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$dir/proxy.out" 2>/dev/null)
    px2=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$dir/proxy2.out" 2>/dev/null)
    [ -n "$px1" ] && [ -n "$px2" ] && break
    sleep 0.1
done
if [ -z "$px1" ] || [ -z "$px2" ]; then
    echo "not ok 3 - C S3 backend suite: the fault proxies did not start"
    sed 's/^/# /' "$dir/proxy.out" "$dir/proxy2.out"; exit 1
fi
out=$(TC_S3_ENDPOINT=$RGW_ENDPOINT TC_S3_HOSTNAME=$RGW_HOSTNAME \
    TC_S3_PROXY=127.0.0.1:$px1 TC_S3_PROXY_NOSA=127.0.0.1:$px2 \
    TC_S3_ACCESS_KEY=$RGW_ACCESS_KEY \
    TC_S3_SECRET_KEY=$RGW_SECRET_KEY "$bin" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(ok|not ok|#)' | sed 's/^/# /'
if [ $rc -eq 0 ] && ! printf '%s\n' "$out" | grep -q '^not ok'; then
    echo "ok 3 - C S3 backend suite (signing, paging, shards, start-after fallback, prefix, 404, retries, styles)"
else
    echo "not ok 3 - C S3 backend suite"; exit 1
fi
if boto check >/dev/null; then echo "ok 4 - boto3 reads what C wrote"; else
    echo "not ok 4 - boto3 reads what C wrote"; exit 1; fi
# retention on S3, with real seconds passing between uploads (test_retention.c)
ret="$top/$BUILD/tests/test_retention"
out=$(TC_S3_ENDPOINT=$RGW_ENDPOINT TC_S3_ACCESS_KEY=$RGW_ACCESS_KEY TC_S3_SECRET_KEY=$RGW_SECRET_KEY \
    "$ret" s3_backend_retention 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(ok|not ok|#)' | sed 's/^/# /'
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '^ok 1 - s3_backend_retention$'; then
    echo "ok 5 - retention on S3 (mark, clear metas last, orphans; nothing within retention touched)"
else
    echo "not ok 5 - retention on S3"; exit 1
fi
