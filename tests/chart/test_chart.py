#!/usr/bin/env python3
"""The tempo-compactor Helm chart, with the real helm 3.17.2 (.tools/bin via tests/run.sh).

helm lint --strict; helm template with the default values and every ci/*-values.yaml,
with assertions on the rendered objects (the TempoCompactor is also checked against the
CRD's schema and CEL rules, and, when the controller is built, rendered by
`tempo-compactor-controller render` down to the ScaledObject); bad values fail with a
message naming the value (values.schema.json and templates/validate.yaml).
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import crdcheck  # noqa: E402
import gen_readme  # noqa: E402
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import CONTROLLER, Tap  # noqa: E402

CHART = os.path.join(TOP, "charts", "tempo-compactor")
CI = os.path.join(CHART, "ci")
VERSION = open(os.path.join(TOP, "VERSION")).read().strip()
CRD = yaml.safe_load(open(os.path.join(TOP, "crds", "tempocompactor.yaml")))
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
NS = "tempo"

t = Tap()
HELM = shutil.which("helm")
if HELM is None:
    t.ok(False, "helm on PATH", "run via tests/run.sh, which sources .tools/env.sh")
    t.done()

TMP = tempfile.mkdtemp(prefix="chart-test-")
ENV = dict(os.environ, HELM_CACHE_HOME=TMP + "/cache", HELM_CONFIG_HOME=TMP + "/config",
           HELM_DATA_HOME=TMP + "/data", KUBECONFIG="/dev/null", HOME=TMP)


def helm(*args):
    return subprocess.run([HELM, *args], capture_output=True, text=True, env=ENV, timeout=120)


def template(*args, release="tempo"):
    p = helm("template", release, CHART, "--namespace", NS, *args)
    assert p.returncode == 0, "helm template %s failed: %s" % (" ".join(args), p.stderr)
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, "want one %s %s, got %d" % (kind, name or "", len(found))
    return found[0]


def cr_of(docs):
    cr = one(docs, "TempoCompactor")
    obj = yaml.safe_load(yaml.safe_dump(cr))
    crdcheck.apply_defaults(SCHEMA, obj)
    errs = crdcheck.validate(SCHEMA, obj)
    assert not errs, "rendered TempoCompactor fails the CRD: %s" % errs
    return cr


def controller_children(cr):
    """Render the chart's TempoCompactor with the real controller; None if not built."""
    if not os.access(CONTROLLER, os.X_OK):
        return None
    path = os.path.join(TMP, "cr.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cr, f)
    p = subprocess.run([CONTROLLER, "render", "-f", path], capture_output=True, text=True,
                       timeout=30)
    if p.returncode == 0 and "apiVersion" not in p.stdout:
        return None
    assert p.returncode == 0, "controller render failed: %s" % p.stderr
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def keda_headers(s):
    """KEDA's customHeaders parser: split on ',', then '=' (exactly two parts), trim."""
    out = {}
    for item in s.split(","):
        kv = item.strip().split("=")
        assert len(kv) == 2, "KEDA would reject %r" % item
        out[kv[0].strip()] = kv[1].strip()
    return out


def check_scaledobject(cr, threshold, headers):
    kids = controller_children(cr)
    if kids is None:
        return "controller render unavailable"
    so = one(kids, "ScaledObject")
    trig = so["spec"]["triggers"]
    assert len(trig) == 1 and trig[0]["type"] == "prometheus", trig
    md = trig[0]["metadata"]
    assert all(isinstance(v, str) for v in md.values()), "KEDA metadata must be strings: %r" % md
    assert md["threshold"] == threshold, md
    if headers:
        assert keda_headers(md["customHeaders"]) == headers, md["customHeaders"]
        want = ",".join("%s=%s" % (k, headers[k]) for k in sorted(headers))
        assert md["customHeaders"] == want, "%r != %r (sorted)" % (md["customHeaders"], want)
    else:
        assert "customHeaders" not in md, md
    assert so["spec"]["scaleTargetRef"]["name"] == one(kids, "Deployment")["metadata"]["name"]
    return kids


# ------------------------------------------------------------------ lint

def lint(*args):
    p = helm("lint", "--strict", CHART, *args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 chart(s) failed" in p.stdout, p.stdout


t.run("helm lint --strict (default values)", lambda: lint())
for f in sorted(glob.glob(os.path.join(CI, "*-values.yaml"))):
    t.run("helm lint --strict -f ci/%s" % os.path.basename(f), lambda f=f: lint("-f", f))

# ------------------------------------------------------------------ default values


def check_default():
    docs = template()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["ClusterRole", "ClusterRoleBinding", "Deployment", "Role",
                            "RoleBinding", "Service", "ServiceAccount", "TempoCompactor"]), kinds
    assert "CustomResourceDefinition" not in kinds  # crds/ is not templated
    dep = one(docs, "Deployment")
    assert dep["metadata"]["name"] == "tempo-tempo-compactor-controller", dep["metadata"]["name"]
    pod = dep["spec"]["template"]["spec"]
    sel = dep["spec"]["selector"]["matchLabels"]
    assert set(sel) == {"app.kubernetes.io/name", "app.kubernetes.io/instance",
                        "app.kubernetes.io/component"}, sel
    assert all(dep["spec"]["template"]["metadata"]["labels"][k] == v for k, v in sel.items())
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0, psc
    (ctr,) = pod["containers"]
    sc = ctr["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True, sc
    assert sc["allowPrivilegeEscalation"] is False, sc
    assert sc["capabilities"] == {"drop": ["ALL"]}, sc
    assert ctr["image"] == "tempo-compactor-controller:" + VERSION, ctr["image"]
    args = ctr["args"]
    assert args[0] == "run", args
    assert "--leader-elect=true" in args, args
    assert "--lease-name=tempo-tempo-compactor-controller" in args, args
    assert not any(a.startswith("--watch-namespace") for a in args), args
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    svc = one(docs, "Service")
    assert svc["spec"]["selector"] == sel, svc["spec"]["selector"]
    cr = cr_of(docs)
    assert cr["metadata"] == {**cr["metadata"], "name": "tempo", "namespace": NS}
    spec = cr["spec"]
    assert spec["autoscaling"]["enabled"] is False and "prometheus" not in spec["autoscaling"]
    # our daemon's image (hack/build-images.sh), tagged with the project version
    assert spec["image"] == "tempo-compactor:" + VERSION, spec["image"]
    assert spec["replicas"] == 1
    # compactor.config.compaction.* maps 1:1 (snake_case -> camelCase), integers stay integers
    assert spec["compaction"]["maxBlockBytes"] == 107374182400, spec["compaction"]
    assert spec["compaction"]["blockRetention"] == "48h"
    # no v2_* buffer keys: the daemon compacts vParquet blocks only
    assert len(spec["compaction"]) == 8, sorted(spec["compaction"])
    assert spec["storage"] == {"backend": "s3", "s3": {
        "bucket": "tempo-traces", "endpoint": "s3.us-east-1.amazonaws.com", "region": "us-east-1",
        "insecure": False, "forcePathStyle": False}}, spec["storage"]
    kids = controller_children(cr)
    if kids is not None:
        assert "ScaledObject" not in [d["kind"] for d in kids]


def check_rbac():
    docs = template()
    cr = one(docs, "ClusterRole")
    rules = {(g, r): sorted(x["verbs"]) for x in cr["rules"] for g in x["apiGroups"]
             for r in x["resources"]}
    write = ["create", "delete", "get", "list", "patch", "watch"]
    want = {
        ("compactor.tempo.dev", "tempocompactors"): ["get", "list", "watch"],
        ("compactor.tempo.dev", "tempocompactors/status"): ["get", "patch", "update"],
        ("compactor.tempo.dev", "tempocompactors/finalizers"): ["update"],
        ("", "configmaps"): write, ("", "services"): write,
        ("apps", "deployments"): write, ("policy", "poddisruptionbudgets"): write,
        ("keda.sh", "scaledobjects"): write, ("keda.sh", "triggerauthentications"): write,
        ("", "pods"): ["list"],
        ("autoscaling", "horizontalpodautoscalers"): ["get"],
        ("events.k8s.io", "events"): ["create", "patch"],
    }
    assert rules == want, "ClusterRole rules differ:\n%r" % rules
    # autoscaling.mode builtin adds patch on deployments/scale, nothing else
    docs_b = template("--set", "compactor.autoscaling.enabled=true", "--set",
                      "compactor.autoscaling.mode=builtin", "--set",
                      "compactor.autoscaling.prometheus.serverAddress=http://prom:9090")
    cr_b = one(docs_b, "ClusterRole")
    rules_b = {(g, r): sorted(x["verbs"]) for x in cr_b["rules"] for g in x["apiGroups"]
               for r in x["resources"]}
    assert rules_b == {**want, ("apps", "deployments/scale"): ["get", "patch"]}, rules_b
    tc = one(docs_b, "TempoCompactor")
    assert tc["spec"]["autoscaling"]["mode"] == "builtin", tc["spec"]["autoscaling"]
    everything = [r for d in docs if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]
    for r in everything:
        assert "*" not in r["verbs"] and "*" not in r["resources"], r
        assert "secrets" not in r["resources"], "controller must not read Secrets: %r" % r
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == NS
    lease_rules = {tuple(sorted(r["verbs"])): r.get("resourceNames") for r in role["rules"]}
    assert lease_rules == {("create",): None,
                           ("get", "update"): ["tempo-tempo-compactor-controller"]}, lease_rules
    crb = one(docs, "ClusterRoleBinding")
    assert crb["roleRef"]["name"] == cr["metadata"]["name"]
    assert crb["subjects"] == [{"kind": "ServiceAccount", "namespace": NS,
                                "name": one(docs, "ServiceAccount")["metadata"]["name"]}]


t.run("default values: objects, security context, args, TempoCompactor valid", check_default)
t.run("RBAC is least privilege: exact rules, no wildcards, no secrets, Lease by name", check_rbac)


def check_rbac_probe_secret():
    docs = template("--set", "compactor.autoscaling.enabled=true",
                    "--set", "compactor.autoscaling.prometheus.serverAddress=http://mimir/prometheus",
                    "--set", "compactor.autoscaling.prometheus.authSecretRef.name=mimir-reader",
                    "--set", "compactor.autoscaling.prometheus.authSecretRef.authModes={bearer}")
    sec = [r for d in docs if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]
           if "secrets" in r["resources"]]
    assert sec == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mimir-reader"],
                    "verbs": ["get"]}], sec


