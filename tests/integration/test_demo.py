#!/usr/bin/env python3
"""The main job on its embedded default (README's first command ends in
hack/run-demo.sh): from an empty directory it generates the demo bucket,
starts the compactor, becomes ready, polls, compacts the backlog to fewer
blocks at higher levels (the before/after summary it prints, /metrics and
/status/compaction show it), applies retention; a restart reuses the bucket
and the persisted poll state."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tclib import COMPACTOR, TOP, Tap, free_port, http_get, need, wait  # noqa: E402


def start(demo_dir, port, log, script="run-demo.sh"):
    env = dict(os.environ, DEMO_DIR=demo_dir, PORT=str(port))
    return subprocess.Popen(["bash", os.path.join(TOP, "hack", script)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def alive(pid):
    """pid runs and is no zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def daemon_pid(pidfile):
    """The PID in the pid file if it is a running tempo-compactor, else None."""
    try:
        pid = int(open(pidfile).read().strip())
        exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except (OSError, ValueError):
        return None
    return pid if exe == "tempo-compactor" and alive(pid) else None


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return p.returncode


def blocklist(port):
    st, body = http_get("http://127.0.0.1:%d/status/blocklist" % port)
    return json.loads(body) if st == 200 else None


def metric(port, name, tenant=None):
    st, body = http_get("http://127.0.0.1:%d/metrics" % port)
    if st != 200:
        return None
    lab = '{tenant="%s"}' % tenant if tenant else ""
    m = re.search(r"^%s%s ([0-9.e+]+)$" % (re.escape(name), re.escape(lab)), body, re.M)
    return float(m.group(1)) if m else None


SUMMARY = re.compile(r"^(before|after): (\S+): (\d+) live blocks \(([^)]*)\), (\d+) traces, "
                     r"(\d+) distinct trace IDs, ([0-9.]+) MB; (\d+) compacted$", re.M)


def summaries(text):
    """{(label, tenant): (live, {level: n}, traces, distinct)} from the demo's output."""
    out = {}
    for m in SUMMARY.finditer(text):
        levels = {int(k[1:]): int(v) for k, v in (x.split("=") for x in m.group(4).split()
                                                   if "=" in x)}
        out[(m.group(1), m.group(2))] = (int(m.group(3)), levels, int(m.group(5)), int(m.group(6)))
    return out


def demo_blocks(bucket):
    d = os.path.join(bucket, "demo")
    return sorted(e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e)))


