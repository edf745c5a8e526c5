"""compactstore.py - a Tempo bucket as the compaction tests see it, on the
local backend (a directory) or on S3 (Ceph RGW through boto3, an
independent client). Both give the same view:

  put_block(tenant, bid, dir)   upload a block directory
  config(slow)                  the storage.trace backend section of a tempo.yaml
                                and the environment it needs
  live(tenant)                  block IDs with a meta.json
  meta(tenant, bid)             meta.json, parsed
  data(tenant, bid)             (local path of data.parquet, size), or (None, -1)
  read(tenant, bid, name)       bytes of one file of the block, or None
  leftovers(tenant)             block dirs with neither meta, and (S3)
                                incomplete multipart uploads as "upload:<key>"
  describe(tenant, left)        what the leftovers hold, for diagnostics
  age(tenant, left)             make leftovers old; returns the orphan_retention to use
  write_mark(tenant) / writing(tenant, mark)
                                a mark taken before a daemon starts, then: has a new
                                block's write phase begun (its data is written, its
                                meta.json not yet)?
  close()

On S3 the daemon can be pointed through tests/s3/faultproxy.py (config(True),
30 ms per request, requests logged): a small block's write phase is then a
few PUTs of 30 ms each, as on a real, remote S3, and writing() sees the
first bloom PUT arrive at the proxy, when data.parquet is complete and
meta.json (sent after bloom and index) cannot be, so a kill then lands in
the write phase for sure.
"""
import io
import json
import os
import re
import shutil
import subprocess
import time

from tclib import TOP, rgw_down, rgw_up, wait


class LocalStore:
    """The bucket as a directory; leftovers age by backdating their mtimes."""
    name = "local"

    def __init__(self, tmp):
        self.root = os.path.join(tmp, "bucket-local")
        os.makedirs(self.root)

    def _t(self, tenant):
        return os.path.join(self.root, tenant)

    def put_block(self, tenant, bid, d):
        """Staged and renamed into place, so a running daemon never sees a
        half-copied block."""
        os.makedirs(self._t(tenant), exist_ok=True)
        stage = os.path.join(self.root, ".stage-" + bid)
        shutil.copytree(d, stage)
        os.rename(stage, os.path.join(self._t(tenant), bid))

    def config(self, slow=False):
        return "    backend: local\n    local:\n      path: %s\n" % self.root, {}

    def _dirs(self, tenant):
        t = self._t(tenant)
        return [b for b in os.listdir(t) if os.path.isdir(os.path.join(t, b))] \
            if os.path.isdir(t) else []

    def live(self, tenant):
        return sorted(b for b in self._dirs(tenant)
                      if os.path.isfile(os.path.join(self._t(tenant), b, "meta.json")))

    def meta(self, tenant, bid):
        with open(os.path.join(self._t(tenant), bid, "meta.json")) as f:
            return json.load(f)

    def data(self, tenant, bid):
        p = os.path.join(self._t(tenant), bid, "data.parquet")
        return (p, os.path.getsize(p)) if os.path.exists(p) else (None, -1)

    def data_sizes(self, tenant):
        """{blockID: size of data.parquet} as stored now (no cache)."""
        t = self._t(tenant)
        return {b: os.path.getsize(os.path.join(t, b, "data.parquet")) for b in self._dirs(tenant)
                if os.path.exists(os.path.join(t, b, "data.parquet"))}

    def read(self, tenant, bid, name):
        p = os.path.join(self._t(tenant), bid, name)
        if not os.path.exists(p):
            return None
        with open(p, "rb") as f:
            return f.read()

    def leftovers(self, tenant):
        t = self._t(tenant)
        return sorted(b for b in self._dirs(tenant)
                      if not os.path.exists(os.path.join(t, b, "meta.json"))
                      and not os.path.exists(os.path.join(t, b, "meta.compacted.json")))

    def describe(self, tenant, left):
        out = []
        for o in left:
            for root, _, files in os.walk(os.path.join(self._t(tenant), o)):
                out += [os.path.join(root, f)[len(self._t(tenant)):] for f in files]
        return out

    def age(self, tenant, left):
        """Leftovers become older than orphan_retention (1h): backdate 2h."""
        old = time.time() - 7200
        for o in left:
            for root, _, files in os.walk(os.path.join(self._t(tenant), o), topdown=False):
                for f in files:
                    os.utime(os.path.join(root, f), (old, old))
                os.utime(root, (old, old))  # a directory left empty ages too
        return "1h"

    def write_mark(self, tenant):
        return set(self.leftovers(tenant))

    def writing(self, tenant, mark):
        return bool(set(self.leftovers(tenant)) - mark)

    def close(self):
        pass


