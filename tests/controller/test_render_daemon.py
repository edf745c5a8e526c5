#!/usr/bin/env python3
"""The tempo.yaml that render puts into the ConfigMap is accepted by our
compactor daemon with the Deployment's own args: for every golden case with
a backend the daemon supports (s3), the daemon parses the config (unknown keys
are fatal there) and starts listening. Warnings for Tempo keys it ignores
(v2_* buffers) are allowed."""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("TC_BUILD", "build")
CTRL = os.path.join(TOP, BUILD, "bin", "tempo-compactor-controller")
DAEMON = os.path.join(TOP, BUILD, "bin", "tempo-compactor")
GOLDEN = os.path.join(TOP, "tests", "golden", "render")


def main():
    cases = sorted(c for c in os.listdir(GOLDEN)
                   if os.path.exists(os.path.join(GOLDEN, c, "expected.yaml")))
    n = 0
    failed = 0
    for c in cases:
        n += 1
        if not (os.access(CTRL, os.X_OK) and os.access(DAEMON, os.X_OK)):
            print("ok %d - %s # SKIP binaries not built" % (n, c))
            continue
        p = subprocess.run([CTRL, "render", "-f", os.path.join(GOLDEN, c, "cr.yaml"), "-o",
                            "json"], capture_output=True, text=True, timeout=30)
        docs = json.loads(p.stdout)
        cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
        dep = [d for d in docs if d["kind"] == "Deployment"][0]
        tempo = cm["data"]["tempo.yaml"]
        if "backend: s3" not in tempo:
            print("ok %d - %s # SKIP the daemon supports the s3 backend only" % (n, c))
            continue
        args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tempo.yaml")
            with open(path, "w") as f:
                f.write(tempo)
            args = [a.replace("/conf/tempo.yaml", path) for a in args]
            # loopback, any port, a writable state dir: the pod's /var/tempo is an emptyDir
            args += ["-server.http_listen_address=127.0.0.1", "-server.http_listen_port=0",
                     "-compactor.state_dir=" + os.path.join(d, "state")]
            proc = subprocess.Popen([DAEMON] + args, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            out = ""
            deadline = time.time() + 10
            while time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                out += line
                if "server listening" in line:
                    break
            proc.terminate()
            try:
                rest = proc.communicate(timeout=10)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                rest = proc.communicate()[0]
            out += rest or ""
        bad = [ln for ln in out.splitlines() if "level=error" in ln and "backend" not in ln]
        if "server listening" in out and not bad:
            print("ok %d - %s: daemon accepts the rendered tempo.yaml" % (n, c))
        else:
            failed += 1
            print("not ok %d - %s: daemon rejected the rendered tempo.yaml" % (n, c))
            for ln in out.splitlines()[:20]:
                print("#   " + ln)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
