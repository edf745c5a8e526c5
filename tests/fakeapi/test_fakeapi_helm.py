#!/usr/bin/python3
"""Real helm 3.17 against the fake API server: install/upgrade --wait, list, status, uninstall."""

import base64
import gzip
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests'))
from fakeapi_util import Server, have_tools  # noqa: E402
from tclib import Tap  # noqa: E402

CHART = os.path.join(HERE, 'testdata', 'chart')


def main():
    t = Tap()
    if not have_tools():
        t.skip_all('helm flows', 'no .tools/bin/helm (run hack/install-deps.sh)')
    s = Server('--deploy-delay-ms', '300')
    try:
        run(t, s)
    finally:
        s.stop()
    t.done()


def objs(s, path):
    code, body, _ = s.req('GET', path)
    return body.get('items', []) if code == 200 else []


def run(t, s):
    t0 = time.time()
    rc, out, err = s.helm('install', 'demo', CHART, '--wait', '--timeout', '60s',
                          '--create-namespace', '-n', 'apps')
    dt = time.time() - t0
    t.ok(rc == 0 and 'STATUS: deployed' in out, 'helm install --wait (%.1fs)' % dt, out + err)

    code, dep, _ = s.req('GET', '/apis/apps/v1/namespaces/apps/deployments/demo-web')
    st = dep.get('status', {}) if code == 200 else {}
    t.ok(st.get('readyReplicas') == 1 and
         st.get('observedGeneration') == dep['metadata']['generation'] and
         any(c['type'] == 'Available' and c['status'] == 'True'
             for c in st.get('conditions', [])),
         'fake Deployment controller reported the Deployment ready', json.dumps(dep))
    rs = objs(s, '/apis/apps/v1/namespaces/apps/replicasets')
    t.ok(len(rs) == 1 and rs[0]['metadata']['ownerReferences'][0]['uid'] ==
         dep['metadata']['uid'], 'ReplicaSet owned by the Deployment', json.dumps(rs)[:2000])
    code, svc, _ = s.req('GET', '/api/v1/namespaces/apps/services/demo-web')
    t.ok(code == 200 and svc['spec'].get('clusterIP', '').startswith('10.96.'),
         'Service got a clusterIP', json.dumps(svc))
    code, g, _ = s.req('GET', '/apis/fake.test.dev/v1/namespaces/apps/gadgets/demo-gadget')
    t.ok(code == 200 and g['spec'] == {'size': 3, 'owner': 'demo'},
         'CRD from crds/ installed and the CR created', json.dumps(g))

    # the release Secret arrived as protobuf and is readable as JSON with its labels
    sec = objs(s, '/api/v1/namespaces/apps/secrets?labelSelector=owner%3Dhelm,name%3Ddemo')
    ok = False
    if len(sec) == 1:
        rel = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(
            sec[0]['data']['release']))))
        ok = rel.get('name') == 'demo' and sec[0]['metadata']['labels']['status'] == 'deployed'
    t.ok(ok, 'release Secret (protobuf body) stored with labels and decodable data',
         json.dumps(sec)[:1000])
    protobuf_posts = [r for r in s.admin('GET', 'requests')['requests']
                      if r['path'].endswith('/secrets') and r['method'] == 'POST' and
                      'protobuf' in r['contentType']]
    t.ok(len(protobuf_posts) == 1 and protobuf_posts[0]['status'] == 201,
         'helm POSTed the release Secret as protobuf', json.dumps(protobuf_posts))

    rc, out, err = s.helm('list', '-n', 'apps')
    t.ok(rc == 0 and 'demo' in out and 'deployed' in out and 'fakeapi-demo-0.1.0' in out,
         'helm list', out + err)

    t0 = time.time()
    rc, out, err = s.helm('upgrade', 'demo', CHART, '-n', 'apps', '--wait', '--timeout', '60s',
                          '--set', 'replicas=3', '--set', 'message=bye', '--set', 'gadgetSize=5')
    dt = time.time() - t0
    t.ok(rc == 0 and 'REVISION: 2' in out, 'helm upgrade --wait (%.1fs)' % dt, out + err)
    code, dep, _ = s.req('GET', '/apis/apps/v1/namespaces/apps/deployments/demo-web')
    t.ok(dep['spec']['replicas'] == 3 and dep['status'].get('readyReplicas') == 3 and
         dep['metadata']['generation'] == 2, 'upgrade scaled the Deployment (generation 2)',
         json.dumps(dep)[:2000])
    code, cm, _ = s.req('GET', '/api/v1/namespaces/apps/configmaps/demo-config')
    code2, g, _ = s.req('GET', '/apis/fake.test.dev/v1/namespaces/apps/gadgets/demo-gadget')
    t.ok(cm['data'] == {'message': 'bye'} and g['spec']['size'] == 5,
         'upgrade patched the ConfigMap (SMP) and the CR (merge patch)', json.dumps([cm, g]))
    reqs = s.admin('GET', 'requests')['requests']
    kinds = {(r['path'].rsplit('/', 2)[-2], r['contentType']) for r in reqs
             if r['method'] == 'PATCH' and r['status'] == 200}
    t.ok(('configmaps', 'application/strategic-merge-patch+json') in kinds and
         ('gadgets', 'application/merge-patch+json') in kinds,
         'helm used SMP for the ConfigMap and merge patch for the CR', json.dumps(sorted(kinds)))
    rs = objs(s, '/apis/apps/v1/namespaces/apps/replicasets')
    t.ok(len(rs) == 1 and rs[0]['spec']['replicas'] == 3,
         'template change replaced the ReplicaSet', json.dumps(rs)[:1500])

    rc, out, err = s.helm('status', 'demo', '-n', 'apps')
    t.ok(rc == 0 and 'REVISION: 2' in out and 'STATUS: deployed' in out, 'helm status',
         out + err)
    rc, out, err = s.helm('history', 'demo', '-n', 'apps')
    t.ok(rc == 0 and 'superseded' in out and 'Upgrade complete' in out, 'helm history',
         out + err)

    rc, out, err = s.helm('upgrade', 'demo', CHART, '-n', 'apps', '--set', 'gadgetSize=0')
    t.ok(rc != 0 and 'spec.size in body should be greater than or equal to 1' in err,
         'helm upgrade with a CR that breaks the CRD schema fails with the field error',
         out + err)

    rc, out, err = s.helm('uninstall', 'demo', '-n', 'apps', '--wait', '--timeout', '60s')
    t.ok(rc == 0 and 'uninstalled' in out, 'helm uninstall --wait', out + err)
    left = {p: objs(s, p) for p in ('/apis/apps/v1/namespaces/apps/deployments',
                                    '/apis/apps/v1/namespaces/apps/replicasets',
                                    '/api/v1/namespaces/apps/services',
                                    '/api/v1/namespaces/apps/configmaps',
                                    '/api/v1/namespaces/apps/secrets',
                                    '/apis/fake.test.dev/v1/namespaces/apps/gadgets')}
    t.ok(all(v == [] for v in left.values()),
         'uninstall removed everything (ReplicaSet by owner cascade)', json.dumps(left)[:1500])
    code, crd, _ = s.req('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/'
                         'gadgets.fake.test.dev')
    t.ok(code == 200, 'CRD from crds/ kept after uninstall (as helm does)', crd)
    rc, out, err = s.helm('list', '-n', 'apps')
    t.ok(rc == 0 and 'demo' not in out, 'helm list is empty after uninstall', out + err)


if __name__ == '__main__':
    main()