def main():
    t = Tap()
    need(t, "demo", built=[COMPACTOR])
    tmp = tempfile.mkdtemp(prefix="tc-demo.")
    demo = os.path.join(tmp, "demo")
    bucket = os.path.join(demo, "bucket")
    log = open(os.path.join(tmp, "demo.log"), "w+")
    port = free_port()
    p = start(demo, port, log)
    try:
        ready = wait(lambda: http_get("http://127.0.0.1:%d/ready" % port)[0] == 200, 120, 0.2)
        t(ready, "from an empty directory the demo generates its bucket and becomes ready",
          open(log.name).read()[-2000:])
        ids = demo_blocks(bucket) if os.path.isdir(os.path.join(bucket, "demo")) else []
        files_ok = len(ids) == 4 and all(
            {"data.parquet", "bloom-0", "index"} <= set(os.listdir(os.path.join(bucket, "demo", i)))
            and any(f.startswith("meta") for f in os.listdir(os.path.join(bucket, "demo", i)))
            for i in ids)
        t(files_ok, "4 generated vParquet4 blocks, each with data.parquet, bloom-0, index and a meta",
          "%s: %s" % (ids, [os.listdir(os.path.join(bucket, "demo", i)) for i in ids]))
        leftovers = [e for e in os.listdir(bucket) if e.startswith(".")] + \
            [e for e in os.listdir(demo) if e.endswith(".tmp")]
        t(not leftovers, "no half-made generation left behind", leftovers)
        bl = wait(lambda: (lambda b: b if b and b.get("first_poll_done") else None)(blocklist(port)), 60)
        listed = sum(x["listed"] for x in bl["poller"]["tenants"]) if bl else -1
        t(listed == 60, "the first poll finds 60 blocks in 3 tenants", json.dumps(bl)[:800])
        tdir = os.path.join(bucket, "tenant-0")
        comp_dirs = [os.path.join(tdir, b) for b in os.listdir(tdir)
                     if os.path.isfile(os.path.join(tdir, b, "meta.json"))]
        t(comp_dirs and all(os.path.isfile(os.path.join(d, "data.parquet")) for d in comp_dirs),
          "tenant-0's blocks are real (data.parquet in each): compactable, not metas only")
        after = wait(lambda: ("after", "tenant-1") in summaries(open(log.name).read()) or None, 240, 0.5)
        text = open(log.name).read()
        sm = summaries(text)
        t(after, "the demo prints the bucket after compaction", text[-3000:])
        for tenant in ("tenant-0", "tenant-1"):
            b, a = sm.get(("before", tenant)), sm.get(("after", tenant))
            ok = b and a and b[1] == {0: 28} and a[0] < b[0] and max(a[1]) >= 2 and a[3] == b[3] \
                and a[2] == a[3] and b[2] > b[3]
            t(ok, "%s: %s live blocks at level 0 become %s at levels %s; the %s distinct trace IDs "
                  "stay, now each once (%s traces before, %s after)"
              % (tenant, b and b[0], a and a[0], a and sorted(a[1]), b and b[3], b and b[2], a and a[2]),
              "before %s after %s" % (b, a))
        out = [metric(port, "tempodb_compaction_outstanding_blocks", x) for x in ("tenant-0", "tenant-1")]
        t(out == [0, 0], "outstanding blocks drained to 0 for both tenants (%s)" % out)
        st, body = http_get("http://127.0.0.1:%d/status/compaction" % port)
        sc = json.loads(body) if st == 200 else {}
        t(sc.get("jobs_done", 0) >= 8 and sc.get("jobs_failed") == 0 and sc.get("last_job", {}).get("result") == "ok",
          "/status/compaction shows the jobs done (%s), none failed" % sc.get("jobs_done"), body[:800])
        st, body = http_get("http://127.0.0.1:%d/metrics" % port)
        t(re.search(r'^tempodb_compaction_blocks_total\{level="0"\} [1-9]', body, re.M)
          and re.search(r'^tempodb_compaction_objects_combined_total\{level="0"\} [1-9]', body, re.M),
          "/metrics counts compacted blocks and combined objects by level")
        t("compaction complete" in text, "the log shows each finished job")
        marked = wait(lambda: (metric(port, "tempodb_retention_marked_for_deletion_total") or 0)
                      >= 4 or None, 60)
        t(marked, "retention marks the 4 blocks dated 2023 (past 336h) compacted",
          metric(port, "tempodb_retention_marked_for_deletion_total"))
        t(stop(p) == 0, "SIGTERM stops the demo cleanly", open(log.name).read()[-1500:])

        # Restart: same bucket, no regeneration, and the persisted state
        # means no meta is fetched again.
        port = free_port()
        p = start(demo, port, log)
        bl = wait(lambda: (lambda b: b if b and b.get("first_poll_done") else None)(blocklist(port)),
                  60)
        t(bl is not None and demo_blocks(bucket) == ids, "a restart reuses the bucket as it is")
        fetched = sum(x["fetched"] for x in bl["poller"]["tenants"]) if bl else -1
        t(fetched == 0, "the warm restart fetches no meta (poll state persisted)",
          json.dumps(bl)[:800] if bl else "no blocklist")
        stop(p)

        # An interrupted generation (a bucket.tmp and no bucket) is redone.
        shutil.rmtree(bucket)
        os.makedirs(os.path.join(demo, "bucket.tmp", "junk"))
        port = free_port()
        p = start(demo, port, log)
        ready = wait(lambda: http_get("http://127.0.0.1:%d/ready" % port)[0] == 200, 120, 0.2)
        t(ready and len(demo_blocks(bucket)) == 4
          and not os.path.exists(os.path.join(demo, "bucket.tmp")),
          "an interrupted generation is redone from scratch")
        stop(p)

        # README's first command, hack/run.sh: the PID it hands back is the
        # demo's (not make's), so SIGTERM to that PID alone, or Ctrl-C to the
        # terminal's process group, stops the daemon and exits 0.
        for how in ("SIGTERM to the PID of hack/run.sh", "Ctrl-C (SIGINT to the process group)"):
            log.seek(0)
            log.truncate()
            port = free_port()
            p = start(demo, port, log, script="run.sh")
            pidfile = os.path.join(demo, "compactor.pid")
            dpid = wait(lambda: daemon_pid(pidfile), 180, 0.2)
            text = wait(lambda: (lambda x: x if "demo: compactor pid" in x else None)(
                open(log.name).read()), 30, 0.2) or open(log.name).read()
            printed = re.search(r"demo: compactor pid (\d+)", text)
            t(dpid and printed and int(printed.group(1)) == dpid,
              "run.sh prints the daemon's PID and writes it to DEMO_DIR/compactor.pid (%s)" % how,
              "pid file %s, log: %s" % (dpid, text[-1500:]))
            oks = re.findall(r"^install-deps: .*\bok\b.*$", text, re.M)
            t(len(oks) == 1, "run.sh prints its install-deps ok line once (%d)" % len(oks), oks)
            ready = wait(lambda: http_get("http://127.0.0.1:%d/ready" % port)[0] == 200, 60, 0.2)
            t(ready, "the demo serves on PORT=%d" % port)
            if how.startswith("SIGTERM"):
                os.kill(p.pid, signal.SIGTERM)
            else:
                os.killpg(p.pid, signal.SIGINT)
            try:
                rc = p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                rc = "still running"
            gone = wait(lambda: not alive(dpid), 10) if dpid else False
            t(rc == 0 and gone and not os.path.exists(pidfile),
              "%s: the daemon exits, the demo exits 0 and removes its pid file" % how,
              "exit %s, daemon %s alive %s, pid file left %s; log: %s"
              % (rc, dpid, not gone, os.path.exists(pidfile), open(log.name).read()[-1500:]))
            if dpid and alive(dpid):
                os.kill(dpid, signal.SIGKILL)
    finally:
        stop(p)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


main()
