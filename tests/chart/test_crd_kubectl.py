#!/usr/bin/env python3
"""The TempoCompactor CRD on the fake API server (tests/fakeapi) with the real kubectl.

kubectl apply of the CRD and of every crds/examples/*.yaml succeeds; every
tests/chart/invalid/*.yaml is rejected, the "# kind: cel" ones with the CEL rule's
message (unless the fake reports the rule as one it cannot evaluate, which is then a
SKIP naming the rule); kubectl get shows the printer columns; kubectl scale goes
through the scale subresource to spec.replicas.
"""

import glob
import json
import os
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import Tap, fakeapi  # noqa: E402

t = Tap()
fakeapi_util = fakeapi(t, "CRD on the fake API server", tools=["kubectl"])

CRD = os.path.join(TOP, "crds", "tempocompactor.yaml")
EXAMPLES = sorted(glob.glob(os.path.join(TOP, "crds", "examples", "*.yaml")))
INVALID = sorted(glob.glob(os.path.join(HERE, "invalid", "*.yaml")))


def header(path, key):
    for line in open(path):
        if line.startswith("# %s:" % key):
            return line.split(":", 1)[1].strip()
    return None


srv = fakeapi_util.Server()
try:
    rc, out, err = srv.kubectl("apply", "-f", CRD)
    t.ok(rc == 0, "kubectl apply -f crds/tempocompactor.yaml", err)
    rc, out, err = srv.kubectl("wait", "--for=condition=Established", "--timeout=20s",
                               "crd/tempocompactors.compactor.tempo.dev")
    t.ok(rc == 0, "CRD becomes Established", err)
    skipped = [s for s in srv.admin("GET", "cel").get("skipped", [])
               if "tempocompactors" in json.dumps(s)]
    skipped_rules = {s.get("rule") for s in skipped}
    if skipped:
        t.skip("fake server evaluates every CEL rule of the CRD",
               "fake cannot evaluate: %s" % "; ".join(sorted(skipped_rules)))
    else:
        t.ok(True, "fake server evaluates every CEL rule of the CRD")

    for ns in ("tempo", "observability"):
        srv.kubectl("create", "namespace", ns)
    for f in EXAMPLES:
        rc, out, err = srv.kubectl("apply", "-f", f)
        t.ok(rc == 0, "kubectl apply example %s" % os.path.basename(f), err)

    rc, out, err = srv.kubectl("get", "tcomp", "-A")
    head = out.splitlines()[0].split() if out else []
    t.ok(rc == 0 and head[:7] == ["NAMESPACE", "NAME", "REPLICAS", "READY", "OUTSTANDING",
                                  "AUTOSCALING", "STATUS"] and "AGE" in head,
         "kubectl get tcomp (short name) shows the printer columns", out + err)

    rc, out, err = srv.kubectl("-n", "tempo", "scale", "tempocompactor/small", "--replicas=4")
    rc2, out2, err2 = srv.kubectl("-n", "tempo", "get", "tempocompactor/small",
                                  "-o", "jsonpath={.spec.replicas}")
    t.ok(rc == 0 and out2.strip() == "4", "kubectl scale writes spec.replicas via /scale",
         err + err2 + out2)

    for f in INVALID:
        want = header(f, "expect")
        kind = header(f, "kind")
        path, msg = want.split(": ", 1)
        rule_of_fixture = None
        if kind == "cel":
            crd = yaml.safe_load(open(CRD))
            schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            import crdcheck  # noqa: E402
            for _, r in crdcheck.rules(schema):
                if r.get("message") == msg:
                    rule_of_fixture = r["rule"]
        name = "kubectl apply invalid/%s rejected: %s" % (os.path.basename(f), msg[:70])
        if rule_of_fixture in skipped_rules:
            t.skip(name, "fake cannot evaluate %s" % rule_of_fixture)
            continue
        rc, out, err = srv.kubectl("apply", "-f", f)
        if kind == "cel":
            good = rc != 0 and msg in err
        else:
            # schema errors: the fake names the field; wording differs from crdcheck
            good = rc != 0 and (path.split(".")[-1] in err)
        t.ok(good, name, "rc=%d stderr=%s" % (rc, err.strip()))
        # nothing was stored
        rc, out, _ = srv.kubectl("get", "tempocompactor", "bad-" + os.path.basename(f)[:-5])
        t.ok(rc != 0, "  invalid/%s not stored" % os.path.basename(f))

    # an update that breaks a rule is rejected too, and the stored object is unchanged
    rc, out, err = srv.kubectl("-n", "tempo", "patch", "tempocompactor/tempo", "--type=merge",
                               "-p", json.dumps({"spec": {"autoscaling": {"minReplicas": 50}}}))
    rc2, out2, _ = srv.kubectl("-n", "tempo", "get", "tempocompactor/tempo", "-o",
                               "jsonpath={.spec.autoscaling.minReplicas}")
    t.ok(rc != 0 and "autoscaling.minReplicas must be <= autoscaling.maxReplicas" in err
         and out2.strip() == "1", "patch breaking minReplicas <= maxReplicas rejected",
         "rc=%d %s / stored %s" % (rc, err, out2))
finally:
    srv.stop()
t.done()
