#!/usr/bin/env python3
"""A hostile local bucket (issue #14), end to end: the daemon polls, compacts and applies
retention (block_retention 1m, so every block is due) on a bucket holding
  - tenant directories named %2e%2e, with a newline, and of 250 characters (a local
    directory name stops at 255 bytes; `..`, NUL and 300+ characters cannot be names on
    a local disk: test_backend.c refuses them as keys);
  - a tenant and a block that are symlinks to directories outside the bucket;
  - a meta.json of 300 MB (sparse) and one of 100k nesting levels;
  - a gzip bomb as index.json.gz and a zstd bomb as index.pb.zst of a tenant.
The daemon runs in a child; the test reads its peak RSS (wait4's rusage of that child). It
must not crash, must stay under RSS_MAX_MB, must name each bad key in its log, and must
never write or delete anything outside the bucket through the symlinks."""
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tclib import COMPACTOR, Tap, free_port, http_get, need, wait  # noqa: E402

RSS_MAX_MB = 64


def gen(d, tenant, seed):
    subprocess.run([COMPACTOR, "parquet", "gen", d, "--tenant", tenant, "--traces", "20",
                    "--spans", "3", "--seed", str(seed), "--start",
                    str(int(time.time()) - 7 * 86400), "--span", "900"],
                   check=True, capture_output=True)
    return json.load(open(os.path.join(d, "meta.json")))["blockID"]


def tree(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            out[p] = os.path.getsize(p)
    return out


def main():
    t = Tap()
    need(t, "hostile bucket", built=[COMPACTOR])
    tmp = tempfile.mkdtemp(prefix="tc-hostile.")
    p = None
    try:
        bucket, outside = os.path.join(tmp, "bucket"), os.path.join(tmp, "outside")
        os.makedirs(bucket)
        os.makedirs(outside)
        # good tenant with a normal block, so there is real work next to the hostile input
        good = os.path.join(bucket, "good")
        os.makedirs(good)
        bid = gen(os.path.join(tmp, "g1"), "good", 1)
        shutil.move(os.path.join(tmp, "g1"), os.path.join(good, bid))
        names = {"%2e%2e": "pct", "new\nline": "newline", "x" * 250: "long"}
        for i, name in enumerate(names):
            d = os.path.join(bucket, name)
            os.makedirs(d)
            b = gen(os.path.join(tmp, "h%d" % i), "good", 10 + i)
            shutil.move(os.path.join(tmp, "h%d" % i), os.path.join(d, b))
        # symlinks out of the bucket: a whole tenant, and one block inside "good"
        os.makedirs(os.path.join(outside, "tenant"))
        ob = gen(os.path.join(outside, "tenant", "blk"), "good", 20)
        os.rename(os.path.join(outside, "tenant", "blk"), os.path.join(outside, "tenant", ob))
        os.symlink(os.path.join(outside, "tenant"), os.path.join(bucket, "linked"))
        ob2 = gen(os.path.join(outside, "blk2"), "good", 21)
        os.symlink(os.path.join(outside, "blk2"), os.path.join(good, ob2))
        before_outside = tree(outside)
        # huge and deep metas, and index bombs, in tenant "bombs"
        bombs = os.path.join(bucket, "bombs")
        huge_id, deep_id = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
        for x in (huge_id, deep_id):
            os.makedirs(os.path.join(bombs, x))
        with open(os.path.join(bombs, huge_id, "meta.json"), "wb") as f:
            f.write(b'{"format":"vParquet4","blockID":"' + huge_id.encode() + b'","x":"')
            f.truncate(300 << 20)  # sparse: 300 MB that cost no disk
        with open(os.path.join(bombs, deep_id, "meta.json"), "w") as f:
            f.write("[" * 100000 + "]" * 100000)
        with gzip.open(os.path.join(bombs, "index.json.gz"), "wb", compresslevel=9) as f:
            chunk = b" " * (1 << 20)
            for _ in range(1024):  # 1 GiB of whitespace inflated, ~1 MB on disk
                f.write(chunk)
        zstd = shutil.which("zstd")
        if zstd:
            raw = os.path.join(tmp, "zeros")
            with open(raw, "wb") as f:
                f.truncate(1 << 30)
            subprocess.run([zstd, "-q", "-19", raw, "-o", os.path.join(bombs, "index.pb.zst")],
                           check=True)
            os.unlink(raw)

        port = free_port()
        cfg = os.path.join(tmp, "tempo.yaml")
        open(cfg, "w").write("""target: compactor
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
storage:
  trace:
    backend: local
    local:
      path: %s
    blocklist_poll: 1s
compactor:
  compaction:
    compaction_cycle: 100ms
    block_retention: 1m
    compacted_block_retention: 0s
""" % (port, bucket))
        log = os.path.join(tmp, "daemon.log")
        with open(log, "w") as lf:
            p = subprocess.Popen([COMPACTOR, "-config.file=" + cfg], stdout=lf,
                                 stderr=subprocess.STDOUT)
            polls = lambda: json.loads(http_get("http://127.0.0.1:%d/status/blocklist" % port)[1])["poller"]["polls"]  # noqa: E731
            ran = wait(lambda: polls() >= 5, 60, 0.5)
            live = http_get("http://127.0.0.1:%d/live" % port)[0]
            alive = p.poll() is None
            p.send_signal(signal.SIGTERM)
            # the daemon's own rusage (not zstd's or the generators'): wait4 on its pid
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = rc = os.waitstatus_to_exitcode(status)
            p = None
        rss_mb = ru.ru_maxrss / 1024.0
        text = open(log, errors="replace").read()
        t.ok(ran and alive and live == 200 and rc == 0,
             "the daemon polls 5 times on the hostile bucket, stays live, exits 0 (rc %s)" % rc,
             text[-3000:])
        t.ok(rss_mb < RSS_MAX_MB, "peak RSS %.1f MiB under the bombs (bound %d MiB)"
             % (rss_mb, RSS_MAX_MB))
        for name, why in names.items():
            shown = json.dumps(name)[1:-1]
            t.ok(shown in text or name in text, "tenant dir %r (%s) is refused, the log names it"
                 % (name[:20], why), text[-2000:])
        for key in (huge_id, deep_id):
            t.ok(any(key in line and ("meta" in line) for line in text.splitlines()),
                 "bombs/%s/meta.json is refused with an error naming it" % key,
                 "\n".join(ln for ln in text.splitlines() if "bombs" in ln)[-2000:])
        t.ok(any("bombs" in ln and "index" in ln for ln in text.splitlines()),
             "the tenant index bombs of tenant bombs are refused, naming the file",
             "\n".join(ln for ln in text.splitlines() if "bombs" in ln)[-2000:])
        t.ok(tree(outside) == before_outside,
             "nothing outside the bucket was written or deleted through the symlinks "
             "(%d files, all older than block_retention)" % len(before_outside))
        t.ok(not os.path.exists(os.path.join(good, bid, "meta.json")),
             "retention did run: the ordinary block past block_retention was marked")
    finally:
        if p and p.poll() is None:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
