#!/usr/bin/env python3
"""S3 faults (issue #14): the daemon on Ceph RGW through tests/s3/faultproxy.py.

1. The same bucket twice, once straight to RGW, once through the proxy injecting
   FAULT_RATE (5%) faults: 500, 503, SlowDown, resets (before and after the store
   did the work), stalls past storage.trace.s3.request_timeout, truncated bodies,
   latency spikes. Each run polls, compacts and applies retention until the bucket
   settles. Both end with the same result: the same live blocks (window, objects,
   trace IDs), the same (trace ID, span ID) pairs, the same inputs marked compacted,
   the same blocks deleted by retention, the same blocklist size; the faulty run's
   retries show in tempo_compactor_backend_retries_total (and the clean run has none).
2. A total outage (the proxy resets every connection): /live and /ready stay 200, the
   blocklist is kept, the log and /status/blocklist say why; when S3 returns the next
   poll succeeds and sees a block written during the outage.

env: FAULT_RATE (default 0.05), FAULT_SEED."""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tclib import COMPACTOR, TOP, Tap, free_port, http_get, need, rgw_down, rgw_up, wait  # noqa: E402

TENANT = "faults"
RATE = float(os.environ.get("FAULT_RATE", "0.05"))
SEED = int(os.environ.get("FAULT_SEED", "7"))
RECENT_WINDOWS, PER_WINDOW = 4, 4
REQUEST_TIMEOUT_MS, STALL_MS = 1000, 2500


def gen(tmp, n, start, seed, shared_seed):
    d = os.path.join(tmp, "gen-%d" % n)
    subprocess.run([COMPACTOR, "parquet", "gen", d, "--tenant", TENANT, "--traces", "40",
                    "--spans", "4", "--seed", str(seed), "--start", str(start), "--span", "900",
                    "--shared", "10", "--shared-seed", str(shared_seed), "--shared-same",
                    str(n % 2), "--shared-start", str(start), "--rg-bytes", "4000"],
                   check=True, capture_output=True)
    with open(os.path.join(d, "meta.json")) as f:
        return json.load(f)["blockID"], d


