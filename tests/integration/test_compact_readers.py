#!/usr/bin/env python3
"""Compaction output judged by independent readers, on the local backend and
on S3 (Ceph RGW). Issue #11, acceptance 1.

Two tenants, three level-0 blocks each:
  - single-tenant: Tempo's own vParquet4 test block (../shared), split with
    `parquet split` into 3 overlapping blocks: lone traces, byte-equal
    copies in 2 or 3 blocks, and copies that hold different spans;
  - gen: 3 blocks from `parquet gen --shared`: the shared traces of two of
    them are byte-equal, the third's differ.
The daemon compacts them through its normal loop. Then DuckDB and hyparquet
(neither is our reader) must find in the output the inputs' TraceID set and
(TraceID, SpanID) set, each trace once and in ascending order; every trace ID
tests positive in the output's bloom (read by tests/tempo_bloom.py, not by
our code); meta.json matches the file (size, footer, row groups, objects,
times, IDs, dedicated columns) and the index names each row group's last ID;
the inputs are marked compacted. A second round adds a new block to the same
window of each tenant: the output and the new block compact to one level-2
block, checked the same way.

Needs ../shared/testdata (skipped: no ../shared), node with DuckDB and
hyparquet in .tools (make deps), and radosgw + boto3 for S3.
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from compactstore import LocalStore, S3Store, s3_missing  # noqa: E402
from tclib import COMPACTOR, TOP, Tap, free_port, http_get, need, wait  # noqa: E402
from tempo_bloom import Bloom, shard  # noqa: E402

REAL = os.path.join(TOP, "..", "shared", "testdata", "tempo-blocks", "vParquet4", "single-tenant",
                    "b27b0e53-66a0-4505-afd6-434ae3cd4a10")
TRACESETS = os.path.join(TOP, "tests", "parquet", "tracesets.cjs")
REAL_T, GEN_T = "single-tenant", "gen"


def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(args), p.stderr.strip() or p.stdout.strip()))
    return p.stdout


def read_sets(files):
    """{reader: [per-file result]} from DuckDB and hyparquet."""
    out = {}
    for line in run("node", TRACESETS, *files).splitlines():
        o = json.loads(line)
        out.setdefault(o["reader"], []).append(o)
    return out


def split_real(tmp, name, parts):
    """Splits the real block into `parts` blocks; {blockID: dir}."""
    bucket = os.path.join(tmp, name)
    os.makedirs(bucket)
    out = run(COMPACTOR, "parquet", "split", REAL, bucket, "--tenant", REAL_T, "--parts", str(parts))
    ids = re.findall(r"^block=(\S+)", out, re.M)
    return {b: os.path.join(bucket, REAL_T, b) for b in ids}


def gen_blocks(tmp, name, specs, start):
    """specs: [(seed, shared_same)]; 2500 traces, 800 shared (shared seed 5)."""
    out = {}
    for i, (seed, same) in enumerate(specs):
        d = os.path.join(tmp, "%s-%d" % (name, i))
        run(COMPACTOR, "parquet", "gen", d, "--tenant", GEN_T, "--traces", "2500", "--spans", "6",
            "--seed", str(seed), "--start", str(start), "--span", "900", "--shared", "800",
            "--shared-seed", "5", "--shared-same", str(same), "--shared-start", str(start),
            "--rg-bytes", "20000")
        with open(os.path.join(d, "meta.json")) as f:
            out[json.load(f)["blockID"]] = d
    return out


def expected(dirs):
    """What DuckDB finds in the input blocks: (TraceID set, pair set, metas)."""
    files = [os.path.join(d, "data.parquet") for d in dirs]
    sets = read_sets(files)["duckdb"]
    ids, pairs = set(), set()
    for o in sets:
        ids.update(o["ids"])
        pairs.update(o["pairs"])
    metas = []
    for d in dirs:
        with open(os.path.join(d, "meta.json")) as f:
            metas.append(json.load(f))
    return ids, pairs, metas


def b64(hexid):
    return base64.b64encode(bytes.fromhex(hexid)).decode()


def check_block(t, store, tenant, bid, want, level, label):
    """Every acceptance check on one output block."""
    want_ids, want_pairs, in_metas = want
    meta = store.meta(tenant, bid)
    path, size = store.data(tenant, bid)
    sets = read_sets([path])
    for reader in ("duckdb", "hyparquet"):
        o = sets[reader][0]
        t(o["ids"] == sorted(set(o["ids"])) and set(o["ids"]) == want_ids,
          "%s: %s finds the inputs' %d trace IDs, each once, ascending" % (label, reader, len(want_ids)),
          "rows=%d distinct=%d missing=%s extra=%s" % (
              len(o["ids"]), len(set(o["ids"])), sorted(want_ids - set(o["ids"]))[:3],
              sorted(set(o["ids"]) - want_ids)[:3]))
        t(set(o["pairs"]) == want_pairs,
          "%s: %s finds the inputs' %d (TraceID, SpanID) pairs" % (label, reader, len(want_pairs)),
          "missing=%s extra=%s" % (sorted(want_pairs - set(o["pairs"]))[:3],
                                   sorted(set(o["pairs"]) - want_pairs)[:3]))
    duck = sets["duckdb"][0]
    ids = duck["ids"]
    # bloom: every ID positive in its shard, read independently
    shards = meta.get("bloomShards") or 10
    blooms = [Bloom(store.read(tenant, bid, "bloom-%d" % i) or b"") for i in range(shards)]
    misses = [i for i in ids if not blooms[shard(bytes.fromhex(i), shards)].test(bytes.fromhex(i))]
    t(not misses, "%s: the bloom (%d shards) says yes for every trace ID" % (label, shards),
      "misses: %s" % misses[:3])
    # meta.json against the file and the inputs
    with open(path, "rb") as f:
        blob = f.read()
    footer = int.from_bytes(blob[-8:-4], "little")
    problems = []

    def same(key, got, want):
        if got != want:
            problems.append("%s: meta says %r, want %r" % (key, got, want))
    same("format", meta.get("format"), "vParquet4")
    same("tenantID", meta.get("tenantID"), tenant)
    same("compactionLevel", meta.get("compactionLevel"), level)
    same("size", meta.get("size"), size)
    same("footerSize", meta.get("footerSize"), footer)
    same("trailing magic", blob[-4:], b"PAR1")
    same("totalObjects", meta.get("totalObjects"), len(ids))
    same("totalRecords", meta.get("totalRecords"), duck["row_groups"])
    same("totalRecords (hyparquet)", meta.get("totalRecords"), sets["hyparquet"][0]["row_groups"])
    same("minID", meta.get("minID"), b64(ids[0]))
    same("maxID", meta.get("maxID"), b64(ids[-1]))
    same("startTime", meta.get("startTime"), min(m["startTime"] for m in in_metas))
    same("endTime", meta.get("endTime"), max(m["endTime"] for m in in_metas))
    same("dedicatedColumns", meta.get("dedicatedColumns"), in_metas[0].get("dedicatedColumns"))
    same("replicationFactor", meta.get("replicationFactor"), in_metas[0].get("replicationFactor"))
    index = json.loads(store.read(tenant, bid, "index") or b"{}")
    last, ends = 0, []
    for n in duck["rg_rows"]:
        last += n
        ends.append(b64(ids[last - 1]))
    same("index rowGroups", index.get("rowGroups"), ends)
    t(not problems, "%s: meta.json (level %d, %d row groups) and index match the file and the inputs"
      % (label, level, duck["row_groups"]), "\n".join(problems))


def write_config(path, store, state, port):
    storage, env = store.config()
    with open(path, "w") as f:
        f.write("""target: compactor
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
storage:
  trace:
