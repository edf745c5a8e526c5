#!/usr/bin/env python3
"""The daemon on a bucket of 100,000 blocks behind a modelled S3 latency.

/ready must answer 200 in under a second while the first poll is still
running, /status/blocklist must show that poll moving, a progress line must be
logged, and SIGTERM must stop the daemon promptly even mid-poll. The store is
the test-only latency wrapper over the local backend (20 ms per request)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import COMPACTOR as BIN, Tap, free_port, http_get as get, wait  # noqa: E402

tap = Tap()


def progress(port):
    st, body = get("http://127.0.0.1:%d/status/blocklist" % port)
    j = json.loads(body)
    t = j["poller"]["tenants"]
    return j, sum(x["fetched"] + x["known"] for x in t), sum(x["listed"] for x in t)


def main():
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="tc100k.", dir=base)
    proc = None
    try:
        bucket = os.path.join(work, "bucket")
        t0 = time.time()
        subprocess.check_call(["/usr/bin/python3", os.path.join(TOP, "hack", "gen-metas.py"),
                               bucket, "--tenants", "10", "--blocks", "10000",
                               "--compacted", "0.15", "--hours", "400"],
                              stdout=subprocess.DEVNULL)
        print("# generated 100,000 metas in %.1fs" % (time.time() - t0))
        port = free_port()
        cfg = os.path.join(work, "tempo.yaml")
        with open(cfg, "w") as f:
            f.write("server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: %d\n"
                    "storage:\n  trace:\n    backend: local\n    local:\n      path: %s\n"
                    "    blocklist_poll_concurrency: 50\n"
                    "    blocklist_poll_tenant_concurrency: 2\n"
                    "    s3:\n      list_blocks_concurrency: 3\n"
                    "compactor:\n  state_dir: %s\n" % (port, bucket, os.path.join(work, "state")))
        env = dict(os.environ, TC_TEST_BACKEND_LATENCY_MS="20")
        log = open(os.path.join(work, "log"), "w")
        start = time.time()
        proc = subprocess.Popen([BIN, "-config.file=" + cfg], stdout=log, stderr=subprocess.STDOUT,
                                env=env)
        ready_at = None
        while time.time() - start < 5:
            st, _ = get("http://127.0.0.1:%d/ready" % port)
            if st == 200:
                ready_at = time.time() - start
                break
            time.sleep(0.01)
        tap(ready_at is not None and ready_at < 1.0,
            "/ready is 200 within 1s on a 100,000-block bucket (%.3fs)" % (ready_at or -1),
            open(os.path.join(work, "log")).read())
        # The poll thread may not have begun at the instant /ready turns 200
        # ("waiting"); it must then start, and still be far from done.
        j0 = progress(port)[0]
        wait(lambda: progress(port)[0]["poller"]["state"] != "waiting", 2, 0.01)
        j, done1, listed1 = progress(port)
        tap(not j0["first_poll_done"] and j0["poller"]["state"] in ("waiting", "polling")
            and not j["first_poll_done"] and j["poller"]["state"] == "polling",
            "the first poll is still running when ready",
            json.dumps(j0)[:300] + "\n" + json.dumps(j)[:500])
        time.sleep(3)
        j2, done2, listed2 = progress(port)
        tap(done2 > done1 and not j2["first_poll_done"],
            "/status/blocklist shows the poll moving (%d -> %d metas resolved, %d listed)"
            % (done1, done2, listed2), json.dumps(j2)[:500])
        busy = [t for t in j2["poller"]["tenants"] if t["remaining"] > 0]
        tap(busy and all(t["eta_seconds"] > 0 for t in busy),
            "tenants with metas remaining report an ETA", json.dumps(j2)[:500])
        deadline = time.time() + 15
        while time.time() < deadline and "progress" not in open(os.path.join(work, "log")).read():
            time.sleep(0.5)
        logtext = open(os.path.join(work, "log")).read()
        line = [ln for ln in logtext.splitlines() if "progress" in ln]
        tap(bool(line), "a progress line is logged during the long poll",
            logtext[-2000:])
        if line:
            print("# " + line[0][:300])
        st, _ = get("http://127.0.0.1:%d/ready" % port)
        tap(st == 200, "still ready while polling")
        t1 = time.time()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=35)
        except subprocess.TimeoutExpired:
            rc = None
        tap(rc == 0, "SIGTERM mid-poll stops the daemon cleanly in %.1fs" % (time.time() - t1),
            open(os.path.join(work, "log")).read()[-1500:])
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
