#!/usr/bin/env python3
"""End to end: helm install of the chart on the fake API server, then the controller.

1. helm install (real helm 3.17.2) with ci/seed-values.yaml: the CRD comes from crds/,
   the TempoCompactor from the values, the controller Deployment from the templates.
2. The real controller binary runs with the args of the chart's own Deployment (so a
   flag the controller does not know fails here) against the fake server.
3. It creates a ScaledObject whose customHeaders is X-Scope-OrgID=tenant-123 and whose
   threshold is "250"; helm upgrade with threshold 300 changes it; helm uninstall
   removes the TempoCompactor and its children while the CRD stays.
Parts that need the controller's `run` are SKIPped (with the reason) while it is not
implemented; the helm parts always run.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import COMPACTOR as DAEMON, CONTROLLER, Tap, fakeapi, free_port, wait  # noqa: E402
from test_argocd_health import LUA, run_health  # noqa: E402

t = Tap()
fakeapi_util = fakeapi(t, "chart end to end", tools=["helm", "kubectl"])

CHART = os.path.join(TOP, "charts", "tempo-compactor")
SEED = os.path.join(CHART, "ci", "seed-values.yaml")
VERSION = open(os.path.join(TOP, "VERSION")).read().strip()
NS = "tempo"
REL = "tempo"
CR = "tempo"                     # compactor.name defaults to the release name
CHILD = "tempo-%s-compactor" % CR  # the controller's child naming


def get(srv, path):
    code, body, _ = srv.req("GET", path)
    return body if code == 200 else None


SO_PATH = "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s" % (NS, CHILD)
CR_PATH = "/apis/compactor.tempo.dev/v1alpha1/namespaces/%s/tempocompactors/%s" % (NS, CR)
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" \
    "tempocompactors.compactor.tempo.dev"
CHILD_PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/%s/deployments/%s" % (NS, CHILD),
    "Service": "/api/v1/namespaces/%s/services/%s" % (NS, CHILD),
    "ConfigMap": "/api/v1/namespaces/%s/configmaps/%s-config" % (NS, CHILD),
    "ScaledObject": SO_PATH,
}


def table_row(out):
    """First row of kubectl table output as {HEADER: cell}, cut at the header columns."""
    lines = out.splitlines()
    if len(lines) < 2:
        return {}
    head = lines[0]
    starts = [i for i, c in enumerate(head) if c != " " and (i == 0 or head[i - 1] == " ")]
    row = {}
    for n, st in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else None
        row[head[st:end].strip()] = lines[1][st:end].strip()
    return row


def rbac_rules(srv):
    """(kind, namespace, rule) of the chart's Roles and ClusterRoles for the seed values."""
    p = subprocess.run([os.path.join(fakeapi_util.TOOLS, "helm"), "template", REL, CHART,
                        "-n", NS, "-f", SEED], capture_output=True, text=True, env=srv.env,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out = []
    for d in yaml.safe_load_all(p.stdout):
        if d and d["kind"] in ("Role", "ClusterRole"):
            for r in d["rules"]:
                out.append((d["kind"], d["metadata"].get("namespace"), r))
    return out


def request_attrs(method, path, query):
    """RBAC attributes (group, resource, ns, name, verb) of a request; None = non-resource."""
    parts = [x for x in path.split("/") if x]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # discovery
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        resource += "/" + rest[2]
    watch = "watch=true" in query or "watch=1" in query
    verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create",
            "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection"}[method]
    return group, resource, ns, name, verb


def rbac_denied(srv, reqs):
    rules = rbac_rules(srv)
    denied = []
    for r in reqs:
        a = request_attrs(r["method"], r["path"], r.get("query") or "")
        if a is None:
            continue
        group, resource, ns, name, verb = a
        ok = False
        for kind, rns, rule in rules:
            if kind == "Role" and ns != rns:
                continue
            if group in rule["apiGroups"] and resource in rule["resources"] and \
                    verb in rule["verbs"] and \
                    (not rule.get("resourceNames") or name in rule["resourceNames"]):
                ok = True
                break
        if not ok:
            denied.append("%s %s?%s -> %s" % (r["method"], r["path"], r.get("query"), a))
    return denied


def trigger_md(srv):
    so = get(srv, SO_PATH)
    if not so:
        return None
    return so["spec"]["triggers"][0]["metadata"]


