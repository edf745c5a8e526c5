#!/usr/bin/env python3
"""Three tempo-compactor replicas on one bucket, a standalone reference, and a
real Prometheus scraping them.

Shows: every compaction job has exactly one owner among the replicas; their
outstanding blocks add up to the single-instance figure; the seed's KEDA query
returns that figure divided by the replica count; killing one replica moves only
its share, within a few seconds."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tclib import COMPACTOR as BIN, TOP, Tap, free_ports, wait  # noqa: E402
from tclib import http_get  # noqa: E402

QUERY = ("sum by (tenant)(tempodb_compaction_outstanding_blocks) "
         "/ ignoring(tenant) group_left count(tempo_build_info)")
tap = Tap()


def get(url, timeout=2):
    st, body = http_get(url, timeout)
    if st != 200:
        raise OSError("%s: %s %s" % (url, st, body[:200]))
    return body


def plan(port):
    return json.loads(get("http://127.0.0.1:%d/status/compaction" % port))


def owned(p):
    return {t["tenant"]: set(t["owned"]) for t in p["tenants"]}


def outstanding(p):
    return {t["tenant"]: t["outstanding_blocks"] for t in p["tenants"]}


def main():
    work = tempfile.mkdtemp(prefix="tcring.")
    procs = {}
    prom = None
    try:
        bucket = os.path.join(work, "bucket")
        subprocess.check_call(["/usr/bin/python3", os.path.join(TOP, "hack", "gen-metas.py"),
                               bucket, "--tenants", "5", "--blocks", "200", "--hours", "20",
                               "--levels", "2"], stdout=subprocess.DEVNULL)
        ports = free_ports(5)
        peers = ["127.0.0.1:%d" % p for p in ports[:3]]

        def start(name, port, with_peers):
            cfg = os.path.join(work, name + ".yaml")
            with open(cfg, "w") as f:
                f.write("server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: %d\n"
                        "storage:\n  trace:\n    backend: local\n    local:\n      path: %s\n"
                        "    blocklist_poll: 2s\n"
                        "compactor:\n  state_dir: %s\n  compaction:\n    compaction_cycle: 500ms\n"
                        % (port, bucket, os.path.join(work, name + "-state")))
                if with_peers:
                    f.write("  ring:\n    peer_refresh_interval: 300ms\n    peers:\n")
                    for p in peers:
                        f.write("      - %s\n" % p)
            log = open(os.path.join(work, name + ".log"), "w")
            procs[name] = (subprocess.Popen([BIN, "-config.file=" + cfg], stdout=log,
                                            stderr=subprocess.STDOUT), port)

        for i in range(3):
            start("r%d" % i, ports[i], True)
        start("solo", ports[3], False)

        def planned():
            ps = {k: plan(v[1]) for k, v in procs.items()}
            if any(p["planned_at"] == 0 for p in ps.values()):
                return None
            return ps

        ps = wait(planned, 30)
        tap(ps is not None, "all four daemons planned after their first poll",
            "" if ps else open(os.path.join(work, "r0.log")).read())
        if ps is None:
            return

        def consistent():
            ps = {k: plan(v[1]) for k, v in procs.items()}
            solo = owned(ps["solo"])
            reps = [owned(ps["r%d" % i]) for i in range(3)]
            for t, jobs in solo.items():
                union = set()
                for r in reps:
                    s = r.get(t, set())
                    if union & s:
                        return None
                    union |= s
                if union != jobs:
                    return None
            return ps

        # planning is periodic and time-windowed: retry until a snapshot agrees
        ps = wait(consistent, 15)
        solo_jobs = sum(len(j) for j in owned(plan(ports[3])).values())
        tap(ps is not None and solo_jobs > 20,
            "every job has exactly one owner among the 3 replicas (%d jobs)" % solo_jobs)
        if ps is None:
            return
        solo_out = outstanding(ps["solo"])
        sums = {t: sum(outstanding(ps["r%d" % i]).get(t, 0) for i in range(3)) for t in solo_out}
        tap(sums == solo_out and sum(solo_out.values()) > 0,
            "outstanding blocks summed over replicas equal the single-instance figure",
            "replicas %s vs solo %s" % (sums, solo_out))
        shares = [sum(len(j) for j in owned(ps["r%d" % i]).values()) for i in range(3)]
        tap(all(s > 0 for s in shares), "each replica owns a share of the jobs: %s" % shares)

        # a real Prometheus scrapes the three replicas and runs the seed's query
        pdir = os.path.join(work, "prom")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                    "  - job_name: compactor\n    static_configs:\n      - targets: [%s]\n"
                    % ", ".join("'%s'" % p for p in peers))
        prom = subprocess.Popen(["prometheus", "--config.file=" + os.path.join(pdir, "prometheus.yml"),
                                 "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % ports[4]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        qurl = "http://127.0.0.1:%d/api/v1/query?query=%s" % (ports[4], urllib.parse.quote(QUERY))

        def query_matches():
            res = json.loads(get(qurl))["data"]["result"]
            got = {r["metric"]["tenant"]: float(r["value"][1]) for r in res}
            solo = outstanding(plan(ports[3]))
            want = {t: v / 3.0 for t, v in solo.items()}
            if set(got) == set(want) and all(abs(got[t] - want[t]) < 1e-9 for t in want):
                return got
            return None

        got = wait(query_matches, 40)
        tap(got is not None, "Prometheus: the seed's query returns outstanding/replicas per tenant",
            get(qurl) if got is None else "")
        if got:
            print("# query result: %s" % {k: round(v, 3) for k, v in sorted(got.items())})

        # kill replica 2: its jobs move to the survivors, the others stay put
        before = [owned(plan(ports[i])) for i in range(3)]
        procs["r2"][0].send_signal(signal.SIGKILL)
        procs["r2"][0].wait()
        t0 = time.time()

        def moved():
            ps = {k: plan(v[1]) for k, v in procs.items() if k != "r2"}
            solo = owned(ps["solo"])
            a, b = owned(ps["r0"]), owned(ps["r1"])
            for t, jobs in solo.items():
                if a.get(t, set()) & b.get(t, set()) or a.get(t, set()) | b.get(t, set()) != jobs:
                    return None
            return (a, b)

        res = wait(moved, 10)
        secs = time.time() - t0
        tap(res is not None and secs < 5,
            "after killing a replica the survivors own every job within %.1fs" % secs)
        if res:
            a, b = res
            solo = owned(plan(ports[3]))
            # a job a survivor owned before must still be its own (if it still exists)
            wrong = [j for t, jobs in solo.items() for i, after in ((0, a), (1, b))
                     for j in before[i].get(t, set()) if j in jobs and j not in after.get(t, set())]
            tap(not wrong, "jobs of the surviving replicas did not move", wrong[:5])
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                p.terminate()
        for p, _ in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if prom:
            prom.terminate()
            prom.wait()
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
