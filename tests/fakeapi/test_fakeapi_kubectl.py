#!/usr/bin/python3
"""Real kubectl 1.32 against the fake API server: CRD + CR lifecycle, tables, SSA, wait, watch."""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests'))
from fakeapi_util import Server, have_tools  # noqa: E402
from tclib import Tap  # noqa: E402

TD = os.path.join(HERE, 'testdata')
CRD = os.path.join(TD, 'widget-crd.yaml')
CR = os.path.join(TD, 'widget-a.yaml')

BAD_CR = """apiVersion: fake.test.dev/v1alpha1
kind: Widget
metadata: {name: bad}
spec:
  replicas: "two"
  minReplicas: 5
  maxReplicas: 2
  mode: medium
  retention: 2d
  autoscaling: {enabled: true}
"""


def main():
    t = Tap()
    if not have_tools():
        t.skip_all('kubectl flows', 'no .tools/bin/kubectl (run hack/install-deps.sh)')
    s = Server()
    try:
        run(t, s)
    finally:
        s.stop()
    t.done()


def run(t, s):
    rc, out, err = s.kubectl('apply', '-f', CRD)
    t.ok(rc == 0 and 'widgets.fake.test.dev created' in out, 'kubectl apply -f CRD', out + err)
    rc, out, err = s.kubectl('api-resources', '--api-group=fake.test.dev')
    t.ok(rc == 0 and 'widgets' in out and 'wd' in out, 'CRD appears in discovery', out + err)
    rc, out, err = s.kubectl('get', 'crd', 'widgets.fake.test.dev', '-o',
                             'jsonpath={.status.conditions[?(@.type=="Established")].status}')
    t.ok(rc == 0 and out == 'True', 'CRD Established=True', out + err)

    rc, out, err = s.kubectl('apply', '-f', CR)
    t.ok(rc == 0 and 'widget.fake.test.dev/a created' in out, 'kubectl apply -f CR', out + err)

    rc, out, err = s.kubectl('get', 'wd')
    lines = out.splitlines()
    hdr = lines[0].split() if lines else []
    row = lines[1].split() if len(lines) > 1 else []
    t.ok(rc == 0 and hdr == ['NAME', 'REPLICAS', 'MODE', 'READY', 'AGE'] and
         row[:3] == ['a', '2', 'fast'], 'kubectl get (shortName) prints the printer columns',
         out + err)

    rc, out, err = s.kubectl('get', 'widget', 'a', '-o', 'yaml')
    t.ok(rc == 0 and 'replicas: 2' in out and 'minReplicas: 1' in out and
         'maxReplicas: 10' in out and 'generation: 1' in out and 'uid: ' in out,
         'get -o yaml shows the object with schema defaults', out + err)

    # server-side apply of a changed spec bumps generation
    with open(CR) as f:
        cr = f.read()
    rc, out, err = s.kubectl('apply', '--server-side', '-f', '-',
                             input=cr.replace('retention: 48h', 'retention: 72h'))
    t.ok(rc == 0 and 'serverside-applied' in out, 'kubectl apply --server-side', out + err)
    o = get_json(s, 'widget', 'a')
    t.ok(o['spec'].get('retention') == '72h' and o['metadata']['generation'] == 2,
         'SSA changed the spec and bumped generation to 2', json.dumps(o))
    mf = [m['manager'] for m in o['metadata'].get('managedFields', [])
          if m['operation'] == 'Apply']
    t.ok('kubectl' in mf, 'managedFields records the kubectl Apply manager', json.dumps(mf))

    # SSA conflict: another manager takes spec.replicas through /scale, then apply without force
    rc, out, err = s.kubectl('scale', 'widget', 'a', '--replicas=5')
    t.ok(rc == 0 and get_json(s, 'widget', 'a')['spec']['replicas'] == 5,
         'kubectl scale through the scale subresource', out + err)
    cr7 = cr.replace('replicas: 2', 'replicas: 7')
    rc, out, err = s.kubectl('apply', '--server-side', '--field-manager=other', '-f', '-',
                             input=cr7)
    t.ok(rc != 0 and 'conflict with "kubectl"' in err and '.spec.replicas' in err,
         'SSA by another manager without force conflicts on .spec.replicas', out + err)
    rc, out, err = s.kubectl('apply', '--server-side', '--field-manager=other',
                             '--force-conflicts', '-f', '-', input=cr7)
    o = get_json(s, 'widget', 'a')
    t.ok(rc == 0 and o['spec']['replicas'] == 7, 'SSA with --force-conflicts takes the field',
         out + err)

    # CEL / schema validation with the real client
    rc, out, err = s.kubectl('apply', '-f', '-', input=BAD_CR)
    want = ['minReplicas must be less than or equal to maxReplicas',
            'prometheus is required when autoscaling is enabled',
            'retention must be a whole number of hours like 48h',
            'spec.mode: Unsupported value: "medium"',
            'spec.replicas in body must be of type integer']
    t.ok(rc != 0 and all(w in err for w in want),
         'invalid CR rejected with CEL rule messages and schema errors', err)
    rc, out, err = s.kubectl('apply', '-f', '-', input=cr.replace('name: a', 'name: odd')
                             .replace('retention: 48h', 'retention: 48h\n  colour: red'))
    t.ok(rc != 0 and 'strict decoding error: unknown field "spec.colour"' in err,
         'unknown field rejected (kubectl sends fieldValidation=Strict)', out + err)
    rc, out, err = s.kubectl('get', 'widget', 'bad')
    t.ok(rc != 0 and 'NotFound' in err, 'rejected CR was not stored', out + err)
    skipped = s.admin('GET', 'cel')['skipped']
    t.ok(skipped == [], 'no CEL rule of the test CRD was skipped', json.dumps(skipped))

    # kubectl wait: times out before Ready, succeeds after the status subresource sets it
    rc, out, err = s.kubectl('wait', '--for=condition=Ready', 'widget/a', '--timeout=1s')
    t.ok(rc != 0, 'kubectl wait times out while Ready is not set', out + err)
    waiter = subprocess.Popen([os.path.join(s.env['PATH'].split(os.pathsep)[0], 'kubectl'),
                               'wait', '--for=condition=Ready', 'widget/a', '--timeout=20s'],
                              env=s.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    patch = {'status': {'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'Done',
                                        'message': 'ok',
                                        'lastTransitionTime': '2025-01-01T00:00:00Z'}]}}
    gen = get_json(s, 'widget', 'a')['metadata'].get('generation')
    rc, out, err = s.kubectl('patch', 'widget', 'a', '--subresource=status', '--type=merge',
                             '-p', json.dumps(patch))
    t.ok(rc == 0, 'status set through the status subresource', out + err)
    try:
        wout, werr = waiter.communicate(timeout=25)
    except subprocess.TimeoutExpired:
        waiter.kill()
        wout, werr = waiter.communicate()
    t.ok(waiter.returncode == 0 and b'condition met' in wout, 'kubectl wait --for=condition=Ready',
         (wout + werr).decode())
    o = get_json(s, 'widget', 'a')
    t.ok(gen and o['metadata']['generation'] == gen, 'status write did not bump generation',
         json.dumps(o['metadata']))
    rc, out, err = s.kubectl('get', 'wd', 'a', '--no-headers')
    t.ok(rc == 0 and out.split()[3:4] == ['True'], 'READY printer column reads the condition',
         out + err)

    # kubectl get -w sees later events
    w = subprocess.Popen([os.path.join(s.env['PATH'].split(os.pathsep)[0], 'kubectl'),
                          'get', 'widgets', '-w', '--output-watch-events', '--no-headers'],
                         env=s.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    s.kubectl('apply', '-f', '-', input=cr.replace('name: a', 'name: b'))
    s.kubectl('delete', 'widget', 'b')
    time.sleep(1.0)
    w.terminate()
    wout, werr = w.communicate(timeout=10)
    evs = [line.split()[:2] for line in wout.decode().splitlines() if line.strip()]
    t.ok(['ADDED', 'a'] in evs and ['ADDED', 'b'] in evs and ['DELETED', 'b'] in evs,
         'kubectl get -w sees ADDED and DELETED events', (wout + werr).decode())

    rc, out, err = s.kubectl('delete', 'widget', 'a')
    t.ok(rc == 0 and 'deleted' in out, 'kubectl delete', out + err)
    rc, out, err = s.kubectl('get', 'widget', 'a')
    t.ok(rc != 0 and 'NotFound' in err, 'deleted object is gone', out + err)

    # built-in kinds: RBAC, PDB, Lease, events.k8s.io Event, Deployment rollout
    rc, out, err = s.kubectl('apply', '-f', os.path.join(TD, 'builtins.yaml'))
    kinds = ['serviceaccount/op', 'role.rbac.authorization.k8s.io/op',
             'rolebinding.rbac.authorization.k8s.io/op', 'clusterrole.rbac.authorization.k8s.io/op',
             'clusterrolebinding.rbac.authorization.k8s.io/op', 'poddisruptionbudget.policy/op',
             'lease.coordination.k8s.io/op-leader', 'event.events.k8s.io/op.1',
             'deployment.apps/op']
    t.ok(rc == 0 and all(k + ' created' in out for k in kinds),
         'kubectl apply of RBAC, PDB, Lease, Event, Deployment', out + err)
    rc, out, err = s.kubectl('rollout', 'status', 'deployment/op', '--timeout=20s')
    t.ok(rc == 0 and 'successfully rolled out' in out, 'kubectl rollout status', out + err)
    rc, out, err = s.kubectl('wait', '--for=condition=Available', 'deployment/op',
                             '--timeout=10s')
    t.ok(rc == 0 and 'condition met' in out, 'kubectl wait --for=condition=Available', out + err)
    rc, out, err = s.kubectl('get', 'deploy', 'op', '--no-headers')
    t.ok(rc == 0 and out.split()[1:2] == ['2/2'], 'Deployment table READY 2/2', out + err)
    rc, out, err = s.kubectl('delete', '-f', os.path.join(TD, 'builtins.yaml'))
    rc2, out2, err2 = s.kubectl('get', 'replicasets', '-o', 'name')
    t.ok(rc == 0 and rc2 == 0 and out2.strip() == '',
         'kubectl delete -f; the ReplicaSet goes by owner cascade', out + err + out2 + err2)

    rc, out, err = s.kubectl('delete', '-f', CRD)
    t.ok(rc == 0, 'delete the CRD', out + err)
    code, body, _ = s.req('GET', '/apis/fake.test.dev/v1alpha1')
    t.ok(code == 404, 'CRD group version left discovery', body)


def get_json(s, *what):
    rc, out, err = s.kubectl('get', *what, '-o', 'json', '--show-managed-fields')
    if rc != 0:
        return {'metadata': {}, 'spec': {}, 'error': err}
    return json.loads(out)


if __name__ == '__main__':
    main()
