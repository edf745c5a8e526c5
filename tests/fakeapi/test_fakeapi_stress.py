#!/usr/bin/python3
"""Concurrency: 4 writer threads and 12 watchers (some label-filtered) on one server. Every
watcher must see exactly the matching events, in resourceVersion order, with no loss."""

import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests'))
from fakeapi_util import Server, read_events  # noqa: E402
from tclib import Tap  # noqa: E402

CM = '/api/v1/namespaces/default/configmaps'
WRITERS, PER_WRITER = 4, 60  # each object: create, update, delete = 3 events


def main():
    t = Tap()
    s = Server('--history', '100000')
    try:
        run(t, s)
    finally:
        s.stop()
    t.done()


def run(t, s):
    rv = s.req('GET', CM)[1]['metadata']['resourceVersion']
    total = WRITERS * PER_WRITER * 3
    watchers = []
    for i in range(12):
        sel = '&labelSelector=w%%3D%d' % (i % 4) if i % 3 == 0 else ''
        resp = s.watch(CM + '?watch=true&resourceVersion=%s%s' % (rv, sel), timeout=60)
        watchers.append((i, sel, resp, []))
    for _ in range(100):
        if len(s.admin('GET', 'watches')['watches']) == 12:
            break
        time.sleep(0.02)
    errors = []

    def writer(w):
        for j in range(PER_WRITER):
            name = 's-%d-%d' % (w, j)
            body = {'apiVersion': 'v1', 'kind': 'ConfigMap',
                    'metadata': {'name': name, 'labels': {'w': str(w)}}, 'data': {'j': str(j)}}
            for code, method, path, b in ((201, 'POST', CM, body),
                                          (200, 'PATCH', CM + '/' + name, {'data': {'x': '1'}}),
                                          (200, 'DELETE', CM + '/' + name, None)):
                got = s.req(method, path, b, ctype='application/merge-patch+json'
                            if method == 'PATCH' else 'application/json')[0]
                if got != code:
                    errors.append((method, path, got))

    def reader(entry):
        i, sel, resp, out = entry
        want = PER_WRITER * 3 if sel else total
        out.extend(read_events(resp, want))
        resp.close()

    readers = [threading.Thread(target=reader, args=(w,)) for w in watchers]
    for r in readers:
        r.start()
    t0 = time.time()
    ths = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    dt = time.time() - t0
    for r in readers:
        r.join(30)
    t.ok(not errors, '%d writes from %d threads succeeded (%.0f writes/s with 12 watchers)'
         % (total, WRITERS, total / dt), errors[:10])
    bad = []
    for i, sel, resp, evs in watchers:
        rvs = [int(e['object']['metadata']['resourceVersion']) for e in evs]
        want = PER_WRITER * 3 if sel else total
        names = {e['object']['metadata']['name'] for e in evs}
        ok = len(evs) == want and rvs == sorted(rvs) and len(set(rvs)) == len(rvs)
        if sel:
            w = sel.rsplit('D', 1)[1]
            ok = ok and all(n.startswith('s-%s-' % w) for n in names)
        per = {}
        for e in evs:
            per.setdefault(e['object']['metadata']['name'], []).append(e['type'])
        ok = ok and all(v == ['ADDED', 'MODIFIED', 'DELETED'] for v in per.values())
        if not ok:
            bad.append((i, sel, len(evs), want))
    t.ok(not bad, 'every watcher saw exactly its events in order (ADDED, MODIFIED, DELETED)',
         json.dumps(bad))


if __name__ == '__main__':
    main()