class S3Store:
    """The bucket on Ceph RGW. Object times cannot be backdated, so leftovers
    age by real time: callers use the smallest orphan_retention (1m)."""
    name = "s3"

    def __init__(self, tmp, bucket):
        import boto3
        self.bucket = bucket
        self.dir = os.path.join(tmp, "rgw-" + bucket)
        self.cache = os.path.join(tmp, "s3cache-" + bucket)
        os.makedirs(self.cache)
        self.proxy = None
        self.env = rgw_up(self.dir)
        self.s3 = boto3.client("s3", endpoint_url="http://" + self.env["RGW_ENDPOINT"],
                               aws_access_key_id=self.env["RGW_ACCESS_KEY"],
                               aws_secret_access_key=self.env["RGW_SECRET_KEY"],
                               region_name="us-east-1")
        self.s3.create_bucket(Bucket=bucket)
        self.proxy_log = os.path.join(tmp, "proxy-%s.out" % bucket)
        out = open(self.proxy_log, "w+")
        self.proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(TOP, "tests", "s3", "faultproxy.py"),
                                       "0", self.env["RGW_ENDPOINT"], "--delay-ms", "30",
                                       "--log-requests"],
                                      stdout=out, stderr=subprocess.STDOUT)
        ready = wait(lambda: re.search(r"^ready (\d+)$", open(out.name).read(), re.M), 10)
        if not ready:
            raise AssertionError("tests/s3/faultproxy.py did not start: " + open(out.name).read())
        self.proxy_port = int(ready.group(1))

    def put_block(self, tenant, bid, d):
        """meta.json last, as Tempo writes a block."""
        for f in sorted(os.listdir(d), key=lambda f: f == "meta.json"):
            self.s3.upload_file(os.path.join(d, f), self.bucket, "%s/%s/%s" % (tenant, bid, f))

    def config(self, slow=False):
        ep = "127.0.0.1:%d" % self.proxy_port if slow else self.env["RGW_ENDPOINT"]
        return ("    backend: s3\n    s3:\n      endpoint: %s\n      bucket: %s\n"
                "      insecure: true\n      forcepathstyle: true\n" % (ep, self.bucket),
                {"AWS_ACCESS_KEY_ID": self.env["RGW_ACCESS_KEY"],
                 "AWS_SECRET_ACCESS_KEY": self.env["RGW_SECRET_KEY"]})

    def _objects(self, tenant):
        """{blockID: {file: size}} below the tenant."""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=tenant + "/"):
            for o in page.get("Contents", []):
                parts = o["Key"].split("/")
                if len(parts) == 3:
                    out.setdefault(parts[1], {})[parts[2]] = o["Size"]
        return out

    def _uploads(self, tenant):
        r = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=tenant + "/")
        return [u["Key"] for u in r.get("Uploads", [])]

    def live(self, tenant):
        return sorted(b for b, fs in self._objects(tenant).items() if "meta.json" in fs)

    def data_sizes(self, tenant):
        """{blockID: size of data.parquet} as listed now (data() caches downloads)."""
        return {b: fs["data.parquet"] for b, fs in self._objects(tenant).items()
                if "data.parquet" in fs}

    def read(self, tenant, bid, name):
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key="%s/%s/%s" % (tenant, bid, name))
        except self.s3.exceptions.NoSuchKey:
            return None
        return body["Body"].read()

    def meta(self, tenant, bid):
        return json.load(io.BytesIO(self.read(tenant, bid, "meta.json")))

    def data(self, tenant, bid):
        p = os.path.join(self.cache, bid + ".parquet")
        if not os.path.exists(p):
            try:
                self.s3.download_file(self.bucket, "%s/%s/data.parquet" % (tenant, bid), p)
            except Exception:
                return None, -1
        return p, os.path.getsize(p)

    def leftovers(self, tenant):
        objs = self._objects(tenant)
        left = sorted(b for b, fs in objs.items()
                      if "meta.json" not in fs and "meta.compacted.json" not in fs)
        return left + ["upload:" + k for k in self._uploads(tenant)]

    def describe(self, tenant, left):
        objs = self._objects(tenant)
        return ["%s: %s" % (b, sorted(objs.get(b, {}))) for b in left]

    def age(self, tenant, left):
        return "1m"

    def write_mark(self, tenant):
        return os.path.getsize(self.proxy_log)

    def writing(self, tenant, mark):
        with open(self.proxy_log) as f:
            f.seek(mark)
            return re.search(r"^req PUT /%s/%s/[0-9a-f-]{36}/bloom-" % (self.bucket, tenant),
                             f.read(), re.M) is not None

    def close(self):
        if self.proxy:
            self.proxy.kill()
            self.proxy.wait()
        rgw_down(self.dir)


def s3_missing():
    """Why the S3 store cannot run here, or None."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        return "boto3 missing"
    if not shutil.which("radosgw"):
        return "radosgw missing"
    return None
