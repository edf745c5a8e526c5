#!/usr/bin/env python3
"""Coexistence, the worst case: two compactor daemons with separate peer lists
(each believes it owns every job) on one local bucket, both compacting and
applying retention with no shared lock, as ours beside Tempo's compactor would.

What is lost: nothing. After both have finished and a later compaction (one
daemon alone) has compacted the outputs down to one block, the set of
(TraceID, SpanID) pairs that DuckDB reads equals the inputs', and each trace
is there once. What is duplicated: traces held by two live blocks at once
while both ran (both compacted the same inputs); the count is printed, and
the later compaction dedupes them.

Before the fix in compact.c's commit() the two never finished: each
compacted the pair (its own output, the other's) into a new block and marked
nothing when the other was quicker, so both kept compacting copies level
after level. Now an output whose inputs were all taken by the other
compactor is retired (marked compacted) and the two converge.

Issue #16. Needs DuckDB in .tools (make deps)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from compactstore import LocalStore  # noqa: E402
from tclib import COMPACTOR, TOP, TOOLS, Tap, free_ports, need, wait  # noqa: E402
from test_compact_readers import GEN_T, TRACESETS, gen_blocks, metric, run, write_config  # noqa: E402


def duck_sets(files):
    """DuckDB's per-file IDs and (TraceID, SpanID) pairs (hyparquet is too slow here)."""
    return [json.loads(line) for line in
            run("node", TRACESETS, "--readers", "duckdb", *files).splitlines()]


def live_sets(store):
    files = [os.path.join(store.root, GEN_T, b, "data.parquet") for b in store.live(GEN_T)]
    return files, (duck_sets(files) if files else [])


def main():
    t = Tap()
    need(t, "coexistence", built=[COMPACTOR])
    if not os.path.isdir(os.path.join(TOP, ".tools", "node_modules", "@duckdb")):
        t.skip_all("coexistence", "no DuckDB in .tools (make deps)")
    tmp = tempfile.mkdtemp(prefix="tc-coexist.")
    procs = []
    try:
        store = LocalStore(tmp)
        # two days old: outside Tempo's 24 h active window, where blocks of
        # different levels are grouped apart. The two owners' race may end with
        # copies at two levels; there the later compaction must merge them.
        start = int(time.time()) - 2 * 86400
        blocks = gen_blocks(tmp, "in", [(11, 1), (12, 1), (13, 0), (14, 1), (15, 0), (16, 1)], start)
        sets = duck_sets([os.path.join(d, "data.parquet") for d in blocks.values()])
        want_pairs = set(p for o in sets for p in o["pairs"])
        want_ids = set(i for o in sets for i in o["ids"])
        for bid, d in blocks.items():
            store.put_block(GEN_T, bid, d)
        ports = free_ports(3)

        def start_daemon(name, port):
            cfg = os.path.join(tmp, name + ".yaml")
            env = write_config(cfg, store, os.path.join(tmp, name + "-state"), port)
            # separate peer lists: each names only itself, so each owns every job
            with open(cfg, "a") as f:
                f.write("  ring:\n    peers:\n      - 127.0.0.1:%d\n" % port)
            log = open(os.path.join(tmp, name + ".log"), "w")
            p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
            procs.append(p)
            return p

        t0 = time.time()
        a, b = start_daemon("a", ports[0]), start_daemon("b", ports[1])
        dup_max = [0]
        idle = [0]

        seen = [None]

        def both_idle():
            live = store.live(GEN_T)
            if live != seen[0]:  # DuckDB is slow: read each live set once
                seen[0] = live
                files, s = live_sets(store)
                c = Counter(i for o in s for i in set(o["ids"]))
                dup_max[0] = max(dup_max[0], sum(1 for v in c.values() if v > 1))
            ok = all(metric(p, "tempodb_compaction_outstanding_blocks", 'tenant="%s"' % GEN_T) == 0
                     for p in ports[:2])
            # twice in a row: a gauge read between two jobs is 0 too
            idle[0] = idle[0] + 1 if ok else 0
            return idle[0] >= 2 or None

        t(wait(both_idle, 240, 1.0), "both daemons finish: outstanding blocks is 0 on both",
          "live %s" % store.live(GEN_T))
        secs = time.time() - t0
        for p in (a, b):
            p.terminate()
            p.wait(timeout=40)
        logs = ""
        for name in ("a", "b"):
            with open(os.path.join(tmp, name + ".log")) as f:
                logs += f.read()
        jobs = logs.count('msg="compaction complete"')
        retired = logs.count("output retired as a duplicate")
        files, s = live_sets(store)
        got = set(x for o in s for x in o["pairs"])
        t(got == want_pairs, "nothing lost while both ran: the live blocks hold the inputs' %d "
          "(trace, span) pairs" % len(want_pairs), "missing %d, extra %d"
          % (len(want_pairs - got), len(got - want_pairs)))
        c = Counter(i for o in s for i in set(o["ids"]))
        dups = sum(1 for v in c.values() if v > 1)
        print("# both ran %.1f s: %d jobs, %d outputs retired as duplicates, %d live blocks at the "
              "end; traces in more than one live block: %d at the end, at most %d seen"
              % (secs, jobs, retired, len(files), dups, dup_max[0]))
        # two owners of every job: each does some of the other's work; no
        # level runaway (before the fix: level 20+ within a minute)
        levels = [store.meta(GEN_T, b).get("compactionLevel", 0) for b in store.live(GEN_T)]
        t(max(levels) <= 4, "the two converge: live levels %s (no compaction of copies level "
          "after level)" % levels)
        # the later compaction: one daemon alone compacts what is left down to one block
        c_ = start_daemon("c", ports[2])
        t1 = time.time()
        one = wait(lambda: len(store.live(GEN_T)) == 1 and metric(
            ports[2], "tempodb_compaction_outstanding_blocks", 'tenant="%s"' % GEN_T) == 0 or None,
            240, 1.0)
        c_.terminate()
        c_.wait(timeout=40)
        print("# later compaction by one daemon: %.1f s" % (time.time() - t1))
        files, s = live_sets(store)
        ids = [i for o in s for i in o["ids"]]
        pairs = set(x for o in s for x in o["pairs"])
        t(one and pairs == want_pairs and set(ids) == want_ids and len(ids) == len(set(ids)),
          "after a later compaction: one live block, the inputs' %d traces each once and every "
          "(trace, span) pair" % len(want_ids),
          "live %d, ids %d (distinct %d, want %d), pairs equal %s"
          % (len(files), len(ids), len(set(ids)), len(want_ids), pairs == want_pairs))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


main()
