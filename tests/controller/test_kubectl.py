#!/usr/bin/env python3
"""Real kubectl against the fake API server with the controller running:
kubectl apply -f of the CRD examples, kubectl get tempocompactors shows the
printer columns filled by the controller's status, kubectl wait
--for=condition=Ready succeeds, and kubectl delete removes the children."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests"))

from ctrl_util import BIN, CRD, DEPLOY, Controller, child, fakeapi_util  # noqa: E402
from tclib import Tap, need, wait  # noqa: E402


def main():
    t = Tap()
    need(t, "kubectl", built=[BIN], tools=["kubectl"])
    srv = fakeapi_util.Server("--keda", "--crd", CRD)
    ctl = None
    try:
        ctl = Controller(srv, "ctl-kubectl", "--leader-elect", "false")
        ex = os.path.join(TOP, "crds", "examples")
        files = sorted(f for f in os.listdir(ex) if f.endswith(".yaml"))
        for ns in sorted({line.split(":", 1)[1].strip() for f in files
                          for line in open(os.path.join(ex, f))
                          if line.startswith("  namespace:")}):
            srv.kubectl("create", "namespace", ns)
        for f in files:
            rc, out, err = srv.kubectl("apply", "-f", os.path.join(ex, f))
            t.ok(rc == 0, "kubectl apply -f crds/examples/%s" % f, err)
        rc, out, err = srv.kubectl("get", "tempocompactors", "-A")
        t.ok(rc == 0 and "READY" in out.upper() and len(out.strip().splitlines()) >= 2,
             "kubectl get tempocompactors", out + err)
        rc, out, err = srv.kubectl("wait", "--for=condition=Ready", "tempocompactors", "--all",
                                   "-A", "--timeout=30s", timeout=60)
        t.ok(rc == 0 and "condition met" in out, "kubectl wait --for=condition=Ready", out + err)
        rc, out, err = srv.kubectl("get", "tempocompactors", "-A", "-o",
                                   "jsonpath={range .items[*]}{.metadata.namespace}/"
                                   "{.metadata.name}={.status.observedGeneration} {end}")
        names = out.split()
        t.ok(rc == 0 and names and all(n.endswith("=1") for n in names),
             "status.observedGeneration written for every CR", out + err)
        ns, name = names[0].split("=")[0].split("/")
        # the scale subresource (spec.replicas, status.selector) drives the Deployment
        small = [n.split("=")[0] for n in names if n.startswith("tempo/small")]
        if small:
            sns, sname = small[0].split("/")
            rc, out, err = srv.kubectl("scale", "tempocompactor", sname, "-n", sns,
                                       "--replicas=3")
            ok = wait(lambda: (child(srv, DEPLOY, sns, "tempo-%s-compactor" % sname) or {})
                      .get("spec", {}).get("replicas") == 3, 10)
            t.ok(rc == 0 and ok, "kubectl scale tempocompactor: the Deployment follows",
                 out + err)
        rc, out, err = srv.kubectl("get", "tempocompactor", name, "-n", ns)
        rc2, out2, err2 = srv.kubectl("delete", "tempocompactor", name, "-n", ns,
                                      "--wait=true", "--timeout=30s", timeout=60)
        gone = wait(lambda: child(srv, DEPLOY, ns, "tempo-%s-compactor" % name) is None, 10)
        t.ok(rc2 == 0 and gone, "kubectl delete removes the CR and its children", out2 + err2)
    finally:
        if ctl:
            ctl.stop()
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
