#!/usr/bin/env python3
"""hack/bench/poll_rgw.py - the blocklist poll over real HTTP: Ceph RGW behind
tests/s3/faultproxy.py (the one S3 proxy, used here for
latency only), side by side with a reference of Tempo 2.7's algorithm
(poll_bench tempo) over the same client, store and requests in flight.

Called by hack/bench/poll (MODE=rgw or both). Environment:
  TENANTS, PER        bucket shape (10 x 10,000)
  LATS                per-request latencies in ms ("20 50")
  RGW_DIR             where RGW runs; reused when its env answers, and kept
                      running afterwards with KEEP_RGW=1 (the upload of 1.4 M
                      objects takes ~30 min on 2 cores, so keep it between runs)
  GEN_DIR             the generated local bucket to upload (kept)
  ONLY, REPEAT        one tuning only ("seed" or "tempo-defaults"); n alternating
                      runs of the reference and ours per cell, minimum of each
Prints key=value lines and a table; exits 1 when a goal is missed.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.path.join(TOP, "build/bench/poll_bench")
TENANTS = int(os.environ.get("TENANTS", "10"))
PER = int(os.environ.get("PER", "10000"))
LATS = [float(x) for x in os.environ.get("LATS", "20 50").split()]
RGW_DIR = os.environ.get("RGW_DIR", os.path.join(TOP, "build/bench/rgw"))
GEN_DIR = os.environ.get("GEN_DIR", os.path.join(TOP, "build/bench/poll-bucket"))
IDX = os.path.join(os.environ.get("TC_SHARED", os.path.join(TOP, "../shared")),
                   "testdata/tempo-blocks/backend-test-bucket/3/index.json.gz")
BUCKET = os.environ.get("BENCH_BUCKET", "poll-bench-%dx%d" % (TENANTS, PER))
# (name, poll_concurrency, tenant_concurrency, list_blocks_concurrency)
TUNINGS = [("tempo-defaults", 50, 1, 3), ("seed", 250, 3, 120)]
# ONLY=seed keeps one tuning; REPEAT=n runs each cell's cold poll and the
# reference n times, alternating, and reports the minimum of each (one run
# per cell cannot tell the machine's load from a cause)
TUNINGS = [t for t in TUNINGS if os.environ.get("ONLY", t[0]) == t[0]]
if not TUNINGS:
    sys.exit("poll_rgw.py: ONLY=%s names no tuning (tempo-defaults, seed)" % os.environ["ONLY"])
REPEAT = int(os.environ.get("REPEAT", "1"))
STATE = os.path.join(RGW_DIR, "bench.state")


def env_of(d):
    return dict(l.strip().split("=", 1) for l in open(os.path.join(d, "env")) if "=" in l)


def answers(ep):
    try:
        with socket.create_connection(tuple([ep.split(":")[0], int(ep.split(":")[1])]), 2):
            return True
    except OSError:
        return False


def rgw():
    if os.path.exists(os.path.join(RGW_DIR, "env")) and answers(env_of(RGW_DIR)["RGW_ENDPOINT"]):
        return env_of(RGW_DIR), False
    subprocess.run(["bash", os.path.join(TOP, "hack/rgw-up.sh"), RGW_DIR], check=True,
                   stdout=subprocess.DEVNULL)
    return env_of(RGW_DIR), True


def bench(args, env, check=True):
    r = subprocess.run([B] + args, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit("poll_bench %s failed: %s" % (" ".join(args), r.stderr[-2000:]))
    return {k: float(v) for k, v in re.findall(r"^(\w+)=([-0-9.e+]+)$", r.stdout, re.M)}


def proxy(upstream, lat):
    p = subprocess.Popen([sys.executable, os.path.join(TOP, "tests/s3/faultproxy.py"), "0", upstream,
                          "--delay-ms", str(lat)], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"ready (\d+)", line)
    if not m:
        sys.exit("delay proxy did not start: " + line)
    return p, int(m.group(1))


def daemon_ready(env, storage, tun, workdir):
    """The real daemon, compaction off, on a cold bucket: seconds to /ready =
    200 and to the first poll's end (its /status/blocklist), the poll running
    in the background. storage is the backend's YAML under storage.trace
    (4-space indent, list_blocks_concurrency included); tun as in TUNINGS. Used by both modes of hack/bench/poll."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = os.path.join(workdir, "daemon")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    cfg = os.path.join(workdir, "daemon.yaml")
    open(cfg, "w").write(
        "server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: %d\n"
        "storage:\n  trace:\n%s"
        "    blocklist_poll_concurrency: %d\n    blocklist_poll_tenant_concurrency: %d\n"
        "compactor:\n  disabled: true\n  state_dir: %s\n" % (port, storage, tun[1], tun[2], d))

    def get(path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
                return r.status, r.read().decode()
        except Exception as e:
            return 0, str(e)
    t0 = time.time()
    p = subprocess.Popen([os.path.join(TOP, "build/bin/tempo-compactor"), "-config.file=" + cfg],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = done = None
    while time.time() - t0 < 1200 and p.poll() is None:
        if ready is None and get("/ready")[0] == 200:
            ready = time.time() - t0
        if ready is not None:
            st, body = get("/status/blocklist")
            if st == 200 and json.loads(body).get("first_poll_done"):
                done = time.time() - t0
                break
        time.sleep(0.01 if ready is None else 0.1)
    p.terminate()
    p.wait()
    if ready is None or done is None:
        sys.exit("daemon: not ready (%s) or first poll not done (%s)" % (ready, done))
    return ready, done


def main():
    if not os.path.exists(IDX):
        print("skipped: no ../shared")
        return 0
    e, started = rgw()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=e["RGW_ACCESS_KEY"],
               AWS_SECRET_ACCESS_KEY=e["RGW_SECRET_KEY"], BENCH_S3_BUCKET=BUCKET,
               BENCH_S3_ENDPOINT=e["RGW_ENDPOINT"])
    try:
        return run(e, env)
    finally:
        if started and os.environ.get("KEEP_RGW") != "1":
            subprocess.run(["bash", os.path.join(TOP, "hack/rgw-down.sh"), RGW_DIR])


def run(e, env):
    import boto3
    s3 = boto3.client("s3", endpoint_url="http://" + e["RGW_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=e["RGW_ACCESS_KEY"],
                      aws_secret_access_key=e["RGW_SECRET_KEY"])
    marker = "bench-uploaded"  # written last: a bucket without it is re-uploaded
    try:
        s3.head_object(Bucket=BUCKET, Key=marker)
        print("# reusing bucket %s on RGW" % BUCKET)
    except Exception:
        try:
            s3.create_bucket(Bucket=BUCKET)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        if not os.path.isdir(os.path.join(GEN_DIR, "tenant-00")):
            bench(["gen", GEN_DIR, IDX, str(TENANTS), str(PER)], env)
        t0 = time.time()
        up = bench(["upload", GEN_DIR, "48"], env)
        print("# uploaded %d objects in %.0f s" % (up["upload_objects"], time.time() - t0))
        s3.put_object(Bucket=BUCKET, Key=marker, Body=b"")

    # The server's own pace for this request mix: the reference at the seed's
    # tuning straight to RGW, no added latency. A poll cannot beat it.
    bench(["clear", "s3"], env)
    srv = bench(["tempo", "s3", "3", "250", "120"], env)
    srv_req = srv["tempo_requests_list"] + srv["tempo_requests_get"] + srv["tempo_requests_put"]
    rate = srv_req / srv["tempo_seconds"]
    print("server_requests_per_second=%.0f (reference poll straight to RGW, %d requests in %.1f s)"
          % (rate, srv_req, srv["tempo_seconds"]))
    rows, missed = [], []
    for lat in LATS:
        pr, port = proxy(e["RGW_ENDPOINT"], lat)
        penv = dict(env, BENCH_S3_ENDPOINT="127.0.0.1:%d" % port)
        try:
            for tun in TUNINGS:
                name, pc, tc, sh = tun
                conc = [str(tc), str(pc), str(sh)]
                colds, refs = [], []
                for rep in range(REPEAT):
                    # the reference first, so that our cold poll's state and
                    # indexes are what the warm starts below find
                    bench(["clear", "s3"], penv)
                    refs.append(bench(["tempo", "s3"] + conc, penv))
                    bench(["clear", "s3"], penv)
                    if os.path.exists(STATE):
                        os.unlink(STATE)
                    colds.append(bench(["run", "s3", STATE, "0", str(tc), str(pc), str(sh)], penv))
                    if REPEAT > 1:
                        print("# lat=%.0fms %s run %d: ours %.2f s, reference %.2f s" % (
                            lat, name, rep + 1, colds[-1]["poll_seconds"],
                            refs[-1]["tempo_seconds"]), flush=True)
                cold = min(colds, key=lambda x: x["poll_seconds"])
                ref = min(refs, key=lambda x: x["tempo_seconds"])
                warm = bench(["run", "s3", STATE, "0", str(tc), str(pc), str(sh)], penv)
                os.unlink(STATE)
                warmi = bench(["run", "s3", STATE, "0", str(tc), str(pc), str(sh)], penv)
                os.unlink(STATE)
                req = cold["requests_list"] + cold["requests_get"] + cold["requests_put"] \
                    + cold["requests_delete"]
                lb = req * lat / 1000 / (tc * pc)
                sb = max(lb, req / rate)
                r = dict(lat=lat, tuning=name, inflight=tc * pc, req=req, lb=lb, sb=sb,
                         cold=cold["poll_seconds"], cold_ready=cold["ready_seconds"],
                         warm=warm["ready_seconds"], warmi=warmi["ready_seconds"],
                         warm_gets=warm["meta_gets"], warmi_gets=warmi["meta_gets"],
                         warm_req=warm["requests_list"] + warm["requests_get"] + warm["requests_put"],
                         ref=ref["tempo_seconds"],
                         ref_req=ref["tempo_requests_list"] + ref["tempo_requests_get"]
                         + ref["tempo_requests_put"])
                rows.append(r)
                print("lat=%.0fms tuning=%s in_flight=%d cold_seconds=%.2f (blocklist ready %.2f) "
                      "requests=%d lower_bound=%.2f ratio=%.2f server_bound=%.2f ratio=%.2f "
                      "tempo27_seconds=%.2f tempo27_requests=%d ours/tempo27=%.2f "
                      "warm_ready_state=%.2f warm_ready_index=%.2f warm_meta_gets=%d/%d "
                      "warm_requests=%d" % (
                          lat, name, tc * pc, r["cold"], r["cold_ready"], req, lb,
                          r["cold"] / lb, sb, r["cold"] / sb, r["ref"], r["ref_req"],
                          r["cold"] / r["ref"], r["warm"], r["warmi"], r["warm_gets"],
                          r["warmi_gets"], r["warm_req"]), flush=True)
                if r["cold"] / lb > 1.3:
                    missed.append("lat=%.0f %s: cold/lower bound %.2f > 1.3%s" % (
                        lat, name, r["cold"] / lb,
                        " (the server's pace: bound %.1f s at %.0f req/s)" % (req / rate, rate)
                        if req / rate > lb else ""))
                if r["cold"] >= r["ref"]:
                    missed.append("lat=%.0f %s: not faster than the Tempo 2.7 reference (%.2f >= %.2f s)"
                                  % (lat, name, r["cold"], r["ref"]))
                if r["warm_gets"] or r["warmi_gets"]:
                    missed.append("lat=%.0f %s: warm meta GETs %d/%d" % (
                        lat, name, r["warm_gets"], r["warmi_gets"]))
            seed = [t for t in TUNINGS if t[0] == "seed"]
            if lat == LATS[0] and seed:
                bench(["clear", "s3"], penv)
                ready, done = daemon_ready(
                    penv, "    backend: s3\n    s3:\n      endpoint: 127.0.0.1:%d\n      bucket: %s\n"
                    "      insecure: true\n      forcepathstyle: true\n"
                    "      list_blocks_concurrency: %d\n" % (port, BUCKET, seed[0][3]),
                    seed[0], RGW_DIR)
                ref = [x for x in rows if x["lat"] == lat and x["tuning"] == "seed"][0]["ref"]
                print("daemon_time_to_ready_seconds=%.3f first_poll_done_seconds=%.1f "
                      "(tempo 2.7 design: ready after its first poll, >= %.1f s here, +60 s ring "
                      "wait when sharded)" % (ready, done, ref))
                if ready >= 1:
                    missed.append("daemon /ready took %.2f s (goal < 1 s)" % ready)
        finally:
            pr.terminate()
            pr.wait()
    print("\n| latency | tuning (poll / tenants / shards) | in flight | cold poll | lower bound "
          "| ratio | server-paced bound | ratio | Tempo 2.7 ref | ours / ref | warm ready (state / index) "
          "| warm meta GETs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t = [x for x in TUNINGS if x[0] == r["tuning"]][0]
        print("| %.0f ms | %s (%d / %d / %d) | %d | %.1f s | %.1f s | %.2f | %.1f s | %.2f | %.1f s | %.2f "
              "| %.2f / %.2f s | %d / %d |" % (
                  r["lat"], r["tuning"], t[1], t[2], t[3], r["inflight"], r["cold"], r["lb"],
                  r["cold"] / r["lb"], r["sb"], r["cold"] / r["sb"], r["ref"], r["cold"] / r["ref"],
                  r["warm"], r["warmi"], r["warm_gets"], r["warmi_gets"]))
    for m in missed:
        print("MISSED: " + m)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
