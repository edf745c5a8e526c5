#!/usr/bin/python3
"""Malformed requests against the fake API server: every answer is a 4xx Status, never a 5xx
or a dropped connection, and the server keeps serving (seeded, bounded: 1500 requests)."""

import json
import os
import random
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests'))
from fakeapi_util import Server  # noqa: E402
from tclib import Tap  # noqa: E402

PATHS = ['/api/v1/namespaces/default/configmaps', '/api/v1/namespaces/default/configmaps/x',
         '/apis/apps/v1/namespaces/default/deployments/d',
         '/apis/apps/v1/namespaces/default/deployments/d/scale',
         '/apis/apps/v1/namespaces/default/deployments/d/status', '/api/v1/namespaces/zz',
         '/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects/so',
         '/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects/so/status',
         '/apis/x/y', '/apis/apps/v1/deployments', '/api/v1/namespaces/default/configmaps/x/y/z/w',
         '/apis/apiextensions.k8s.io/v1/customresourcedefinitions']
QUERIES = ['', '?limit=abc', '?limit=-1', '?labelSelector=((', '?labelSelector=a%20in%20',
           '?fieldSelector=zz', '?resourceVersion=abc', '?continue=garbage',
           '?watch=true&timeoutSeconds=abc', '?resourceVersion=-5&watch=true&timeoutSeconds=0.1',
           '?fieldManager=x&force=true', '?dryRun=All',
           '?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&timeoutSeconds=0.1']
BODIES = [None, b'', b'{', b'[]', b'null', b'"s"', b'{"metadata":[]}',
          b'{"metadata":{"name":5}}', b'{"metadata":{"name":"UPPER"}}',
          b'{"spec":{"replicas":"x"}}', b'[{"op":"bogus"}]', b'[{"op":"add"}]',
          b'[{"op":"add","path":"x","value":1}]', b'{"metadata":{"name":"x","labels":"s"}}',
          b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"1"}}',
          b'{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",'
          b'"metadata":{"name":"a.b"},"spec":{"group":"b","names":{"plural":"a","kind":"A"},'
          b'"scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,'
          b'"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-validations":'
          b'[{"rule":"self.("}]}}}]}}',
          b'k8s\x00\x0a\x02\x0a\x00\x12\x05', b'\xff\xfe', b'{"status":null}', b'{"spec":null}',
          b'{"metadata":{"name":"x","ownerReferences":[{"uid":1}]}}',
          b'{"propagationPolicy":"Orphan","preconditions":[]}']
CTYPES = ['application/json', 'application/merge-patch+json',
          'application/strategic-merge-patch+json', 'application/json-patch+json',
          'application/apply-patch+yaml', 'application/vnd.kubernetes.protobuf', 'text/plain']


def main():
    t = Tap()
    s = Server('--keda', '--bookmark-interval', '0.05')
    try:
        rnd = random.Random(7)
        bad = []
        for _ in range(1500):
            m = rnd.choice(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
            p = rnd.choice(PATHS) + rnd.choice(QUERIES)
            b = rnd.choice(BODIES) if m != 'GET' else None
            r = urllib.request.Request(s.url + p, data=b, method=m,
                                       headers={'Content-Type': rnd.choice(CTYPES)})
            try:
                with urllib.request.urlopen(r, timeout=5) as resp:
                    code, out = resp.status, resp.read()
            except urllib.error.HTTPError as e:
                code, out = e.code, e.read()
            except Exception as e:  # a dropped connection counts as a failure
                bad.append((m, p, b, repr(e)))
                continue
            if code >= 500:
                bad.append((m, p, b, code, out[:200]))
            elif code >= 400:
                try:
                    st = json.loads(out)
                    ok = st.get('kind') == 'Status' and st.get('code') == code and \
                        st.get('message')
                except ValueError:
                    ok = False
                if not ok:
                    bad.append((m, p, b, code, 'not a Status', out[:200]))
        t.ok(not bad, '1500 malformed requests: only 2xx or 4xx Status answers',
             '\n'.join(repr(x) for x in bad[:20]))
        t.ok('internal error' not in s.log(), 'no internal error in the server log',
             s.log()[-2000:])
        code, body, _ = s.req('GET', '/api/v1/namespaces/default/configmaps')
        t.ok(code in (200, 404) and s.req('GET', '/version')[0] == 200,
             'server still serves after the malformed requests', body)
    finally:
        s.stop()
    t.done()


if __name__ == '__main__':
    main()
