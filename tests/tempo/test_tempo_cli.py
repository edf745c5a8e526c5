#!/usr/bin/env python3
"""Blocks we write, read by Tempo's own trace-ID lookup (issue #17).

Runs when TEMPO_CLI names a tempo-cli binary (build it as
../shared/research/tempo-peer.md says; CI cannot fetch, so it prints
"skipped: no tempo-cli" otherwise). Three kinds of block, each in its own
local bucket:
  - copy:      Tempo's real vParquet4 test block with data.parquet rewritten
               by `parquet copy --vp4` (Tempo's bloom, index and meta kept;
               size and footerSize updated);
  - generated: a block from `parquet gen`;
  - compacted: Tempo's block split into 3 overlapping blocks and compacted
               by `tempo-compactor compact` (our writer end to end).
For each, `tempo-cli query trace-id` must find 50 sampled trace IDs plus the
first and the last (of the file and of each row group), with the span count
DuckDB finds in the file, both by its binary search over row groups and
through the block's `index` file (VPARQUET_INDEX=1); the answer must come
from the block under test alone, with no block read error; and IDs that are
absent (below, inside and above the block's range) must not be found.
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tclib import COMPACTOR, TOP, Tap, need  # noqa: E402

REAL = os.path.join(TOP, "..", "shared", "testdata", "tempo-blocks", "vParquet4", "single-tenant",
                    "b27b0e53-66a0-4505-afd6-434ae3cd4a10")
TRACESETS = os.path.join(TOP, "tests", "parquet", "tracesets.cjs")
TENANT = "single-tenant"


def run(*args, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(args), (p.stderr or p.stdout).strip()[-800:]))
    return p.stdout


def footer_size(path):
    with open(path, "rb") as f:
        f.seek(-8, 2)
        return int.from_bytes(f.read(4), "little")


def copy_block(root):
    """Tempo's block with our data.parquet; returns the block dir."""
    d = os.path.join(root, TENANT, os.path.basename(REAL))
    shutil.copytree(REAL, d)
    data = os.path.join(d, "data.parquet")
    run(COMPACTOR, "parquet", "copy", os.path.join(REAL, "data.parquet"), data + ".new", "--vp4")
    os.replace(data + ".new", data)
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    meta["size"] = os.path.getsize(data)
    meta["footerSize"] = footer_size(data)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f)
    return d


def gen_block(root):
    tmp = os.path.join(root, ".gen")
    run(COMPACTOR, "parquet", "gen", tmp, "--tenant", TENANT, "--traces", "400", "--spans", "8",
        "--seed", "7", "--rg-bytes", "30000")
    with open(os.path.join(tmp, "meta.json")) as f:
        bid = json.load(f)["blockID"]
    d = os.path.join(root, TENANT, bid)
    os.makedirs(os.path.dirname(d), exist_ok=True)
    os.rename(tmp, d)
    return d


def compacted_block(root):
    out = run(COMPACTOR, "parquet", "split", REAL, root, "--tenant", TENANT, "--parts", "3")
    ids = re.findall(r"^block=(\S+)", out, re.M)
    out = run(COMPACTOR, "compact", root, TENANT, *ids, "--rg-bytes", "20000")
    bid = re.search(r"output=(\S+)", out).group(1)
    return os.path.join(root, TENANT, bid)


def span_counts(data):
    """(ids in file order, {trace hex: spans}, rows per row group) as DuckDB
    reads the file."""
    for line in run("node", TRACESETS, data, "--readers", "duckdb").splitlines():
        o = json.loads(line)
        counts = {}
        for pair in o["pairs"]:
            t = pair.split()[0]
            counts[t] = counts.get(t, 0) + 1
        for t in o["ids"]:
            counts.setdefault(t, 0)
        return o["ids"], counts, o["rg_rows"]
    raise AssertionError("tracesets printed nothing")


