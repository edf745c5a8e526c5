#!/usr/bin/env python3
"""Crash safety of compaction, on the local backend and on S3 (Ceph RGW): the
daemon is SIGKILLed at random points of running jobs (during the merge, the
block writes, the marking of inputs), then restarted, until CRASH_JOBS jobs
were killed mid-way; a last run compacts to the end. After every kill:
  - no (TraceID, SpanID) pair of the original bucket is missing from the live
    blocks (meta.json present);
  - every live block is whole: its data.parquet reads, its size matches meta;
  - no original block was deleted (its data.parquet is still there).
At the end each window holds one block with each trace ID once, and the
leftovers of interrupted jobs (block directories without a meta, temp files,
incomplete multipart uploads) are invisible to the poller and removed by the
orphan sweep.

env: CRASH_JOBS (jobs killed mid-way per backend, default 20; `make soak`
runs 200), CRASH_BACKENDS (default "local s3"; s3 needs radosgw and boto3 and
is skipped without them), CRASH_SEED."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from compactstore import LocalStore, S3Store, s3_missing  # noqa: E402
from tclib import COMPACTOR, Tap, free_port, http_get, need, wait  # noqa: E402

JOBS = int(os.environ.get("CRASH_JOBS", "20"))
TENANT = "crash"
WINDOWS = int(os.environ.get("CRASH_WINDOWS", "24"))
PER_WINDOW = 8
S3_BUCKET = "crash"


def gen_blocks(tmp):
    """WINDOWS 1h windows, 3 days ago (older than 24h, so every level of a window
    merges into one block in the end), PER_WINDOW blocks each, with overlap.
    Returns {blockID: local dir}."""
    now = int(time.time())
    out, n = {}, 0
    for w in range(WINDOWS):
        start = (now // 3600 - 72 - w) * 3600 + 600
        for b in range(PER_WINDOW):
            n += 1
            d = os.path.join(tmp, "gen-%d" % n)
            subprocess.run([COMPACTOR, "parquet", "gen", d, "--tenant", TENANT, "--traces", "60",
                            "--spans", "5", "--seed", str(n), "--start", str(start), "--span", "900",
                            "--shared", "20", "--shared-seed", str(1000 + w), "--shared-same",
                            str(b % 2), "--shared-start", str(start), "--rg-bytes", "4000"],
                           check=True, capture_output=True)
            with open(os.path.join(d, "meta.json")) as f:
                out[json.load(f)["blockID"]] = d
    return out


def spans_of(store, bid):
    path, _ = store.data(TENANT, bid)
    out = subprocess.run([COMPACTOR, "parquet", "spans", path or "/nonexistent"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError("block %s does not read: %s" % (bid, out.stderr.strip()))
    return set(tuple(line.split()) for line in out.stdout.splitlines() if line.strip())


def ids_of(store, bid):
    out = subprocess.run([COMPACTOR, "parquet", "ids", store.data(TENANT, bid)[0]],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def check_live(store, want):
    """Problems with the live blocks: unreadable, size mismatch, lost pairs."""
    have, problems = set(), []
    for bid in store.live(TENANT):
        meta = store.meta(TENANT, bid)
        _, size = store.data(TENANT, bid)
        if size != meta.get("size"):
            problems.append("%s: data.parquet is %d bytes, meta says %s" % (bid, size, meta.get("size")))
            continue
        try:
            have |= spans_of(store, bid)
        except AssertionError as e:
            problems.append(str(e))
    lost = want - have
    if lost:
        problems.append("%d (trace, span) pairs lost, e.g. %s" % (len(lost), sorted(lost)[:3]))
    return problems


def write_config(path, store, state, port, orphan_retention="1h", slow=False):
    storage, env = store.config(slow)
    with open(path, "w") as f:
        f.write("""target: compactor
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
  graceful_shutdown_timeout: 5s
storage:
  trace:
%s    blocklist_poll: 2s
    block:
      parquet_row_group_size_bytes: 1048576
compactor:
  state_dir: %s
  compaction:
    compaction_cycle: 100ms
    compaction_window: 1h
    orphan_retention: %s