def observe_args():
    """Observe pods and KEDA's HPA every second, so the RBAC check covers those reads."""
    p = subprocess.run([CONTROLLER, "run", "--help"], capture_output=True, text=True,
                       timeout=10, env=dict(os.environ, KUBECONFIG="/dev/null"))
    if "--observe-interval" in p.stdout + p.stderr:
        return ["--set", "controller.extraArgs={--observe-interval=1}"]
    print("# controller has no --observe-interval: pods/HPA reads not exercised")
    return []


def controller_cmd(srv, port):
    """The controller's command line as the chart's Deployment has it."""
    p = subprocess.run([os.path.join(fakeapi_util.TOOLS, "helm"), "template", REL, CHART,
                        "-n", NS, "-f", SEED, "--set", "controller.port=%d" % port,
                        *observe_args(),
                        "--show-only", "templates/controller/deployment.yaml"],
                       capture_output=True, text=True, env=srv.env, timeout=60)
    assert p.returncode == 0, p.stderr
    ctr = yaml.safe_load(p.stdout)["spec"]["template"]["spec"]["containers"][0]
    args = []
    for a in ctr["args"]:
        a = a.replace("$(POD_NAMESPACE)", NS)
        # the pod listens on all interfaces; a test listens on loopback only
        a = a.replace("=:%d" % port, "=127.0.0.1:%d" % port)
        args.append(a)
    return [CONTROLLER] + args


def controller_can_run():
    if not os.access(CONTROLLER, os.X_OK):
        return "controller not built (run make)"
    try:
        p = subprocess.run([CONTROLLER, "run", "--help"], capture_output=True, text=True,
                           timeout=10, env=dict(os.environ, KUBECONFIG="/dev/null"))
    except subprocess.TimeoutExpired:
        return None  # it started instead of printing help: it runs
    if "not implemented" in (p.stderr + p.stdout):
        return "tempo-compactor-controller run is not implemented yet"
    return None


