#!/usr/bin/env python3
"""The controller and our compactor daemon agree, end to end.

For every example in crds/examples/ and every golden render case that renders
(tests/golden/render/*/expected.yaml), the controller's rendered manifests are
checked against what the daemon needs:

- the ConfigMap's tempo.yaml passes `tempo-compactor verify-config
  -config.file=<file> -config.expand-env` (the daemon's own loader and
  validation, exit 0) and produces no "config key is not used" warning at all
  (the controller no longer renders Tempo's v2_* keys);
- it sets compactor.state_dir under the Deployment's writable emptyDir;
- the Deployment runs the daemon image with Tempo-style args, a readiness probe
  on /ready (initialDelaySeconds 1) and a liveness probe on /live, never on /ready;
- the daemon started with the Deployment's own args (loopback, any port,
  the bucket pointed at a real Ceph RGW started once for this test) answers
  /live with 200 and /ready with 200 within 2 s of start. Without radosgw the
  /ready part is skipped and /live is still checked.

The check can fail: a tempo.yaml with an unknown key, a gcs backend or a
missing bucket is fed to verify-config and must be rejected.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests"))
from tclib import COMPACTOR as DAEMON, CONTROLLER as CTRL, Tap, http_get, need, rgw_down, rgw_up  # noqa: E402

GOLDEN = os.path.join(TOP, "tests", "golden", "render")
EXAMPLES = os.path.join(TOP, "crds", "examples")
VERSION = open(os.path.join(TOP, "VERSION")).read().strip()
ARGS = ["-target=compactor", "-config.file=/conf/tempo.yaml", "-config.expand-env=true"]
UNUSED = "config key is not used"

tap = Tap()


def render(cr_path):
    p = subprocess.run([CTRL, "render", "-f", cr_path, "-o", "json"], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("render failed: " + p.stderr)
    docs = json.loads(p.stdout)
    cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
    dep = [d for d in docs if d["kind"] == "Deployment"][0]
    return cm["data"]["tempo.yaml"], dep


def verify(tempo_yaml, d):
    path = os.path.join(d, "tempo.yaml")
    with open(path, "w") as f:
        f.write(tempo_yaml)
    p = subprocess.run([DAEMON, "verify-config", "-config.file=" + path, "-config.expand-env"],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def check_deployment(dep, cr):
    pod = dep["spec"]["template"]["spec"]
    (ctr,) = pod["containers"]
    want_image = cr["spec"].get("image", "tempo-compactor:" + VERSION)
    assert ctr["image"] == want_image, ctr["image"]
    assert ctr["args"] == ARGS, ctr["args"]
    rp, lp = ctr["readinessProbe"], ctr.get("livenessProbe")
    assert rp["httpGet"] == {"path": "/ready", "port": "http-metrics"}, rp
    assert (rp["initialDelaySeconds"], rp["periodSeconds"], rp["failureThreshold"]) == (1, 5, 3), rp
    assert lp is not None, "no livenessProbe"
    assert lp["httpGet"] == {"path": "/live", "port": "http-metrics"}, lp
    assert (lp["periodSeconds"], lp["failureThreshold"]) == (10, 3), lp
    # the state dir must live on the writable emptyDir: the root filesystem is read-only
    assert ctr["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["name"]: m["mountPath"] for m in ctr["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in vols["data"] and mounts["data"] == "/var/tempo", (mounts, vols)


def check_tempo_yaml(tempo_yaml):
    import yaml
    cfg = yaml.safe_load(tempo_yaml)
    assert cfg["compactor"]["state_dir"] == "/var/tempo/compactor", cfg["compactor"]
    assert cfg["storage"]["trace"]["backend"] == "s3", cfg["storage"]["trace"]
    assert not any(k.startswith("v2_") for k in cfg["compactor"]["compaction"]), \
        cfg["compactor"]["compaction"]


RGW = {}  # RGW_ENDPOINT, RGW_ACCESS_KEY, RGW_SECRET_KEY once started
BUCKET = "tempo-integration"


def start_rgw(d):
    """One single-node Ceph + RGW on loopback for the whole test (~14 s)."""
    if not shutil.which("radosgw"):
        return "radosgw not installed"
    RGW.update(rgw_up(d))
    import boto3
    boto3.client("s3", endpoint_url="http://" + RGW["RGW_ENDPOINT"],
                 aws_access_key_id=RGW["RGW_ACCESS_KEY"],
                 aws_secret_access_key=RGW["RGW_SECRET_KEY"],
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return None


def run_daemon(tempo_yaml, dep, d):
    """Start the daemon with the Deployment's args on loopback. /live must
    answer 200 and, with RGW up, /ready 200 within 2 s of start (readiness is
    one LIST of the bucket; it never waits on the first poll). Returns the
    seconds to ready, or None without RGW."""
    path = os.path.join(d, "tempo.yaml")
    with open(path, "w") as f:
        f.write(tempo_yaml)
    args = [a.replace("/conf/tempo.yaml", path)
            for a in dep["spec"]["template"]["spec"]["containers"][0]["args"]]
    args += ["-server.http_listen_address=127.0.0.1", "-server.http_listen_port=0",
             "-compactor.state_dir=" + os.path.join(d, "state")]
    env = dict(os.environ)
    if RGW:
        # the cluster's endpoint and bucket replaced by the local RGW; the
        # credentials come from the environment, as envFrom gives them in a pod
        args += ["-storage.trace.s3.endpoint=" + RGW["RGW_ENDPOINT"],
                 "-storage.trace.s3.bucket=" + BUCKET, "-storage.trace.s3.insecure=true",
                 "-storage.trace.s3.forcepathstyle=true"]
        env.update(AWS_ACCESS_KEY_ID=RGW["RGW_ACCESS_KEY"],
                   AWS_SECRET_ACCESS_KEY=RGW["RGW_SECRET_KEY"])
    else:
        env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    t0 = time.time()
    proc = subprocess.Popen([DAEMON] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    out, port = "", None
    try:
        while time.time() < t0 + 10:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
            if "server listening" in line:
                for tok in line.split():
                    if tok.startswith("addr=") or tok.startswith("port="):
                        port = tok.split(":")[-1].split("=")[-1].strip('"')
                break
        assert port and port.isdigit(), "no listening port in:\n" + out
        code, body = http_get("http://127.0.0.1:%s/live" % port)
        assert code == 200, "/live: %s %s" % (code, body)
        if not RGW:
            return None
        ready = None
        while time.time() < t0 + 2:
            code, _ = http_get("http://127.0.0.1:%s/ready" % port)
            if code == 200:
                ready = time.time() - t0
                break
            time.sleep(0.05)
        assert ready is not None, "/ready not 200 within 2 s of start:\n" + out
        return ready
    finally:
        proc.terminate()
        try:
            out += proc.communicate(timeout=10)[0] or ""
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        bad = [ln for ln in out.splitlines() if UNUSED in ln]
        assert not bad, "\n".join(bad)


def case(name, cr_path):
    import yaml
    cr = yaml.safe_load(open(cr_path))
    try:
        tempo_yaml, dep = render(cr_path)
        check_deployment(dep, cr)
        check_tempo_yaml(tempo_yaml)
        with tempfile.TemporaryDirectory() as d:
            rc, out = verify(tempo_yaml, d)
            assert rc == 0 and "config ok" in out, "verify-config exit %d:\n%s" % (rc, out)
            assert UNUSED not in out, out
            ready = run_daemon(tempo_yaml, dep, d)
        if ready is None:
            tap.skip("%s: verify-config ok, no unused keys, probes, /live 200" % name,
                     "/ready needs radosgw")
        else:
            tap(True, "%s: verify-config ok, no unused keys, probes /ready+/live, "
                "ready %.2f s after start" % (name, ready))
    except Exception as e:  # noqa: BLE001 - every failure is reported as TAP
        tap(False, name, e)


def negative(name, tempo_yaml, want):
    """verify-config must reject what the daemon cannot run (the check can fail)."""
    with tempfile.TemporaryDirectory() as d:
        rc, out = verify(tempo_yaml, d)
    tap(rc == 1 and want in out, "verify-config rejects %s" % name,
        "exit %d, want %r in:\n%s" % (rc, want, out))


def main():
    need(tap, "controller render vs daemon", built=[CTRL, DAEMON])
    rgw_dir = tempfile.mkdtemp(prefix="tc-render-daemon-rgw.")
    try:
        run_all(rgw_dir)
    finally:
        rgw_down(rgw_dir)
        shutil.rmtree(rgw_dir, ignore_errors=True)


def run_all(rgw_dir):
    try:
        why = start_rgw(rgw_dir)
        if why:
            tap.skip("rgw for the readiness checks", why)
        else:
            tap(True, "rgw for the readiness checks started")
    except Exception as e:  # noqa: BLE001
        tap(False, "rgw for the readiness checks", e)
    for ex in sorted(os.listdir(EXAMPLES)):
        if ex.endswith(".yaml"):
            case("crds/examples/" + ex, os.path.join(EXAMPLES, ex))
    for c in sorted(os.listdir(GOLDEN)):
        if os.path.exists(os.path.join(GOLDEN, c, "expected.yaml")):
            case("golden " + c, os.path.join(GOLDEN, c, "cr.yaml"))
    tempo_yaml, _ = render(os.path.join(GOLDEN, "01-minimal-s3", "cr.yaml"))
    negative("an unknown key", tempo_yaml.replace("compaction:\n", "compaction:\n    typo_key: 1\n", 1),
             "typo_key")
    negative("the gcs backend", tempo_yaml.replace("backend: s3", "backend: gcs"),
             "storage.trace.backend")
    negative("a missing bucket",
             "\n".join(ln for ln in tempo_yaml.splitlines() if "bucket:" not in ln) + "\n",
             "storage.trace.s3.bucket: required")
    # the unused-key check has teeth: a v2_* key is accepted with the warning we forbid
    with tempfile.TemporaryDirectory() as d:
        rc, out = verify(tempo_yaml.replace(
            "compaction:\n", "compaction:\n    v2_in_buffer_bytes: 5242880\n", 1), d)
    tap(rc == 0 and UNUSED in out, "a v2_* key would be flagged as unused (exit %d)" % rc, out)


if __name__ == "__main__":
    # a timeout's SIGTERM still runs main's finally (RGW stopped)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
    tap.done()