%s    blocklist_poll: 1s
    block:
      parquet_row_group_size_bytes: 1048576
compactor:
  state_dir: %s
  compaction:
    compaction_cycle: 100ms
    compaction_window: 1h
    block_retention: 87600h
""" % (port, storage, state))
    return dict(os.environ, **env)


def metric(port, name, labels):
    st, body = http_get("http://127.0.0.1:%d/metrics" % port)
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), body, re.M)
    return float(m.group(1)) if st == 200 and m else None


def settled(store, port, tenants, level):
    """Each tenant has one live block at `level` and nothing outstanding."""
    for tenant in tenants:
        live = store.live(tenant)
        if len(live) != 1 or store.meta(tenant, live[0]).get("compactionLevel") != level:
            return False
        if metric(port, "tempodb_compaction_outstanding_blocks", 'tenant="%s"' % tenant) != 0:
            return False
    return True


def run_backend(t, store, tmp, rounds):
    name = store.name
    state = os.path.join(tmp, "state-" + name)
    cfg = os.path.join(tmp, "tempo-%s.yaml" % name)
    logp = os.path.join(tmp, "daemon-%s.log" % name)
    port = free_port()
    env = write_config(cfg, store, state, port)
    wants, inputs = {}, {}

    def add_round(blocks):
        """Uploads one round's blocks and records what the output must hold.
        The previous output's meta is read first: the daemon may compact it
        away as soon as the new block is visible."""
        for tenant, bs in blocks.items():
            prev = store.live(tenant) if tenant in wants else []
            ids, pairs, metas = expected(bs.values())
            metas += [store.meta(tenant, b) for b in prev]
            if tenant in wants:  # the last output joins the new block
                ids |= wants[tenant][0]
                pairs |= wants[tenant][1]
            wants[tenant] = (ids, pairs, metas)
            inputs[tenant] = list(bs) + prev
            for bid, d in bs.items():
                store.put_block(tenant, bid, d)

    # round 1 is in the bucket before the daemon starts, so no job can see
    # part of it; later rounds add one block per tenant to a running daemon
    add_round(rounds[0])
    with open(logp, "w") as log:
        p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=log,
                             stderr=subprocess.STDOUT, env=env)
        try:
            for level, blocks in enumerate(rounds, start=1):
                if level > 1:
                    add_round(blocks)
                done = wait(lambda: settled(store, port, blocks, level), 120, 0.3)
                st, status = http_get("http://127.0.0.1:%d/status/compaction" % port)
                t(done, "%s: round %d: the daemon compacts each tenant's %s blocks into one "
                  "level-%d block" % (name, level, "/".join(str(len(v)) for v in inputs.values()),
                                      level),
                  "status: %s\nlog: %s" % (status[:2000], open(logp).read()[-2000:]))
                if not done:
                    return
                for tenant in blocks:
                    bid = store.live(tenant)[0]
                    check_block(t, store, tenant, bid, wants[tenant], level,
                                "%s: round %d: %s" % (name, level, tenant))
                    marked = [b for b in inputs[tenant]
                              if store.read(tenant, b, "meta.compacted.json") is not None
                              and store.read(tenant, b, "meta.json") is None]
                    t(len(marked) == len(inputs[tenant]),
                      "%s: round %d: %s: its %d inputs are marked compacted (meta.compacted.json)"
                      % (name, level, tenant, len(inputs[tenant])),
                      "marked: %d" % len(marked))
            combined = metric(port, "tempodb_compaction_objects_combined_total", 'level="0"')
            t(combined and combined > 0, "%s: /metrics counts combined traces (%s at level 0)"
              % (name, combined))
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    t = Tap()
    need(t, "compaction judged by independent readers", built=[COMPACTOR])
    if not os.path.isdir(REAL):
        t.skip_all("compaction judged by independent readers", "skipped: no ../shared")
    if not shutil.which("node") or not os.path.isdir(
            os.path.join(os.environ.get("NODE_PATH", "/nonexistent"), "@duckdb", "node-api")):
        t.skip_all("compaction judged by independent readers", "no DuckDB in .tools (make deps)")
    tmp = tempfile.mkdtemp(prefix="tc-readers.")
    try:
        now = int(time.time())
        gstart = (now // 3600 - 72) * 3600 + 300  # 3 days ago, inside one 1h window
        rounds = [
            {REAL_T: split_real(tmp, "split1", 3),
             GEN_T: gen_blocks(tmp, "gen1", [(1, 1), (2, 1), (3, 0)], gstart)},
            {REAL_T: dict(list(split_real(tmp, "split2", 2).items())[:1]),
             GEN_T: gen_blocks(tmp, "gen2", [(4, 0)], gstart)},
        ]
        ids, pairs, _ = expected(rounds[0][REAL_T].values())
        src = read_sets([os.path.join(REAL, "data.parquet")])["duckdb"][0]
        t(ids == set(src["ids"]) and pairs == set(src["pairs"]),
          "the 3 split blocks hold exactly the real block's %d traces and %d spans, %d rows in all"
          % (len(src["ids"]), len(src["pairs"]),
             sum(m["totalObjects"] for m in expected(rounds[0][REAL_T].values())[2])))
        for name in ("local", "s3"):
            if name == "s3" and s3_missing():
                t.skip("s3: compaction judged by independent readers", s3_missing())
                continue
            store = None
            try:
                store = LocalStore(tmp) if name == "local" else S3Store(tmp, "readers")
                run_backend(t, store, tmp, rounds)
            except Exception as e:
                import traceback
                t(False, "%s: compaction judged by independent readers ran" % name,
                  "".join(traceback.format_exception(e))[-3000:])
            finally:
                if store:
                    store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
