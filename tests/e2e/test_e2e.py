#!/usr/bin/env python3
"""End-to-end autoscaling on one machine (issue #12); `make e2e` runs it.

  helm install (real helm, fake API server) -> the real controller -> Deployment ->
  tests/e2e/kubelet.py runs each replica as a real tempo-compactor process on Ceph RGW ->
  a real Prometheus scrapes them (file_sd from the kubelet) -> nginx gateway requiring
  X-Scope-OrgID (Mimir-like) -> tests/e2e/scaler.py (KEDA's Prometheus scaler + the HPA)
  reads the rendered ScaledObject and sets /scale.

Scenario: >= 20,000 blocks in 3 tenants (live ones to compact, plus old compacted ones);
the compactors are ready at once; outstanding blocks exceed the threshold -> scale-out;
real compaction drains the backlog with jobs shared through peers; scale-in after the
stabilization window; helm upgrade lowers the threshold and a second, smaller backlog
now scales out too (with the old threshold it would not); the trace-ID set of all live
blocks is the same before and after (DuckDB). Then the wrong-header case: X-Scope-OrgID
of a tenant without data (empty result) and no header at all (401) must show in the
ScaledObject, the TempoCompactor's status and events, while replicas are not dropped.
Then autoscaling.mode builtin (#13): the scaler process stopped, the same bucket gets the
first backlog again and the controller itself must scale out, drain and scale back in.

Prints both timelines and writes them as one PNG (gnuplot) to $TC_E2E_PNG or the work dir.
Runs only with TC_E2E=1 (make e2e; CI sets it): otherwise one SKIP.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import COMPACTOR, CONTROLLER, Tap, fakeapi, free_port, need, wait  # noqa: E402

t = Tap()
if os.environ.get("TC_E2E") != "1":
    t.skip_all("end-to-end autoscaling", "runs with make e2e (TC_E2E=1)")
need(t, "end-to-end autoscaling", built=[COMPACTOR, CONTROLLER])
for tool in ("prometheus", "nginx", "radosgw", "gnuplot"):
    if not any(os.access(os.path.join(d, tool), os.X_OK)
               for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/usr/bin"]):
        t.skip_all("end-to-end autoscaling", "no %s (make deps)" % tool)
fakeapi_util = fakeapi(t, "end-to-end autoscaling", tools=["helm", "kubectl"])
if not os.path.isdir(os.path.join(os.environ.get("NODE_PATH", "/nonexistent"), "@duckdb",
                                  "node-api")):
    t.skip_all("end-to-end autoscaling", "no DuckDB in NODE_PATH (. .tools/env.sh; make deps)")
try:
    import boto3  # noqa: F401
    import yaml
except ImportError as e:
    t.skip_all("end-to-end autoscaling", "%s (make deps)" % e)

import blocks  # noqa: E402
import plot  # noqa: E402
import peers  # noqa: E402
from kubelet import Kubelet  # noqa: E402
from scaler import Scaler, parse_map  # noqa: E402

CHART = os.path.join(TOP, "charts", "tempo-compactor")
TRACESETS = os.path.join(TOP, "tests", "parquet", "tracesets.cjs")
NS, REL = "tempo", "tempo"
DEP = "tempo-%s-compactor" % REL
SO_PATH = "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s" % (NS, DEP)
CR_PATH = "/apis/compactor.tempo.dev/v1alpha1/namespaces/%s/tempocompactors/%s" % (NS, REL)
DEP_PATH = "/apis/apps/v1/namespaces/%s/deployments/%s" % (NS, DEP)
TENANTS = ["tenant-a", "tenant-b", "tenant-c"]
ORG = "tenant-123"          # the Mimir tenant holding the compactors' metrics
BUCKET = "tempo-traces"
LIVE1, COMPACTED1, LIVE2 = (int(os.environ.get(k, d)) for k, d in
                            (("TC_E2E_LIVE", "600"), ("TC_E2E_COMPACTED", "6100"),
                             ("TC_E2E_LIVE2", "150")))
THRESHOLD1, THRESHOLD2 = "300", "40"
MAXR = 4
DOWN_WINDOW = 20  # scale-down stabilization, seconds
T0 = time.time()


def log(msg):
    print("# [%6.1fs] %s" % (time.time() - T0, msg))
    sys.stdout.flush()


def values(gw_url, rgw, threshold, headers, ignore_null=False, mode="keda"):
    return {
        "compactor": {
            "autoscaling": {
                "enabled": True, "mode": mode, "minReplicas": 1, "maxReplicas": MAXR,
                # builtin polls every pollingInterval (KEDA's scaler.py: every 2 s too);
                # KEDA mode leaves it unset, as the chart does
                "keda": {**({"pollingInterval": 2} if mode == "builtin" else {}),
                         "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": 0,
                                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 5}]},
                    "scaleDown": {"stabilizationWindowSeconds": DOWN_WINDOW,
                                  "policies": [{"type": "Pods", "value": 2,
                                                "periodSeconds": 5}]}}}}},
                "prometheus": {"serverAddress": gw_url, "threshold": threshold,
                               "customHeaders": headers, "ignoreNullValues": ignore_null}},
            # max_time_per_tenant: the gauge is measured after each tenant's turn
            "config": {"compaction": {"compaction_cycle": "1s", "max_time_per_tenant": "5s",
                                      "block_retention": "48h"}}},
        "storage": {"trace": {
            "backend": "s3", "blocklist_poll": "10s",
            "s3": {"bucket": BUCKET, "endpoint": rgw.endpoint, "region": "us-east-1",
                   "insecure": True, "forcepathstyle": True},
            "credentialsSecretRef": {"name": "tempo-s3"}}},
        "controller": {"extraArgs": ["--observe-interval=2"]},
    }


class Bucket:
    """What is in the bucket: live blocks per level (metas read once per block; a
    block's level never changes) and compacted ones."""

    def __init__(self, rgw):
        self.s3 = blocks.s3_client(rgw.endpoint, rgw.key, rgw.secret)
        self.lister = blocks.Putter(rgw.endpoint, rgw.key, rgw.secret)
        self.levels = {}
        self.last = None
        self.lock = threading.Lock()  # one connection: one scan at a time

    def known(self, ids):
        """Blocks uploaded by blocks.upload are at level 0."""
        for tenant, bids in ids.items():
            for b in bids:
                self.levels[(tenant, b)] = 0

    def scan(self):
        with self.lock:
            return self._scan()

    def _scan(self):
        live, compacted, etags = {}, 0, {}
        for tenant in TENANTS:
            for key, etag in self.lister.list(BUCKET, tenant + "/"):
                parts = key.split("/")
                if len(parts) != 3:
                    continue
                if parts[2] == "meta.json":
                    live[(tenant, parts[1])] = True
                elif parts[2] == "meta.compacted.json":
                    compacted += 1
                elif parts[2] == "data.parquet":
                    etags[(tenant, parts[1])] = etag
        self.etags = etags
        per_level = {}
        for k in list(live):
            if k not in self.levels:
                try:
                    body = self.s3.get_object(Bucket=BUCKET, Key="%s/%s/meta.json" % k)["Body"]
                except self.s3.exceptions.NoSuchKey:
                    continue  # compacted between the listing and this read: not live
                self.levels[k] = json.loads(body.read())["compactionLevel"]
            if k not in self.levels:
                del live[k]
                continue
            per_level[self.levels[k]] = per_level.get(self.levels[k], 0) + 1
        self.last = (len(live), compacted, per_level)
        return live, compacted, per_level

    def trace_ids(self, tmp, keys):
        """DuckDB's set of TraceIDs and (TraceID, SpanID) pairs over the data.parquet
        of the given blocks."""
        files = []
        for i, k in enumerate(sorted(keys)):
            f = os.path.join(tmp, "%d.parquet" % i)
            self.s3.download_file(BUCKET, "%s/%s/data.parquet" % k, f)
            files.append(f)
        ids, pairs = set(), set()
        for n in range(0, len(files), 200):
            p = subprocess.run(["node", TRACESETS, *files[n:n + 200], "--readers", "duckdb"],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                raise AssertionError("tracesets: " + p.stderr[-2000:])
            for line in p.stdout.splitlines():
                o = json.loads(line)
                ids.update(o["ids"])
                pairs.update(o["pairs"])
        for f in files:
            os.unlink(f)
        return ids, pairs


def distinct_data(bucket, live):
    """One block per distinct data.parquet (same ETag, the MD5 of the bytes, as the
    listing gives it): the copies made by blocks.py hold the same rows, so reading one
    of each is reading them all."""
    seen = {}
    for k in sorted(live):
        assert bucket.etags.get(k), "live block %s/%s has no data.parquet" % k
        seen.setdefault(bucket.etags[k], k)
    return seen


def query(gw_url, headers, q):
    url = "%s/api/v1/query?query=%s" % (gw_url, urllib.parse.quote(q))
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, json.loads(r.read())["data"]["result"]
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


class Timeline:
    def __init__(self, srv, gw_url, bucket, kubelet, t0=None):
        self.srv, self.gw, self.bucket, self.kl = srv, gw_url, bucket, kubelet
        self.t0 = T0 if t0 is None else t0  # rows and marks are seconds since t0
        self.rows = []
        self.marks = []
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.scan_th = threading.Thread(target=self._scan_loop, daemon=True)

    def start(self):
        self.th.start()
        self.scan_th.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.th.join(30)
        self.scan_th.join(60)

    def _scan_loop(self):
        """The bucket listing (~27k keys) is slower than a sample: its own pace."""
        while not self.stop_ev.is_set():
            try:
                self.bucket.scan()
            except Exception as e:
                log("timeline scan: %r" % e)
            self.stop_ev.wait(2.0)

    def mark(self, what):
        self.marks.append((time.time() - self.t0, what))
        log("--- " + what)

    def _loop(self):
        while not self.stop_ev.is_set():
            t0 = time.time()
            try:
                self.sample()
            except Exception as e:
                log("timeline: %r" % e)
            self.stop_ev.wait(max(0.5, 2.0 - (time.time() - t0)))

    def sample(self):
        dep = self.srv.req("GET", DEP_PATH)[1] or {}
        spec_r = (dep.get("spec") or {}).get("replicas", 0)
        ready = (dep.get("status") or {}).get("readyReplicas", 0)
        st, res = query(self.gw, {"X-Scope-OrgID": ORG},
                        'sum(tempodb_compaction_outstanding_blocks{namespace="%s",'
                        'container="compactor"})' % NS)
        out = float(res[0]["value"][1]) if st == 200 and res else None
        nlive, compacted, per_level = self.bucket.last or (0, 0, {})
        row = {"t": time.time() - self.t0, "replicas": spec_r, "ready": ready, "outstanding": out,
               "live": nlive, "compacted": compacted, "levels": per_level}
        self.rows.append(row)
        lv = " ".join("L%d=%d" % (k, v) for k, v in sorted(per_level.items()))
        log("replicas=%d ready=%d outstanding=%s live=%d compacted=%d %s" % (
            spec_r, ready, "-" if out is None else "%d" % out, nlive, compacted, lv))

    def print_table(self):
        print("# timeline: t(s) replicas ready outstanding live-blocks per-level")
        for r in self.rows:
            print("#   %6.1f %2d %2d %6s %6d  %s" % (
                r["t"], r["replicas"], r["ready"],
                "-" if r["outstanding"] is None else "%d" % r["outstanding"], r["live"],
                " ".join("L%d=%d" % kv for kv in sorted(r["levels"].items()))))
        for tm, what in self.marks:
            print("#   mark %6.1f %s" % (tm, what))

    def png(self, path, work, builtin):
        return plot.write(self.rows, self.marks, path, work, MAXR, builtin.rows, builtin.marks)


def main():
    work = tempfile.mkdtemp(prefix="tc-e2e.")
    log("work dir %s" % work)
    srv = rgw = prom = empty = gw = kl = sc = ctrl = tl = tb = None
    rgw_box = {}
    rgw_th = threading.Thread(target=lambda: rgw_box.update(
        rgw=_try(lambda: peers.Rgw(work))), daemon=True)
    rgw_th.start()
    try:
        srv = fakeapi_util.Server("--keda")
        # this test is the Deployment controller (kubelet.py) and KEDA (scaler.py)
        srv.admin("POST", "controllers", {"deployments": False, "keda": False})
        kl = Kubelet(srv.url, NS, work, slots=MAXR + 2, log=log)
        prom = peers.Prometheus(work, "prom-%s" % ORG, kl.sd_file)
        empty = peers.Prometheus(work, "prom-empty")
        gw = peers.Gateway(work, ORG, prom.port, empty.port)
        rgw_th.join(200)
        rgw = rgw_box.get("rgw")
        if isinstance(rgw, Exception) or rgw is None:
            raise AssertionError("Ceph RGW: %r" % rgw)
        log("RGW %s, Prometheus %d (tenant %s) and %d (empty), gateway %s" % (
            rgw.endpoint, prom.port, ORG, empty.port, gw.url))

        # ---- the bucket: 3 tenants, live blocks to compact plus old compacted ones
        bucket = Bucket(rgw)
        bucket.s3.create_bucket(Bucket=BUCKET)
        t1 = time.time()
        ids = blocks.upload((rgw.endpoint, rgw.key, rgw.secret), BUCKET, TENANTS, LIVE1,
                            COMPACTED1, log=log)
        bucket.known(ids)
        live, compacted, per_level = bucket.scan()
        total = len(live) + compacted
        t.ok(total >= 20000 and len(live) == 3 * LIVE1,
             "bucket: %d blocks in 3 tenants (%d live at level 0, %d compacted), "
             "generated and uploaded in %.0f s" % (total, len(live), compacted,
                                                    time.time() - t1))
        before_keys = distinct_data(bucket, live)

        # ---- the cluster
        rc, out, err = srv.kubectl("create", "namespace", NS)
        rc, out, err = srv.kubectl("-n", NS, "create", "secret", "generic", "tempo-s3",
                                   "--from-literal=AWS_ACCESS_KEY_ID=" + rgw.key,
                                   "--from-literal=AWS_SECRET_ACCESS_KEY=" + rgw.secret)
        t.ok(rc == 0, "Secret tempo-s3 holds the S3 credentials (referenced, not in the CR)",
             err)
        kl.start()
        vfile = os.path.join(work, "values.yaml")

        def write_values(threshold, headers, ignore_null=False, mode="keda"):
            with open(vfile, "w") as f:
                yaml.safe_dump(values(gw.url, rgw, threshold, headers, ignore_null, mode), f)
        write_values(THRESHOLD1, {"X-Scope-OrgID": ORG})
        rc, out, err = srv.helm("install", REL, CHART, "-n", NS, "-f", vfile, timeout=120)
        t.ok(rc == 0, "helm install with X-Scope-OrgID %s, threshold %s" % (ORG, THRESHOLD1),
             err + out)
        cport = free_port()
        p = subprocess.run([os.path.join(fakeapi_util.TOOLS, "helm"), "template", REL, CHART,
                            "-n", NS, "-f", vfile, "--set", "controller.port=%d" % cport,
                            "--show-only", "templates/controller/deployment.yaml"],
                           capture_output=True, text=True, env=srv.env, timeout=60)
        cargs = yaml.safe_load(p.stdout)["spec"]["template"]["spec"]["containers"][0]["args"]
        cargs = [a.replace("$(POD_NAMESPACE)", NS).replace("=:%d" % cport,
                                                            "=127.0.0.1:%d" % cport)
                 for a in cargs]
        clog = open(os.path.join(work, "controller.log"), "w")
        ctrl = subprocess.Popen([CONTROLLER] + cargs, stdout=clog, stderr=subprocess.STDOUT,
                                env=dict(srv.env, POD_NAME="ctrl-0", POD_NAMESPACE=NS))
        tstart = time.time()
        sc = Scaler(srv.url, NS, period=2.0, log=log).start()
        tl = Timeline(srv, gw.url, bucket, kl)

        def ready_n(n):
            d = srv.req("GET", DEP_PATH)[1] or {}
            return (d.get("status") or {}).get("readyReplicas", 0) >= n
        ok = wait(lambda: ready_n(1), 60, 0.2)
        tready = time.time() - tstart
        first_start = [e for e in kl.events if e[2].startswith("start")]
        pod_ready = None
        if first_start:
            pod_ready = tready - (first_start[0][0] - tstart)
        t.ok(ok, "the controller's Deployment runs a compactor that is ready %.1f s after "
             "the controller started (%.2f s after its process started), with %d blocks "
             "in the bucket" % (tready, pod_ready or -1, total),
             open(os.path.join(work, "controller.log")).read()[-3000:])
        tl.start()
        tl.mark("helm install")

        # ---- scale-out on the backlog
        def replicas():
            return ((srv.req("GET", DEP_PATH)[1] or {}).get("spec") or {}).get("replicas", 0)
        peak = [0]

        def scaled_out():
            r = replicas()
            peak[0] = max(peak[0], r)
            return r >= 2 and ready_n(r)
        ok = wait(scaled_out, 120, 0.5)
        tl.mark("scale-out")
        t.ok(ok, "outstanding blocks above threshold %s per replica: the scaler scales out "
             "to %d replicas, all ready" % (THRESHOLD1, replicas()), json.dumps(sc.last))

        # ---- drain and scale-in
        quiet = [None]

        def drained():
            """Outstanding 0 at 1 replica for 12 s: after a scale-in the last pod owns
            every job, and its gauge is measured again after each tenant's turn."""
            peak[0] = max(peak[0], replicas())
            st, res = query(gw.url, {"X-Scope-OrgID": ORG},
                            'sum(tempodb_compaction_outstanding_blocks{namespace="tempo"})')
            if not (st == 200 and res and float(res[0]["value"][1]) == 0 and replicas() == 1):
                quiet[0] = None
                return False
            quiet[0] = quiet[0] or time.time()
            return time.time() - quiet[0] >= 12
        ok = wait(drained, 360, 1.0)
        tl.mark("drained, scale-in")
        rows = tl.rows
        keda_peak = peak[0]
        t.ok(ok and peak[0] >= 3, "the backlog drains with real compaction and the scaler "
             "scales back in to 1 after the %d s stabilization window (peak %d replicas)"
             % (DOWN_WINDOW, peak[0]),
             "last scaler state %s" % json.dumps(sc.last))
        # jobs were shared through peers: more than one pod completed jobs
        shares = {}
        for d in sorted(os.listdir(work)):
            path = os.path.join(work, d, "stdout.log")
            if d.startswith(DEP) and os.path.exists(path):
                shares[d.split("-")[-2]] = sum(1 for line in open(path, errors="replace")
                                               if 'msg="compaction complete"' in line)
        worked = [d for d, n in shares.items() if n > 0]
        t.ok(len(worked) >= 2, "compaction jobs completed on %d pods (peers share the jobs): "
             "jobs per pod slot %s" % (len(worked), shares))

        # ---- helm upgrade: a lower threshold takes effect
        write_values(THRESHOLD2, {"X-Scope-OrgID": ORG})
        rc, out, err = srv.helm("upgrade", REL, CHART, "-n", NS, "-f", vfile, timeout=120)
        so_thr = wait(lambda: (((srv.req("GET", SO_PATH)[1] or {}).get("spec") or {})
                               .get("triggers") or [{}])[0].get("metadata", {})
                      .get("threshold") == THRESHOLD2, 30, 0.2)
        tl.mark("helm upgrade threshold %s" % THRESHOLD2)
        t.ok(rc == 0 and so_thr, "helm upgrade sets threshold %s and the controller updates "
             "the ScaledObject" % THRESHOLD2, err)
        bucket.known(blocks.upload((rgw.endpoint, rgw.key, rgw.secret), BUCKET, TENANTS,
                                   LIVE2, 0, log=log, start=int(time.time()) - 5 * 3600))
        live2, _, _ = bucket.scan()
        for etag, k in distinct_data(bucket, [k for k in live2 if k not in live]).items():
            before_keys.setdefault(etag, k)
        tl.mark("second backlog %d blocks" % (3 * LIVE2))
        peak[0] = 0
        nscaled = len(sc.scalings)
        ok = wait(scaled_out, 90, 0.5)
        # The decision that scaled out, judged on the metric it saw: the backlog drains
        # while the scaler polls, so the metric is not the 450 blocks uploaded.
        ups = [s for s in sc.scalings[nscaled:] if s["replicas"] > s["current"]]
        up = ups[0] if ups else {"values": [0], "threshold": [None], "replicas": 0}
        metric = sum(up["values"])
        want_old = max(1, math.ceil(metric / float(THRESHOLD1)))
        t.ok(ok and up["threshold"] == [THRESHOLD2] and up["replicas"] > want_old,
             "with threshold %s the new blocks scale out to %d replicas on a metric of %g "
             "(threshold %s would give %d)" % (THRESHOLD2, up["replicas"], metric, THRESHOLD1,
                                               want_old),
             json.dumps(ups or sc.last))
        # ---- the wrong header while scaled out: an org ID without data, then none
        wrong_header_checks(srv, tl, write_values, vfile, sc, replicas())
        ok = wait(drained, 240, 1.0)
        tl.mark("drained again, scale-in")
        t.ok(ok, "the second backlog drains and the scaler scales in to 1")
        tl.stop()

        # ---- mode builtin (#13): the same bucket and backlog, no scaler process
        tb = builtin_run(srv, gw, rgw, bucket, kl, sc, write_values, vfile, scaled_out,
                         drained, peak, keda_peak, work)
        live_b = [k for k in bucket.scan()[0] if k not in live and k not in live2]
        for etag, k in distinct_data(bucket, live_b).items():
            before_keys.setdefault(etag, k)

        # ---- trace IDs before and after (DuckDB)
        live_after, _, lv_after = bucket.scan()
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            ids_before, pairs_before = bucket.trace_ids(tmp, set(before_keys.values()))
            ids_after, pairs_after = bucket.trace_ids(tmp, set(live_after))
        t.ok(ids_before == ids_after and pairs_before == pairs_after and ids_before,
             "DuckDB: the %d trace IDs and %d (trace, span) pairs of the live blocks are the "
             "same before (%d blocks) and after (%d blocks: %s)" % (
                 len(ids_before), len(pairs_before), len(live) + 3 * LIVE2 + 3 * LIVE1,
                 len(live_after),
                 lv_after),
             "missing %d, extra %d" % (len(ids_before - ids_after), len(ids_after - ids_before)))

        tl.print_table()
        tb.print_table()
        png = os.environ.get("TC_E2E_PNG") or os.path.join(work, "timeline.png")
        ok, err = tl.png(png, work, tb)
        t.ok(ok, "timeline plot written to %s" % png, err)
        t.ok(ctrl.poll() is None, "the controller ran throughout")
    finally:
        for x in (tl, tb):
            if x:
                x.stop()
        for x in (sc, kl):
            if x:
                x.stop()
        if ctrl and ctrl.poll() is None:
            ctrl.terminate()
            try:
                ctrl.wait(10)
            except subprocess.TimeoutExpired:
                ctrl.kill()
        for x in (gw, prom, empty):
            if x:
                x.stop()
        rgw_th.join(200)
        r = rgw_box.get("rgw")
        if r is not None and not isinstance(r, Exception):
            r.stop()
        if srv:
            srv.stop()
        if os.environ.get("TC_E2E_KEEP") != "1":
            subprocess.run(["rm", "-rf", work])
    t.done()


def builtin_run(srv, gw, rgw, bucket, kl, sc, write_values, vfile, scaled_out, drained, peak,
                keda_peak, work):
    """The KEDA run's first backlog again with autoscaling.mode builtin: the scaler process
    is stopped, the controller's leader runs the trigger query and sets /scale. Returns the
    builtin timeline (its seconds count from the switch)."""
    sc.stop()
    write_values(THRESHOLD1, {"X-Scope-OrgID": ORG}, mode="builtin")
    rc, out, err = srv.helm("upgrade", REL, CHART, "-n", NS, "-f", vfile, timeout=120)
    so_gone = wait(lambda: srv.req("GET", SO_PATH)[0] == 404, 30, 0.3)
    t.ok(rc == 0 and so_gone and not sc.thread.is_alive() and _replicas(srv) == 1,
         "helm upgrade to autoscaling.mode builtin (threshold %s, pollingInterval 2 s): the "
         "controller deletes the ScaledObject, the scaler process is stopped, 1 replica"
         % THRESHOLD1, "helm rc %d %s; ScaledObject gone %s; replicas %d" % (
             rc, err, so_gone, _replicas(srv)))
    tb = Timeline(srv, gw.url, bucket, kl, t0=time.time()).start()
    tb.mark("helm upgrade: mode builtin, scaler stopped")
    bucket.known(blocks.upload((rgw.endpoint, rgw.key, rgw.secret), BUCKET, TENANTS, LIVE1, 0,
                               log=log, start=int(time.time()) - 7 * 3600))
    tb.mark("the first backlog again: %d blocks" % (3 * LIVE1))
    peak[0] = 0
    ok = wait(scaled_out, 120, 0.5)
    tb.mark("scale-out")
    aus = ((srv.req("GET", CR_PATH)[1] or {}).get("status") or {}).get("autoscaler") or {}
    # Judged on the scale-out's own Scaled event: status.autoscaler holds only the latest
    # query, which can read 0 right after a scale-out (new pods report after their first
    # plan; CI once saw lastValue 0.0 at 4 replicas).
    ups = []
    for e in events_for(srv, REL):
        m = re.search(r"from (\d+) to (\d+) replicas .*returned ([0-9.e+-]+), threshold (\S+)",
                      e[2] or "")
        if e[1] == "Scaled" and m and int(m.group(2)) > int(m.group(1)):
            ups.append((int(m.group(1)), int(m.group(2)), float(m.group(3)), m.group(4)))
    up_ok = bool(ups) and all(v > int(THRESHOLD1) * a and thr == THRESHOLD1
                              for a, b, v, thr in ups)
    t.ok(ok and up_ok and aus.get("desiredReplicas", 0) >= 2,
         "mode builtin, no scaler process: outstanding blocks above threshold %s per replica: "
         "the controller scales out to %d replicas, all ready (scale-outs (from, to, metric, "
         "threshold): %s)" % (THRESHOLD1, _replicas(srv), ups), json.dumps(aus))
    ok = wait(drained, 360, 1.0)
    tb.mark("drained, scale-in")
    t.ok(ok and peak[0] >= 3,
         "mode builtin: the backlog drains and the controller scales back in to 1 after the "
         "%d s stabilization window (peak %d replicas; the KEDA-rules run: %d)"
         % (DOWN_WINDOW, peak[0], keda_peak), json.dumps(aus))
    scaled = [e for e in events_for(srv, REL) if e[1] == "Scaled"]
    dep = srv.req("GET", DEP_PATH)[1] or {}
    owners = [(m["manager"], m.get("subresource", "")) for m in
              dep["metadata"].get("managedFields", [])
              if "f:replicas" in (m.get("fieldsV1") or {}).get("f:spec", {})]
    t.ok(len(scaled) >= 2 and any("to 1" in (e[2] or "") for e in scaled) and
         ("tempo-compactor-operator", "scale") in owners,
         "mode builtin: a Scaled event per change (%d: %s ... %s); spec.replicas managers %s"
         % (len(scaled), scaled[0][2] if scaled else "-", scaled[-1][2] if scaled else "-",
            owners),
         json.dumps({"events": scaled, "owners": owners}))
    tb.stop()
    return tb


def _try(fn):
    try:
        return fn()
    except Exception as e:
        return e


def cr_conds(srv):
    st = (srv.req("GET", CR_PATH)[1] or {}).get("status") or {}
    return {c["type"]: c for c in st.get("conditions") or []}, st


def events_for(srv, name):
    out = []
    for path in ("/api/v1/namespaces/%s/events" % NS, "/apis/events.k8s.io/v1/namespaces/%s/events" % NS):
        for e in (srv.req("GET", path)[1] or {}).get("items", []):
            obj = e.get("involvedObject") or e.get("regarding") or {}
            if obj.get("name") == name:
                out.append((e.get("type"), e.get("reason"), e.get("message") or e.get("note")))
    return out


def wrong_header_checks(srv, tl, write_values, vfile, sc, replicas_before):
    for case, headers, expect in (
            ("X-Scope-OrgID of a tenant without data", {"X-Scope-OrgID": "wrong-tenant"},
             "the result is empty"),
            ("no X-Scope-OrgID", {}, "status: 401")):
        write_values(THRESHOLD2, headers)
        rc, out, err = srv.helm("upgrade", REL, CHART, "-n", NS, "-f", vfile, timeout=120)
        want_hdr = ",".join("%s=%s" % kv for kv in sorted(headers.items()))
        wait(lambda: (((srv.req("GET", SO_PATH)[1] or {}).get("spec") or {})
                      .get("triggers") or [{}])[0].get("metadata", {})
             .get("customHeaders", "") == want_hdr, 30, 0.2)
        tl.mark("helm upgrade: %s" % case)

        def so_failed():
            so = srv.req("GET", SO_PATH)[1] or {}
            c = {x["type"]: x for x in (so.get("status") or {}).get("conditions") or []}
            errs = (sc.last.get(DEP) or {}).get("errors") or []
            return c.get("Ready", {}).get("status") == "False" and \
                any(expect in e for e in errs) and c
        c = wait(so_failed, 30, 0.3)
        t.ok(bool(c), "%s: the scaler's query fails (%s) and the ScaledObject says Ready=False "
             "%s" % (case, expect, (c or {}).get("Ready", {}).get("reason")),
             json.dumps(sc.last.get(DEP)))
        got = wait(lambda: (lambda cs: cs[0].get("AutoscalingReady", {}).get("status") == "False"
                            and cs)(cr_conds(srv)), 30, 0.5)
        conds = got[0] if got else cr_conds(srv)[0]
        t.ok(bool(got), "%s: the TempoCompactor's AutoscalingReady is False: %s" % (
            case, json.dumps(conds.get("AutoscalingReady"))), json.dumps(conds))
        evs = events_for(srv, REL) + events_for(srv, DEP)
        t.ok(any(e[1] == "KEDAScalerFailed" and expect in (e[2] or "") for e in evs) and
             any(e[1] == "ScaledObjectNotReady" and e[0] == "Warning" for e in evs),
             "%s: events name it: %s" % (case, [e for e in evs if e[0] == "Warning" or
                                                e[1] == "ScaledObjectNotReady"][-3:]),
             json.dumps(evs))
        time.sleep(3 * sc.period)
        t.ok(replicas_before > 1 and _replicas(srv) == replicas_before,
             "%s: replicas stay at %d (a missing metric does not scale to the minimum, 1)"
             % (case, replicas_before))
    # ignoreNullValues true: KEDA reads the empty result as 0, says Ready and scales to
    # the minimum; the controller's own probe of the query must still say so
    case = "X-Scope-OrgID of a tenant without data, ignoreNullValues true"
    write_values(THRESHOLD2, {"X-Scope-OrgID": "wrong-tenant"}, ignore_null=True)
    rc, out, err = srv.helm("upgrade", REL, CHART, "-n", NS, "-f", vfile, timeout=120)
    tl.mark("helm upgrade: wrong header, ignoreNullValues true")
    t0 = time.time()
    got = wait(lambda: (lambda cs: cs[0].get("AutoscalingReady", {}).get("reason") ==
                        "QueryEmpty" and cs)(cr_conds(srv)), 60, 0.5)
    conds = got[0] if got else cr_conds(srv)[0]
    so = srv.req("GET", SO_PATH)[1] or {}
    so_ready = {x["type"]: x for x in (so.get("status") or {}).get("conditions") or []}.get(
        "Ready", {})
    t.ok(bool(got) and conds["AutoscalingReady"]["status"] == "False" and
         so_ready.get("status") == "True",
         "%s: KEDA's ScaledObject says Ready=%s, yet the controller's probe turns "
         "AutoscalingReady False (QueryEmpty) after %.0f s: %s" % (
             case, so_ready.get("status"), time.time() - t0,
             conds.get("AutoscalingReady", {}).get("message")), json.dumps(conds))
    evs = events_for(srv, REL)
    t.ok(any(e[0] == "Warning" and e[1] == "QueryEmpty" for e in evs),
         "%s: a Warning event QueryEmpty on the TempoCompactor" % case, json.dumps(evs))
    # back to the right header: Ready again
    write_values(THRESHOLD2, {"X-Scope-OrgID": ORG})
    srv.helm("upgrade", REL, CHART, "-n", NS, "-f", vfile, timeout=120)
    ok = wait(lambda: cr_conds(srv)[0].get("AutoscalingReady", {}).get("status") == "True",
              40, 0.5)
    tl.mark("helm upgrade: header fixed")
    t.ok(ok, "with X-Scope-OrgID %s again, AutoscalingReady turns True" % ORG,
         json.dumps(cr_conds(srv)[0]))
    _ = parse_map


def _replicas(srv):
    return ((srv.req("GET", DEP_PATH)[1] or {}).get("spec") or {}).get("replicas", 0)


main()
