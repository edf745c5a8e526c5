"""Helpers for controller tests: run the real controller binary against fakeapi."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "fakeapi"))
sys.path.insert(0, os.path.join(TOP, "tests"))  # hack/bench/controller imports this file too
CRD = os.path.join(TOP, "crds", "tempocompactor.yaml")

import fakeapi_util  # noqa: E402,F401
from tclib import CONTROLLER as BIN, http_get  # noqa: E402,F401

CR_BASE = "/apis/compactor.tempo.dev/v1alpha1/namespaces/%s/tempocompactors"


class Controller:
    """One controller process with its own health port and log file."""

    def __init__(self, srv, identity, *extra):
        self.dir = tempfile.mkdtemp(prefix="ctrl.")
        self.portfile = os.path.join(self.dir, "port")
        self.logpath = os.path.join(self.dir, "log")
        self.identity = identity
        args = [BIN, "run", "--kubeconfig", srv.kubeconfig, "--health-port", "0",
                "--health-addr", "127.0.0.1", "--port-file", self.portfile,
                "--identity", identity] + list(extra)
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not (os.path.exists(self.portfile) and os.path.getsize(self.portfile) > 0):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("controller did not start: " + self.log())
            time.sleep(0.02)
        self.port = int(open(self.portfile).read())

    def http(self, path):
        return http_get("http://127.0.0.1:%d%s" % (self.port, path), timeout=5)

    def metric(self, name):
        st, body = self.http("/metrics")
        for line in body.splitlines():
            if line.startswith(name + " ") or (line.startswith(name + "{") and "{" not in name):
                return float(line.split()[-1])
        return None

    def is_leader(self):
        return self.metric("tempo_compactor_operator_leader") == 1

    def log(self):
        try:
            return open(self.logpath).read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        # Under `make check` the binary has ASan/UBSan: any report fails the test.
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise RuntimeError("sanitizer report in controller %s:\n%s"
                                   % (self.identity, log[log.index(marker) - 200:][:4000]))
        return self.proc.returncode


def cr(name, ns="tempo", **spec):
    s = {"storage": {"backend": "s3", "s3": {"bucket": "tempo-traces", "endpoint": "s3.local:9000"}}}
    s.update(spec)
    return {"apiVersion": "compactor.tempo.dev/v1alpha1", "kind": "TempoCompactor",
            "metadata": {"name": name, "namespace": ns}, "spec": s}


def autoscaling(enabled=True, **prom):
    p = {"serverAddress": "http://mimir/prometheus", "threshold": "250"}
    p.update(prom)
    return {"enabled": enabled, "minReplicas": 2, "maxReplicas": 10, "prometheus": p}


def get(srv, path):
    st, body, _ = srv.req("GET", path)
    return body if st == 200 else None


def merge_patch(srv, path, patch):
    return srv.req("PATCH", path, patch, ctype="application/merge-patch+json")


def child(srv, kind_path, ns, name):
    return get(srv, "%s/namespaces/%s/%s/%s" % (kind_path[0], ns, kind_path[1], name))


DEPLOY = ("/apis/apps/v1", "deployments")
CM = ("/api/v1", "configmaps")
SVC = ("/api/v1", "services")
PDB = ("/apis/policy/v1", "poddisruptionbudgets")
SO = ("/apis/keda.sh/v1alpha1", "scaledobjects")
TA = ("/apis/keda.sh/v1alpha1", "triggerauthentications")


def cond(obj, typ):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == typ:
            return c
    return None


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True)[:3000]
