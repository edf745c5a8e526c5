#!/usr/bin/python3
"""Fake API server semantics over raw HTTP: CRUD, list/watch/410, patches, SSA, scale,
cascade, finalizers, protobuf, CRD validation, and the fault switches."""

import http.client
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests'))
import kproto  # noqa: E402
from fakeapi_util import Server, read_events  # noqa: E402
from tclib import Tap  # noqa: E402

CM = '/api/v1/namespaces/default/configmaps'
DEP = '/apis/apps/v1/namespaces/default/deployments'
W = '/apis/fake.test.dev/v1/namespaces/default/things'

THING_CRD = {
    'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition',
    'metadata': {'name': 'things.fake.test.dev'},
    'spec': {'group': 'fake.test.dev', 'scope': 'Namespaced',
             'names': {'plural': 'things', 'singular': 'thing', 'kind': 'Thing'},
             'versions': [{
                 'name': 'v1', 'served': True, 'storage': True,
                 'subresources': {'status': {}, 'scale': {
                     'specReplicasPath': '.spec.replicas',
                     'statusReplicasPath': '.status.replicas',
                     'labelSelectorPath': '.status.selector'}},
                 'schema': {'openAPIV3Schema': {
                     'type': 'object',
                     'properties': {
                         'spec': {
                             'type': 'object',
                             'x-kubernetes-validations': [
                                 {'rule': 'self.minReplicas <= self.maxReplicas',
                                  'message': 'minReplicas must not exceed maxReplicas'},
                                 {'rule': "!has(self.bucket) || self.bucket.startsWith('b-')",
                                  'message': 'bucket must start with b-',
                                  'fieldPath': '.bucket'},
                                 {'rule': 'quantity(self.size).isGreaterThan(quantity("1Gi"))',
                                  'message': 'unsupported on purpose'}],
                             'properties': {
                                 'replicas': {'type': 'integer', 'minimum': 0},
                                 'minReplicas': {'type': 'integer', 'default': 1},
                                 'maxReplicas': {'type': 'integer', 'default': 5},
                                 'bucket': {'type': 'string', 'maxLength': 10},
                                 'size': {'type': 'string'},
                                 'storage': {
                                     'type': 'string',
                                     'x-kubernetes-validations': [{
                                         'rule': 'self == oldSelf',
                                         'message': 'storage is immutable'}]},
                                 'tags': {'type': 'array', 'maxItems': 2,
                                          'items': {'type': 'string'}},
                                 'labels': {'type': 'object',
                                            'additionalProperties': {'type': 'string'}},
                                 'extra': {'type': 'object',
                                           'x-kubernetes-preserve-unknown-fields': True}}},
                         'status': {'type': 'object',
                                    'properties': {'replicas': {'type': 'integer'},
                                                   'selector': {'type': 'string'}}}}}}}]}}


def thing(name, **spec):
    return {'apiVersion': 'fake.test.dev/v1', 'kind': 'Thing', 'metadata': {'name': name},
            'spec': spec}


def cm(name, data=None, labels=None):
    o = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name},
         'data': data or {'k': 'v'}}
    if labels:
        o['metadata']['labels'] = labels
    return o


def deploy(name, replicas=1):
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': {'app': name}},
                     'template': {'metadata': {'labels': {'app': name}},
                                  'spec': {'containers': [{'name': 'c', 'image': 'x:1'}]}}}}


def main():
    t = Tap()
    s = Server('--bookmark-interval', '0.3', '--keda', '--deploy-delay-ms', '20')
    try:
        crud(t, s)
        lists(t, s)
        watches(t, s)
        patches(t, s)
        ssa(t, s)
        crd_validation(t, s)
        subresources(t, s)
        deletion(t, s)
        protobuf(t, s)
        faults(t, s)
        controllers(t, s)
        keda(t, s)
    finally:
        s.stop()
    small_history(t)
    token(t)
    t.done()