t.run("authSecretRef: the controller may get that one Secret (its trigger probe), nothing more",
      check_rbac_probe_secret)

# ------------------------------------------------------------------ ci values files


def check_seed():
    docs = template("-f", os.path.join(CI, "seed-values.yaml"))
    cr = cr_of(docs)
    a = cr["spec"]["autoscaling"]
    assert a["enabled"] is True and a["minReplicas"] == 1 and a["maxReplicas"] == 10, a
    p = a["prometheus"]
    assert p["customHeaders"] == {"X-Scope-OrgID": "tenant-123"}, p
    assert p["threshold"] == "250" and isinstance(p["threshold"], str), p
    assert p["serverAddress"] == "http://mimir-nginx.mimir.svc/prometheus"
    assert p["query"] == ('sum(tempodb_compaction_outstanding_blocks{container="compactor", '
                          'namespace="%s"})' % NS), p["query"]
    assert p["ignoreNullValues"] is False
    assert cr["spec"]["replicas"] == 2
    assert cr["spec"]["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                       "limits": {"memory": "2Gi"}}, cr["spec"]["resources"]
    assert cr["spec"]["compaction"]["blockRetention"] == "336h"
    assert cr["spec"]["storage"]["credentialsSecretRef"] == {"name": "tempo-s3"}
    kids = check_scaledobject(cr, "250", {"X-Scope-OrgID": "tenant-123"})
    if isinstance(kids, list):
        dep = one(kids, "Deployment")
        assert "replicas" not in dep["spec"], "replicas must be omitted while autoscaling"


def check_auth():
    docs = template("-f", os.path.join(CI, "auth-secret-values.yaml"))
    cr = cr_of(docs)
    a = cr["spec"]["autoscaling"]
    p = a["prometheus"]
    assert p["threshold"] == "100", "number 100 renders as the string \"100\": %r" % p
    assert p["activationThreshold"] == "5" and p["timeout"] == "3s", p
    assert p["authSecretRef"] == {"name": "mimir-reader", "authModes": ["bearer", "tls"]}, p
    assert a["fallback"] == {"failureThreshold": 3, "replicas": 4,
                             "behavior": "currentReplicasIfHigher"}, a
    kids = check_scaledobject(cr, "100", {"X-Scope-OrgID": "ops"})
    if isinstance(kids, list):
        ta = one(kids, "TriggerAuthentication")
        so = one(kids, "ScaledObject")
        assert so["spec"]["triggers"][0]["authenticationRef"]["name"] == ta["metadata"]["name"]
        refs = {r["parameter"]: r for r in ta["spec"]["secretTargetRef"]}
        assert "bearerToken" in refs and all(r["name"] == "mimir-reader" for r in refs.values())
        assert so["spec"]["fallback"]["replicas"] == 4


def check_off():
    docs = template("-f", os.path.join(CI, "autoscaling-off-values.yaml"))
    cr = cr_of(docs)
    spec = cr["spec"]
    assert spec["autoscaling"]["enabled"] is False and "prometheus" not in spec["autoscaling"]
    assert spec["replicas"] == 3
    assert spec["storage"] == {"backend": "s3", "s3": {
        "bucket": "tempo-traces", "endpoint": "rook-ceph-rgw-store.rook-ceph.svc:80",
        "region": "us-east-1", "insecure": True, "forcePathStyle": True},
        "credentialsSecretRef": {"name": "tempo-rgw"}}, spec
    assert spec["blocklist"] == {"poll": "2m", "pollConcurrency": 20, "pollFallback": False,
                                 "tenantIndexBuilders": 2, "staleTenantIndex": "10m"}, spec
    kinds = [d["kind"] for d in docs]
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds, kinds
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Role"}
    assert roles["tempo-tempo-compactor-controller"]["metadata"]["namespace"] == "tempo"
    dep = one(docs, "Deployment")
    assert "--watch-namespace=tempo" in dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert dep["spec"]["replicas"] == 2
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    sm = one(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "prometheus"
    assert sm["spec"]["endpoints"][0]["port"] == "http-metrics"
    kids = controller_children(cr)
    if kids is not None:
        assert "ScaledObject" not in [d["kind"] for d in kids]
        assert one(kids, "Deployment")["spec"]["replicas"] == 3


def check_behavior():
    docs = template("-f", os.path.join(CI, "custom-behavior-values.yaml"))
    values = yaml.safe_load(open(os.path.join(CI, "custom-behavior-values.yaml")))
    want = values["compactor"]["autoscaling"]["keda"]["advanced"][
        "horizontalPodAutoscalerConfig"]["behavior"]
    cr = cr_of(docs)
    a = cr["spec"]["autoscaling"]
    assert a["behavior"] == want, a["behavior"]
    assert a["pollingInterval"] == 60 and a["cooldownPeriod"] == 600, a
    assert a["metricType"] == "Value"
    q = a["prometheus"]["query"]
    assert q.count('namespace="%s"' % NS) == 2 and "\n" in q and "# per pod" in q, q
    assert a["prometheus"]["threshold"] == "0.5"
    assert cr["spec"]["storage"] == {"backend": "s3", "s3": {
        "bucket": "tempo-traces", "endpoint": "s3.eu-west-1.amazonaws.com",
        "region": "eu-west-1", "insecure": False, "forcePathStyle": False}}, cr["spec"]["storage"]
    kids = check_scaledobject(cr, "0.5", {})
    if isinstance(kids, list):
        so = one(kids, "ScaledObject")
        got = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert got == want, got
        assert so["spec"]["triggers"][0]["metricType"] == "Value"
        assert so["spec"]["triggers"][0]["metadata"]["query"] == q


def check_headers():
    docs = template("-f", os.path.join(CI, "multiple-headers-values.yaml"))
    cr = cr_of(docs)
    want = {"X-Scope-OrgID": "tenant-a|tenant-b", "X-Request-Source": "keda",
            "Accept-Encoding": "identity"}
    assert cr["spec"]["autoscaling"]["prometheus"]["customHeaders"] == want
    check_scaledobject(cr, "250", want)


for name, fn in [("seed example: X-Scope-OrgID tenant-123, threshold \"250\"", check_seed),
                 ("auth secret: TriggerAuthentication, fallback, numeric threshold", check_auth),
                 ("autoscaling off: RGW s3, blocklist, namespaced RBAC, PDB, ServiceMonitor",
                  check_off),
                 ("custom behavior: HPA behavior, polling/cooldown, Value metric, tpl query",
                  check_behavior),
                 ("multiple headers: map rendered sorted as KEDA k=v,k=v", check_headers)]:
    t.run("helm template " + name, fn)

if not os.access(CONTROLLER, os.X_OK):
    t.skip("controller render of the chart's TempoCompactors (ScaledObject checks)",
           "controller not built (run make)")


def check_deterministic():
    a = helm("template", "tempo", CHART, "-n", NS, "-f", os.path.join(CI, "seed-values.yaml"))
    b = helm("template", "tempo", CHART, "-n", NS, "-f", os.path.join(CI, "seed-values.yaml"))
    assert a.returncode == 0 and a.stdout == b.stdout, "two renders differ"


def check_crds():
    p = helm("template", "tempo", CHART, "-n", NS, "--include-crds")
    assert p.returncode == 0, p.stderr
    crds = [d for d in yaml.safe_load_all(p.stdout) if d and d["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 1 and crds[0] == CRD, "chart CRD differs from crds/tempocompactor.yaml"
    p = helm("template", "tempo", CHART, "-n", NS)
    assert p.returncode == 0 and "CustomResourceDefinition" not in p.stdout


def check_readme():
    readme = open(os.path.join(CHART, "README.md")).read()
    assert gen_readme.render(readme) == readme, \
        "README.md values table is stale: run python3 tests/chart/gen_readme.py"
    assert "MIGRATION.md" in readme


def check_overrides():
    docs = template("--set", "global.registry=reg.local", "--set", "compactor.image.tag=2.9.0",
                    "--set", "global.commonLabels.team=tracing", "--set",
                    "compactor.name=edge", "--set", "controller.image.tag=9.9.9")
    cr = cr_of(docs)
    assert cr["metadata"]["name"] == "edge"
    assert cr["spec"]["image"] == "reg.local/tempo-compactor:2.9.0", cr["spec"]["image"]
    ctr = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert ctr["image"] == "reg.local/tempo-compactor-controller:9.9.9", ctr["image"]
    assert all(d["metadata"]["labels"].get("team") == "tracing" for d in docs), \
        [d["kind"] for d in docs if d["metadata"]["labels"].get("team") != "tracing"]
    docs = template("--set", "compactor.image.registry=registry.example.com:5000", "--set",
                    "compactor.image.repository=team/tempo-compactor", "--set",
                    "compactor.image.pullPolicy=Always", "--set",
                    "compactor.image.pullSecrets[0]=regcred")
    spec = cr_of(docs)["spec"]
    assert spec["image"] == "registry.example.com:5000/team/tempo-compactor:" + VERSION, spec
    assert spec["imagePullPolicy"] == "Always", spec
    assert spec["imagePullSecrets"] == [{"name": "regcred"}], spec
    # tempo-distributed's v2_* buffer keys are accepted and not passed on
    docs = template("--set", "compactor.config.compaction.v2_in_buffer_bytes=1048576")
    assert "v2InBufferBytes" not in cr_of(docs)["spec"]["compaction"]
    docs = template(release="r" * 53)
    assert one(docs, "TempoCompactor")["metadata"]["name"] == "r" * 47
    docs = template(release="my.tempo")
    assert one(docs, "TempoCompactor")["metadata"]["name"] == "my-tempo"


def check_compactor_disabled():
    docs = template("--set", "compactor.enabled=false")
    assert "TempoCompactor" not in [d["kind"] for d in docs]


t.run("rendering is deterministic", check_deterministic)
t.run("--include-crds ships the repository CRD; templates never contain it", check_crds)
t.run("README values table is generated from values.yaml", check_readme)
t.run("compactor.enabled=false installs only the controller", check_compactor_disabled)
t.run("global.registry, image tags, commonLabels, compactor.name, long release names",
      check_overrides)

# ------------------------------------------------------------------ bad values

BAD = [
    # (values as --set/--set-string args, expected message fragment)  -- values.schema.json
    (["--set", "compactor.replicas=-1"], "compactor.replicas: Must be greater than or equal to 0"),
    (["--set", "compactor.autoscaling.minReplicaz=2"],
     "compactor.autoscaling: Additional property minReplicaz is not allowed"),
    (["--set", "controller.logLevel=verbose"], "controller.logLevel: controller.logLevel must be one"),
    (["--set", "compactor.autoscaling.keda.metricType=Utilization"],
     "compactor.autoscaling.keda.metricType: compactor.autoscaling.keda.metricType must be one"),
    (["--set", "storage.trace.blocklist_poll=5 minutes"],
     "storage.trace.blocklist_poll: Does not match pattern"),
    # templates/validate.yaml
    (["--set", "compactor.autoscaling.enabled=true"],
     "compactor.autoscaling.prometheus.serverAddress is required when compactor.autoscaling.enabled"),
    (["--set", "compactor.autoscaling.minReplicas=5", "--set", "compactor.autoscaling.maxReplicas=2"],
     "compactor.autoscaling.minReplicas (5) must be <= compactor.autoscaling.maxReplicas (2)"),
    (["-f", "seed", "--set-string", "compactor.autoscaling.prometheus.customHeaders.X-Scope-OrgID=a\\,b"],
     "compactor.autoscaling.prometheus.customHeaders.X-Scope-OrgID: value \"a,b\" may not contain ',' or '='"),
    (["-f", "seed", "--set-string", "compactor.autoscaling.prometheus.customHeaders.X-Scope-OrgID=a=b"],
     "may not contain ',' or '=' (KEDA splits customHeaders on them)"),
    (["-f", "seed", "--set-string", "compactor.autoscaling.prometheus.customHeaders=X-Scope-OrgID=t1"],
     "customHeaders is a map in this chart: write customHeaders: {X-Scope-OrgID: tenant-a} instead of \"X-Scope-OrgID=t1\""),
    (["-f", "seed", "--set-json", 'compactor.autoscaling.prometheus.customHeaders={"X Scope":"t"}'],
     "header name \"X Scope\" may contain only letters, digits and '-'"),
    (["-f", "seed", "--set-string", "compactor.autoscaling.prometheus.threshold=250m"],
     "compactor.autoscaling.prometheus.threshold \"250m\" must be a non-negative decimal number"),
    (["-f", "seed", "--set", "compactor.autoscaling.prometheus.serverAddress=mimir:8080"],
     "compactor.autoscaling.prometheus.serverAddress \"mimir:8080\" must start with http://"),
    (["-f", "seed", "--set-json", 'compactor.autoscaling.keda.triggers=[{"type":"prometheus"}]'],
     "compactor.autoscaling.keda.triggers: not supported; move the trigger's metadata"),
    (["--set", "compactor.autoscaling.hpa.enabled=true"],
     "compactor.autoscaling.hpa: HPA-based autoscaling is not supported"),
    (["-f", "seed", "--set", "compactor.autoscaling.keda.enabled=false"],
     "compactor.autoscaling.keda.enabled=false contradicts compactor.autoscaling.enabled=true"),
    (["-f", "seed", "--set-json", 'compactor.autoscaling.keda.advanced={"scalingModifiers":{"formula":"x"}}'],
     "compactor.autoscaling.keda.advanced: only horizontalPodAutoscalerConfig.behavior is supported, not scalingModifiers"),
    (["-f", "seed", "--set-json",
      'compactor.autoscaling.prometheus.authSecretRef={"name":"m","authModes":["bearer","basic"]}'],
     "authModes: basic, bearer and custom are mutually exclusive"),
    (["-f", "seed", "--set-json", 'compactor.autoscaling.keda.fallback={"failureThreshold":3,"replicas":2}',
      "--set", "compactor.autoscaling.keda.metricType=Value"],
     "compactor.autoscaling.keda.fallback needs compactor.autoscaling.keda.metricType AverageValue"),
    (["--set", "storage.trace.backend=local"],
     "storage.trace.backend: storage.trace.backend must be one of the following: \"s3\""),
    (["--skip-schema-validation", "--set", "storage.trace.backend=local"],
     "storage.trace.backend \"local\" is not supported: the tempo-compactor daemon reads and "
     "writes blocks in S3"),
    (["--set", "storage.trace.s3.access_key=AKIA"],
     "storage.trace.s3.access_key/secret_key: do not put credentials in values"),
    (["--set", "storage.trace.backend=gcs"],
     "storage.trace.backend: storage.trace.backend must be one of the following: \"s3\""),
    (["--skip-schema-validation", "--set", "storage.trace.backend=azure"],
     "storage.trace.backend \"azure\" is not supported"),
    (["--set-json", 'storage.trace.gcs={"bucket_name":"b"}'],
     "storage.trace: Additional property gcs is not allowed"),
    (["--set", "tempo.image.tag=2.9.0"],
     "tempo.image: the compactor pods run this chart's tempo-compactor daemon, not Grafana Tempo"),
    (["--set", "compactor.config.compaction.retention_concurrency=5000"],
     "compactor.config.compaction.retention_concurrency: Must be less than or equal to 1000"),
    (["--set", "compactor.enabled=true"],
     "TempoCompactor name \"1tempo\" (compactor.name, else the release name) must be a DNS label",
     "1tempo"),
    (["--set", "compactor.name=a-very-long-compactor-name-that-does-not-fit-anymore"],
     "compactor.name: String length must be less than or equal to 47"),
]


def bad_case(args, want, release="tempo"):
    def run():
        full = []
        for a in args:
            full.append(os.path.join(CI, "seed-values.yaml") if a == "seed" else a)
        p = helm("template", release, CHART, "-n", NS, *full)
        assert p.returncode != 0, "helm accepted %s" % args
        assert want in p.stderr, "want %r in:\n%s" % (want, p.stderr)
    return run


for case in BAD:
    t.run("bad values rejected: %s" % case[1][:90], bad_case(*case))

shutil.rmtree(TMP, ignore_errors=True)
t.done()
