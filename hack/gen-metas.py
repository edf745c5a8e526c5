#!/usr/bin/env python3
"""hack/gen-metas.py - write a bucket of Tempo block metas (no data files).

Enough for the poller, the planner and retention, which read only metas:
  <root>/<tenant>/<uuid>/meta.json   (or meta.compacted.json)

usage: gen-metas.py ROOT [--tenants N] [--blocks N] [--hours H] [--compacted F]
                         [--levels L] [--seed S] [--now UNIX]
Blocks end at random times over the last H hours (so most fall in the
active compaction window), at levels 0..L-1, in Tempo 2.7's JSON form.
"""
import argparse
import json
import os
import random
import time
import uuid


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--tenants", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=100, help="blocks per tenant")
    ap.add_argument("--hours", type=float, default=20)
    ap.add_argument("--compacted", type=float, default=0.0)
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--now", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    n = 0
    for t in range(a.tenants):
        tenant = "tenant-%d" % t
        for _ in range(a.blocks):
            bid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            end = a.now - int(rnd.random() * a.hours * 3600)
            m = {
                "format": "vParquet4", "blockID": bid, "tenantID": tenant,
                "startTime": iso(end - 300), "endTime": iso(end),
                "totalObjects": rnd.randint(100, 5000), "size": rnd.randint(10**5, 10**7),
                "compactionLevel": rnd.randrange(a.levels), "encoding": "none",
                "indexPageSize": 0, "totalRecords": 1, "dataEncoding": "",
                "bloomShards": 1, "footerSize": 1000,
            }
            d = os.path.join(a.root, tenant, bid)
            os.makedirs(d, exist_ok=True)
            name = "meta.compacted.json" if rnd.random() < a.compacted else "meta.json"
            with open(os.path.join(d, name), "w") as f:
                json.dump(m, f, separators=(",", ":"))
            n += 1
    print("wrote %d metas under %s" % (n, a.root))


if __name__ == "__main__":
    main()
