#!/usr/bin/env python3
"""SIGTERM during a compaction job (issue #11, the loop): the daemon lets the
running job finish, or abandons it cleanly, within
server.graceful_shutdown_timeout, and never leaves a half-marked job.

  - timeout 60s: SIGTERM right after the job starts; the job finishes (the
    output is live, every input is marked compacted), then the daemon exits 0;
  - timeout 300ms: SIGTERM right after the job starts; the daemon exits 0
    within the timeout plus a little, the job is abandoned by the job itself
    (it checks every 100 ms, and after each input's first row group; the
    inputs here have 2 MB row groups): every input is still live, no other
    block is visible, nothing of the output is left; a restart compacts them.
Either way the bucket is never in between (some inputs marked, or an output
visible next to live inputs).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tclib import COMPACTOR, Tap, free_port, need, wait  # noqa: E402

TENANT = "term"


def gen(root, n):
    start = (int(time.time()) // 3600 - 72) * 3600 + 600
    tdir = os.path.join(root, TENANT)
    os.makedirs(tdir, exist_ok=True)
    ids = []
    for i in range(n):
        d = os.path.join(root, ".gen-%d" % i)
        subprocess.run([COMPACTOR, "parquet", "gen", d, "--tenant", TENANT, "--traces", "30000",
                        "--spans", "10", "--seed", str(i + 1), "--start", str(start), "--span", "900",
                        "--shared", "6000", "--shared-seed", "99", "--shared-same", str(i % 2),
                        "--shared-start", str(start), "--rg-bytes", "2000000"], check=True, capture_output=True)
        with open(os.path.join(d, "meta.json")) as f:
            bid = json.load(f)["blockID"]
        os.rename(d, os.path.join(tdir, bid))
        ids.append(bid)
    return ids


def state(root, inputs):
    tdir = os.path.join(root, TENANT)
    live = sorted(b for b in os.listdir(tdir) if os.path.exists(os.path.join(tdir, b, "meta.json")))
    marked = [b for b in inputs if os.path.exists(os.path.join(tdir, b, "meta.compacted.json"))]
    return live, marked


def config(path, root, st, timeout):
    port = free_port()
    with open(path, "w") as f:
        f.write("""target: compactor
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
  graceful_shutdown_timeout: %s
storage:
  trace:
    backend: local
    local:
      path: %s
    blocklist_poll: 1s
compactor:
  state_dir: %s
  compaction:
    compaction_cycle: 100ms
""" % (port, timeout, root, st))


def term_during_job(t, tmp, name, timeout, limit_s):
    root = os.path.join(tmp, name)
    inputs = gen(root, 4)
    cfg = os.path.join(tmp, name + ".yaml")
    config(cfg, root, os.path.join(tmp, name + "-state"), timeout)
    logp = os.path.join(tmp, name + ".log")
    with open(logp, "w") as log:
        p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=log, stderr=subprocess.STDOUT)
        started = wait(lambda: "msg=compacting" in open(logp).read(), 30, 0.01)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=limit_s + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "hung"
        took = time.time() - t0
    text = open(logp).read()
    live, marked = state(root, inputs)
    t(started and rc == 0 and took <= limit_s,
      "%s: SIGTERM mid-job: exit 0 after %.2f s (limit %.1f s)" % (name, took, limit_s),
      "rc=%s started=%s\n%s" % (rc, bool(started), text[-1500:]))
    return root, inputs, live, marked, text, cfg


def main():
    t = Tap()
    need(t, "SIGTERM during compaction", built=[COMPACTOR])
    tmp = tempfile.mkdtemp(prefix="tc-term.")
    try:
        # a long timeout: the job runs to its end
        root, inputs, live, marked, text, _ = term_during_job(t, tmp, "finish", "60s", 60)
        t(len(marked) == 4 and len(live) == 1 and live[0] not in inputs
          and "compaction complete" in text,
          "finish: the job ran to its end: one new live block, its 4 inputs marked compacted",
          "live=%s marked=%d\n%s" % (live, len(marked), text[-2500:]))

        # a short timeout: the job is abandoned, nothing half-done
        root, inputs, live, marked, text, cfg = term_during_job(t, tmp, "abandon", "300ms", 3.0)
        tdir = os.path.join(root, TENANT)
        dirs = sorted(d for d in os.listdir(tdir) if os.path.isdir(os.path.join(tdir, d)))
        t(sorted(live) == sorted(inputs) and not marked and "abandoned" in text
          and dirs == sorted(inputs),
          "abandon: the job abandoned itself: the 4 inputs are live and unmarked, no output left",
          "live=%s marked=%s extra dirs=%s\n%s" % (live, marked, sorted(set(dirs) - set(inputs)),
                                                     text[-1500:]))
        with open(os.devnull, "w") as devnull:
            p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=devnull,
                                 stderr=subprocess.STDOUT)
            done = wait(lambda: len(state(root, inputs)[1]) == 4 and len(state(root, inputs)[0]) == 1,
                        120, 0.2)
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=90)
        t(done, "abandon: a restart compacts the same inputs to one block")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
