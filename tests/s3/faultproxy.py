#!/usr/bin/env python3
"""tests/s3/faultproxy.py - HTTP proxy on loopback in front of an S3 store, adding
latency and faults. The one fault proxy of the tests (test_s3.sh, compactstore.py,
tests/integration/test_s3_faults.py).

usage: faultproxy.py LISTEN_PORT UPSTREAM_HOST:PORT [--delay-ms N] [--fail-every N]
                     [--fault-rate R --faults KIND,... --seed N --stall-ms N --spike-ms N]
                     [--ignore-start-after] [--log-requests]

Forwards each request unchanged (Host header included, so SigV4 still verifies).
  --delay-ms N       every request waits N ms first;
  --fail-every N     every N'th request gets a 503 SlowDown;
  --fault-rate R     each request gets a fault with probability R (seeded by --seed),
                     one of --faults picked at random:
                       500       500 InternalError, not forwarded
                       503       503 ServiceUnavailable, not forwarded
                       slowdown  503 SlowDown, not forwarded
                       reset     connection reset (RST) before forwarding
                       reset-after  forwarded, then reset instead of the answer
                                 (the store did the work; the client never hears)
                       stall     held for --stall-ms (past the client's timeout), then closed
                       truncate  forwarded; the answer's headers promise the whole body,
                                 half of it is sent, then the connection closes
                       spike     --spike-ms extra latency, then forwarded normally
  --ignore-start-after  imitates stores that ignore ListObjectsV2 start-after (Tempo issue
                     #4241): drops the parameter and re-signs the request with
                     $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY;
  --log-requests     prints "req METHOD PATH" as each request arrives, before the delay.

Each injected fault prints "fault KIND METHOD PATH". SIGUSR1 starts a total outage:
every connection is reset as soon as it is accepted ("outage-reset" lines); SIGUSR2 ends
it. GET /__proxy_stats answers "REQUESTS FAILURES" (not during an outage).
Prints "ready PORT" when listening (LISTEN_PORT 0: the kernel picks a free port).
"""
import argparse
import http.client
import random
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("500", "503", "slowdown", "reset", "reset-after", "stall", "truncate", "spike")

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("upstream")
ap.add_argument("--delay-ms", type=float, default=0)
ap.add_argument("--fail-every", type=int, default=0)
ap.add_argument("--fault-rate", type=float, default=0)
ap.add_argument("--faults", default=",".join(KINDS))
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--stall-ms", type=float, default=3000)
ap.add_argument("--spike-ms", type=float, default=500)
ap.add_argument("--ignore-start-after", action="store_true")
ap.add_argument("--log-requests", action="store_true")
args = ap.parse_args()
kinds = [k for k in args.faults.split(",") if k]
for k in kinds:
    if k not in KINDS:
        sys.exit("faultproxy: unknown fault %r (one of %s)" % (k, ", ".join(KINDS)))
uh, up = args.upstream.rsplit(":", 1)
lock = threading.Lock()
count = [0, 0]  # requests, injected failures
rng = random.Random(args.seed)
outage = threading.Event()
local = threading.local()


def s3_error(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
            '<Message>%s (injected by faultproxy)</Message></Error>' % (code, msg)).encode()


ERRORS = {"500": (500, s3_error("InternalError", "We encountered an internal error")),
          "503": (503, s3_error("ServiceUnavailable", "Service unavailable")),
          "slowdown": (503, s3_error("SlowDown", "Please reduce your request rate"))}


def emit(line):
    with lock:
        print(line, flush=True)


def reset(sock):
    """Close with RST instead of FIN: the client sees 'connection reset by peer'."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


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


class Dropped(Exception):
    """The connection was reset or closed on purpose; nothing more is sent."""


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except Dropped:
            self.close_connection = True

    def pick_fault(self):
        with lock:
            count[0] += 1
            if args.fail_every and count[0] % args.fail_every == 0:
                count[1] += 1
                return "slowdown"
            if args.fault_rate and kinds and rng.random() < args.fault_rate:
                count[1] += 1
                return rng.choice(kinds)
        return None

    def drop(self, kind):
        emit("fault %s %s %s" % (kind, self.command, self.path))
        if kind == "stall":
            time.sleep(args.stall_ms / 1000.0)
            self.connection.close()
        else:
            reset(self.connection)
        raise Dropped()

    def answer(self, status, data, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def forward(self, body):
        path, hdrs = self.path, {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        if args.ignore_start_after and "start-after=" in path:
            path, hdrs = resign_without_start_after(path, self.headers["Host"])
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(uh, int(up), timeout=60)
        try:
            conn.request(self.command, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return r.status, r.read(), [(k, v) for k, v in r.getheaders() if k.lower() not in
                                        ("transfer-encoding", "connection", "content-length")]
        except Exception:
            local.conn = None
            return 502, b"", []

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if args.log_requests:
            emit("req %s %s" % (self.command, self.path))
        if outage.is_set():  # a kept-alive connection from before the outage
            emit("outage-reset")
            reset(self.connection)
            raise Dropped()
        if self.path == "/__proxy_stats":
            with lock:
                data = ("%d %d\n" % (count[0], count[1])).encode()
            return self.answer(200, data)
        fault = self.pick_fault()
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000.0)
        if fault in ERRORS:
            emit("fault %s %s %s" % (fault, self.command, self.path))
            return self.answer(*ERRORS[fault])
        if fault in ("reset", "stall"):
            self.drop(fault)
        if fault == "spike":
            emit("fault spike %s %s" % (self.command, self.path))
            time.sleep(args.spike_ms / 1000.0)
        status, data, hdrs = self.forward(body)
        if fault == "reset-after":
            self.drop(fault)
        if fault == "truncate" and self.command != "HEAD" and len(data) >= 2:
            emit("fault truncate %s %s" % (self.command, self.path))
            self.send_response(status)
            for k, v in hdrs:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.connection.close()
            raise Dropped()
        self.answer(status, data, hdrs)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog of 5 drops the SYNs of a client that opens
    # hundreds of connections at once (a poll with 120 list shards x 3
    # tenants), and each dropped SYN costs a 1-3 s retransmit: the proxy, not
    # the latency it models, would set the pace.
    request_queue_size = 1024

    def verify_request(self, request, client_address):
        if outage.is_set():
            emit("outage-reset")
            reset(request)
            return False
        return True


signal.signal(signal.SIGUSR1, lambda *_: outage.set())
signal.signal(signal.SIGUSR2, lambda *_: outage.clear())
srv = Server(("127.0.0.1", args.port), H)
print("ready %d" % srv.server_address[1], flush=True)
srv.serve_forever()