def gen_bucket(tmp):
    """{blockID: (dir, kind)}: kind "recent" (RECENT_WINDOWS 1h windows of PER_WINDOW
    blocks, 3 days old: each window compacts into one block), "old" (one block per
    window, 200 h old: retention marks it compacted), "expired" (uploaded compacted:
    retention deletes it once compacted_block_retention has passed; the compacted time is
    the object's mtime on S3, as in Tempo, so the retention is short)."""
    now = int(time.time())
    out, n = {}, 0
    for w in range(RECENT_WINDOWS):
        start = (now // 3600 - 72 - w) * 3600 + 600
        for _ in range(PER_WINDOW):
            n += 1
            bid, d = gen(tmp, n, start, n, 100 + w)
            out[bid] = (d, "recent")
    for kind, hours in (("old", 200), ("old", 201), ("expired", 90), ("expired", 91)):
        n += 1
        bid, d = gen(tmp, n, (now // 3600 - hours) * 3600 + 600, n, 200 + n)
        out[bid] = (d, kind)
        if kind == "expired":
            mp = os.path.join(d, "meta.json")
            m = json.load(open(mp))
            m["compactedTime"] = (datetime.datetime.now(datetime.timezone.utc) -
                                  datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
            json.dump(m, open(os.path.join(d, "meta.compacted.json"), "w"))
            os.unlink(mp)
    return out


class Bucket:
    def __init__(self, s3, name, tmp):
        self.s3, self.name, self.tmp = s3, name, tmp
        s3.create_bucket(Bucket=name)

    def put_block(self, bid, d):
        """meta files last, as Tempo writes a block."""
        for f in sorted(os.listdir(d), key=lambda f: f.startswith("meta")):
            self.s3.upload_file(os.path.join(d, f), self.name, "%s/%s/%s" % (TENANT, bid, f))

    def objects(self):
        """{blockID: {file: size}}"""
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name,
                                                                       Prefix=TENANT + "/"):
            for o in page.get("Contents", []):
                parts = o["Key"].split("/")
                if len(parts) == 3:
                    out.setdefault(parts[1], {})[parts[2]] = o["Size"]
        return out

    def cli(self, what, bid):
        p = os.path.join(self.tmp, "dl-%s-%s.parquet" % (self.name, bid))
        if not os.path.exists(p):
            self.s3.download_file(self.name, "%s/%s/data.parquet" % (TENANT, bid), p)
        r = subprocess.run([COMPACTOR, "parquet", what, p], capture_output=True, text=True,
                           check=True)
        return r.stdout

    def result(self, originals):
        """What a run leaves, without the new blocks' random IDs."""
        objs = self.objects()
        live, pairs = [], set()
        for bid, fs in objs.items():
            if "meta.json" not in fs:
                continue
            m = json.loads(self.s3.get_object(Bucket=self.name, Key="%s/%s/meta.json" % (
                TENANT, bid))["Body"].read())
            ids = tuple(sorted(self.cli("ids", bid).split()))
            live.append((m["startTime"], m["endTime"], m["totalObjects"], m["size"] > 0, ids))
            pairs |= set(tuple(line.split()) for line in self.cli("spans", bid).splitlines()
                         if line.strip())
        return {
            "live": sorted(live),
            "pairs": pairs,
            "compacted": sorted(b for b in originals if "meta.compacted.json" in objs.get(b, {})
                                and "meta.json" not in objs[b]),
            "deleted": sorted(b for b in originals if b not in objs),
            "leftover_blocks": sorted(b for b, fs in objs.items()
                                      if "meta.json" not in fs and "meta.compacted.json" not in fs),
        }


def settled(b, blocks):
    """Every recent window in one live block; every original block marked compacted (by
    compaction or retention) and then deleted by retention."""
    objs = b.objects()
    live = [x for x, fs in objs.items() if "meta.json" in fs]
    return len(live) == RECENT_WINDOWS and all(x not in objs for x in blocks)


def config(path, endpoint, bucket, state, port):
    with open(path, "w") as f:
        f.write("""target: compactor
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
  graceful_shutdown_timeout: 5s
storage:
  trace:
    backend: s3
    s3:
      endpoint: %s
      bucket: %s
      insecure: true
      forcepathstyle: true
      request_timeout: %dms
      max_retries: 5
    blocklist_poll: 2s
compactor:
  state_dir: %s
  compaction:
    compaction_cycle: 100ms
    compaction_window: 1h
    block_retention: 150h
    compacted_block_retention: 5s
""" % (port, endpoint, bucket, REQUEST_TIMEOUT_MS, state))


def metric(body, name, labels=None):
    """Sum of the samples of name whose labels include labels."""
    total = 0.0
    for m in re.finditer(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), body, re.M):
        ls = m.group(1) or ""
        if all('%s="%s"' % kv in ls for kv in (labels or {}).items()):
            total += float(m.group(2))
    return total


def retries_by_reason(body):
    out = {}
    for m in re.finditer(r'^tempo_compactor_backend_retries_total\{[^}]*reason="([^"]+)"[^}]*\} '
                         r'(\S+)$', body, re.M):
        out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
    return out


class Daemon:
    def __init__(self, tmp, name, endpoint, bucket, env):
        self.port = free_port()
        self.state = os.path.join(tmp, "state-" + name)
        self.cfg = os.path.join(tmp, "tempo-%s.yaml" % name)
        self.logpath = os.path.join(tmp, "daemon-%s.log" % name)
        config(self.cfg, endpoint, bucket, self.state, self.port)
        self.log = open(self.logpath, "w")
        self.p = subprocess.Popen([COMPACTOR, "-config.file=" + self.cfg], stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env)

    def get(self, path):
        return http_get("http://127.0.0.1:%d%s" % (self.port, path), timeout=5)

    def blocklist(self):
        st, body = self.get("/status/blocklist")
        return json.loads(body) if st == 200 else None

    def logtext(self):
        return open(self.logpath, errors="replace").read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


def start_proxy(tmp, upstream):
    out = os.path.join(tmp, "proxy.out")
    f = open(out, "w")
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(TOP, "tests", "s3", "faultproxy.py"), "0",
                          upstream, "--fault-rate", str(RATE), "--seed", str(SEED),
                          "--stall-ms", str(STALL_MS), "--spike-ms", "400"],
                         stdout=f, stderr=subprocess.STDOUT)
    ready = wait(lambda: re.search(r"^ready (\d+)$", open(out).read(), re.M), 10)
    if not ready:
        raise AssertionError("faultproxy did not start: " + open(out).read())
    return p, out, int(ready.group(1))