def crud(t, s):
    code, o, _ = s.req('POST', CM, cm('a'))
    md = o.get('metadata', {})
    t.ok(code == 201 and md.get('uid') and md.get('resourceVersion', '').isdigit() and
         md.get('creationTimestamp') and md.get('namespace') == 'default',
         'create sets uid, resourceVersion, creationTimestamp, namespace', o)
    code, e, _ = s.req('POST', CM, cm('a'))
    t.ok(code == 409 and e['reason'] == 'AlreadyExists' and e['kind'] == 'Status' and
         e['details']['name'] == 'a', 'create of an existing name: 409 AlreadyExists', e)
    stale = dict(cm('a', {'k': 'w'}))
    stale['metadata'] = {'name': 'a', 'resourceVersion': '1'}
    code, e, _ = s.req('PUT', CM + '/a', stale)
    t.ok(code == 409 and e['reason'] == 'Conflict' and 'has been modified' in e['message'],
         'PUT with a stale resourceVersion: 409 Conflict', e)
    code, o2, _ = s.req('PUT', CM + '/a', cm('a', {'k': 'w'}))
    t.ok(code == 200 and o2['data'] == {'k': 'w'} and
         int(o2['metadata']['resourceVersion']) > int(md['resourceVersion']),
         'unconditional PUT (no resourceVersion) updates', o2)
    code, o3, _ = s.req('PUT', CM + '/a', o2)
    t.ok(code == 200 and o3['metadata']['resourceVersion'] == o2['metadata']['resourceVersion'],
         'no-op update keeps the resourceVersion', [o2['metadata'], o3['metadata']])
    code, e, _ = s.req('GET', CM + '/nope')
    t.ok(code == 404 and e['reason'] == 'NotFound' and
         e['message'] == 'configmaps "nope" not found', 'GET missing: 404 NotFound Status', e)
    code, e, _ = s.req('PUT', CM + '/nope', cm('nope'))
    t.ok(code == 404, 'PUT of a missing object: 404', e)
    code, e, _ = s.req('POST', '/api/v1/namespaces/nons/configmaps', cm('x'))
    t.ok(code == 404 and 'namespaces "nons" not found' in e['message'],
         'create in a missing namespace: 404', e)
    # unconditional PUTs: the fake Deployment controller writes status concurrently
    code, d, _ = s.req('POST', DEP, deploy('gen'))
    g1 = d['metadata']['generation']
    d['metadata']['labels'] = {'x': 'y'}
    del d['metadata']['resourceVersion']
    code, d, _ = s.req('PUT', DEP + '/gen', d)
    g2 = d['metadata'].get('generation')
    d['spec']['replicas'] = 2
    del d['metadata']['resourceVersion']
    code, d, _ = s.req('PUT', DEP + '/gen', d)
    g3 = d['metadata'].get('generation')
    t.ok((g1, g2, g3) == (1, 1, 2), 'generation bumps on spec changes only', (g1, g2, g3))
    t.ok(d['spec'].get('strategy', {}).get('type') == 'RollingUpdate' and
         d['spec'].get('revisionHistoryLimit') == 10, 'Deployment defaults applied', d['spec'])
    lease = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
             'metadata': {'name': 'ctl'},
             'spec': {'holderIdentity': 'me', 'leaseDurationSeconds': 15,
                      'renewTime': '2025-01-01T00:00:00.000000Z'}}
    lp = '/apis/coordination.k8s.io/v1/namespaces/default/leases'
    code, l1, _ = s.req('POST', lp, lease)
    l1['spec']['holderIdentity'] = 'other'
    code2, l2, _ = s.req('PUT', lp + '/ctl', l1)
    code3, e, _ = s.req('PUT', lp + '/ctl', l1)
    t.ok(code == 201 and code2 == 200 and code3 == 409 and
         l2['spec']['holderIdentity'] == 'other', 'Lease create, update, 409 on a lost race',
         [code, code2, code3])