""" % (port, storage, state, orphan_retention))
    return dict(os.environ, **env)


def run_backend(t, store, blocks, tmp):
    name = store.name
    original = sorted(blocks)
    want, all_ids = set(), set()
    for bid in original:
        want |= spans_of(store, bid)
        all_ids.update(ids_of(store, bid))
    t(len(store.live(TENANT)) == WINDOWS * PER_WINDOW and len(want) > 0,
      "%s: bucket: %d blocks, %d (trace, span) pairs, %d distinct traces"
      % (name, len(store.live(TENANT)), len(want), len(all_ids)))

    state = os.path.join(tmp, "state-" + name)
    cfg = os.path.join(tmp, "tempo-%s.yaml" % name)
    log = open(os.path.join(tmp, "daemon-%s.log" % name), "w+")
    rng = random.Random(int(os.environ.get("CRASH_SEED", "12345")))
    kills, kills_mid_job, write_kills, problems = 0, 0, 0, []
    try:
        while kills_mid_job < JOBS:
            port = free_port()
            env = write_config(cfg, store, state, port, slow=True)
            start_pos = log.tell()
            p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
            # wait for a job to start, then kill at a random point in it
            mark = store.write_mark(TENANT) if kills % 4 == 3 else None
            started = wait(lambda: "msg=compacting" in open(log.name).read()[start_pos:], 20, 0.01)
            if started and mark is not None:
                # every 4th kill lands in the write phase: once the new
                # block's data is written, before its meta
                caught = wait(lambda: ("new" if store.writing(TENANT, mark) else None) or
                              ("done" if "compaction complete" in open(log.name).read()[start_pos:]
                               else None), 10, 0.002)
                write_kills += caught == "new"
            elif started:
                time.sleep(rng.uniform(0, 0.06))
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            # a kill is mid-job when the job it waited for had not finished
            tail = open(log.name).read()[start_pos:]
            if started and tail.count("msg=compacting") > tail.count("msg=\"compaction complete\""):
                kills_mid_job += 1
            pr = check_live(store, want)
            if pr:
                problems.append("after kill %d: %s" % (kills, "; ".join(pr)))
            for bid in original:
                if store.data(TENANT, bid)[0] is None:
                    problems.append("after kill %d: input %s deleted" % (kills, bid))
            if not started or problems:
                break  # nothing left to compact, or already broken
        t(not problems, "%s: %d SIGKILLs during compaction (%d mid-job): nothing lost, no live "
          "block broken, no input deleted" % (name, kills, kills_mid_job), "\n".join(problems[:20]))
        t(kills_mid_job >= JOBS, "%s: the kills landed in %d running jobs (want %d), %d of them "
          "in the write phase" % (name, kills_mid_job, JOBS, write_kills))

        # restart and let compaction finish
        port = free_port()
        env = write_config(cfg, store, state, port)
        p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=log,
                             stderr=subprocess.STDOUT, env=env)

        def drained():
            st, body = http_get("http://127.0.0.1:%d/metrics" % port)
            m = re.search(r'^tempodb_compaction_outstanding_blocks\{tenant="%s"\} (\S+)$' % TENANT,
                          body, re.M)
            return st == 200 and m and float(m.group(1)) == 0 and len(store.live(TENANT)) == WINDOWS
        done = wait(drained, 300, 0.5)
        why = ""
        if not done:
            st, body = http_get("http://127.0.0.1:%d/status/compaction" % port)
            why = "status: %s\n" % body[:3000]
            for bid in store.live(TENANT):
                m = store.meta(TENANT, bid)
                why += "%s level=%s start=%s end=%s objects=%s size=%s\n" % (
                    bid, m.get("compactionLevel"), m.get("startTime"), m.get("endTime"),
                    m.get("totalObjects"), m.get("size"))
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        live = store.live(TENANT)
        t(done and rc == 0, "%s: a restart compacts to the end: %d windows, %d live blocks" %
          (name, WINDOWS, len(live)), why + open(log.name).read()[-1500:])
        pr = check_live(store, want)
        t(not pr, "%s: after the final compaction every (trace, span) pair is still there" % name,
          "\n".join(pr))
        ids = []
        for bid in live:
            ids += ids_of(store, bid)
        t(len(ids) == len(set(ids)) and set(ids) == all_ids,
          "%s: each of the %d trace IDs is in exactly one live block (%d rows)"
          % (name, len(all_ids), len(ids)))

        # leftovers: block dirs without any meta, incomplete uploads
        orphans = store.leftovers(TENANT)
        spath = os.path.join(state, "blocklist.state")
        seen = open(spath, "rb").read() if os.path.exists(spath) else b""
        t(all(o.split(":")[-1].split("/")[-2 if o.startswith("upload:") else -1].encode()
              not in seen for o in orphans),
          "%s: %d leftovers of interrupted jobs are invisible to the poller" % (name, len(orphans)))
        if orphans:
            retention = store.age(TENANT, orphans)
            port = free_port()
            env = write_config(cfg, store, state, port, retention)
            start_pos = log.tell()
            p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=log,
                                 stderr=subprocess.STDOUT, env=env)
            gone = wait(lambda: not store.leftovers(TENANT), 150, 1)
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
            t(gone, "%s: the orphan sweep removes them once they are older than orphan_retention "
              "(%s)" % (name, retention), "left: %s\nlog: %s" % (
                  store.describe(TENANT, store.leftovers(TENANT)), open(log.name).read()[start_pos:][-2000:]))
            t(len(store.live(TENANT)) == WINDOWS and not check_live(store, want),
              "%s: the sweep removed nothing live" % name)
        else:
            # every 4th kill waits for the write phase, so this cannot happen
            # unless the writer no longer leaves its partial objects behind
            t(False, "%s: the write-phase kills left leftovers for the orphan sweep" % name)
    finally:
        log.close()


def main():
    t = Tap()
    need(t, "compaction crash safety", built=[COMPACTOR])
    tmp = tempfile.mkdtemp(prefix="tc-crash.")
    try:
        blocks = gen_blocks(tmp)
        for name in os.environ.get("CRASH_BACKENDS", "local s3").split():
            if name == "s3" and s3_missing():
                t.skip("s3: compaction crash safety", s3_missing())
                continue
            store = None
            try:
                store = LocalStore(tmp) if name == "local" else S3Store(tmp, S3_BUCKET)
                for bid, d in blocks.items():
                    store.put_block(TENANT, bid, d)
                run_backend(t, store, blocks, tmp)
            except Exception as e:
                t(False, "%s: compaction crash safety ran" % name,
                  "".join(traceback.format_exception(e))[-3000:])
            finally:
                if store:
                    store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