srv = fakeapi_util.Server("--keda")
ctrl = None
ctrl_log = os.path.join(srv.dir, "controller.log")
try:
    # --skip-crds switches the CRD off: a controller-only release installs no CRD
    rc, out, err = srv.helm("install", "ctl", CHART, "-n", "ctl", "--create-namespace",
                            "--skip-crds", "--set", "compactor.enabled=false", timeout=120)
    t.ok(rc == 0 and get(srv, CRD_PATH) is None,
         "helm install --skip-crds with compactor.enabled=false installs no CRD", err)
    rc, out, err = srv.helm("uninstall", "ctl", "-n", "ctl", timeout=120)
    t.ok(rc == 0, "helm uninstall of the controller-only release", err)

    rc, out, err = srv.helm("install", REL, CHART, "-n", NS, "--create-namespace", "-f", SEED,
                            timeout=120)
    t.ok(rc == 0, "helm install with ci/seed-values.yaml", err + out)
    t.ok("TempoCompactor tempo: KEDA autoscaling 1-10 replicas at 250 outstanding blocks per "
         "compactor, storage s3, image tempo-compactor:%s." % VERSION in out and
         "kubectl -n tempo wait --for=condition=Ready tempocompactor/tempo" in out,
         "NOTES.txt summarises the TempoCompactor", out)
    crd = get(srv, CRD_PATH)
    t.ok(crd is not None, "CRD installed from the chart's crds/")
    cr = get(srv, CR_PATH)
    t.ok(cr is not None and cr["spec"]["autoscaling"]["prometheus"]["customHeaders"] ==
         {"X-Scope-OrgID": "tenant-123"} and
         cr["spec"]["autoscaling"]["prometheus"]["threshold"] == "250",
         "TempoCompactor from the values: X-Scope-OrgID tenant-123, threshold \"250\"",
         json.dumps(cr)[:2000])
    dep = get(srv, "/apis/apps/v1/namespaces/%s/deployments/%s-tempo-compactor-controller"
              % (NS, REL))
    t.ok(dep is not None, "controller Deployment installed")

    why = controller_can_run()
    if why is None:
        port = free_port()
        cmd = controller_cmd(srv, port)
        env = dict(srv.env, POD_NAME="e2e-controller", POD_NAMESPACE=NS)
        srv.admin("DELETE", "requests")
        t0 = time.time()
        with open(ctrl_log, "w") as log:
            ctrl = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        md = wait(lambda: trigger_md(srv), 30, 0.2)
        t.ok(md is not None and md.get("customHeaders") == "X-Scope-OrgID=tenant-123"
             and md.get("threshold") == "250",
             "controller creates the ScaledObject: customHeaders X-Scope-OrgID=tenant-123, "
             "threshold \"250\"",
             "metadata: %r\ncommand: %s\nlog:\n%s" % (md, " ".join(cmd), open(ctrl_log).read()[-3000:]))
        print("# ScaledObject created %.2f s after the controller started" % (time.time() - t0))
        so = get(srv, SO_PATH) or {}
        owners = so.get("metadata", {}).get("ownerReferences", [])
        t.ok(any(o.get("kind") == "TempoCompactor" and o.get("name") == CR for o in owners),
             "ScaledObject is owned by the TempoCompactor", json.dumps(owners))

        # chart -> CRD -> controller -> our daemon: the compactor Deployment runs
        # tempo-compactor:<version> with /ready and /live probes, and the daemon
        # itself accepts the ConfigMap's tempo.yaml
        dep = get(srv, CHILD_PATHS["Deployment"]) or {}
        ctrs = dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])
        cm = get(srv, CHILD_PATHS["ConfigMap"]) or {}
        vc = None
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "tempo.yaml")
            with open(cfg, "w") as f:
                f.write(cm.get("data", {}).get("tempo.yaml", ""))
            vc = subprocess.run([DAEMON, "verify-config", "-config.file=" + cfg,
                                 "-config.expand-env"], capture_output=True, text=True,
                                timeout=30) if os.access(DAEMON, os.X_OK) else \
                subprocess.CompletedProcess([DAEMON], 127, "", DAEMON + " not built")
        c0 = ctrs[0]
        t.ok(c0.get("image") == "tempo-compactor:" + VERSION and
             c0.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/ready" and
             c0.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/live" and
             vc.returncode == 0 and "not used" not in vc.stderr,
             "compactor Deployment runs tempo-compactor:%s (/ready, /live) and the daemon's "
             "verify-config accepts its tempo.yaml" % VERSION,
             "container: %s\nverify-config: %d %s" % (json.dumps(c0)[:1500], vc.returncode,
                                                      vc.stdout + vc.stderr))

        def ready():
            o = get(srv, CR_PATH) or {}
            st = o.get("status") or {}
            conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
            ok = (st.get("observedGeneration") == o["metadata"].get("generation") and
                  conds.get("Ready") == "True")
            return o if ok else None
        live = wait(ready, 30, 0.2)
        t.ok(live is not None, "TempoCompactor status: Ready=True for the current generation",
             json.dumps((get(srv, CR_PATH) or {}).get("status"))[:2000])
        if live is not None and LUA:
            with tempfile.TemporaryDirectory() as tmp:
                hs = run_health(live, tmp)
            t.ok(hs[0] == "Healthy", "Argo CD health.lua on the live TempoCompactor: Healthy",
                 repr(hs))
        else:
            t.skip("Argo CD health.lua on the live TempoCompactor: Healthy",
                   "no Ready status" if LUA else "no lua5.1")
        reqs = srv.admin("GET", "requests")["requests"]
        denied = rbac_denied(srv, reqs)
        used = sorted({(a[0], a[1], a[4]) for a in (request_attrs(r["method"], r["path"], r.get("query") or "") for r in reqs) if a})
        print("# controller used: " + ", ".join("%s/%s:%s" % u for u in used))
        t.ok(reqs and not denied,
             "every API request of the controller (%d) is allowed by the chart's RBAC"
             % len(reqs), "\n".join(denied))
        rc, out, err = srv.kubectl("-n", NS, "get", "tcomp", CR)
        row = table_row(out)
        t.ok(rc == 0 and row.get("AUTOSCALING") == "true" and row.get("STATUS") == "True"
             and row.get("READY") == "1",
             "kubectl get tcomp: READY 1, AUTOSCALING true, STATUS True", out + err)
    else:
        for name in ("controller creates the ScaledObject: customHeaders "
                     "X-Scope-OrgID=tenant-123, threshold \"250\"",
                     "ScaledObject is owned by the TempoCompactor",
                     "compactor Deployment runs tempo-compactor (/ready, /live) and the "
                     "daemon's verify-config accepts its tempo.yaml",
                     "TempoCompactor status: Ready=True for the current generation",
                     "every API request of the controller is allowed by the chart's RBAC",
                     "Argo CD health.lua on the live TempoCompactor: Healthy",
                     "kubectl get tcomp: READY 1, AUTOSCALING true, STATUS True"):
            t.skip(name, why)

    rc, out, err = srv.helm("upgrade", REL, CHART, "-n", NS, "-f", SEED, "--set-string",
                            "compactor.autoscaling.prometheus.threshold=300", timeout=120)
    cr = get(srv, CR_PATH)
    t.ok(rc == 0 and cr and cr["spec"]["autoscaling"]["prometheus"]["threshold"] == "300",
         "helm upgrade changes the TempoCompactor's threshold to \"300\"", err)
    if ctrl is not None:
        t1 = time.time()
        md = wait(lambda: (trigger_md(srv) or {}).get("threshold") == "300" and
                  trigger_md(srv), 30, 0.2)
        print("# ScaledObject threshold changed %.2f s after helm upgrade returned"
              % (time.time() - t1))
        t.ok(bool(md) and md.get("customHeaders") == "X-Scope-OrgID=tenant-123",
             "the controller updates the ScaledObject threshold to \"300\"",
             "metadata: %r\nlog:\n%s" % (md, open(ctrl_log).read()[-3000:]))
    else:
        t.skip("the controller updates the ScaledObject threshold to \"300\"", why)

    # turning autoscaling off through the chart: the ScaledObject goes, replicas come back
    rc, out, err = srv.helm("upgrade", REL, CHART, "-n", NS, "-f", SEED, "--set",
                            "compactor.autoscaling.enabled=false", timeout=120)
    t.ok(rc == 0, "helm upgrade with compactor.autoscaling.enabled=false", err)
    if ctrl is not None:
        dep_path = CHILD_PATHS["Deployment"]
        done = wait(lambda: get(srv, SO_PATH) is None and
                    (get(srv, dep_path) or {}).get("spec", {}).get("replicas") == 2,
                    30, 0.2)
        t.ok(done, "the controller deletes the ScaledObject and sets replicas 2 (compactor.replicas)",
             "SO: %s, replicas: %s" % (get(srv, SO_PATH) is not None,
                                        (get(srv, dep_path) or {}).get("spec", {}).get("replicas")))
    else:
        t.skip("the controller deletes the ScaledObject and sets replicas 2", why)

    rc, out, err = srv.helm("uninstall", REL, "-n", NS, timeout=120)
    t.ok(rc == 0, "helm uninstall", err)
    gone = wait(lambda: get(srv, CR_PATH) is None, 15, 0.2)
    t.ok(gone, "TempoCompactor deleted by helm uninstall")
    if ctrl is not None:
        left = wait(lambda: not [k for k, p in CHILD_PATHS.items() if get(srv, p)],
                    30, 0.2)
        t.ok(left, "children (Deployment, Service, ConfigMap, ScaledObject) removed",
             "still there: %s" % [k for k, p in CHILD_PATHS.items() if get(srv, p)])
    else:
        t.skip("children (Deployment, Service, ConfigMap, ScaledObject) removed", why)
    if ctrl is not None:
        # over the whole run, requests only the controller makes (helm never touches the
        # children, /status, Leases or Events) must be allowed too, deletes included
        def controller_only(r):
            a = request_attrs(r["method"], r["path"], r.get("query") or "")
            if a is None:
                return False
            return (a[3] in (CHILD, CHILD + "-config") or a[1].endswith("/status") or
                    a[1] in ("leases", "events", "pods", "horizontalpodautoscalers") or
                    (a[3] is None and a[1] in ("configmaps", "services", "deployments",
                                               "scaledobjects", "triggerauthentications",
                                               "poddisruptionbudgets")))
        reqs = [r for r in srv.admin("GET", "requests")["requests"] if controller_only(r)]
        denied = rbac_denied(srv, reqs)
        verbs = sorted({r["method"] for r in reqs})
        used = sorted({(a[0], a[1], a[4]) for a in (request_attrs(r["method"], r["path"],
                                                                 r.get("query") or "")
                                                   for r in reqs)})
        print("# controller-only requests: " + ", ".join("%s/%s:%s" % u for u in used))
        t.ok(reqs and not denied, "controller requests over install/upgrade/uninstall (%d, %s) "
             "are allowed by the chart's RBAC" % (len(reqs), "/".join(verbs)), "\n".join(denied))
    else:
        t.skip("controller requests over install/upgrade/uninstall are allowed by the RBAC", why)
    t.ok(get(srv, CRD_PATH) is not None, "the CRD stays after helm uninstall")
    rc, out, err = srv.helm("list", "-n", NS)
    t.ok(rc == 0 and REL not in out.split(), "helm list shows no release", out + err)
finally:
    if ctrl is not None:
        ctrl.terminate()
        try:
            ctrl.wait(10)
        except subprocess.TimeoutExpired:
            ctrl.kill()
            ctrl.wait()
    srv.stop()
t.done()