def lists(t, s):
    for n, lab in (('l1', {'app': 'x', 'tier': 'a'}), ('l2', {'app': 'x', 'tier': 'b'}),
                   ('l3', {'app': 'y'})):
        s.req('POST', CM, cm(n, labels=lab))

    def names(q):
        code, b, _ = s.req('GET', CM + '?' + q)
        return sorted(i['metadata']['name'] for i in b['items']) if code == 200 else b
    cases = [('labelSelector=app%3Dx', ['l1', 'l2']),
             ('labelSelector=app%3Dx,tier!%3Da', ['l2']),
             ('labelSelector=tier%20in%20(a,b)', ['l1', 'l2']),
             ('labelSelector=app,!tier', ['l3']),
             ('labelSelector=app%20notin%20(x)', ['a', 'l3']),
             ('fieldSelector=metadata.name%3Dl2', ['l2']),
             ('fieldSelector=metadata.name!%3Dl2&labelSelector=app', ['l1', 'l3'])]
    bad = [(q, names(q), want) for q, want in cases if names(q) != want]
    t.ok(not bad, 'label and field selectors', bad)
    code, b, _ = s.req('GET', CM)
    t.ok(b['kind'] == 'ConfigMapList' and b['apiVersion'] == 'v1' and
         b['metadata']['resourceVersion'].isdigit() and
         all(i['kind'] == 'ConfigMap' for i in b['items']), 'list shape <Kind>List', b)
    code, p1, _ = s.req('GET', CM + '?labelSelector=app&limit=2')
    cont = p1['metadata'].get('continue')
    code, p2, _ = s.req('GET', CM + '?labelSelector=app&limit=2&continue=' + (cont or ''))
    got = [i['metadata']['name'] for i in p1['items'] + p2['items']]
    t.ok(cont and got == ['l1', 'l2', 'l3'] and not p2['metadata'].get('continue') and
         p2['metadata']['resourceVersion'] == p1['metadata']['resourceVersion'],
         'limit/continue pagination', [p1['metadata'], p2['metadata'], got])
    code, tb, _ = s.req('GET', CM + '/l1', headers={
        'Accept': 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json'})
    t.ok(code == 200 and tb['kind'] == 'Table' and tb['rows'][0]['cells'][0] == 'l1',
         'Table output on request', tb)
    code, e, _ = s.req('GET', CM + '?resourceVersion=999999')
    t.ok(code == 504 and 'Too large resource version' in e['message'],
         'list at a future resourceVersion: 504 too large', e)


def watches(t, s):
    code, b, _ = s.req('GET', CM + '?labelSelector=w%3D1')
    rv = b['metadata']['resourceVersion']
    resp = s.watch(CM + '?watch=true&labelSelector=w%3D1&resourceVersion=' + rv)
    s.req('POST', CM, cm('w1', labels={'w': '1'}))
    code, o, _ = s.req('PATCH', CM + '/w1', {'data': {'k': 'v2'}},
                       ctype='application/merge-patch+json')
    s.req('PATCH', CM + '/w1', {'metadata': {'labels': {'w': '2'}}},
          ctype='application/merge-patch+json')
    s.req('POST', CM, cm('w2', labels={'w': '1'}))
    s.req('DELETE', CM + '/w2')
    evs = read_events(resp, 5)
    resp.close()
    got = [(e['type'], e['object']['metadata']['name']) for e in evs]
    t.ok(got == [('ADDED', 'w1'), ('MODIFIED', 'w1'), ('DELETED', 'w1'), ('ADDED', 'w2'),
                 ('DELETED', 'w2')],
         'watch from list RV: ADDED/MODIFIED/DELETED; relabel out of selector = DELETED', got)
    t.ok(all(e['object'].get('kind') == 'ConfigMap' for e in evs) and
         evs[1]['object']['data'] == {'k': 'v2'}, 'watch events carry full objects', evs[:2])
    resp = s.watch(CM + '?watch=true&resourceVersion=0&fieldSelector=metadata.name%3Dl1')
    evs = read_events(resp, 1)
    resp.close()
    t.ok([(e['type'], e['object']['metadata']['name']) for e in evs] == [('ADDED', 'l1')],
         'watch from resourceVersion=0 starts with synthetic ADDED', evs)
    resp = s.watch(CM + '?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&'
                   'resourceVersionMatch=NotOlderThan&labelSelector=app%3Dx')
    evs = read_events(resp, 3)
    resp.close()
    t.ok([e['type'] for e in evs] == ['ADDED', 'ADDED', 'BOOKMARK'] and
         evs[2]['object']['metadata']['annotations'] == {'k8s.io/initial-events-end': 'true'},
         'sendInitialEvents: ADDED... then the initial-events-end BOOKMARK', evs)
    code, b, _ = s.req('GET', CM)
    resp = s.watch(CM + '?watch=true&allowWatchBookmarks=true&resourceVersion=' +
                   b['metadata']['resourceVersion'])
    evs = read_events(resp, 1)
    resp.close()
    t.ok(evs and evs[0]['type'] == 'BOOKMARK' and
         evs[0]['object']['metadata']['resourceVersion'].isdigit(),
         'allowWatchBookmarks: periodic BOOKMARK', evs)
    t0 = time.time()
    resp = s.watch(CM + '?watch=true&timeoutSeconds=1&resourceVersion=' +
                   b['metadata']['resourceVersion'])
    evs = read_events(resp)
    dt = time.time() - t0
    t.ok(evs == [] and 0.9 <= dt < 3, 'timeoutSeconds ends the stream (%.2fs)' % dt, evs)
    resp = s.watch(CM + '?watch=true&resourceVersion=' + b['metadata']['resourceVersion'])
    wait_watches(s, 1)
    resp.close()
    gone = poll(lambda: s.admin('GET', 'watches')['watches'] == [], 4)
    t.ok(gone, 'a watch closed by the client is dropped by the server (/fake/watches)')
    # compaction: an old resourceVersion is gone
    old_rv = b['metadata']['resourceVersion']
    s.req('POST', CM, cm('after-compact'))
    comp = s.admin('POST', 'compact', {})
    resp = s.watch(CM + '?watch=true&resourceVersion=' + old_rv)
    evs = read_events(resp)
    t.ok(len(evs) == 1 and evs[0]['type'] == 'ERROR' and evs[0]['object']['code'] == 410 and
         evs[0]['object']['reason'] == 'Expired', 'watch from a compacted RV: ERROR 410 event',
         [comp, evs])
    code, e, _ = s.req('GET', CM + '?resourceVersionMatch=Exact&resourceVersion=' + old_rv)
    t.ok(code == 410 and e['reason'] == 'Expired', 'Exact list of a compacted RV: HTTP 410', e)
    code, p1, _ = s.req('GET', CM + '?limit=1')
    s.req('POST', CM, cm('after-compact2'))
    s.admin('POST', 'compact', {})
    code, e, _ = s.req('GET', CM + '?limit=1&continue=' + p1['metadata']['continue'])
    t.ok(code == 410 and 'continue parameter is too old' in e['message'],
         'continue token older than the history: 410', e)
    code, b2, _ = s.req('GET', CM)
    resp = s.watch(CM + '?watch=true&resourceVersion=' + b2['metadata']['resourceVersion'])
    s.req('POST', CM, cm('post-compact'))
    evs = read_events(resp, 1)
    resp.close()
    t.ok(evs and evs[0]['type'] == 'ADDED', 'watch from the current RV after compaction works',
         evs)


def patches(t, s):
    s.req('POST', CM, cm('p', {'a': '1', 'b': '2'}))
    code, o, _ = s.req('PATCH', CM + '/p', {'data': {'a': None, 'c': '3'}},
                       ctype='application/merge-patch+json')
    t.ok(code == 200 and o['data'] == {'b': '2', 'c': '3'}, 'merge patch (null deletes)', o)
    code, o, _ = s.req('PATCH', CM + '/p', [{'op': 'replace', 'path': '/data/b', 'value': '9'},
                                            {'op': 'add', 'path': '/data/d', 'value': '4'},
                                            {'op': 'remove', 'path': '/data/c'}],
                       ctype='application/json-patch+json')
    t.ok(code == 200 and o['data'] == {'b': '9', 'd': '4'}, 'JSON patch add/replace/remove', o)
    code, e, _ = s.req('PATCH', CM + '/p', [{'op': 'test', 'path': '/data/b', 'value': 'x'}],
                       ctype='application/json-patch+json')
    t.ok(code == 422, 'JSON patch failing test op: 422', e)
    code, e, _ = s.req('PATCH', CM + '/p', [{'op': 'replace', 'path':
                                             '/metadata/resourceVersion', 'value': '1'}],
                       ctype='application/json-patch+json')
    t.ok(code == 409 and e['reason'] == 'Conflict', 'JSON patch of a stale RV: 409', e)
    d = deploy('smp')
    d['spec']['template']['spec']['containers'].append({'name': 'side', 'image': 's:1'})
    s.req('POST', DEP, d)
    code, o, _ = s.req('PATCH', DEP + '/smp', {'spec': {'template': {'spec': {
        'containers': [{'name': 'c', 'image': 'x:2'}]}}}},
        ctype='application/strategic-merge-patch+json')
    cs = o['spec']['template']['spec']['containers'] if code == 200 else []
    t.ok([(c['name'], c['image']) for c in cs] == [('c', 'x:2'), ('side', 's:1')],
         'strategic merge patch merges containers by name', o)
    s.req('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', THING_CRD)
    s.req('POST', W, thing('smp', minReplicas=1, maxReplicas=2))
    code, e, _ = s.req('PATCH', W + '/smp', {'spec': {'replicas': 1}},
                       ctype='application/strategic-merge-patch+json')
    t.ok(code == 415, 'strategic merge patch on a CR: 415 like the real server', e)


def ssa(t, s):
    ap = 'application/apply-patch+yaml'
    dp = deploy('ssa', 2)
    dp['metadata']['labels'] = {'a': '1', 'b': '2'}
    code, o, _ = s.req('PATCH', DEP + '/ssa?fieldManager=ctl&force=true', dp, ctype=ap)
    t.ok(code == 201 and o['spec']['replicas'] == 2, 'SSA creates a missing object (201)', o)
    mf = {(m['manager'], m['operation']): m for m in o['metadata'].get('managedFields', [])}
    t.ok(('ctl', 'Apply') in mf and
         mf[('ctl', 'Apply')]['fieldsV1']['f:spec'].get('f:replicas') == {},
         'managedFields in FieldsV1 form', o['metadata'].get('managedFields'))
    code, sc, _ = s.req('PATCH', DEP + '/ssa/scale', {'spec': {'replicas': 4}},
                        ctype='application/merge-patch+json',
                        headers={'User-Agent': 'keda-operator/v2'})
    t.ok(code == 200 and sc['kind'] == 'Scale' and sc['spec']['replicas'] == 4,
         'scale subresource patch', sc)
    code, e, _ = s.req('PATCH', DEP + '/ssa?fieldManager=ctl', dp, ctype=ap)
    causes = (e.get('details') or {}).get('causes') or []
    t.ok(code == 409 and e['reason'] == 'Conflict' and
         causes == [{'type': 'FieldManagerConflict', 'message':
                     'conflict with "keda-operator" using apps/v1', 'field': '.spec.replicas'}],
         'SSA without force conflicts with the /scale writer on .spec.replicas', e)
    same = json.loads(json.dumps(dp))
    same['spec']['replicas'] = 4
    code, o, _ = s.req('PATCH', DEP + '/ssa?fieldManager=ctl', same, ctype=ap)
    t.ok(code == 200, 'SSA with the same value shares the field (no conflict)', o)
    handover = json.loads(json.dumps(dp))
    del handover['spec']['replicas']
    del handover['metadata']['labels']['b']
    code, o, _ = s.req('PATCH', DEP + '/ssa?fieldManager=ctl', handover, ctype=ap)
    t.ok(code == 200 and o['spec']['replicas'] == 4 and o['metadata']['labels'] == {'a': '1'},
         'SSA drops fields the manager stopped applying unless another manager owns them',
         o.get('metadata', {}).get('labels'))
    code, o, _ = s.req('PATCH', DEP + '/ssa?fieldManager=ctl&force=true', dp, ctype=ap)
    owners = [m['manager'] for m in o['metadata']['managedFields']
              if 'f:replicas' in m['fieldsV1'].get('f:spec', {})]
    t.ok(code == 200 and o['spec']['replicas'] == 2 and owners == ['ctl'],
         'force=true takes ownership back', o['metadata']['managedFields'])
    code, e, _ = s.req('PATCH', DEP + '/ssa', dp, ctype=ap)
    t.ok(code == 422 and 'fieldManager' in e['message'], 'SSA without fieldManager: 422', e)
    so = {'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject',
          'metadata': {'name': 'so'}, 'spec': {'scaleTargetRef': {'name': 'ssa'},
                                               'triggers': [{'type': 'prometheus'}]}}
    code, o, _ = s.req('PATCH', '/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects/so'
                       '?fieldManager=ctl&force=true', so, ctype=ap)
    t.ok(code == 201 and o['spec']['triggers'] == [{'type': 'prometheus'}],
         'KEDA ScaledObject served with --keda', o)


def crd_validation(t, s):
    code, o, _ = s.req('POST', W, thing('ok', replicas=1, bucket='b-1', storage='s1',
                                         labels={'a': 'b'}, extra={'free': {'x': 1}}))
    t.ok(code == 201 and o['spec']['minReplicas'] == 1 and o['spec']['maxReplicas'] == 5 and
         o['spec']['extra'] == {'free': {'x': 1}}, 'valid CR with defaults and preserved fields',
         o)
    code, e, _ = s.req('POST', W, thing('bad1', minReplicas=9, maxReplicas=2))
    c = (e.get('details') or {}).get('causes') or [{}]
    t.ok(code == 422 and e['reason'] == 'Invalid' and
         e['message'] == 'Thing.fake.test.dev "bad1" is invalid: spec: Invalid value: "object": '
         'minReplicas must not exceed maxReplicas' and c[0].get('field') == 'spec',
         'CEL rule failure: 422 with the rule message', e)
    code, e, _ = s.req('POST', W, thing('bad2', bucket='x-1'))
    c = (e.get('details') or {}).get('causes') or [{}]
    t.ok(code == 422 and 'bucket must start with b-' in e['message'] and
         c[0].get('field') == 'spec.bucket', 'CEL fieldPath names the field', e)
    code, e, _ = s.req('POST', W, thing('bad3', replicas='2'))
    c = (e.get('details') or {}).get('causes') or [{}]
    t.ok(code == 422 and c[0].get('field') == 'spec.replicas' and
         'must be of type integer' in e['message'], 'wrong type: 422 naming the field', e)
    code, e, _ = s.req('POST', W, thing('bad4', replicas=-1, tags=['a', 'b', 'c'],
                                         bucket='b-toolongvalue', labels={'x': 1}))
    fields = sorted(c['field'] for c in (e.get('details') or {}).get('causes', []))
    t.ok(code == 422 and fields == ['spec.bucket', 'spec.labels.x', 'spec.replicas',
                                    'spec.tags'],
         'minimum, maxItems, maxLength, additionalProperties type', e)
    code, e, _ = s.req('POST', W + '?fieldValidation=Strict', thing('bad5', nope=1))
    t.ok(code == 400 and 'unknown field "spec.nope"' in e['message'],
         'fieldValidation=Strict rejects unknown fields', e)
    code, o, _ = s.req('POST', W, thing('pruned', nope=1))
    t.ok(code == 201 and 'nope' not in o['spec'], 'unknown fields are pruned otherwise', o)
    o_ok = s.req('GET', W + '/ok')[1]
    o_ok['spec']['storage'] = 's2'
    code, e, _ = s.req('PUT', W + '/ok', o_ok)
    t.ok(code == 422 and 'storage is immutable' in e['message'],
         'transition rule (oldSelf) enforced on update', e)
    sk = s.admin('GET', 'cel')['skipped']
    t.ok(len(sk) == 1 and sk[0]['rule'].startswith('quantity(') and
         sk[0]['crd'] == 'things.fake.test.dev' and 'cel-skipped' in s.log(),
         'unsupported CEL rule is listed by /fake/cel and logged', sk)
    bad_crd = json.loads(json.dumps(THING_CRD))
    bad_crd['metadata']['name'] = 'wrong.fake.test.dev'
    code, e, _ = s.req('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
                       bad_crd)
    t.ok(code == 422 and 'metadata.name' in e['message'], 'CRD with a wrong name: 422', e)


def subresources(t, s):
    o = s.req('GET', W + '/ok')[1]
    o['status'] = {'replicas': 99}
    o['spec']['replicas'] = 3
    code, o2, _ = s.req('PUT', W + '/ok', o)
    t.ok(code == 200 and 'status' not in o2 and o2['spec']['replicas'] == 3,
         'main resource write ignores status', o2)
    o2['spec']['replicas'] = 100
    o2['status'] = {'replicas': 2, 'selector': 'app=ok'}
    code, o3, _ = s.req('PUT', W + '/ok/status', o2)
    t.ok(code == 200 and o3['status'] == {'replicas': 2, 'selector': 'app=ok'} and
         o3['spec']['replicas'] == 3 and o3['metadata']['generation'] ==
         o2['metadata']['generation'], '/status write changes only status', o3)
    code, sc, _ = s.req('GET', W + '/ok/scale')
    t.ok(code == 200 and sc['spec'] == {'replicas': 3} and
         sc['status'] == {'replicas': 2, 'selector': 'app=ok'},
         'CRD scale subresource via specReplicasPath/statusReplicasPath/labelSelectorPath', sc)
    sc['spec']['replicas'] = 4
    code, sc2, _ = s.req('PUT', W + '/ok/scale', sc)
    o4 = s.req('GET', W + '/ok')[1]
    t.ok(code == 200 and o4['spec']['replicas'] == 4, 'PUT /scale sets spec.replicas', sc2)
    code, e, _ = s.req('GET', CM + '/p/status')
    t.ok(code == 404, 'no status subresource on ConfigMaps', e)


def deletion(t, s):
    code, d, _ = s.req('POST', DEP, deploy('owner'))
    uid = d['metadata']['uid']
    ref = [{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': 'owner', 'uid': uid,
            'controller': True}]
    child = cm('child')
    child['metadata']['ownerReferences'] = ref
    s.req('POST', CM, child)
    fin = cm('fin')
    fin['metadata']['ownerReferences'] = ref
    fin['metadata']['finalizers'] = ['test/hold']
    s.req('POST', CM, fin)
    code, o, _ = s.req('DELETE', DEP + '/owner', {'propagationPolicy': 'Background'})
    c1 = s.req('GET', CM + '/child')[0]
    code2, f, _ = s.req('GET', CM + '/fin')
    t.ok(code == 200 and c1 == 404 and code2 == 200 and f['metadata'].get('deletionTimestamp'),
         'owner delete cascades; a dependent with a finalizer only gets deletionTimestamp',
         [code, c1, f.get('metadata')])
    f['metadata']['finalizers'] = []
    code, o, _ = s.req('PUT', CM + '/fin', f)
    t.ok(code == 200 and s.req('GET', CM + '/fin')[0] == 404,
         'removing the last finalizer deletes the object', o)
    code, d, _ = s.req('POST', DEP, deploy('owner2'))
    orphan = cm('orphan')
    orphan['metadata']['ownerReferences'] = [dict(ref[0], name='owner2',
                                                  uid=d['metadata']['uid'])]
    s.req('POST', CM, orphan)
    s.req('DELETE', DEP + '/owner2', {'propagationPolicy': 'Orphan'})
    code, o, _ = s.req('GET', CM + '/orphan')
    t.ok(code == 200 and not o['metadata'].get('ownerReferences'),
         'Orphan propagation keeps dependents and drops the ownerReference', o)
    s.req('POST', '/api/v1/namespaces', {'apiVersion': 'v1', 'kind': 'Namespace',
                                         'metadata': {'name': 'gone'}})
    s.req('POST', '/api/v1/namespaces/gone/configmaps', cm('x'))
    code, o, _ = s.req('DELETE', '/api/v1/namespaces/gone')
    t.ok(code == 200 and s.req('GET', '/api/v1/namespaces/gone/configmaps/x')[0] == 404,
         'deleting a Namespace deletes its objects', o)
    code, o, _ = s.req('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/'
                       'things.fake.test.dev')
    c2, e, _ = s.req('GET', W)
    t.ok(code == 200 and c2 == 404, 'deleting a CRD removes the resource', e)


def protobuf(t, s):
    sec = {'metadata': {'name': 'sh.helm.release.v1.x.v1', 'namespace': 'default',
                        'labels': {'owner': 'helm', 'name': 'x'}},
           'data': {'release': 'aGVsbG8='}, 'type': 'helm.sh/release.v1'}
    code, o, _ = s.req('POST', '/api/v1/namespaces/default/secrets', kproto.encode_secret(sec),
                       ctype='application/vnd.kubernetes.protobuf')
    t.ok(code == 201 and o['data'] == {'release': 'aGVsbG8='} and
         o['metadata']['labels'] == {'owner': 'helm', 'name': 'x'} and
         o['type'] == 'helm.sh/release.v1' and o['metadata']['uid'],
         'protobuf Secret decoded (empty uid/resourceVersion treated as absent)', o)
    body = kproto.MAGIC + kproto.enc_bytes(1, kproto.enc_bytes(1, 'apps/v1') +
                                           kproto.enc_bytes(2, 'Deployment'))
    code, e, _ = s.req('POST', DEP, body, ctype='application/vnd.kubernetes.protobuf')
    t.ok(code == 415 and 'Deployment' in e['message'], 'protobuf of other kinds: 415 naming it',
         e)
    code, e, _ = s.req('POST', '/api/v1/namespaces/default/secrets', b'k8s\x00\x0a\xff',
                       ctype='application/vnd.kubernetes.protobuf')
    t.ok(code == 415 and 'truncated' in e['message'], 'corrupt protobuf: clear 415', e)


def faults(t, s):
    s.req('POST', CM, cm('f'))
    ids = s.admin('POST', 'faults', {'action': 'error', 'code': 409, 'method': 'PUT',
                                     'path': '/configmaps/f$', 'count': 2})['ids']
    codes = []
    for _ in range(3):
        code, o, _ = s.req('PUT', CM + '/f', cm('f', {'n': str(len(codes))}))
        codes.append((code, o.get('reason')))
    t.ok(ids and codes == [(409, 'Conflict'), (409, 'Conflict'), (200, None)],
         '409 fault for 2 matching requests, then normal', codes)
    s.admin('POST', 'faults', {'action': 'error', 'code': 429, 'retryAfter': 1, 'count': 1})
    code, e, h = s.req('GET', CM + '/f')
    t.ok(code == 429 and e['reason'] == 'TooManyRequests' and h.get('Retry-After') == '1',
         '429 fault with Retry-After', e)
    s.admin('POST', 'faults', {'faults': [{'action': 'error', 'code': 500, 'method': 'GET',
                                           'path': '/configmaps', 'count': 1}]})
    code, e, _ = s.req('GET', CM)
    code2 = s.req('GET', CM)[0]
    t.ok(code == 500 and e['reason'] == 'InternalError' and code2 == 200,
         '500 fault (one request)', e)
    s.admin('POST', 'faults', {'action': 'delay', 'ms': 400, 'path': '/configmaps/f',
                               'count': 1})
    t0 = time.time()
    code = s.req('GET', CM + '/f')[0]
    dt = time.time() - t0
    t.ok(code == 200 and dt >= 0.4, 'delay fault (%.2fs)' % dt, dt)
    listed = s.admin('GET', 'faults')['faults']
    s.admin('POST', 'faults', {'action': 'error', 'code': 503, 'count': -1, 'path': '/nothing'})
    n_before = len(s.admin('GET', 'faults')['faults'])
    s.admin('DELETE', 'faults')
    t.ok(listed == [] and n_before == 1 and s.admin('GET', 'faults')['faults'] == [],
         'faults are consumed, listed and cleared', [listed, n_before])

    code, b, _ = s.req('GET', CM)
    rv = b['metadata']['resourceVersion']
    # drop: clean end of stream
    resp = s.watch(CM + '?watch=true&resourceVersion=' + rv)
    wait_watches(s, 1)
    r = s.admin('POST', 'faults', {'action': 'drop_watches', 'path': '/configmaps'})
    t0 = time.time()
    evs = read_events(resp)
    t.ok(r['ids'] and evs == [] and time.time() - t0 < 3, 'drop_watches closes open streams',
         evs)
    # drop with an ERROR 410 event first
    resp = s.watch(CM + '?watch=true&resourceVersion=' + rv)
    wait_watches(s, 1)
    s.admin('POST', 'faults', {'action': 'drop_watches', 'error': 410})
    evs = read_events(resp)
    t.ok(len(evs) == 1 and evs[0]['type'] == 'ERROR' and evs[0]['object']['code'] == 410,
         'drop_watches with error 410 sends an ERROR event', evs)
    # abrupt drop: connection reset, no clean chunked end
    conn = http.client.HTTPConnection('127.0.0.1', s.port, timeout=5)
    conn.request('GET', CM + '?watch=true&resourceVersion=' + rv)
    resp = conn.getresponse()
    wait_watches(s, 1)
    s.admin('POST', 'faults', {'action': 'drop_watches', 'abrupt': True})
    err = None
    try:
        resp.read()
    except (http.client.IncompleteRead, ConnectionError, socket.timeout) as e:
        err = e
    conn.close()
    t.ok(err is not None and not isinstance(err, socket.timeout),
         'abrupt drop resets the connection', repr(err))
    # future drops: the next watch ends right after its start
    s.admin('POST', 'faults', {'action': 'drop_watches', 'future': True, 'count': 1})
    resp = s.watch(CM + '?watch=true&resourceVersion=' + rv)
    evs = read_events(resp)
    t.ok(evs == [], 'drop_watches future=true ends the next watch', evs)
    # gone: next watch gets 410 (event, then http mode)
    s.admin('POST', 'faults', {'action': 'gone', 'path': '/configmaps'})
    resp = s.watch(CM + '?watch=true&resourceVersion=' + rv)
    evs = read_events(resp)
    t.ok(len(evs) == 1 and evs[0]['type'] == 'ERROR' and
         evs[0]['object']['reason'] == 'Expired', 'gone fault: ERROR 410 event', evs)
    s.admin('POST', 'faults', {'action': 'gone', 'mode': 'http'})
    code, e, _ = s.req('GET', CM + '?watch=true&resourceVersion=' + rv)
    t.ok(code == 410 and e['reason'] == 'Expired', 'gone fault mode=http: HTTP 410', e)
    code, e, _ = s.req('POST', '/fake/faults', {'action': 'explode'})
    t.ok(code == 400 and 'unknown action' in e['message'], 'bad fault JSON is rejected', e)
    reqs = s.admin('GET', 'requests')['requests']
    t.ok(any(r['status'] == 429 for r in reqs) and all('/fake/' not in r['path'] for r in reqs),
         'request log records API requests (not admin ones)', reqs[-3:])


def controllers(t, s):
    s.admin('POST', 'controllers', {'deployments': False})
    s.req('POST', DEP, deploy('idle', 2))
    time.sleep(0.3)
    o = s.req('GET', DEP + '/idle')[1]
    t.ok('status' not in o, 'Deployment controller can be switched off', o.get('status'))
    s.admin('POST', 'controllers', {'deployments': True})
    ok = False
    for _ in range(50):
        o = s.req('GET', DEP + '/idle')[1]
        if (o.get('status') or {}).get('readyReplicas') == 2:
            ok = True
            break
        time.sleep(0.05)
    t.ok(ok and o['status']['observedGeneration'] == o['metadata']['generation'],
         'switched back on: Deployment becomes ready', o.get('status'))


def poll(fn, timeout=5.0):
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(0.05)


def keda(t, s):
    ap = 'application/apply-patch+yaml'
    SO = '/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects'
    HPA = '/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers'
    d = deploy('kt', 1)
    s.req('PATCH', DEP + '/kt?fieldManager=op&force=true', d, ctype=ap)
    so = {'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject', 'metadata': {'name': 'kt'},
          'spec': {'scaleTargetRef': {'name': 'kt'}, 'minReplicaCount': 2,
                   'maxReplicaCount': 6, 'triggers': [{'type': 'prometheus'}]}}
    s.req('PATCH', SO + '/kt?fieldManager=op&force=true', so, ctype=ap)

    def replicas_owner():
        o = s.req('GET', DEP + '/kt')[1]
        owners = [(m['manager'], m.get('subresource')) for m in o['metadata']['managedFields']
                  if 'f:replicas' in m['fieldsV1'].get('f:spec', {})]
        return (o['spec']['replicas'], owners) if o['spec']['replicas'] == 2 else None
    got = poll(replicas_owner)
    t.ok(got and ('kube-controller-manager', 'scale') in got[1],
         'fake KEDA/HPA raises replicas to minReplicaCount through /scale', got)
    o = poll(lambda: (lambda x: x if x.get('status', {}).get('hpaName') else None)(
        s.req('GET', SO + '/kt')[1]))
    conds = {c['type']: c['status'] for c in (o or {}).get('status', {}).get('conditions', [])}
    t.ok(o and conds.get('Ready') == 'True' and 'finalizer.keda.sh' in
         o['metadata'].get('finalizers', []) and s.req('GET', HPA + '/keda-hpa-kt')[0] == 200,
         'ScaledObject gets finalizer, Ready condition and its HPA', o)
    s.admin('POST', 'keda', {'namespace': 'default', 'name': 'kt', 'replicas': 9})
    got = poll(lambda: s.req('GET', DEP + '/kt')[1]['spec']['replicas'] == 6)
    t.ok(got, '/fake/keda metric-driven replicas are clamped to maxReplicaCount',
         s.req('GET', DEP + '/kt')[1]['spec'])
    code, e, _ = s.req('PATCH', DEP + '/kt?fieldManager=op', d, ctype=ap)
    t.ok(code == 409 and '.spec.replicas' in e['message'],
         'operator apply of replicas now conflicts with the HPA', e)
    s.req('DELETE', SO + '/kt')
    gone = poll(lambda: s.req('GET', SO + '/kt')[0] == 404 and
                s.req('GET', HPA + '/keda-hpa-kt')[0] == 404)
    t.ok(gone, 'ScaledObject delete: finalizer removed, HPA garbage-collected')
    code, o, _ = s.req('PATCH', DEP + '/kt?fieldManager=op&force=true', d, ctype=ap)
    t.ok(code == 200 and o['spec']['replicas'] == 1, 'force apply takes replicas back', o)
    st = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'kt'},
          'status': {'observedGeneration': 99}}
    s.admin('POST', 'controllers', {'deployments': False})
    code, o, _ = s.req('PATCH', DEP + '/kt/status?fieldManager=op&force=true', st, ctype=ap)
    t.ok(code == 200 and o['status']['observedGeneration'] == 99 and
         any(m.get('subresource') == 'status' and m['manager'] == 'op'
             for m in o['metadata']['managedFields']), 'SSA to the status subresource', o)
    s.admin('POST', 'controllers', {'deployments': True})
    resp = s.watch(DEP + '?watch=1&resourceVersion=0&fieldSelector=metadata.name%3Dkt')
    evs = read_events(resp, 1)
    resp.close()
    t.ok(evs and evs[0]['type'] == 'ADDED', 'watch=1 accepted', evs)


