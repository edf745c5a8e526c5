#!/usr/bin/env python3
"""The controller's Kubernetes client against the fake API server over TLS
with a required bearer token: CA verification from in-memory data, the
insecure-skip-tls-verify escape hatch only when the kubeconfig says so, an
exec credential plugin, client certificate/key held in memory (nothing
written to TMPDIR), and in-cluster service-account token rotation (the
token file is re-read when it changes)."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import CONTROLLER as BIN, Tap, fakeapi  # noqa: E402

TOKEN = "s3cr3t-token"


def b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(path, port, user, cluster_extra):
    cluster = {"server": "https://127.0.0.1:%d" % port}
    cluster.update(cluster_extra)
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "t",
                   "clusters": [{"name": "c", "cluster": cluster}],
                   "users": [{"name": "u", "user": user}],
                   "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}]}, f)


def get(args, env=None, timeout=30):
    p = subprocess.run([BIN, "get"] + args, capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr


def main():
    t = Tap()
    fakeapi_util = fakeapi(t, "kube auth", built=[BIN])
    if shutil.which("openssl") is None:
        t.skip_all("kube auth", "no openssl CLI")
    d = tempfile.mkdtemp(prefix="kubeauth.")
    srv = None
    try:
        crt, key = os.path.join(d, "srv.crt"), os.path.join(d, "srv.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
        ccrt, ckey = os.path.join(d, "cli.crt"), os.path.join(d, "cli.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=client", "-keyout", ckey, "-out", ccrt], check=True,
                       capture_output=True)
        srv = fakeapi_util.Server("--tls-cert", crt, "--tls-key", key, "--token", TOKEN)
        kc = os.path.join(d, "kc")
        ca = {"certificate-authority-data": b64(crt)}

        kubeconfig(kc, srv.port, {"token": TOKEN}, ca)
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces"])
        t.ok(rc == 0 and "HTTP 200" in out, "token + CA from certificate-authority-data", err + out)

        kubeconfig(kc, srv.port, {"token": "wrong"}, ca)
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces"])
        t.ok(rc == 1 and "HTTP 401" in out, "wrong token gives 401", err + out)

        kubeconfig(kc, srv.port, {"token": TOKEN}, {})
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces"])
        t.ok(rc == 1 and "certificate" in err.lower(), "unknown CA is refused", err + out)

        kubeconfig(kc, srv.port, {"token": TOKEN}, {"insecure-skip-tls-verify": True})
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces"])
        t.ok(rc == 0, "insecure-skip-tls-verify only when the kubeconfig says so", err + out)

        plugin, count = os.path.join(d, "plugin.sh"), os.path.join(d, "count")
        with open(plugin, "w") as f:
            f.write("#!/bin/sh\n"
                    "echo run >> %s\n"
                    "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 3;; esac\n"
                    "[ \"$FOO\" = bar ] || exit 4\n"
                    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                    "\"ExecCredential\",\"status\":{\"token\":\"%%s\",\"expirationTimestamp\":"
                    "\"2099-01-01T00:00:00Z\"}}' \"$1\"\n" % count)
        os.chmod(plugin, 0o755)
        kubeconfig(kc, srv.port, {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                           "command": plugin, "args": [TOKEN],
                                           "env": [{"name": "FOO", "value": "bar"}],
                                           "interactiveMode": "Never"}}, ca)
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces", "/api/v1/namespaces"])
        runs = open(count).read().count("run") if os.path.exists(count) else 0
        t.ok(rc == 0 and out.count("HTTP 200") == 2 and runs == 1,
             "exec plugin credential, cached until expiry (runs=%d)" % runs, err + out)

        # Client certificate and key held in memory: nothing may appear in TMPDIR.
        tmp = os.path.join(d, "tmpdir")
        os.mkdir(tmp)
        env = dict(os.environ, TMPDIR=tmp)
        kubeconfig(kc, srv.port, {"token": TOKEN, "client-certificate-data": b64(ccrt),
                                  "client-key-data": b64(ckey)}, ca)
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces"], env=env)
        t.ok(rc == 0 and os.listdir(tmp) == [], "client cert/key from -data, no temp files",
             err + out + str(os.listdir(tmp)))
        kubeconfig(kc, srv.port, {"token": TOKEN, "client-certificate-data": b64(ccrt),
                                  "client-key-data": base64.b64encode(b"garbage").decode()}, ca)
        rc, out, err = get(["--kubeconfig", kc, "/api/v1/namespaces"], env=env)
        t.ok(rc == 1 and "error" in err, "a corrupt client key is an error, not ignored", err)

        # In-cluster: service account files; the token is re-read when it rotates.
        sa = os.path.join(d, "sa")
        os.mkdir(sa)
        shutil.copy(crt, os.path.join(sa, "ca.crt"))
        with open(os.path.join(sa, "namespace"), "w") as f:
            f.write("default")
        with open(os.path.join(sa, "token"), "w") as f:
            f.write(TOKEN + "\n")
        env = dict(os.environ, KUBERNETES_SERVICE_HOST="127.0.0.1",
                   KUBERNETES_SERVICE_PORT=str(srv.port), TC_SERVICEACCOUNT_DIR=sa)
        env.pop("KUBECONFIG", None)

        def rotate(content):
            time.sleep(0.8)
            tmpf = os.path.join(sa, "token.new")
            with open(tmpf, "w") as f:
                f.write(content)
            os.utime(tmpf, (time.time() + 5, time.time() + 5))
            os.rename(tmpf, os.path.join(sa, "token"))  # kubelet swaps atomically

        th = threading.Thread(target=rotate, args=("rotated-bad-token\n",))
        th.start()
        rc, out, err = get(["--sleep-ms", "2000", "/api/v1/namespaces", "/api/v1/namespaces"],
                           env=env)
        th.join()
        t.ok(out.count("HTTP 200") == 1 and "HTTP 401" in out,
             "in-cluster token file re-read after rotation (old token no longer sent)", err + out)
        with open(os.path.join(sa, "token"), "w") as f:
            f.write(TOKEN)
        rc, out, err = get(["/api/v1/namespaces"], env=env)
        t.ok(rc == 0, "in-cluster with the service-account CA and token", err + out)
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
