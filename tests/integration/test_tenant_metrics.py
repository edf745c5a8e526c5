#!/usr/bin/env python3
"""A tenant that no longer exists leaves no series on /metrics: after its
prefix is gone from the bucket, the next poll drops every per-tenant series
of it (tempodb_blocklist_tenant_index_age_seconds, _length, _objects, ...),
while the other tenant's stay."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tclib import COMPACTOR, TOP, Tap, free_port, http_get, need, wait  # noqa: E402


def series(port, tenant):
    st, body = http_get("http://127.0.0.1:%d/metrics" % port)
    if st != 200:
        return None
    return [ln for ln in body.splitlines()
            if not ln.startswith("#") and re.search(r'tenant="%s"' % re.escape(tenant), ln)]


def main():
    t = Tap()
    need(t, "tenant metrics", built=[COMPACTOR])
    work = tempfile.mkdtemp(prefix="tc-tmetrics.")
    p = None
    try:
        bucket = os.path.join(work, "bucket")
        subprocess.check_call([sys.executable, os.path.join(TOP, "hack", "gen-metas.py"), bucket,
                               "--tenants", "2", "--blocks", "5"], stdout=subprocess.DEVNULL)
        port = free_port()
        cfg = os.path.join(work, "tempo.yaml")
        with open(cfg, "w") as f:
            f.write("server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: %d\n"
                    "storage:\n  trace:\n    backend: local\n    local:\n      path: %s\n"
                    "    blocklist_poll: 1s\ncompactor:\n  disabled: true\n  state_dir: %s\n"
                    % (port, bucket, os.path.join(work, "state")))
        log = open(os.path.join(work, "log"), "w")
        p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=log, stderr=subprocess.STDOUT)
        names = ("tempodb_blocklist_tenant_index_age_seconds", "tempodb_blocklist_length")
        before = wait(lambda: (lambda s: s if s and all(any(x.startswith(n + "{") for x in s)
                                                        for n in names) else None)(
            series(port, "tenant-1")), 30, 0.2)
        t(before, "tenant-1 has its per-tenant series (%d, index age and length among them)"
          % len(before or []), open(log.name).read()[-1500:])
        shutil.rmtree(os.path.join(bucket, "tenant-1"))
        gone = wait(lambda: series(port, "tenant-1") == [] or None, 30, 0.2)
        t(gone, "after tenant-1 is gone, the next poll removes every series of it",
          "\n".join(series(port, "tenant-1") or []))
        t(series(port, "tenant-0"), "tenant-0's series stay")
    finally:
        if p:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    t.done()


main()
