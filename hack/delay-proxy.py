#!/usr/bin/env python3
"""hack/delay-proxy.py - HTTP proxy on loopback that adds latency and faults.

usage: delay-proxy.py LISTEN_PORT UPSTREAM_HOST:PORT [--delay-ms N] [--fail-every N]
                      [--ignore-start-after] [--log-requests]

Forwards each request unchanged (Host header included, so SigV4 still
verifies) after sleeping --delay-ms; every --fail-every'th request gets a
503 SlowDown instead. --ignore-start-after imitates stores that ignore
ListObjectsV2 start-after (Tempo issue #4241): it drops the parameter and
re-signs the request with $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY.
--log-requests prints "req METHOD PATH" as each request arrives, before
the delay (tests use it to act between two requests of a client).
Prints "ready" when listening.
"""
import argparse
import http.client
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("upstream")
ap.add_argument("--delay-ms", type=float, default=0)
ap.add_argument("--fail-every", type=int, default=0)
ap.add_argument("--ignore-start-after", action="store_true")
ap.add_argument("--log-requests", action="store_true")
args = ap.parse_args()
uh, up = args.upstream.rsplit(":", 1)
lock = threading.Lock()
count = [0, 0]  # requests, injected failures
local = threading.local()

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b'<Message>injected by delay-proxy</Message></Error>')


def resign_without_start_after(path, host):
    import os
    from urllib.parse import parse_qsl, urlencode, quote
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    base, _, q = path.partition("?")
    params = [(k, v) for k, v in parse_qsl(q, keep_blank_values=True) if k != "start-after"]
    newq = urlencode(sorted(params), quote_via=quote, safe="-_.~")
    req = AWSRequest(method="GET", url="http://%s%s?%s" % (host, base, newq))
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    hdrs = dict(req.headers.items())
    hdrs["Host"] = host  # signed from the URL; http.client would send the upstream's
    return base + "?" + newq, hdrs


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if args.log_requests:
            with lock:
                print("req %s %s" % (self.command, self.path), flush=True)
        with lock:
            count[0] += 1
            fail = args.fail_every and count[0] % args.fail_every == 0
            if fail:
                count[1] += 1
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000.0)
        if self.path == "/__proxy_stats":
            data = ("%d %d\n" % (count[0], count[1])).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if fail:
            self.send_response(503)
            self.send_header("Content-Length", str(len(SLOWDOWN)))
            self.end_headers()
            self.wfile.write(SLOWDOWN)
            return
        path, hdrs = self.path, {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        if args.ignore_start_after and "start-after=" in path:
            path, hdrs = resign_without_start_after(path, self.headers["Host"])
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(uh, int(up), timeout=60)
        try:
            conn.request(self.command, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            local.conn = None
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


srv = ThreadingHTTPServer(("127.0.0.1", args.port), H)
srv.daemon_threads = True
# LISTEN_PORT 0 lets the kernel pick a free port; callers read it from here,
# so a port that some other socket holds can never make the proxy vanish.
print("ready %d" % srv.server_address[1], flush=True)
sys.stdout.flush()
srv.serve_forever()