def wait_watches(s, n):
    for _ in range(100):
        if len(s.admin('GET', 'watches')['watches']) >= n:
            return
        time.sleep(0.02)


def small_history(t):
    s = Server('--history', '3', '--gone-mode', 'http')
    try:
        code, b, _ = s.req('GET', CM)
        rv = b['metadata']['resourceVersion']
        for i in range(5):
            s.req('POST', CM, cm('h%d' % i))
        code, e, _ = s.req('GET', CM + '?watch=true&resourceVersion=' + rv)
        t.ok(code == 410 and e['reason'] == 'Expired',
             'bounded history (--history 3): older RV gets HTTP 410 in --gone-mode http', e)
        code, b2, _ = s.req('GET', CM)
        resp = s.watch(CM + '?watch=true&resourceVersion=' +
                       str(int(b2['metadata']['resourceVersion']) - 2))
        evs = read_events(resp, 2)
        resp.close()
        t.ok([e['object']['metadata']['name'] for e in evs] == ['h3', 'h4'],
             'resume within the history replays the missed events', evs)
        # a watcher that falls behind the history gets ERROR 410 in the stream
        resp = s.watch(CM + '?watch=true&resourceVersion=' + b2['metadata']['resourceVersion'])
        wait_watches(s, 1)
        th = threading.Thread(target=lambda: [s.req('POST', CM, cm('b%d' % i))
                                              for i in range(10)])
        th.start()
        th.join()
        evs = read_events(resp, n=10, until=lambda e: e['type'] == 'ERROR')
        resp.close()
        names = [e['object']['metadata']['name'] for e in evs if e['type'] == 'ADDED']
        ok = names == ['b%d' % i for i in range(len(names))] and (
            len(names) == 10 or (evs[-1]['type'] == 'ERROR' and evs[-1]['object']['code'] == 410))
        t.ok(ok, 'burst: every event in order, or ERROR 410 once the watcher is behind the '
             'history', [e['type'] for e in evs])
    finally:
        s.stop()


def token(t):
    s = Server('--token', 'sekret')
    try:
        c1 = s.req('GET', CM)[0]
        c2 = s.req('GET', CM, headers={'Authorization': 'Bearer sekret'})[0]
        t.ok(c1 == 401 and c2 == 200, '--token requires the bearer token', [c1, c2])
    finally:
        s.stop()


if __name__ == '__main__':
    main()
