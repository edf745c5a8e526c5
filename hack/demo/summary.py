#!/usr/bin/env python3
"""hack/demo/summary.py BUCKET [LABEL] - what the demo bucket holds: per
tenant, live blocks per compaction level, traces (Σ totalObjects), distinct
trace IDs (read from data.parquet with `tempo-compactor parquet ids`) and
bytes; compacted blocks are counted apart. One line per tenant."""
import json
import os
import subprocess
import sys

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tc = os.path.join(top, os.environ.get("TC_BUILD", "build"), "bin", "tempo-compactor")
bucket = sys.argv[1]
label = sys.argv[2] if len(sys.argv) > 2 else "bucket"
for tenant in sorted(os.listdir(bucket)):
    tdir = os.path.join(bucket, tenant)
    if tenant.startswith(".") or not os.path.isdir(tdir):
        continue
    levels, traces, size, compacted, ids = {}, 0, 0, 0, set()
    for b in sorted(os.listdir(tdir)):
        bdir = os.path.join(tdir, b)
        if not os.path.isfile(os.path.join(bdir, "meta.json")):
            compacted += os.path.isfile(os.path.join(bdir, "meta.compacted.json"))
            continue
        with open(os.path.join(bdir, "meta.json")) as f:
            m = json.load(f)
        lvl = m.get("compactionLevel", 0)
        levels[lvl] = levels.get(lvl, 0) + 1
        traces += m.get("totalObjects", 0)
        size += m.get("size", 0)
        out = subprocess.run([tc, "parquet", "ids", os.path.join(bdir, "data.parquet")],
                             capture_output=True, text=True, check=True).stdout
        ids.update(out.split())
    per = " ".join("L%d=%d" % (k, levels[k]) for k in sorted(levels))
    print("%s: %s: %d live blocks (%s), %d traces, %d distinct trace IDs, %.1f MB; %d compacted"
          % (label, tenant, sum(levels.values()), per or "none", traces, len(ids), size / 1e6,
             compacted), flush=True)
