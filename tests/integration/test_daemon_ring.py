#!/usr/bin/env python3
"""Three tempo-compactor replicas on one bucket, a standalone reference, and a
real Prometheus scraping them.

Shows: every compaction job has exactly one owner among the replicas; their
outstanding blocks add up to the single-instance figure; the ScaledObject the
controller renders for it, queried the way KEDA does (customHeaders with
X-Scope-OrgID) through an nginx tenant gate in front of Prometheus, returns that
figure divided by the replica count; killing one replica moves only its share,
within a few seconds."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import COMPACTOR as BIN, Tap, free_ports, http_get, wait  # noqa: E402

QUERY = ("sum by (tenant)(tempodb_compaction_outstanding_blocks) "
         "/ ignoring(tenant) group_left count(tempo_build_info)")
tap = Tap()


def get(url, timeout=2):
    st, body = http_get(url, timeout)
    if st != 200:
        raise OSError("%s: %s %s" % (url, st, body[:200]))
    return body


CR = """apiVersion: compactor.tempo.dev/v1alpha1
kind: TempoCompactor
metadata: {name: ring-test, namespace: tempo}
spec:
  storage:
    backend: s3
    s3: {bucket: tempo-traces, endpoint: s3.us-east-1.amazonaws.com}
  autoscaling:
    enabled: true
    minReplicas: 1
    maxReplicas: 6
    prometheus:
      serverAddress: http://127.0.0.1:%d/prometheus
      query: %s
      threshold: "250"
      customHeaders: {X-Scope-OrgID: tenant-123, X-Source: keda}
"""

NGINX = """daemon off;
master_process off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events {}
http {
  access_log off;
  client_body_temp_path %(d)s/body;
  proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi;
  uwsgi_temp_path %(d)s/uwsgi;
  scgi_temp_path %(d)s/scgi;
  map $http_x_scope_orgid $tenant_backend { default ""; "tenant-123" 127.0.0.1:%(prom)d; }
  server {
    listen 127.0.0.1:%(port)d;
    location /prometheus/ {
      if ($http_x_scope_orgid = "") { return 401 "no org id\\n"; }
      if ($tenant_backend = "") { return 403 "unknown tenant\\n"; }
      rewrite ^/prometheus(/.*)$ $1 break;
      proxy_pass http://$tenant_backend;
    }
  }
}
"""


def start_gate(work, port, prom_port):
    """nginx as a Mimir-like gate: X-Scope-OrgID tenant-123 reaches Prometheus."""
    d = os.path.join(work, "nginx")
    os.makedirs(d)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX % {"d": d, "port": port, "prom": prom_port})
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = subprocess.Popen([nginx, "-c", conf, "-p", d], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait(lambda: http_get("http://127.0.0.1:%d/prometheus/" % port)[0] == 401, 5, 0.05)
    return p


def plan(port):
    return json.loads(get("http://127.0.0.1:%d/status/compaction" % port))


def owned(p):
    return {t["tenant"]: set(t["owned"]) for t in p["tenants"]}


def outstanding(p):
    return {t["tenant"]: t["outstanding_blocks"] for t in p["tenants"]}


def main():
    work = tempfile.mkdtemp(prefix="tcring.")
    procs = {}
    prom = gate = None
    try:
        bucket = os.path.join(work, "bucket")
        subprocess.check_call(["/usr/bin/python3", os.path.join(TOP, "hack", "gen-metas.py"),
                               bucket, "--tenants", "5", "--blocks", "200", "--hours", "20",
                               "--levels", "2"], stdout=subprocess.DEVNULL)
        ports = free_ports(6)
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

        ps = wait(planned, 30, 0.2)
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
        ps = wait(consistent, 15, 0.2)
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
        # KEDA's side: the controller renders the ScaledObject for a TempoCompactor
        # whose Prometheus sits behind a Mimir-style tenant gate (nginx requiring
        # X-Scope-OrgID); the query is then sent exactly as KEDA's prometheus
        # scaler sends it: customHeaders split on ',' then '='.
        gate = start_gate(work, ports[5], ports[4])
        cr = os.path.join(work, "cr.yaml")
        with open(cr, "w") as f:
            f.write(CR % (ports[5], json.dumps(QUERY)))
        rendered = json.loads(subprocess.check_output(
            [os.path.join(os.path.dirname(BIN), "tempo-compactor-controller"), "render", "-f", cr,
             "-o", "json"]))
        items = rendered if isinstance(rendered, list) else rendered.get("items", [rendered])
        so = [i for i in items if i.get("kind") == "ScaledObject"][0]
        md = so["spec"]["triggers"][0]["metadata"]
        headers = dict(kv.split("=", 1) for kv in md["customHeaders"].split(","))
        tap(headers == {"X-Scope-OrgID": "tenant-123", "X-Source": "keda"}
            and md["threshold"] == "250",
            "rendered ScaledObject: customHeaders %r, threshold %r" % (md["customHeaders"],
                                                                      md["threshold"]), md)
        qurl = md["serverAddress"] + "/api/v1/query?query=" + urllib.parse.quote(md["query"])

        def query_matches():
            req = urllib.request.Request(qurl, headers=headers)
            with urllib.request.urlopen(req, timeout=2) as r:
                res = json.loads(r.read().decode())["data"]["result"]
            got = {r["metric"]["tenant"]: float(r["value"][1]) for r in res}
            solo = outstanding(plan(ports[3]))
            want = {t: v / 3.0 for t, v in solo.items()}
            if set(got) == set(want) and all(abs(got[t] - want[t]) < 1e-9 for t in want):
                return got
            return None

        got = wait(query_matches, 40, 0.2)
        tap(got is not None, "Prometheus behind the tenant gate: the ScaledObject's query with its "
            "headers returns outstanding/replicas per tenant", http_get(qurl)[1][:300])
        if got:
            print("# query result: %s" % {k: round(v, 3) for k, v in sorted(got.items())})
        st, _ = http_get(qurl)
        bad = urllib.request.Request(qurl, headers={"X-Scope-OrgID": "someone-else"})
        try:
            st2 = urllib.request.urlopen(bad, timeout=2).status
        except urllib.error.HTTPError as e:
            st2 = e.code
        tap(st == 401 and st2 == 403, "the gate refuses a query without X-Scope-OrgID (%d) "
            "and for another tenant (%d)" % (st, st2))

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

        res = wait(moved, 10, 0.2)
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
        for extra in (prom, gate):
            if extra:
                extra.terminate()
                extra.wait()
        shutil.rmtree(work, ignore_errors=True)
    tap.done()


if __name__ == "__main__":
    main()
