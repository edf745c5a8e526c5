"""Generated Tempo blocks for the e2e bucket, uploaded to S3 with boto3.

Per tenant, `tempo-compactor parquet gen` writes a few small, real vParquet4 blocks
(distinct seeds, so distinct trace IDs). Each is then uploaded under many new block
IDs: the four files are the same bytes and meta.json differs only in blockID, so every
copy is a valid block that compaction can read; shared trace IDs are byte-equal rows,
which compaction keeps once. Beside these live blocks, the bucket gets old compacted
blocks (meta.compacted.json only, as Tempo leaves them until
compacted_block_retention): the poller must list and read them, compaction must not.

usage (for trying it by hand):
  python3 tests/e2e/blocks.py ENDPOINT BUCKET --live N --compacted N [--tenants a,b,c]
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.sax.saxutils

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tclib import COMPACTOR  # noqa: E402

FILES = ("data.parquet", "bloom-0", "index")


def s3_client(endpoint, key, secret):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url="http://" + endpoint, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      max_pool_connections=64,
                                      retries={"max_attempts": 5, "mode": "standard"}))


class Putter:
    """PUTs objects with SigV4 (UNSIGNED-PAYLOAD) over one keep-alive connection:
    boto3 costs ~2.5 ms of CPU per request, which made the upload CPU-bound here."""

    def __init__(self, endpoint, key, secret, region="us-east-1"):
        self.endpoint, self.key, self.secret, self.region = endpoint, key, secret, region
        self.conn = None

    def _sign(self, method, path, now, query=""):
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz[:8]
        hdrs = {"host": self.endpoint, "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                "x-amz-date": amz}
        names = sorted(hdrs)
        canon = "\n".join([method, path, query, "".join("%s:%s\n" % (n, hdrs[n]) for n in names),
                           ";".join(names), "UNSIGNED-PAYLOAD"])
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        hdrs["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                 "Signature=%s" % (self.key, scope, ";".join(names), sig))
        return hdrs

    def list(self, bucket, prefix):
        """[(key, etag)] under prefix (ListObjectsV2 pages, taken from the XML)."""
        keys, token = [], None
        while True:
            q = {"list-type": "2", "max-keys": "1000", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            query = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                        urllib.parse.quote(v, safe="-_.~"))
                             for k, v in sorted(q.items()))
            path = "/" + bucket
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.endpoint, timeout=30)
            hdrs = self._sign("GET", path, datetime.datetime.now(datetime.timezone.utc), query)
            try:
                self.conn.request("GET", path + "?" + query, headers=hdrs)
                r = self.conn.getresponse()
                body = r.read().decode()
            except (OSError, http.client.HTTPException):
                self.conn = None
                raise
            if r.status != 200:
                raise OSError("LIST %s: HTTP %d %s" % (prefix, r.status, body[:200]))
            for c in re.findall(r"<Contents>(.*?)</Contents>", body, re.S):
                k = re.search(r"<Key>([^<]*)</Key>", c)
                e = re.search(r"<ETag>([^<]*)</ETag>", c)
                keys.append((xml.sax.saxutils.unescape(k.group(1)),
                             xml.sax.saxutils.unescape(e.group(1)) if e else ""))
            m = re.search(r"<NextContinuationToken>([^<]*)</NextContinuationToken>", body)
            if "<IsTruncated>true</IsTruncated>" not in body or not m:
                return keys
            token = xml.sax.saxutils.unescape(m.group(1))

    def put(self, bucket, key, body):
        # keys here are tenant/uuid/name: nothing to percent-encode
        assert re.fullmatch(r"[A-Za-z0-9._/-]+", key), key
        path = "/%s/%s" % (bucket, key)
        for attempt in range(5):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.endpoint, timeout=30)
                hdrs = self._sign("PUT", path, datetime.datetime.now(datetime.timezone.utc))
                self.conn.request("PUT", path, body=body, headers=hdrs)
                r = self.conn.getresponse()
                msg = r.read()
                if r.status == 200:
                    return
                err = "HTTP %d %s" % (r.status, msg[:200])
            except (OSError, http.client.HTTPException) as e:
                err = str(e)
                self.conn = None
            time.sleep(0.2 * (attempt + 1))
        raise OSError("PUT %s: %s" % (key, err))


def gen_sources(work, tenant, n, start, traces=4, spans=3, seed0=1):
    """n real blocks for tenant: [(meta dict, {file: bytes})]. Block i covers
    [start + 60 i, start + 60 i + 60): all fall in one compaction window."""
    out = []
    for i in range(n):
        d = os.path.join(work, "%s-%d" % (tenant, i))
        subprocess.run([COMPACTOR, "parquet", "gen", d, "--tenant", tenant, "--traces",
                        str(traces), "--spans", str(spans), "--seed", str(seed0 + i),
                        "--start", str(start + 60 * i), "--span", "60"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
        files = {}
        for name in FILES:
            with open(os.path.join(d, name), "rb") as f:
                files[name] = f.read()
        out.append((meta, files))
    return out


def upload(creds, bucket, tenants, live, compacted, sources=8, threads=16, log=print,
           start=None):
    """Fill bucket: per tenant `live` live blocks (copies of `sources` generated ones)
    and `compacted` compacted ones. Returns {tenant: [live block IDs]}."""
    if start is None:
        start = int(time.time()) - 3 * 3600
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    jobs = []  # (key, body)
    ids = {}
    with tempfile.TemporaryDirectory(prefix="e2e-blocks.") as work:
        for ti, tenant in enumerate(tenants):
            src = gen_sources(work, tenant, sources, start, seed0=1000 * (ti + 1))
            ids[tenant] = []
            for i in range(live):
                meta, files = src[i % len(src)]
                bid = str(uuid.uuid4())
                ids[tenant].append(bid)
                m = dict(meta, blockID=bid)
                for name, body in files.items():
                    jobs.append(("%s/%s/%s" % (tenant, bid, name), body))
                jobs.append(("%s/%s/meta.json" % (tenant, bid), json.dumps(m).encode()))
            for i in range(compacted):
                meta, _ = src[i % len(src)]
                bid = str(uuid.uuid4())
                m = dict(meta, blockID=bid, compactedTime=now)
                jobs.append(("%s/%s/meta.compacted.json" % (tenant, bid),
                             json.dumps(m).encode()))
    done = [0]
    lock = threading.Lock()
    t0 = time.time()

    def worker(k):
        p = Putter(*creds)
        for key, body in jobs[k::threads]:
            p.put(bucket, key, body)
            with lock:
                done[0] += 1
                if done[0] % 10000 == 0:
                    log("# uploaded %d/%d objects (%.0f/s)" % (
                        done[0], len(jobs), done[0] / (time.time() - t0)))

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for f in [ex.submit(worker, k) for k in range(threads)]:
            f.result()
    log("# uploaded %d objects in %.1f s" % (len(jobs), time.time() - t0))
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("bucket")
    ap.add_argument("--live", type=int, default=100)
    ap.add_argument("--compacted", type=int, default=0)
    ap.add_argument("--tenants", default="tenant-a,tenant-b,tenant-c")
    ap.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID", ""))
    ap.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    a = ap.parse_args()
    s3 = s3_client(a.endpoint, a.key, a.secret)
    try:
        s3.create_bucket(Bucket=a.bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    upload((a.endpoint, a.key, a.secret), a.bucket, a.tenants.split(","), a.live, a.compacted)


if __name__ == "__main__":
    main()