def run_cycles(t, tmp, name, endpoint, bucket, blocks, env):
    """Runs the daemon on bucket until it settles; returns (daemon, metrics body)."""
    d = Daemon(tmp, name, endpoint, bucket.name, env)
    t0 = time.time()

    def done():
        st, body = d.get("/metrics")
        return (st == 200 and metric(body, "tempodb_compaction_outstanding_blocks",
                                     {"tenant": TENANT}) == 0 and settled(bucket, blocks))
    ok = wait(done, 300, 1)
    # one more poll and retention pass after settling, so the blocklist has caught up
    polls = (d.blocklist() or {}).get("poller", {}).get("polls", 0)
    wait(lambda: d.blocklist()["poller"]["polls"] >= polls + 2, 30, 0.5)
    st, body = d.get("/metrics")
    t.ok(ok and d.p.poll() is None, "%s: poll + compaction + retention cycles settle (%.0f s)"
         % (name, time.time() - t0), d.logtext()[-3000:])
    return d, body


def main():
    t = Tap()
    need(t, "s3 faults", built=[COMPACTOR])
    try:
        import boto3
    except ImportError:
        t.skip_all("s3 faults", "boto3 missing")
    if not shutil.which("radosgw"):
        t.skip_all("s3 faults", "radosgw missing")
    tmp = tempfile.mkdtemp(prefix="tc-s3faults.")
    rgw, proxy, daemons = os.path.join(tmp, "rgw"), None, []
    try:
        env = rgw_up(rgw)
        s3 = boto3.client("s3", endpoint_url="http://" + env["RGW_ENDPOINT"],
                          aws_access_key_id=env["RGW_ACCESS_KEY"],
                          aws_secret_access_key=env["RGW_SECRET_KEY"], region_name="us-east-1")
        denv = dict(os.environ, AWS_ACCESS_KEY_ID=env["RGW_ACCESS_KEY"],
                    AWS_SECRET_ACCESS_KEY=env["RGW_SECRET_KEY"])
        blocks = gen_bucket(tmp)
        clean, faulty = Bucket(s3, "clean", tmp), Bucket(s3, "faulty", tmp)
        for bid, (d, _) in blocks.items():
            clean.put_block(bid, d)
            faulty.put_block(bid, d)

        d1, m1 = run_cycles(t, tmp, "clean", env["RGW_ENDPOINT"], clean, blocks, denv)
        daemons.append(d1)
        bl1 = d1.blocklist()
        d1.stop()
        want = clean.result(blocks)
        t.ok(len(want["live"]) == RECENT_WINDOWS and len(want["deleted"]) == len(blocks) and
             not want["leftover_blocks"],
             "clean: %d live blocks, %d inputs marked compacted, %d deleted by retention, "
             "%d (trace, span) pairs" % (len(want["live"]), len(want["compacted"]),
                                         len(want["deleted"]), len(want["pairs"])), str(want)[:2000])
        t.ok(metric(m1, "tempo_compactor_backend_retries_total") == 0,
             "clean: no retries counted without faults", str(retries_by_reason(m1)))

        proxy, plog, pport = start_proxy(tmp, env["RGW_ENDPOINT"])
        d2, m2 = run_cycles(t, tmp, "faulty", "127.0.0.1:%d" % pport, faulty, blocks, denv)
        daemons.append(d2)
        got = faulty.result(blocks)
        faults = {}
        for m in re.finditer(r"^fault (\S+) ", open(plog).read(), re.M):
            faults[m.group(1)] = faults.get(m.group(1), 0) + 1
        st, stats = http_get("http://127.0.0.1:%d/__proxy_stats" % pport)
        nreq = int(stats.split()[0]) if st == 200 else 0
        t.ok(set(faults) == {"500", "503", "slowdown", "reset", "reset-after", "stall", "truncate",
                             "spike"} and sum(faults.values()) >= 0.03 * nreq,
             "faulty: %d faults injected in %d requests (%s)" % (
                 sum(faults.values()), nreq, ", ".join("%s %d" % kv for kv in sorted(faults.items()))))
        for key in ("live", "compacted", "deleted", "leftover_blocks"):
            t.ok(got[key] == want[key], "faulty: the same %s as without faults (%d)" % (
                key.replace("_", " "), len(want[key])), "want %s\ngot  %s" % (want[key], got[key]))
        t.ok(got["pairs"] == want["pairs"], "faulty: the same %d (trace ID, span ID) pairs"
             % len(want["pairs"]), "missing %d, extra %d" % (len(want["pairs"] - got["pairs"]),
                                                            len(got["pairs"] - want["pairs"])))
        bl2 = d2.blocklist()
        t.ok(bl1 and bl2 and bl1["blocks"] == bl2["blocks"],
             "faulty: the same blocklist size (%s)" % (bl1 or {}).get("blocks"), "%s\n%s" % (bl1, bl2))
        rr = retries_by_reason(m2)
        t.ok(all(rr.get(k, 0) > 0 for k in ("500", "503", "slowdown", "network", "timeout")),
             "faulty: retries in /metrics by reason: %s" % ", ".join(
                 "%s %d" % kv for kv in sorted(rr.items())), str(rr))

        # total outage: the proxy resets every connection
        before = d2.blocklist()
        polls0 = before["poller"]["polls"]
        logpos = len(d2.logtext())
        proxy.send_signal(signal.SIGUSR1)
        now = int(time.time())
        nid, nd = gen(tmp, 999, (now // 3600 - 30) * 3600 + 600, 999, 1999)
        faulty.put_block(nid, nd)  # written straight to RGW, during the outage
        t_out = time.time()
        failing = wait(lambda: d2.blocklist()["poller"]["consecutive_failures"] >= 3, 60, 0.5)
        during = d2.blocklist() or {}
        live_st, _ = d2.get("/live")
        ready_st, _ = d2.get("/ready")
        err = (during.get("poller") or {}).get("last_error") or ""
        t.ok(failing and live_st == 200 and ready_st == 200 and d2.p.poll() is None,
             "outage: %d polls failed in %.0f s; the daemon stays live (%d) and ready (%d)"
             % ((during.get("poller") or {}).get("consecutive_failures", 0), time.time() - t_out,
                live_st, ready_st), json.dumps(during)[:1500])
        t.ok(during.get("blocks") == before["blocks"],
             "outage: the last blocklist is kept (%s blocks)" % before["blocks"],
             "%s -> %s" % (before.get("blocks"), during.get("blocks")))
        t.ok(re.search(r"reset|connect|recv|send|Failure", err, re.I) is not None,
             "outage: /status/blocklist says why: %s" % err[:160], json.dumps(during)[:1500])
        tail = d2.logtext()[logpos:]
        t.ok("failed to poll blocklist; keeping the last blocklist" in tail and
             re.search(r"failed to list tenants.*err=", tail) is not None,
             "outage: the log says why, and that the blocklist is kept",
             tail[-1500:])
        proxy.send_signal(signal.SIGUSR2)
        t_back = time.time()
        resumed = wait(lambda: (lambda b: b["poller"]["consecutive_failures"] == 0 and
                                b["blocks"] == before["blocks"] + 1 and
                                b["poller"]["last_error"] is None)(d2.blocklist()), 60, 0.5)
        t.ok(resumed and d2.blocklist()["poller"]["polls"] > polls0,
             "outage over: the next poll succeeds within %.1f s and sees the block written "
             "during the outage" % (time.time() - t_back), json.dumps(d2.blocklist())[:1500])
        t.ok(d2.stop() == 0, "faulty: the daemon exits 0 on SIGTERM", d2.logtext()[-1500:])
    except Exception as e:
        import traceback
        t.ok(False, "s3 faults ran", "".join(traceback.format_exception(e))[-3000:])
    finally:
        for d in daemons:
            if d.p.poll() is None:
                d.p.kill()
        if proxy:
            proxy.kill()
            proxy.wait()
        rgw_down(rgw)
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