def query(cli, root, bid, tid, use_index=False):
    """Spans tempo-cli returns for the trace, or None when not found.
    bid: the block under test, the only live block of the bucket; the answer
    must come from it alone. use_index: VPARQUET_INDEX=1, Tempo's lookup
    through the block's `index` file instead of its binary search over row
    groups."""
    env = dict(os.environ, VPARQUET_INDEX="1" if use_index else "0")
    p = subprocess.run([cli, "query", "trace-id", tid, TENANT, "--backend=local",
                        "--bucket=" + root], capture_output=True, text=True, timeout=120, env=env)
    text = p.stdout + p.stderr
    # tempo-cli prints a block's read error and exits 0, as if not found
    if p.returncode != 0 or "Error querying block" in text or "total blocks to search:  1" not in text:
        raise AssertionError("tempo-cli query %s: rc=%d %s" % (tid, p.returncode, text[-500:]))
    answered = re.findall(r"^([0-9a-f-]{36}) :$", text, re.M)
    if not answered and "Marshal called with nil" in text:
        return None
    if answered != [bid]:
        raise AssertionError("tempo-cli query %s: answered by blocks %s, not %s" % (tid, answered, bid))
    start = text.find("{", text.index(bid + " :"))
    doc, _ = json.JSONDecoder().raw_decode(text[start:])
    n = 0
    for rs in doc.get("batches", doc.get("resourceSpans", [])):
        for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", [])):
            n += len(ss.get("spans", []))
    return n


def absent_ids(ids):
    """IDs not in the block: below the first, between two neighbours (inside
    the bounds of a row group, so only the data can rule it out once the
    bloom lets it through), after the last."""
    have = set(ids)
    out = []
    for v in (int(ids[0], 16) - 1, int(ids[len(ids) // 2], 16) + 1, int(ids[-1], 16) + 1):
        v %= 1 << 128
        if "%032x" % v not in have:
            out.append("%032x" % v)
    return out


def main():
    t = Tap()
    name = "Tempo's trace-ID lookup finds what we write"
    need(t, name, built=[COMPACTOR])
    cli = os.environ.get("TEMPO_CLI")
    if not cli or not os.access(cli, os.X_OK):
        t.skip_all(name, "skipped: no tempo-cli (set TEMPO_CLI)")
    if not os.path.isdir(REAL):
        t.skip_all(name, "skipped: no ../shared")
    tmp = tempfile.mkdtemp(prefix="tc-tempo.")
    rng = random.Random(17)
    try:
        for kind, make in (("copy", copy_block), ("generated", gen_block),
                           ("compacted", compacted_block)):
            root = os.path.join(tmp, kind)
            os.makedirs(root)
            try:
                d = make(root)
                bid = os.path.basename(d)
                ids, counts, rg_rows = span_counts(os.path.join(d, "data.parquet"))
                # the first and last trace of every row group: the edges of
                # Tempo's binary search over row-group minimums
                edges, row = [], 0
                for n in rg_rows:
                    edges += [ids[row], ids[row + n - 1]]
                    row += n
                sample = sorted(set(rng.sample(ids, min(50, len(ids))) + edges))
                for use_index in (False, True):
                    bad = []
                    for tid in sample:
                        got = query(cli, root, bid, tid.lstrip("0") or "0", use_index)
                        if got != counts[tid]:
                            bad.append("%s: tempo-cli %s spans, DuckDB %d" % (tid, got, counts[tid]))
                    t(not bad, "%s: tempo-cli finds %d sampled trace IDs (the first and last of each "
                      "of %d row groups included) with DuckDB's span counts (%s)" % (
                          kind, len(sample), len(rg_rows), "through the block's index file" if use_index
                          else "binary search over row groups"),
                      "%d of %d wrong:\n%s" % (len(bad), len(sample), "\n".join(bad[:10])))
                absent = absent_ids(ids)
                found = ["%s%s" % (a, " (index)" if ix else "") for a in absent for ix in (False, True)
                         if query(cli, root, bid, a.lstrip("0") or "0", ix) is not None]
                t(len(absent) == 3 and not found,
                  "%s: %d absent trace IDs (below, inside, above the block's range) are not found" % (
                      kind, len(absent)), "found: %s" % found)
            except AssertionError as e:
                t(False, "%s: block written and queried" % kind, str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
