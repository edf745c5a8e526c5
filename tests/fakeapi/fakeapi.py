#!/usr/bin/python3
"""Fake kube-apiserver for tests: in-memory store, discovery, list/watch, patches, SSA,
CRD validation, fake Deployment/CRD controllers and runtime fault switches.

Python 3 standard library only. See tests/fakeapi/README.md for the CLI, the /fake/ admin
endpoints and the fault JSON. Importable: FakeAPI(...).start() / .stop().
"""

import argparse
import base64
import calendar
import copy
import hashlib
import json
import os
import re
import select
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kproto  # noqa: E402
import kschema  # noqa: E402

K8S_VERSION = {'major': '1', 'minor': '32', 'gitVersion': 'v1.32.3', 'gitCommit': 'fakeapi',
               'gitTreeState': 'clean', 'buildDate': '2025-03-11T00:00:00Z',
               'goVersion': 'go1.23.6', 'compiler': 'gc', 'platform': 'linux/amd64'}

# Metadata fields that are tracked in managedFields (others belong to the server).
_MD_OWNED = ('labels', 'annotations', 'ownerReferences', 'finalizers')


def now_ts():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def dcopy(o):
    return copy.deepcopy(o)


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = headers or {}

    def status(self):
        s = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
             'message': self.message, 'reason': self.reason, 'code': self.code}
        if self.details:
            s['details'] = self.details
        return s


REASONS = {400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound',
           405: 'MethodNotAllowed', 409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType',
           422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError',
           503: 'ServiceUnavailable', 504: 'Timeout'}


# ---------------------------------------------------------------- resource types

class ResType:
    """One resource (group, plural) and how it is served."""

    def __init__(self, group, versions, plural, singular, kind, namespaced, short=(),
                 status=False, scale=None, categories=(), crd=None, printer=None):
        self.group, self.versions, self.plural = group, list(versions), plural
        self.singular, self.kind, self.namespaced = singular, kind, namespaced
        self.short, self.status, self.scale = list(short), status, scale
        self.categories, self.crd = list(categories), crd
        self.printer = printer or {}  # version -> additionalPrinterColumns
        self.schemas = {}  # version -> openAPIV3Schema

    @property
    def key(self):
        return (self.group, self.plural)

    def gv(self, version=None):
        v = version or self.versions[0]
        return '%s/%s' % (self.group, v) if self.group else v

    def gk(self):
        return '%s.%s' % (self.kind, self.group) if self.group else self.kind

    def res_name(self):
        return '%s.%s' % (self.plural, self.group) if self.group else self.plural


_DEPLOY_SCALE = {'specReplicasPath': '.spec.replicas', 'statusReplicasPath': '.status.replicas',
                 'labelSelectorPath': '.spec.selector'}


def builtin_types():
    T = ResType
    return [
        T('', ['v1'], 'namespaces', 'namespace', 'Namespace', False, ['ns'], status=True),
        T('', ['v1'], 'configmaps', 'configmap', 'ConfigMap', True, ['cm']),
        T('', ['v1'], 'secrets', 'secret', 'Secret', True),
        T('', ['v1'], 'services', 'service', 'Service', True, ['svc'], status=True,
          categories=['all']),
        T('', ['v1'], 'serviceaccounts', 'serviceaccount', 'ServiceAccount', True, ['sa']),
        T('', ['v1'], 'pods', 'pod', 'Pod', True, ['po'], status=True, categories=['all']),
        T('', ['v1'], 'events', 'event', 'Event', True, ['ev']),
        T('', ['v1'], 'endpoints', 'endpoints', 'Endpoints', True, ['ep']),
        T('', ['v1'], 'persistentvolumeclaims', 'persistentvolumeclaim', 'PersistentVolumeClaim',
          True, ['pvc'], status=True),
        T('apps', ['v1'], 'deployments', 'deployment', 'Deployment', True, ['deploy'],
          status=True, scale=_DEPLOY_SCALE, categories=['all']),
        T('apps', ['v1'], 'replicasets', 'replicaset', 'ReplicaSet', True, ['rs'], status=True,
          scale=_DEPLOY_SCALE, categories=['all']),
        T('apps', ['v1'], 'statefulsets', 'statefulset', 'StatefulSet', True, ['sts'],
          status=True, scale=_DEPLOY_SCALE, categories=['all']),
        T('apps', ['v1'], 'daemonsets', 'daemonset', 'DaemonSet', True, ['ds'], status=True,
          categories=['all']),
        T('coordination.k8s.io', ['v1'], 'leases', 'lease', 'Lease', True),
        T('events.k8s.io', ['v1'], 'events', 'event', 'Event', True, ['ev']),
        T('rbac.authorization.k8s.io', ['v1'], 'roles', 'role', 'Role', True),
        T('rbac.authorization.k8s.io', ['v1'], 'rolebindings', 'rolebinding', 'RoleBinding', True),
        T('rbac.authorization.k8s.io', ['v1'], 'clusterroles', 'clusterrole', 'ClusterRole',
          False),
        T('rbac.authorization.k8s.io', ['v1'], 'clusterrolebindings', 'clusterrolebinding',
          'ClusterRoleBinding', False),
        T('policy', ['v1'], 'poddisruptionbudgets', 'poddisruptionbudget', 'PodDisruptionBudget',
          True, ['pdb'], status=True),
        T('autoscaling', ['v2'], 'horizontalpodautoscalers', 'horizontalpodautoscaler',
          'HorizontalPodAutoscaler', True, ['hpa'], status=True, categories=['all']),
        T('batch', ['v1'], 'jobs', 'job', 'Job', True, status=True, categories=['all']),
        T('networking.k8s.io', ['v1'], 'ingresses', 'ingress', 'Ingress', True, ['ing'],
          status=True),
        T('networking.k8s.io', ['v1'], 'networkpolicies', 'networkpolicy', 'NetworkPolicy', True,
          ['netpol']),
        T('apiextensions.k8s.io', ['v1'], 'customresourcedefinitions',
          'customresourcedefinition', 'CustomResourceDefinition', False, ['crd', 'crds'],
          status=True),
    ]


def keda_crds():
    """Minimal KEDA CRDs (schema-less) for --keda."""
    out = []
    for plural, kind, short in (('scaledobjects', 'ScaledObject', ['so']),
                                ('triggerauthentications', 'TriggerAuthentication',
                                 ['ta', 'triggerauth'])):
        out.append({
            'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition',
            'metadata': {'name': plural + '.keda.sh'},
            'spec': {'group': 'keda.sh', 'scope': 'Namespaced',
                     'names': {'plural': plural, 'singular': kind.lower(), 'kind': kind,
                               'listKind': kind + 'List', 'shortNames': short},
                     'versions': [{'name': 'v1alpha1', 'served': True, 'storage': True,
                                   'subresources': {'status': {}},
                                   'schema': {'openAPIV3Schema': {
                                       'type': 'object',
                                       'x-kubernetes-preserve-unknown-fields': True}}}]}})
    return out


# ---------------------------------------------------------------- selectors

def parse_label_selector(s):
    """Parse a label selector string into a list of (key, op, values)."""
    reqs = []
    if not s:
        return reqs
    parts, depth, cur = [], 0, ''
    for c in s:
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
        if c == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += c
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        m = re.fullmatch(r'([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)', p)
        if m:
            reqs.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(',')]))
            continue
        m = re.fullmatch(r'([^\s!=]+)\s*(==|!=|=)\s*(\S*)', p)
        if m:
            op = '=' if m.group(2) in ('=', '==') else '!='
            reqs.append((m.group(1), op, [m.group(3)]))
            continue
        if p.startswith('!'):
            reqs.append((p[1:].strip(), '!', []))
            continue
        if re.fullmatch(r'[^\s!=(),]+', p):
            reqs.append((p, 'exists', []))
            continue
        raise ApiError(400, 'BadRequest', 'unable to parse requirement: %r' % p)
    return reqs


def label_match(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        has = k in labels
        v = labels.get(k)
        if op == '=' and (not has or v != vals[0]):
            return False
        if op == '!=' and has and v == vals[0]:
            return False
        if op == 'in' and (not has or v not in vals):
            return False
        if op == 'notin' and has and v in vals:
            return False
        if op == 'exists' and not has:
            return False
        if op == '!' and has:
            return False
    return True


def selector_from_label_selector(sel):
    """metav1.LabelSelector -> selector string."""
    if not isinstance(sel, dict):
        return ''
    parts = ['%s=%s' % (k, v) for k, v in sorted((sel.get('matchLabels') or {}).items())]
    for e in sel.get('matchExpressions') or []:
        op = e.get('operator')
        if op == 'In':
            parts.append('%s in (%s)' % (e['key'], ','.join(e.get('values', []))))
        elif op == 'NotIn':
            parts.append('%s notin (%s)' % (e['key'], ','.join(e.get('values', []))))
        elif op == 'Exists':
            parts.append(e['key'])
        elif op == 'DoesNotExist':
            parts.append('!' + e['key'])
    return ','.join(parts)


def parse_field_selector(s):
    reqs = []
    for p in (s or '').split(','):
        p = p.strip()
        if not p:
            continue
        m = re.fullmatch(r'([^!=]+?)\s*(==|!=|=)\s*(.*)', p)
        if not m:
            raise ApiError(400, 'BadRequest', 'invalid field selector: %r' % p)
        reqs.append((m.group(1), '!=' if m.group(2) == '!=' else '=', m.group(3)))
    return reqs


def get_path(obj, dotted):
    cur = obj
    for part in dotted.split('.'):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def field_match(reqs, obj):
    for path, op, val in reqs:
        v = get_path(obj, path)
        sv = '' if v is None else (json.dumps(v) if isinstance(v, bool) else str(v))
        if (sv == val) != (op == '='):
            return False
    return True


# ---------------------------------------------------------------- patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return dcopy(patch)
    out = dcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = merge_patch(out.get(k), v)
        else:
            out[k] = dcopy(v)
    return out


# Strategic merge keys for built-in lists (approximation of the Go struct tags).
SMP_KEYS = {'containers': 'name', 'initContainers': 'name', 'ephemeralContainers': 'name',
            'volumes': 'name', 'env': 'name', 'volumeMounts': 'mountPath',
            'volumeDevices': 'devicePath', 'imagePullSecrets': 'name',
            'conditions': 'type', 'ownerReferences': 'uid', 'hostAliases': 'ip',
            'topologySpreadConstraints': 'topologyKey', 'envFrom': None,
            'finalizers': None, 'resourceClaims': 'name', 'subsets': None}


def _smp_key(field, items):
    if field == 'ports':
        for it in items:
            if isinstance(it, dict):
                return 'containerPort' if 'containerPort' in it else 'port'
        return None
    return SMP_KEYS.get(field)


def smp(target, patch):
    """Strategic merge patch approximation: recursive merge, keyed lists, $ directives."""
    if not isinstance(patch, dict):
        return dcopy(patch)
    if patch.get('$patch') == 'replace':
        return {k: dcopy(v) for k, v in patch.items() if k != '$patch'}
    if patch.get('$patch') == 'delete':
        return None
    out = dcopy(target) if isinstance(target, dict) else {}
    retain = patch.get('$retainKeys')
    for k, v in patch.items():
        if k.startswith('$'):
            continue
        if k.startswith('$setElementOrder/') or k.startswith('$deleteFromPrimitiveList/'):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            r = smp(out.get(k), v)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            out[k] = _smp_list(k, out.get(k), v)
        else:
            out[k] = dcopy(v)
    for k, v in patch.items():
        if k.startswith('$deleteFromPrimitiveList/'):
            f = k.split('/', 1)[1]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in v]
        if k.startswith('$setElementOrder/'):
            f = k.split('/', 1)[1]
            key = _smp_key(f, v)
            if key and isinstance(out.get(f), list):
                order = [x.get(key) for x in v if isinstance(x, dict)]
                cur = out[f]
                ranked = sorted(cur, key=lambda x: order.index(x.get(key))
                                if isinstance(x, dict) and x.get(key) in order else len(order))
                out[f] = ranked
    if isinstance(retain, list):
        for k in list(out.keys()):
            if k not in retain:
                del out[k]
    return out


def _smp_list(field, cur, patch):
    key = _smp_key(field, patch)
    if not key or not isinstance(cur, list):
        return [x for x in dcopy(patch) if not (isinstance(x, dict) and '$patch' in x)]
    out = dcopy(cur)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            out.append(dcopy(item))
            continue
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict)
                    and x.get(key) == item[key]), None)
        if item.get('$patch') == 'delete':
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(smp({}, item))
        else:
            out[idx] = smp(out[idx], item)
    return out


def _ptr(path):
    if path == '':
        return []
    if not path.startswith('/'):
        raise ApiError(422, 'Invalid', 'invalid JSON pointer %r' % path)
    return [p.replace('~1', '/').replace('~0', '~') for p in path[1:].split('/')]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise ApiError(422, 'Invalid', 'json patch: path element %r not found' % p)
        elif isinstance(cur, dict):
            if p not in cur:
                raise ApiError(422, 'Invalid', 'json patch: path element %r not found' % p)
            cur = cur[p]
        else:
            raise ApiError(422, 'Invalid', 'json patch: cannot descend into %r' % p)
    return cur


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, 'BadRequest', 'json patch body must be a list of operations')
    doc = dcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or 'op' not in op:
            raise ApiError(400, 'BadRequest', 'json patch operation without "op"')
        kind = op['op']
        parts = _ptr(op.get('path', ''))

        def remove(parts):
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            if isinstance(parent, list):
                try:
                    return parent.pop(int(last))
                except (ValueError, IndexError):
                    raise ApiError(422, 'Invalid', 'json patch: bad index %r' % last)
            if not isinstance(parent, dict) or last not in parent:
                raise ApiError(422, 'Invalid', 'json patch: remove of missing path %s'
                               % op.get('path'))
            return parent.pop(last)

        def add(parts, value):
            nonlocal doc
            if not parts:
                doc = value
                return
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            if isinstance(parent, list):
                if last == '-':
                    parent.append(value)
                else:
                    try:
                        i = int(last)
                    except ValueError:
                        raise ApiError(422, 'Invalid', 'json patch: bad index %r' % last)
                    if i < 0 or i > len(parent):
                        raise ApiError(422, 'Invalid', 'json patch: index out of range')
                    parent.insert(i, value)
            elif isinstance(parent, dict):
                parent[last] = value
            else:
                raise ApiError(422, 'Invalid', 'json patch: cannot add to a scalar')

        if kind == 'add':
            add(parts, dcopy(op.get('value')))
        elif kind == 'remove':
            remove(parts)
        elif kind == 'replace':
            if not parts:
                doc = dcopy(op.get('value'))
            else:
                parent = _walk(doc, parts[:-1])
                last = parts[-1]
                if isinstance(parent, dict):
                    if last not in parent:
                        raise ApiError(422, 'Invalid', 'json patch: replace of missing path %s'
                                       % op.get('path'))
                    parent[last] = dcopy(op.get('value'))
                else:
                    remove(parts)
                    add(parts, dcopy(op.get('value')))
        elif kind == 'move':
            v = remove(_ptr(op.get('from', '')))
            add(parts, v)
        elif kind == 'copy':
            add(parts, dcopy(_walk(doc, _ptr(op.get('from', '')))))
        elif kind == 'test':
            if _walk(doc, parts) != op.get('value'):
                raise ApiError(422, 'Invalid', 'json patch: test failed at %s' % op.get('path'))
        else:
            raise ApiError(400, 'BadRequest', 'json patch: unknown op %r' % kind)
    return doc


# ---------------------------------------------------------------- managed fields

def leaf_paths(v, prefix=()):
    """Leaf field paths of a JSON value; lists and empty maps are leaves (atomic)."""
    if isinstance(v, dict) and v:
        out = set()
        for k, x in v.items():
            out |= leaf_paths(x, prefix + (k,))
        return out
    return {prefix} if prefix else set()


def owned_view(obj, sub, has_status):
    """The part of an object whose fields managers own, for a write to subresource sub."""
    if not isinstance(obj, dict):
        return {}
    if sub == 'status':
        return {'status': obj['status']} if 'status' in obj else {}
    out = {k: v for k, v in obj.items() if k not in ('apiVersion', 'kind', 'metadata')}
    if has_status:
        out.pop('status', None)
    md = obj.get('metadata') or {}
    mdo = {k: md[k] for k in _MD_OWNED if k in md and md[k] not in (None, {}, [])}
    if mdo:
        out['metadata'] = mdo
    return out


def value_at(obj, path):
    cur = obj
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return (False, None)
        cur = cur[p]
    return (True, cur)


def overlaps(a, b):
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def diff_paths(old, new, prefix=()):
    """Leaf paths whose value differs between old and new (added, changed or removed)."""
    if isinstance(old, dict) and isinstance(new, dict) and old and new:
        out = set()
        for k in set(old) | set(new):
            if k not in old:
                out |= leaf_paths(new[k], prefix + (k,))
            elif k not in new:
                out |= leaf_paths(old[k], prefix + (k,))
            elif old[k] != new[k]:
                out |= diff_paths(old[k], new[k], prefix + (k,))
        return out
    if old != new:
        return (leaf_paths(old, prefix) | leaf_paths(new, prefix)) or {prefix}
    return set()


def delete_path(obj, path):
    """Remove a path from obj, pruning maps that become empty (except top level)."""
    if not path:
        return
    stack, cur = [], obj
    for p in path[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return
        stack.append((cur, p))
        cur = cur[p]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    while stack and len(stack) > 1:
        parent, key = stack.pop()
        if parent[key] == {}:
            del parent[key]
        else:
            break


def fields_v1(paths):
    tree = {}
    for p in sorted(paths):
        cur = tree
        for comp in p:
            cur = cur.setdefault('f:' + comp, {})
    return tree


def parse_fields_v1(tree, prefix=()):
    out = set()
    if not isinstance(tree, dict):
        return out
    leaf = not tree
    for k, v in tree.items():
        if k == '.':
            leaf = True
        elif k.startswith('f:'):
            out |= parse_fields_v1(v, prefix + (k[2:],))
        else:
            leaf = True  # k:/v:/i: list items: the fake treats lists as atomic
    if leaf and prefix:
        out.add(prefix)
    return out


# ---------------------------------------------------------------- table output

def jsonpath_eval(obj, expr):
    """Tiny JSONPath for printer columns: .a.b, [n], [*], [?(@.k=="v")]."""
    expr = expr.strip()
    if expr.startswith('{') and expr.endswith('}'):
        expr = expr[1:-1]
    if expr.startswith('$'):
        expr = expr[1:]
    cur = [obj]
    i = 0
    while i < len(expr):
        c = expr[i]
        if c == '.':
            m = re.match(r'\.([A-Za-z0-9_\-/]+)', expr[i:])
            if not m:
                return []
            name = m.group(1)
            cur = [x[name] for x in cur if isinstance(x, dict) and name in x]
            i += m.end()
        elif c == '[':
            j = expr.find(']', i)
            if j < 0:
                return []
            inner = expr[i + 1:j]
            if inner.startswith('?('):
                # filter expressions may contain ']' inside quotes: find the closing ")]"
                j = expr.find(')]', i)
                inner = expr[i + 1:j + 1]
                m = re.fullmatch(r'\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*["\']?([^"\']*)["\']?\)',
                                 inner)
                if not m:
                    return []
                key, op, val = m.groups()
                nxt = []
                for x in cur:
                    for it in (x if isinstance(x, list) else []):
                        v = get_path(it, key) if isinstance(it, dict) else None
                        sv = '' if v is None else (json.dumps(v) if isinstance(v, bool) else str(v))
                        if (sv == val) == (op == '=='):
                            nxt.append(it)
                cur = nxt
                i = j + 2
                continue
            if inner == '*':
                nxt = []
                for x in cur:
                    if isinstance(x, list):
                        nxt.extend(x)
                    elif isinstance(x, dict):
                        nxt.extend(x.values())
                cur = nxt
            else:
                try:
                    n = int(inner)
                except ValueError:
                    inner = inner.strip('\'"')
                    cur = [x[inner] for x in cur if isinstance(x, dict) and inner in x]
                    i = j + 1
                    continue
                cur = [x[n] for x in cur if isinstance(x, list) and -len(x) <= n < len(x)]
            i = j + 1
        else:
            return []
    return cur


def human_age(ts):
    try:
        t = calendar.timegm(time.strptime(ts, '%Y-%m-%dT%H:%M:%SZ'))
    except (TypeError, ValueError):
        return '<unknown>'
    s = int(time.time() - t)
    if s < -1:
        return '<invalid>'
    s = max(s, 0)
    if s < 120:
        return '%ds' % s
    m = s // 60
    if m < 10:
        return '%dm%ds' % (m, s % 60) if s % 60 else '%dm' % m
    if m < 180:
        return '%dm' % m
    h = m // 60
    if h < 8:
        return '%dh%dm' % (h, m % 60) if m % 60 else '%dh' % h
    if h < 48:
        return '%dh' % h
    d = h // 24
    if h < 24 * 8:
        return '%dd%dh' % (d, h % 24) if h % 24 else '%dd' % d
    return '%dd' % d


def _coldef(name, typ='string', fmt='', desc='', prio=0):
    return {'name': name, 'type': typ, 'format': fmt, 'description': desc, 'priority': prio}


def table_columns(rt, version):
    cols = rt.printer.get(version)
    if cols:
        out = [(_coldef('Name', fmt='name', desc='Name must be unique within a namespace.'),
                None)]
        for c in cols:
            out.append((_coldef(c.get('name', ''), c.get('type', 'string'), c.get('format', ''),
                                c.get('description', ''), c.get('priority', 0)),
                        c.get('jsonPath', '')))
        return out
    out = [(_coldef('Name', fmt='name', desc='Name must be unique within a namespace.'), None)]
    if rt.key == ('apps', 'deployments'):
        out += [(_coldef('Ready'), 'ready'), (_coldef('Up-to-date', 'integer'),
                                              '.status.updatedReplicas'),
                (_coldef('Available', 'integer'), '.status.availableReplicas')]
    out.append((_coldef('Age', desc='CreationTimestamp'), '.metadata.creationTimestamp'))
    return out


def table_cells(cols, obj):
    cells = []
    for d, path in cols:
        if path is None:
            cells.append(obj['metadata'].get('name', ''))
            continue
        if path == 'ready':
            st = obj.get('status') or {}
            cells.append('%d/%d' % (st.get('readyReplicas', 0),
                                    (obj.get('spec') or {}).get('replicas', 0)))
            continue
        vals = jsonpath_eval(obj, path)
        if d['name'] == 'Age' or d['type'] == 'date':
            cells.append(human_age(vals[0]) if vals else '<unknown>')
        elif not vals:
            cells.append(None)
        elif len(vals) == 1:
            v = vals[0]
            if d['type'] == 'string' and not isinstance(v, str):
                v = json.dumps(v) if isinstance(v, (dict, list, bool)) else str(v)
            cells.append(v)
        else:
            cells.append(','.join(v if isinstance(v, str) else json.dumps(v) for v in vals))
    return cells


def wants_table(accept):
    return 'as=Table' in (accept or '')


# ---------------------------------------------------------------- the server state

class Watch:
    def __init__(self, wid, path, query):
        self.id, self.path, self.query = wid, path, query
        self.drop = None  # None or dict(error=code|None, abrupt=bool)


class Fault:
    def __init__(self, fid, spec):
        self.id = fid
        self.spec = spec
        self.action = spec.get('action')
        if self.action not in ('error', 'delay', 'gone', 'drop_watches'):
            raise ApiError(400, 'BadRequest', 'fault: unknown action %r (error, delay, gone, '
                           'drop_watches)' % self.action)
        try:
            self.method = re.compile(spec.get('method') or '.*', re.I)
            self.path = re.compile(spec.get('path') or '')
            self.query = re.compile(spec.get('query') or '')
        except re.error as e:
            raise ApiError(400, 'BadRequest', 'fault: bad regex: %s' % e)
        c = spec.get('count', 1)
        if not isinstance(c, int) or isinstance(c, bool):
            raise ApiError(400, 'BadRequest', 'fault: count must be an integer')
        self.count = c
        if self.action == 'error':
            code = spec.get('code')
            if not isinstance(code, int) or not 400 <= code <= 599:
                raise ApiError(400, 'BadRequest', 'fault: error needs "code" 400..599')
        if self.action == 'delay' and not isinstance(spec.get('ms'), (int, float)):
            raise ApiError(400, 'BadRequest', 'fault: delay needs "ms"')
        if self.action == 'gone' and spec.get('mode', 'event') not in ('event', 'http'):
            raise ApiError(400, 'BadRequest', 'fault: gone mode must be "event" or "http"')

    def matches(self, method, path, query):
        return (self.method.fullmatch(method) and self.path.search(path)
                and self.query.search(query))

    def describe(self):
        d = dict(self.spec)
        d['id'] = self.id
        d['remaining'] = self.count
        return d


class FakeAPI:
    def __init__(self, host='127.0.0.1', port=0, history=1000, bookmark_interval=5.0,
                 deploy_delay_ms=100, controllers=True, gone_mode='event', token=None,
                 tls_cert=None, tls_key=None, log=None, verbose=False):
        self.host, self.req_port = host, port
        self.history_max = max(1, history)
        self.bookmark_interval = bookmark_interval
        self.deploy_delay = deploy_delay_ms / 1000.0
        self.ctl = {'deployments': controllers, 'services': controllers, 'keda': controllers}
        self.keda_replicas = {}  # (ns, scaledobject) -> replicas the fake "metrics" want
        self.gone_mode = gone_mode
        self.token = token
        self.tls = (tls_cert, tls_key) if tls_cert else None
        self.logf = log or sys.stderr
        self.verbose = verbose
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.types = {}  # (group, plural) -> ResType
        self.objs = {}  # (group, plural) -> {(ns, name): obj}
        self.mf = {}  # (group, plural, ns, name) -> {(manager, op, sub): {paths, time, gv}}
        self.rv = 0
        self.events = deque()
        self.floor = 0  # every event with rv > floor is still in self.events
        self.watches = {}
        self.faults = []
        self.reqlog = deque(maxlen=10000)
        self.reqseq = 0
        self.next_id = 1
        self.rules = kschema.RuleCache(self.log)
        self.stopping = False
        self.timers = []  # (due, fn) for fake controllers
        self.ip_next = 1
        for t in builtin_types():
            self.types[t.key] = t
            self.objs[t.key] = {}
        for ns in ('default', 'kube-system', 'kube-public', 'kube-node-lease'):
            self.create_internal('', 'namespaces', None, {'metadata': {'name': ns}})
        self.server = None

    # -- logging

    def log(self, msg):
        try:
            self.logf.write('fakeapi: %s\n' % msg)
            self.logf.flush()
        except (ValueError, OSError):
            pass

    # -- lifecycle

    def start(self):
        handler = type('Handler', (Handler,), {'api': self})
        api = self

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ':' in self.host else socket.AF_INET

            def handle_error(self, request, client_address):
                # e.g. a client reset during the request line: log one line, no traceback
                api.log('connection error from %s: %r' % (client_address[0],
                                                          sys.exc_info()[1]))
        self.server = Server((self.host, self.req_port), handler)
        self.server.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls[0], self.tls[1])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.ctl_thread = threading.Thread(target=self._controller_loop, daemon=True)
        self.ctl_thread.start()
        return self

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self):
        host = '[%s]' % self.host if ':' in self.host else '127.0.0.1'
        return '%s://%s:%d' % ('https' if self.tls else 'http', host, self.port)

    def kubeconfig(self):
        """Kubeconfig text (block-style YAML) for this server."""
        lines = ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: fake', '  cluster:',
                 '    server: %s' % self.url]
        if self.tls:
            lines.append('    insecure-skip-tls-verify: true')
        lines += ['users:', '- name: fake']
        lines += ['  user:', '    token: %s' % json.dumps(self.token)] if self.token else \
            ['  user: {}']
        lines += ['contexts:', '- name: fake', '  context:', '    cluster: fake',
                  '    user: fake', '    namespace: default', 'current-context: fake', '']
        return '\n'.join(lines)

    # -- type lookup

    def find_type(self, group, version, plural):
        t = self.types.get((group, plural))
        if t is None or version not in t.versions:
            return None
        return t

    def kind_type(self, api_version, kind):
        group, _, version = api_version.rpartition('/')
        for t in self.types.values():
            if t.group == group and t.kind == kind and version in t.versions:
                return t
        return None

    # -- events

    def _emit(self, rt, etype, obj, old=None):
        ns = obj['metadata'].get('namespace', '')
        if len(self.events) >= self.history_max:
            self.floor = self.events[0][0]
            self.events.popleft()
        self.events.append((self.rv, rt.key, ns, etype, dcopy(obj), old))
        self.cond.notify_all()

    def compact(self, keep=0):
        with self.cond:
            while len(self.events) > max(0, keep):
                self.floor = self.events[0][0]
                self.events.popleft()
            if keep <= 0:
                self.floor = self.rv
            self.cond.notify_all()
            return {'historyFloor': str(self.floor), 'resourceVersion': str(self.rv)}

    # -- object helpers

    def _out(self, rt, obj, version=None):
        o = dcopy(obj)
        o['apiVersion'] = rt.gv(version)
        o['kind'] = rt.kind
        return o

    def _not_found(self, rt, name):
        return ApiError(404, 'NotFound', '%s "%s" not found' % (rt.res_name(), name),
                        {'name': name, 'group': rt.group, 'kind': rt.plural})

    def _mfkey(self, rt, ns, name):
        return (rt.group, rt.plural, ns or '', name)

    def _render_mf(self, rt, obj):
        md = obj['metadata']
        entries = self.mf.get(self._mfkey(rt, md.get('namespace'), md['name']), {})
        out = []
        for (mgr, op, sub), e in entries.items():
            if not e['paths']:
                continue
            ent = {'manager': mgr, 'operation': op, 'apiVersion': e['gv'], 'time': e['time'],
                   'fieldsType': 'FieldsV1', 'fieldsV1': fields_v1(e['paths'])}
            if sub:
                ent['subresource'] = sub
            out.append(ent)
        if out:
            md['managedFields'] = out
        else:
            md.pop('managedFields', None)

    def _import_mf(self, rt, ns, name, lst):
        """A client wrote metadata.managedFields: take it as the new ownership state."""
        entries = {}
        for e in lst or []:
            if not isinstance(e, dict) or not e.get('manager'):
                continue
            k = (e['manager'], e.get('operation', 'Update'), e.get('subresource', ''))
            entries[k] = {'paths': parse_fields_v1(e.get('fieldsV1') or {}),
                          'time': e.get('time') or now_ts(), 'gv': e.get('apiVersion') or rt.gv()}
        self.mf[self._mfkey(rt, ns, name)] = entries

    def _track_update(self, rt, ns, name, old, new, manager, sub, gv):
        """Update operation: the manager owns what it changed; others lose it."""
        key = self._mfkey(rt, ns, name)
        entries = self.mf.setdefault(key, {})
        ov = owned_view(old, sub, rt.status) if old else {}
        nv = owned_view(new, sub, rt.status)
        changed = diff_paths(ov, nv)
        if not changed:
            return
        for k, e in entries.items():
            e['paths'] = {p for p in e['paths'] if not any(overlaps(p, c) for c in changed)}
        present = {c for c in changed if value_at(nv, c)[0]}
        if present:
            e = entries.setdefault((manager, 'Update', sub or ''), {'paths': set(), 'gv': gv,
                                                                     'time': now_ts()})
            e['paths'] |= present
            e['time'] = now_ts()
            e['gv'] = gv
        for k in [k for k, e in entries.items() if not e['paths']]:
            del entries[k]

    # -- defaults and fake controllers (synchronous parts)

    def _defaults(self, rt, obj, old):
        spec = obj.get('spec')
        if rt.key == ('apps', 'deployments'):
            spec = obj.setdefault('spec', {})
            spec.setdefault('replicas', 1)
            spec.setdefault('revisionHistoryLimit', 10)
            spec.setdefault('progressDeadlineSeconds', 600)
            st = spec.setdefault('strategy', {'type': 'RollingUpdate'})
            if st.get('type', 'RollingUpdate') == 'RollingUpdate':
                st['type'] = 'RollingUpdate'
                st.setdefault('rollingUpdate', {'maxUnavailable': '25%', 'maxSurge': '25%'})
        elif rt.key in (('apps', 'statefulsets'), ('apps', 'replicasets')):
            obj.setdefault('spec', {}).setdefault('replicas', 1)
        elif rt.key == ('', 'services'):
            spec = obj.setdefault('spec', {})
            spec.setdefault('type', 'ClusterIP')
            spec.setdefault('sessionAffinity', 'None')
            if spec.get('type') != 'ExternalName':
                oldip = ((old or {}).get('spec') or {}).get('clusterIP')
                if not spec.get('clusterIP'):
                    if oldip:
                        spec['clusterIP'] = oldip
                    else:
                        spec['clusterIP'] = '10.96.%d.%d' % (self.ip_next // 250,
                                                             self.ip_next % 250 + 1)
                        self.ip_next += 1
                spec['clusterIPs'] = [spec['clusterIP']]
            for p in spec.get('ports') or []:
                if isinstance(p, dict):
                    p.setdefault('protocol', 'TCP')
                    p.setdefault('targetPort', p.get('port'))
        elif rt.key == ('', 'namespaces'):
            obj.setdefault('spec', {}).setdefault('finalizers', ['kubernetes'])
            obj['status'] = {'phase': 'Active'}
            obj['metadata'].setdefault('labels', {})['kubernetes.io/metadata.name'] = \
                obj['metadata']['name']
        elif rt.key == ('', 'secrets'):
            obj.setdefault('type', 'Opaque')
            sd = obj.pop('stringData', None)
            if isinstance(sd, dict):
                data = obj.setdefault('data', {})
                for k, v in sd.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
        elif rt.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._crd_defaults(obj)
        return spec

    def _crd_defaults(self, obj):
        spec = obj.get('spec') or {}
        names = dict(spec.get('names') or {})
        if names.get('kind'):
            names.setdefault('singular', names['kind'].lower())
            names.setdefault('listKind', names['kind'] + 'List')
        storage = [v['name'] for v in spec.get('versions') or []
                   if isinstance(v, dict) and v.get('storage')]
        t = now_ts()
        old = {c.get('type'): c for c in (obj.get('status') or {}).get('conditions') or []}

        def cond(ctype, reason, msg):
            return {'type': ctype, 'status': 'True', 'reason': reason, 'message': msg,
                    'lastTransitionTime': old.get(ctype, {}).get('lastTransitionTime', t)}
        stored = list((obj.get('status') or {}).get('storedVersions') or [])
        for s in storage:
            if s not in stored:
                stored.append(s)
        obj['status'] = {'conditions': [
            cond('NamesAccepted', 'NoConflicts', 'no conflicts found'),
            cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
            'acceptedNames': names, 'storedVersions': stored}

    _NAME_RE = re.compile(r'[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$')

    def _validate_meta(self, rt, md):
        """ObjectMeta shape checks, so bad input gets a 422 naming the field."""
        name = md.get('name', '')
        errs = []
        if not isinstance(name, str) or not self._NAME_RE.match(name):
            errs.append(('metadata.name', 'FieldValueInvalid', 'metadata.name: Invalid value: '
                         '%s: a lowercase RFC 1123 subdomain must consist of lower case '
                         'alphanumeric characters, \'-\' or \'.\', and must start and end with an '
                         'alphanumeric character' % json.dumps(name)))
        for k in ('labels', 'annotations'):
            v = md.get(k)
            if v is not None and not (isinstance(v, dict) and all(
                    isinstance(a, str) and isinstance(b, str) for a, b in v.items())):
                errs.append(('metadata.' + k, 'FieldValueTypeInvalid', 'metadata.%s: Invalid '
                             'value: must be a map of strings to strings' % k))
        fin = md.get('finalizers')
        if fin is not None and not (isinstance(fin, list) and
                                    all(isinstance(f, str) for f in fin)):
            errs.append(('metadata.finalizers', 'FieldValueTypeInvalid',
                         'metadata.finalizers: Invalid value: must be a list of strings'))
        refs = md.get('ownerReferences')
        if refs is not None:
            if not isinstance(refs, list):
                refs = [None]
            for i, r in enumerate(refs):
                if not isinstance(r, dict) or not all(
                        isinstance(r.get(k), str) and r.get(k)
                        for k in ('apiVersion', 'kind', 'name', 'uid')):
                    errs.append(('metadata.ownerReferences[%d]' % i, 'FieldValueRequired',
                                 'metadata.ownerReferences[%d]: Required value: apiVersion, '
                                 'kind, name and uid must be set' % i))
        for k in ('generateName', 'namespace'):
            if k in md and not isinstance(md[k], str):
                errs.append(('metadata.' + k, 'FieldValueTypeInvalid',
                             'metadata.%s: Invalid value: must be a string' % k))
        if errs:
            raise self._invalid_error(rt.kind, rt.group, name if isinstance(name, str) else '',
                                      errs)

    def _validate_crd(self, obj):
        spec = obj.get('spec')
        name = obj['metadata'].get('name', '')
        errs = []
        if not isinstance(spec, dict):
            raise self._invalid_error('CustomResourceDefinition', 'apiextensions.k8s.io', name,
                                      [('spec', 'FieldValueRequired', 'spec: Required value')])
        names = spec.get('names') or {}
        for f in ('group',):
            if not spec.get(f):
                errs.append(('spec.' + f, 'FieldValueRequired', 'spec.%s: Required value' % f))
        for f in ('plural', 'kind'):
            if not names.get(f):
                errs.append(('spec.names.' + f, 'FieldValueRequired',
                             'spec.names.%s: Required value' % f))
        if spec.get('scope') not in ('Namespaced', 'Cluster'):
            errs.append(('spec.scope', 'FieldValueNotSupported', 'spec.scope: Unsupported value: '
                         '%s: supported values: "Cluster", "Namespaced"'
                         % json.dumps(spec.get('scope'))))
        vers = spec.get('versions')
        if not isinstance(vers, list) or not vers:
            errs.append(('spec.versions', 'FieldValueInvalid',
                         'spec.versions: Invalid value: null: must have exactly one version '
                         'marked as storage version'))
        elif sum(1 for v in vers if isinstance(v, dict) and v.get('storage')) != 1:
            errs.append(('spec.versions', 'FieldValueInvalid', 'spec.versions: Invalid value: '
                         '"array": must have exactly one version marked as storage version'))
        if not errs and name != '%s.%s' % (names['plural'], spec['group']):
            errs.append(('metadata.name', 'FieldValueInvalid', 'metadata.name: Invalid value: '
                         '%s: must be spec.names.plural+"."+spec.group' % json.dumps(name)))
        if errs:
            raise self._invalid_error('CustomResourceDefinition', 'apiextensions.k8s.io', name,
                                      errs)

    def _register_crd(self, crd):
        spec = crd['spec']
        names = spec['names']
        group = spec['group']
        key = (group, names['plural'])
        vers = [v for v in spec['versions'] if v.get('served', True)]
        t = ResType(group, [v['name'] for v in vers], names['plural'],
                    names.get('singular') or names['kind'].lower(), names['kind'],
                    spec.get('scope') == 'Namespaced', names.get('shortNames') or [],
                    categories=names.get('categories') or [], crd=crd['metadata']['name'])
        for v in vers:
            sub = v.get('subresources') or {}
            if 'status' in sub:
                t.status = True
            if sub.get('scale') is not None:
                t.scale = sub['scale']
            t.printer[v['name']] = v.get('additionalPrinterColumns') or []
            schema = (v.get('schema') or {}).get('openAPIV3Schema')
            t.schemas[v['name']] = schema
            kschema.precompile(schema, self.rules, crd['metadata']['name'])
        self.types[key] = t
        self.objs.setdefault(key, {})

    def _unregister_crd(self, crd):
        spec = crd.get('spec') or {}
        key = (spec.get('group'), (spec.get('names') or {}).get('plural'))
        t = self.types.get(key)
        if t is None or t.crd != crd['metadata']['name']:
            return
        for (ns, name), obj in sorted(self.objs.get(key, {}).items()):
            self.rv += 1
            obj['metadata']['resourceVersion'] = str(self.rv)
            self._emit(t, 'DELETED', obj)
            self.mf.pop(self._mfkey(t, ns, name), None)
        del self.types[key]
        self.objs.pop(key, None)

    def _invalid_error(self, kind, group, name, errs):
        msgs = [m for _, _, m in errs]
        gk = '%s.%s' % (kind, group) if group else kind
        text = '%s "%s" is invalid: %s' % (gk, name, msgs[0] if len(msgs) == 1 else
                                           '[' + ', '.join(msgs) + ']')
        causes = [{'reason': r, 'message': m.split(': ', 1)[1] if ': ' in m else m, 'field': f}
                  for f, r, m in errs]
        return ApiError(422, 'Invalid', text, {'name': name, 'group': group, 'kind': kind,
                                               'causes': causes})

    def _schema_check(self, rt, version, obj, old, strict):
        if not rt.crd:
            return
        schema = rt.schemas.get(version or rt.versions[0])
        if not schema:
            return
        errs, unknown = kschema.validate(schema, obj, old, strict, self.rules, rt.crd)
        name = obj['metadata'].get('name', '')
        if errs:
            raise self._invalid_error(rt.kind, rt.group, name, errs)
        if unknown and strict:
            raise ApiError(400, 'BadRequest', '%s in version "%s" cannot be handled as a %s: '
                           'strict decoding error: %s' % (rt.kind, version, rt.kind, ', '.join(
                               'unknown field "%s"' % u for u in unknown)))

    # -- core write path

    def create_internal(self, group, plural, ns, obj):
        rt = self.types[(group, plural)]
        with self.lock:
            return self.create(rt, rt.versions[0], ns, obj, 'fakeapi', {})

    def create(self, rt, version, ns, obj, manager, q, sub=''):
        if not isinstance(obj, dict):
            raise ApiError(400, 'BadRequest', 'request body must be a JSON object')
        obj = dcopy(obj)
        md = obj.get('metadata')
        if not isinstance(md, dict):
            md = obj['metadata'] = {}
        for k in ('uid', 'resourceVersion', 'creationTimestamp', 'selfLink', 'deletionTimestamp',
                  'deletionGracePeriodSeconds'):
            md.pop(k, None)
        md.pop('generation', None)
        mfin = md.pop('managedFields', None)
        if not md.get('name'):
            if md.get('generateName') and isinstance(md['generateName'], str):
                md['name'] = md['generateName'] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(422, 'Invalid', '%s "" is invalid: metadata.name: Required value: '
                               'name or generateName is required' % rt.kind)
        self._validate_meta(rt, md)
        name = md['name']
        if rt.namespaced:
            bns = md.get('namespace') or ''
            if bns and ns and bns != ns:
                raise ApiError(400, 'BadRequest', 'the namespace of the provided object does not '
                               'match the namespace sent on the request')
            ns = ns or bns or 'default'
            md['namespace'] = ns
            if (('', 'namespaces') in self.types and
                    ('', ns) not in self.objs[('', 'namespaces')]):
                raise ApiError(404, 'NotFound', 'namespaces "%s" not found' % ns,
                               {'name': ns, 'kind': 'namespaces'})
        else:
            md.pop('namespace', None)
            ns = ''
        store = self.objs[rt.key]
        if (ns, name) in store:
            raise ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (rt.res_name(), name),
                           {'name': name, 'group': rt.group, 'kind': rt.plural})
        if rt.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._validate_crd(obj)
        if rt.status and sub != 'status' and rt.key != ('apiextensions.k8s.io',
                                                        'customresourcedefinitions'):
            obj.pop('status', None)  # status is set through /status only
        for k in ('labels', 'annotations'):
            if md.get(k) in ({}, None):
                md.pop(k, None)
        self._schema_check(rt, version, obj, None, q.get('fieldValidation') == 'Strict')
        dry = q.get('dryRun') == 'All'
        gv = rt.gv(version)
        if not dry:
            key = self._mfkey(rt, ns, name)
            self.mf[key] = {}
            if mfin:
                self._import_mf(rt, ns, name, mfin)
            elif manager:
                self._track_update(rt, ns, name, None, obj, manager, '', gv)
        self._defaults(rt, obj, None)
        md['uid'] = str(uuid.uuid4())
        md['creationTimestamp'] = now_ts()
        md['generation'] = 1
        if dry:
            md['resourceVersion'] = str(self.rv)
            return obj
        self.rv += 1
        md['resourceVersion'] = str(self.rv)
        obj['apiVersion'], obj['kind'] = rt.gv(), rt.kind
        self._render_mf(rt, obj)
        store[(ns, name)] = obj
        if rt.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._register_crd(obj)
        self._emit(rt, 'ADDED', obj)
        self._after_write(rt, obj, None)
        return obj

    def load_object(self, obj):
        """Create any object from a manifest (for --load); its kind must be served."""
        if not isinstance(obj, dict) or not obj.get('apiVersion') or not obj.get('kind'):
            raise ApiError(400, 'BadRequest', 'object without apiVersion/kind')
        rt = self.kind_type(obj['apiVersion'], obj['kind'])
        if rt is None:
            raise ApiError(404, 'NotFound', 'no resource serves %s %s' % (obj['apiVersion'],
                                                                          obj['kind']))
        ns = (obj.get('metadata') or {}).get('namespace') if rt.namespaced else None
        version = obj['apiVersion'].rpartition('/')[2]
        created = self.create(rt, version, ns, obj, 'fakeapi', {})
        st = obj.get('status')
        if st is not None and rt.status and rt.key != ('apiextensions.k8s.io',
                                                       'customresourcedefinitions'):
            new = dcopy(created)
            new['status'] = st
            created = self.update(rt, version, ns, created['metadata']['name'], new,
                                  'fakeapi', {}, sub='status')
        return created

    def get(self, rt, ns, name):
        o = self.objs[rt.key].get((ns or '', name))
        if o is None:
            raise self._not_found(rt, name)
        return o

    def update(self, rt, version, ns, name, new, manager, q, sub='', track=True):
        """Replace an object (PUT, or the result of a patch). sub: '' or 'status'."""
        store = self.objs[rt.key]
        ns = ns or ''
        old = store.get((ns, name))
        if old is None:
            raise self._not_found(rt, name)
        if not isinstance(new, dict):
            raise ApiError(400, 'BadRequest', 'request body must be a JSON object')
        new = dcopy(new)
        md = new.get('metadata')
        if not isinstance(md, dict):
            md = new['metadata'] = {}
        if md.get('name') and md['name'] != name:
            raise ApiError(400, 'BadRequest', 'the name of the object (%s) does not match the '
                           'name on the URL (%s)' % (md['name'], name))
        rv = md.get('resourceVersion')
        if rv not in (None, '') and str(rv) != old['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object '
                           'has been modified; please apply your changes to the latest version '
                           'and try again' % (rt.res_name(), name),
                           {'name': name, 'group': rt.group, 'kind': rt.plural})
        omd = old['metadata']
        if sub == 'status':
            # /status writes change only status
            st = new.get('status')
            new = dcopy(old)
            if st is None:
                new.pop('status', None)
            else:
                new['status'] = st
            md = new['metadata']
        else:
            if rt.status:
                if 'status' in old:
                    new['status'] = dcopy(old['status'])
                else:
                    new.pop('status', None)
            for k in ('uid', 'creationTimestamp', 'deletionTimestamp', 'generation',
                      'deletionGracePeriodSeconds'):
                if k in omd:
                    md[k] = omd[k]
                else:
                    md.pop(k, None)
            if omd.get('deletionTimestamp'):
                # while terminating, finalizers may only be removed
                md['finalizers'] = [f for f in md.get('finalizers') or []
                                    if f in (omd.get('finalizers') or [])]
            for k in ('labels', 'annotations', 'finalizers', 'ownerReferences'):
                if md.get(k) in ({}, None, []):
                    md.pop(k, None)
        md['name'] = name
        if rt.namespaced:
            md['namespace'] = ns
        else:
            md.pop('namespace', None)
        self._validate_meta(rt, md)
        md['resourceVersion'] = omd['resourceVersion']
        if rt.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._validate_crd(new)
        mfin = md.pop('managedFields', None)
        self._schema_check(rt, version, new, old, q.get('fieldValidation') == 'Strict')
        self._defaults(rt, new, old)
        # generation: bumped when anything outside metadata (and status, if it is a
        # subresource) changes
        def body(o):
            return {k: v for k, v in o.items() if k not in ('metadata', 'apiVersion', 'kind')
                    and not (rt.status and k == 'status')}
        if body(new) != body(old):
            md['generation'] = omd.get('generation', 1) + 1
        gv = rt.gv(version)
        dry = q.get('dryRun') == 'All'
        mfkey = self._mfkey(rt, ns, name)
        saved_mf = dcopy(self.mf.get(mfkey, {}))
        if mfin is not None and mfin != omd.get('managedFields'):
            self._import_mf(rt, ns, name, mfin)
        elif track and manager:
            self._track_update(rt, ns, name, old, new, manager, sub, gv)
        new['apiVersion'], new['kind'] = rt.gv(), rt.kind
        self._render_mf(rt, new)
        if dry:
            self.mf[mfkey] = saved_mf
            return new
        if new == old:
            return old  # no-op: no new resourceVersion, no event
        if omd.get('deletionTimestamp') and not md.get('finalizers'):
            return self._finish_delete(rt, ns, name, new)
        self.rv += 1
        md['resourceVersion'] = str(self.rv)
        store[(ns, name)] = new
        if rt.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            if (old['spec'].get('names') or {}).get('plural') != \
                    (new['spec'].get('names') or {}).get('plural'):
                self._unregister_crd(old)
            self._register_crd(new)
        self._emit(rt, 'MODIFIED', new, old)
        self._after_write(rt, new, old)
        return new

    def apply(self, rt, version, ns, name, cfg, manager, force, q, sub=''):
        """Server-side apply of cfg by manager."""
        if not manager:
            raise ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: '
                           'fieldManager: Required value: is required for apply patch')
        if not isinstance(cfg, dict):
            raise ApiError(400, 'BadRequest', 'apply patch body must be an object')
        cmd = cfg.get('metadata') or {}
        if not isinstance(cmd, dict):
            raise ApiError(400, 'BadRequest', 'metadata must be an object')
        if cmd.get('name') and cmd['name'] != name:
            raise ApiError(400, 'BadRequest', 'the name of the object (%s) does not match the '
                           'name on the URL (%s)' % (cmd['name'], name))
        if 'managedFields' in cmd:
            raise ApiError(400, 'BadRequest', 'metadata.managedFields must be nil')
        if not cfg.get('apiVersion') or not cfg.get('kind'):
            raise ApiError(400, 'BadRequest', 'apiVersion and kind must be set in an apply '
                           'patch')
        if cfg['kind'] != rt.kind:
            raise ApiError(400, 'BadRequest', 'the kind of the object (%s) does not match the '
                           'resource (%s)' % (cfg['kind'], rt.kind))
        ns = ns or ''
        store = self.objs[rt.key]
        old = store.get((ns, name))
        gv = rt.gv(version)
        mykey = (manager, 'Apply', sub or '')
        if old is None:
            if sub:
                raise self._not_found(rt, name)
            obj = dcopy(cfg)
            obj.setdefault('metadata', {})['name'] = name
            if rt.namespaced:
                obj['metadata']['namespace'] = ns
            created = self.create(rt, version, ns, obj, None, q)
            if q.get('dryRun') == 'All':
                return created, True
            paths = leaf_paths(owned_view(cfg, '', rt.status))
            self.mf[self._mfkey(rt, ns, name)] = {mykey: {'paths': paths, 'time': now_ts(),
                                                          'gv': gv}}
            self._render_mf(rt, created)
            return created, True
        rv = cmd.get('resourceVersion')
        if rv not in (None, '') and rv != old['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object '
                           'has been modified; please apply your changes to the latest version '
                           'and try again' % (rt.res_name(), name))
        view = owned_view(cfg, sub, rt.status)
        P = leaf_paths(view)
        mfkey = self._mfkey(rt, ns, name)
        entries = dcopy(self.mf.get(mfkey, {}))
        cur = old
        conflicts = []
        for k, e in entries.items():
            if k[0] == manager:
                continue
            for q_ in e['paths']:
                for p in P:
                    if not overlaps(p, q_):
                        continue
                    at = p if len(p) >= len(q_) else q_
                    if value_at(view, at) != value_at(cur, at):
                        conflicts.append((k, p, q_))
        if conflicts and not force:
            # like the API server's last-applied handling: fields that the client-side apply
            # annotation set to their live value may be taken over without a conflict
            la = (old['metadata'].get('annotations') or {}).get(
                'kubectl.kubernetes.io/last-applied-configuration')
            try:
                la = json.loads(la) if la else None
            except ValueError:
                la = None
            if isinstance(la, dict):
                lav = owned_view(la, sub, rt.status)
                conflicts = [c for c in conflicts
                             if not (value_at(lav, c[1])[0] and
                                     value_at(lav, c[1]) == value_at(cur, c[1]))]
        if conflicts and not force:
            causes, seen = [], set()
            for k, p, _ in conflicts:
                f = '.' + '.'.join(p)
                if (k[0], f) in seen:
                    continue
                seen.add((k[0], f))
                causes.append({'type': 'FieldManagerConflict',
                               'message': 'conflict with "%s"%s' % (
                                   k[0], ' using %s' % entries[k]['gv'] if entries[k]['gv'] else ''),
                               'field': f})
            msg = 'Apply failed with %d conflict%s: %s' % (
                len(causes), '' if len(causes) == 1 else 's',
                '\n'.join('%s: %s' % (c['message'], c['field']) for c in causes))
            raise ApiError(409, 'Conflict', msg, {'causes': causes})
        for k, p, q_ in conflicts:
            entries[k]['paths'] = {x for x in entries[k]['paths'] if not overlaps(x, p)}
        prev = entries.get(mykey, {}).get('paths', set())
        new = dcopy(old)
        others = set()
        for k, e in entries.items():
            if k != mykey:
                others |= e['paths']
        for r in prev - P:
            if any(overlaps(r, p) for p in P):
                continue
            if any(overlaps(r, o) for o in others):
                continue
            delete_path(new, r)
        for p in P:
            ok, v = value_at(view, p)
            cur_ = new
            for comp in p[:-1]:
                if not isinstance(cur_.get(comp), dict):
                    cur_[comp] = {}
                cur_ = cur_[comp]
            if v is None:
                cur_.pop(p[-1], None)
            else:
                cur_[p[-1]] = dcopy(v)
        entries[mykey] = {'paths': P, 'time': now_ts() if P != prev else
                          entries.get(mykey, {}).get('time', now_ts()), 'gv': gv}
        for k in [k for k, e in entries.items() if not e['paths']]:
            del entries[k]
        saved = self.mf.get(mfkey, {})
        self.mf[mfkey] = entries
        new['metadata'].pop('managedFields', None)
        try:
            res = self.update(rt, version, ns, name, new, None, q, sub=sub, track=False)
        except ApiError:
            self.mf[mfkey] = saved
            raise
        if q.get('dryRun') == 'All':
            self.mf[mfkey] = saved
        return res, False

    def delete(self, rt, ns, name, opts, q):
        ns = ns or ''
        store = self.objs[rt.key]
        obj = store.get((ns, name))
        if obj is None:
            raise self._not_found(rt, name)
        pre = (opts or {}).get('preconditions') or {}
        if not isinstance(pre, dict):
            raise ApiError(400, 'BadRequest', 'DeleteOptions.preconditions must be an object')
        if pre.get('uid') and pre['uid'] != obj['metadata']['uid']:
            raise ApiError(409, 'Conflict', 'Precondition failed: UID in precondition: %s, UID '
                           'in object meta: %s' % (pre['uid'], obj['metadata']['uid']))
        if pre.get('resourceVersion') and pre['resourceVersion'] != \
                obj['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', 'Precondition failed: ResourceVersion in '
                           'precondition: %s, ResourceVersion in object meta: %s'
                           % (pre['resourceVersion'], obj['metadata']['resourceVersion']))
        if q.get('dryRun') == 'All':
            return obj
        policy = (opts or {}).get('propagationPolicy') or q.get('propagationPolicy') or \
            'Background'
        if (opts or {}).get('orphanDependents') is True:
            policy = 'Orphan'
        if obj['metadata'].get('finalizers'):
            if obj['metadata'].get('deletionTimestamp'):
                return obj
            new = dcopy(obj)
            new['metadata']['deletionTimestamp'] = now_ts()
            new['metadata']['deletionGracePeriodSeconds'] = 0
            self.rv += 1
            new['metadata']['resourceVersion'] = str(self.rv)
            store[(ns, name)] = new
            self._emit(rt, 'MODIFIED', new, obj)
            self._after_write(rt, new, obj)
            return new
        return self._finish_delete(rt, ns, name, obj, policy)

    def _finish_delete(self, rt, ns, name, obj, policy='Background'):
        store = self.objs[rt.key]
        store.pop((ns, name), None)
        self.mf.pop(self._mfkey(rt, ns, name), None)
        obj = dcopy(obj)
        self.rv += 1
        obj['metadata']['resourceVersion'] = str(self.rv)
        self._emit(rt, 'DELETED', obj)
        uid = obj['metadata'].get('uid')
        if rt.key == ('apiextensions.k8s.io', 'customresourcedefinitions'):
            self._unregister_crd(obj)
        if rt.key == ('', 'namespaces'):
            for t in list(self.types.values()):
                if not t.namespaced:
                    continue
                for (ons, oname) in sorted(k for k in self.objs.get(t.key, {}) if k[0] == name):
                    if (ons, oname) in self.objs.get(t.key, {}):
                        o = self.objs[t.key][(ons, oname)]
                        self._finish_delete(t, ons, oname, o)
        self._cascade(uid, policy)
        return obj

    def _cascade(self, uid, policy):
        """Owner-reference garbage collection (done at once instead of in the background)."""
        for t in list(self.types.values()):
            for (ons, oname), o in sorted(self.objs.get(t.key, {}).items()):
                refs = o['metadata'].get('ownerReferences') or []
                if not any(r.get('uid') == uid for r in refs):
                    continue
                if (ons, oname) not in self.objs.get(t.key, {}):
                    continue
                if policy == 'Orphan':
                    n = dcopy(o)
                    n['metadata']['ownerReferences'] = [r for r in refs if r.get('uid') != uid]
                    self.update(t, None, ons, oname, n, 'garbage-collector', {}, track=False)
                elif len(refs) == 1 or all(r.get('uid') == uid or not self._uid_exists(r)
                                           for r in refs):
                    self.delete(t, ons, oname, {'propagationPolicy': policy}, {})
                else:
                    n = dcopy(o)
                    n['metadata']['ownerReferences'] = [r for r in refs if r.get('uid') != uid]
                    self.update(t, None, ons, oname, n, 'garbage-collector', {}, track=False)

    def _uid_exists(self, ref):
        for store in self.objs.values():
            for o in store.values():
                if o['metadata'].get('uid') == ref.get('uid'):
                    return True
        return False

    # -- scale subresource

    def scale_get(self, rt, obj):
        sp = rt.scale
        spec_r = jsonpath_eval(obj, sp.get('specReplicasPath', '.spec.replicas'))
        stat_r = jsonpath_eval(obj, sp.get('statusReplicasPath', '.status.replicas'))
        sel = jsonpath_eval(obj, sp['labelSelectorPath']) if sp.get('labelSelectorPath') else []
        md = obj['metadata']
        out = {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
               'metadata': {'name': md['name'], 'uid': md['uid'],
                            'resourceVersion': md['resourceVersion'],
                            'creationTimestamp': md['creationTimestamp']},
               'spec': {'replicas': spec_r[0] if spec_r else 0},
               'status': {'replicas': stat_r[0] if stat_r else 0}}
        if md.get('namespace'):
            out['metadata']['namespace'] = md['namespace']
        if sel:
            s = sel[0]
            out['status']['selector'] = selector_from_label_selector(s) if isinstance(s, dict) \
                else str(s)
        return out

    def scale_set(self, rt, version, ns, name, scale, manager, q):
        obj = self.get(rt, ns, name)
        if not isinstance(scale, dict) or not isinstance((scale.get('spec') or {}).get(
                'replicas'), int):
            raise ApiError(422, 'Invalid', 'Scale.autoscaling "%s" is invalid: spec.replicas: '
                           'Invalid value: must be an integer' % name)
        rv = (scale.get('metadata') or {}).get('resourceVersion')
        if rv not in (None, '') and rv != obj['metadata']['resourceVersion']:
            raise ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object '
                           'has been modified; please apply your changes to the latest version '
                           'and try again' % (rt.res_name(), name))
        path = rt.scale.get('specReplicasPath', '.spec.replicas')
        parts = [p for p in path.split('.') if p]
        new = dcopy(obj)
        cur = new
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = scale['spec']['replicas']
        gv = rt.gv(version)
        key = self._mfkey(rt, ns, name)
        entries = self.mf.setdefault(key, {})
        # a /scale writer (HPA, kubectl scale) owns the replicas field from now on
        tp = tuple(parts)
        saved = dcopy(entries)
        for e in entries.values():
            e['paths'] = {x for x in e['paths'] if not overlaps(x, tp)}
        e = entries.setdefault((manager or 'unknown', 'Update', 'scale'),
                               {'paths': set(), 'gv': gv, 'time': now_ts()})
        e['paths'].add(tp)
        e['time'] = now_ts()
        for k in [k for k, e in entries.items() if not e['paths']]:
            del entries[k]
        new['metadata'].pop('managedFields', None)
        try:
            res = self.update(rt, version, ns, name, new, None, q, track=False)
        except ApiError:
            self.mf[key] = saved
            raise
        if q.get('dryRun') == 'All':
            self.mf[key] = saved
        return self.scale_get(rt, res)

    # -- list

    def list_items(self, rt, ns, lsel, fsel):
        items = []
        for (ons, oname), o in sorted(self.objs.get(rt.key, {}).items()):
            if ns and ons != ns:
                continue
            if lsel and not label_match(lsel, o['metadata'].get('labels')):
                continue
            if fsel and not field_match(fsel, o):
                continue
            items.append(o)
        return items

    # -- fake controllers (asynchronous parts)

    def _after_write(self, rt, obj, old):
        if rt.key == ('keda.sh', 'scaledobjects') and self.ctl['keda']:
            self._schedule(self.deploy_delay, self._reconcile_keda,
                           obj['metadata']['namespace'], obj['metadata']['name'])
            return
        if rt.key == ('apps', 'deployments') and self.ctl['deployments']:
            self._schedule(self.deploy_delay, self._reconcile_deployment,
                           obj['metadata']['namespace'], obj['metadata']['name'])
        elif rt.key in (('apps', 'statefulsets'), ('apps', 'replicasets')) and \
                self.ctl['deployments']:
            self._schedule(self.deploy_delay, self._reconcile_simple, rt.key,
                           obj['metadata']['namespace'], obj['metadata']['name'])

    def _schedule(self, delay, fn, *args):
        self.timers.append((time.time() + delay, fn, args))
        self.cond.notify_all()

    def _controller_loop(self):
        while True:
            with self.cond:
                if self.stopping:
                    return
                now = time.time()
                due = [t for t in self.timers if t[0] <= now]
                self.timers = [t for t in self.timers if t[0] > now]
                for _, fn, args in due:
                    try:
                        fn(*args)
                    except ApiError as e:
                        self.log('controller: %s' % e.message)
                    except Exception as e:  # keep the fake running; report the bug
                        self.log('controller: internal error %r' % e)
                wait = min([t[0] for t in self.timers], default=now + 1) - time.time()
                self.cond.wait(max(0.01, min(wait, 1.0)))

    def _reconcile_deployment(self, ns, name):
        if not self.ctl['deployments']:
            return
        drt = self.types[('apps', 'deployments')]
        dep = self.objs[drt.key].get((ns, name))
        if dep is None or dep['metadata'].get('deletionTimestamp'):
            return
        spec = dep.get('spec') or {}
        n = spec.get('replicas', 1)
        tmpl = spec.get('template') or {}
        h = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()
        phash = ''.join(c for c in h if c in 'bcdfghjklmnpqrstvwxz2456789')[:10] or h[:10]
        rsrt = self.types[('apps', 'replicasets')]
        uid = dep['metadata']['uid']
        rsname = '%s-%s' % (name, phash)
        for (rns, rname), rs in list(self.objs[rsrt.key].items()):
            if rns == ns and rname != rsname and any(
                    r.get('uid') == uid for r in rs['metadata'].get('ownerReferences') or []):
                self._finish_delete(rsrt, rns, rname, rs)
        labels = dict((tmpl.get('metadata') or {}).get('labels') or {})
        labels['pod-template-hash'] = phash
        sel = dcopy(spec.get('selector') or {})
        sel.setdefault('matchLabels', {})['pod-template-hash'] = phash
        rtmpl = dcopy(tmpl)
        rtmpl.setdefault('metadata', {})['labels'] = labels
        want_rs = {'apiVersion': 'apps/v1', 'kind': 'ReplicaSet',
                   'metadata': {'name': rsname, 'namespace': ns, 'labels': labels,
                                'annotations': {'deployment.kubernetes.io/revision': '1'},
                                'ownerReferences': [{'apiVersion': 'apps/v1',
                                                     'kind': 'Deployment', 'name': name,
                                                     'uid': uid, 'controller': True,
                                                     'blockOwnerDeletion': True}]},
                   'spec': {'replicas': n, 'selector': sel, 'template': rtmpl}}
        rs = self.objs[rsrt.key].get((ns, rsname))
        if rs is None:
            rs = self.create(rsrt, 'v1', ns, want_rs, 'kube-controller-manager', {})
        elif rs['spec'].get('replicas') != n:
            upd = dcopy(rs)
            upd['spec']['replicas'] = n
            rs = self.update(rsrt, 'v1', ns, rsname, upd, 'kube-controller-manager', {})
        self._reconcile_simple(rsrt.key, ns, rsname)
        t = now_ts()
        old_st = dep.get('status') or {}
        oldc = {c.get('type'): c for c in old_st.get('conditions') or []}

        def cond(ctype, reason, msg):
            c = {'type': ctype, 'status': 'True', 'reason': reason, 'message': msg,
                 'lastUpdateTime': t,
                 'lastTransitionTime': oldc.get(ctype, {}).get('lastTransitionTime', t)}
            if oldc.get(ctype, {}).get('reason') == reason:
                c['lastUpdateTime'] = oldc[ctype].get('lastUpdateTime', t)
            return c
        st = {'observedGeneration': dep['metadata'].get('generation', 1), 'replicas': n,
              'updatedReplicas': n, 'readyReplicas': n, 'availableReplicas': n,
              'conditions': [cond('Available', 'MinimumReplicasAvailable',
                                  'Deployment has minimum availability.'),
                             cond('Progressing', 'NewReplicaSetAvailable',
                                  'ReplicaSet "%s" has successfully progressed.' % rsname)]}
        if n == 0:
            for k in ('readyReplicas', 'availableReplicas', 'updatedReplicas', 'replicas'):
                st.pop(k)
        new = dcopy(dep)
        new['status'] = st
        self.update(drt, 'v1', ns, name, new, 'kube-controller-manager', {}, sub='status')

    def _reconcile_keda(self, ns, name):
        """Fake KEDA operator + HPA: finalizer, HPA keda-hpa-<name>, target replicas through
        /scale as kube-controller-manager (what the real HPA does), Ready/Active conditions."""
        sort = self.types.get(('keda.sh', 'scaledobjects'))
        if sort is None or not self.ctl['keda']:
            return
        so = self.objs[sort.key].get((ns, name))
        if so is None:
            self.keda_replicas.pop((ns, name), None)
            return
        fin = 'finalizer.keda.sh'
        if so['metadata'].get('deletionTimestamp'):
            if fin in (so['metadata'].get('finalizers') or []):
                new = dcopy(so)
                new['metadata']['finalizers'] = [f for f in new['metadata']['finalizers']
                                                 if f != fin]
                self.update(sort, None, ns, name, new, 'keda-operator', {})
            return
        if fin not in (so['metadata'].get('finalizers') or []):
            new = dcopy(so)
            new['metadata'].setdefault('finalizers', []).append(fin)
            so = self.update(sort, None, ns, name, new, 'keda-operator', {})
        spec = so.get('spec') or {}
        ref = spec.get('scaleTargetRef') or {}
        trt = self.kind_type(ref.get('apiVersion') or 'apps/v1', ref.get('kind') or 'Deployment')
        target = self.objs[trt.key].get((ns, ref.get('name'))) if trt and trt.scale else None
        t = now_ts()
        if target is None:
            conds = [{'type': 'Ready', 'status': 'False', 'reason': 'ScaledObjectCheckFailed',
                      'message': 'ScaledObject doesn\'t have correct scaleTargetRef '
                      'specification', 'lastTransitionTime': t}]
        else:
            lo = spec.get('minReplicaCount', 0)
            hi = spec.get('maxReplicaCount', 100)
            cur = self.scale_get(trt, target)['spec']['replicas']
            want = self.keda_replicas.get((ns, name), cur)
            want = max(lo, min(hi, want))
            if want != cur:
                self.scale_set(trt, None, ns, ref['name'], {'spec': {'replicas': want}},
                               'kube-controller-manager', {})
            hrt = self.types[('autoscaling', 'horizontalpodautoscalers')]
            hname = 'keda-hpa-' + name
            hpa = {'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler',
                   'metadata': {'name': hname, 'namespace': ns,
                                'labels': {'scaledobject.keda.sh/name': name},
                                'ownerReferences': [{
                                    'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject',
                                    'name': name, 'uid': so['metadata']['uid'],
                                    'controller': True, 'blockOwnerDeletion': True}]},
                   'spec': {'minReplicas': max(lo, 1), 'maxReplicas': hi,
                            'scaleTargetRef': {'apiVersion': ref.get('apiVersion', 'apps/v1'),
                                               'kind': ref.get('kind', 'Deployment'),
                                               'name': ref['name']}}}
            old_h = self.objs[hrt.key].get((ns, hname))
            if old_h is None:
                self.create(hrt, 'v2', ns, hpa, 'keda-operator', {})
            elif old_h.get('spec') != hpa['spec']:
                upd = dcopy(old_h)
                upd['spec'] = hpa['spec']
                self.update(hrt, 'v2', ns, hname, upd, 'keda-operator', {})
            oldc = {c.get('type'): c for c in (so.get('status') or {}).get('conditions') or []}

            def cond(ctype, status, reason, msg):
                prev = oldc.get(ctype) or {}
                return {'type': ctype, 'status': status, 'reason': reason, 'message': msg,
                        'lastTransitionTime': prev.get('lastTransitionTime', t)
                        if prev.get('status') == status else t}
            conds = [cond('Ready', 'True', 'ScaledObjectReady',
                          'ScaledObject is defined correctly and is ready for scaling'),
                     cond('Active', 'True' if want > 0 else 'False',
                          'ScalerActive' if want > 0 else 'ScalerNotActive',
                          'Scaling is performed because triggers are active' if want > 0
                          else 'Scaling is not performed because triggers are not active'),
                     cond('Fallback', 'False', 'NoFallbackFound',
                          'No fallbacks are active on this scaled object')]
        st = {'conditions': conds, 'scaleTargetKind': '%s.%s' % (
            (ref.get('apiVersion') or 'apps/v1'), ref.get('kind') or 'Deployment')}
        if target is not None:
            st['hpaName'] = 'keda-hpa-' + name
            st['originalReplicaCount'] = (so.get('status') or {}).get(
                'originalReplicaCount', cur)
        new = dcopy(so)
        new['status'] = st
        self.update(sort, None, ns, name, new, 'keda-operator', {}, sub='status')

    def _reconcile_simple(self, key, ns, name):
        rt = self.types[key]
        o = self.objs[key].get((ns, name))
        if o is None:
            return
        n = (o.get('spec') or {}).get('replicas', 1)
        st = {'replicas': n, 'observedGeneration': o['metadata'].get('generation', 1)}
        if n:
            st.update({'readyReplicas': n, 'availableReplicas': n})
            if key == ('apps', 'replicasets'):
                st['fullyLabeledReplicas'] = n
            else:
                st.update({'currentReplicas': n, 'updatedReplicas': n})
        new = dcopy(o)
        new['status'] = st
        self.update(rt, 'v1', ns, name, new, 'kube-controller-manager', {}, sub='status')

    # -- faults

    def add_faults(self, body):
        specs = body.get('faults') if isinstance(body, dict) and 'faults' in body else [body]
        if not isinstance(specs, list):
            raise ApiError(400, 'BadRequest', 'faults must be a list')
        ids = []
        with self.cond:
            new = []
            for s in specs:
                if not isinstance(s, dict):
                    raise ApiError(400, 'BadRequest', 'a fault must be a JSON object')
                f = Fault(self.next_id, s)
                self.next_id += 1
                new.append(f)
            for f in new:
                ids.append(f.id)
                if f.action == 'drop_watches' and not f.spec.get('future'):
                    hit = 0
                    for w in self.watches.values():
                        if f.path.search(w.path) and f.query.search(w.query):
                            w.drop = {'error': f.spec.get('error'),
                                      'abrupt': bool(f.spec.get('abrupt'))}
                            hit += 1
                    self.log('fault %d: dropped %d watch streams' % (f.id, hit))
                    self.cond.notify_all()
                    continue
                self.faults.append(f)
        return {'ids': ids}

    def take_fault(self, actions, method, path, query):
        with self.lock:
            for f in self.faults:
                if f.action in actions and f.count != 0 and f.matches(method, path, query):
                    if f.count > 0:
                        f.count -= 1
                    spec = f.spec
                    if f.count == 0:
                        self.faults.remove(f)
                    return spec
        return None


def _load_body_yaml(text):
    """apply-patch+yaml bodies: JSON (what every client sends), else PyYAML if present."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml  # optional; not needed for JSON bodies
    except ImportError:
        raise ApiError(415, 'UnsupportedMediaType', 'the fake accepts only JSON apply bodies '
                       '(PyYAML is not installed)')
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ApiError(400, 'BadRequest', 'invalid YAML apply body: %s' % e)


# ---------------------------------------------------------------- HTTP

class _Dropped(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    api = None  # set by FakeAPI.start
    server_version = 'fakeapi/1'

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # -- plumbing

    def _read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            data = b''
            while True:
                line = self.rfile.readline()
                n = int(line.split(b';')[0].strip() or b'0', 16)
                if n == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n > 0 else b''

    def _send(self, code, body, ctype='application/json', headers=None):
        if self._defer is not None:
            # answer built under the store lock; written after it is released
            self._defer.append((code, body, ctype, headers))
            return
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-cache, private')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        self._status = code

    def _send_error(self, e):
        self._defer = None
        self._send(e.code, e.status(), headers=e.headers)

    def _handle(self):
        t0 = time.time()
        self._status = 0
        self._seq = 0
        self._defer = None
        api = self.api
        u = urlsplit(self.path)
        path = unquote(u.path)
        raw_q = u.query
        q = {k: v[-1] for k, v in parse_qs(raw_q, keep_blank_values=True).items()}
        self._manager = q.get('fieldManager', '')
        try:
            body = self._read_body()
            if path.startswith('/fake/'):
                self._admin(path, q, body)
                return
            with api.lock:
                api.reqseq += 1
                self._seq = api.reqseq
            if api.token and self.headers.get('Authorization') != 'Bearer ' + api.token:
                raise ApiError(401, 'Unauthorized', 'Unauthorized')
            method = self.command
            is_watch = q.get('watch') in ('true', '1')
            f = api.take_fault(('delay',), method, path, raw_q)
            if f:
                time.sleep(f['ms'] / 1000.0)
            f = api.take_fault(('error',), method, path, raw_q)
            if f:
                code = f['code']
                hdr = {}
                if f.get('retryAfter') is not None:
                    hdr['Retry-After'] = str(f['retryAfter'])
                raise ApiError(code, REASONS.get(code, 'InternalError'),
                               f.get('message') or 'fake fault: injected %d' % code,
                               {'retryAfterSeconds': f['retryAfter']}
                               if f.get('retryAfter') is not None else None, hdr)
            self._route(path, q, raw_q, body, is_watch)
        except ApiError as e:
            self._send_error(e)
        except _Dropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the fake: answer 500 and log it
            import traceback
            api.log('internal error on %s %s: %s' % (self.command, self.path,
                                                      traceback.format_exc()))
            try:
                self._send_error(ApiError(500, 'InternalError', 'fakeapi internal error: %r' % e))
            except OSError:
                pass
        finally:
            if not path.startswith('/fake/'):
                ms = int((time.time() - t0) * 1000)
                ent = {'seq': self._seq, 'method': self.command, 'path': path, 'query': raw_q,
                       'contentType': self.headers.get('Content-Type', ''),
                       'fieldManager': self._manager, 'status': self._status, 'ms': ms}
                with api.lock:
                    api.reqlog.append(ent)
                if api.verbose:
                    api.log('%s %s%s %d %dms' % (self.command, path, '?' + raw_q if raw_q else '',
                                                  self._status, ms))

    # -- admin

    def _admin(self, path, q, body):
        api = self.api
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            raise ApiError(400, 'BadRequest', 'admin body must be JSON')
        m = self.command
        if path == '/fake/healthz':
            return self._send(200, {'ok': True})
        if path == '/fake/faults':
            if m == 'POST':
                return self._send(200, api.add_faults(data))
            if m == 'DELETE':
                with api.lock:
                    api.faults = []
                return self._send(200, {'faults': []})
            with api.lock:
                return self._send(200, {'faults': [f.describe() for f in api.faults]})
        mm = re.fullmatch(r'/fake/faults/(\d+)', path)
        if mm and m == 'DELETE':
            with api.lock:
                api.faults = [f for f in api.faults if f.id != int(mm.group(1))]
            return self._send(200, {'ok': True})
        if path == '/fake/store':
            with api.lock:
                objs = []
                for key, store in sorted(api.objs.items()):
                    for _, o in sorted(store.items()):
                        objs.append(api._out(api.types[key], o) if key in api.types else o)
                return self._send(200, {'resourceVersion': str(api.rv),
                                        'historyFloor': str(api.floor), 'objects': objs})
        if path == '/fake/compact' and m == 'POST':
            keep = data.get('keep', 0) if isinstance(data, dict) else 0
            return self._send(200, api.compact(int(keep)))
        if path == '/fake/requests':
            with api.lock:
                if m == 'DELETE':
                    api.reqlog.clear()
                    return self._send(200, {'requests': []})
                since = int(q.get('since') or 0)
                return self._send(200, {'requests': [r for r in api.reqlog if r['seq'] > since]})
        if path == '/fake/watches':
            with api.lock:
                return self._send(200, {'watches': [{'id': w.id, 'path': w.path,
                                                     'query': w.query}
                                                    for w in api.watches.values()]})
        if path == '/fake/controllers' and m == 'POST':
            with api.cond:
                for k in ('deployments', 'services', 'keda'):
                    if k in data:
                        api.ctl[k] = bool(data[k])
                if api.ctl['deployments']:
                    for (ns, name) in list(api.objs[('apps', 'deployments')]):
                        api._schedule(0, api._reconcile_deployment, ns, name)
                if api.ctl['keda']:
                    for (ns, name) in list(api.objs.get(('keda.sh', 'scaledobjects'), {})):
                        api._schedule(0, api._reconcile_keda, ns, name)
                return self._send(200, dict(api.ctl))
        if path == '/fake/keda' and m == 'POST':
            if not isinstance(data, dict) or not data.get('name') or \
                    not isinstance(data.get('replicas'), int):
                raise ApiError(400, 'BadRequest', 'keda: need {"namespace","name","replicas"}')
            with api.cond:
                key = (data.get('namespace') or 'default', data['name'])
                api.keda_replicas[key] = data['replicas']
                api._schedule(0, api._reconcile_keda, *key)
            return self._send(200, {'ok': True})
        if path == '/fake/cel':
            with api.lock:
                return self._send(200, {'skipped': list(api.rules.skipped)})
        raise ApiError(404, 'NotFound', 'no admin endpoint %s %s' % (m, path))

    # -- routing

    def _route(self, path, q, raw_q, body, is_watch):
        api = self.api
        m = self.command
        parts = [p for p in path.split('/') if p]
        if path in ('/version', '/version/'):
            return self._send(200, K8S_VERSION)
        if path in ('/healthz', '/livez', '/readyz'):
            return self._send(200, 'ok', 'text/plain')
        if path == '/openapi/v2':
            # an empty protobuf document: valid and empty, so clients skip local validation
            return self._send(200, b'', 'application/octet-stream')
        if path.startswith('/openapi/'):
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        with api.lock:
            if parts == ['api']:
                return self._send(200, {'kind': 'APIVersions', 'versions': ['v1'],
                                        'serverAddressByClientCIDRs': [{
                                            'clientCIDR': '0.0.0.0/0',
                                            'serverAddress': '127.0.0.1:%d' % api.port}]})
            if parts == ['apis']:
                return self._send(200, self._group_list())
            if len(parts) == 2 and parts[0] == 'apis':
                g = [x for x in self._group_list()['groups'] if x['name'] == parts[1]]
                if not g:
                    raise ApiError(404, 'NotFound', 'the server could not find the requested '
                                   'resource')
                return self._send(200, dict(g[0], kind='APIGroup', apiVersion='v1'))
            if parts == ['api', 'v1']:
                return self._send(200, self._resource_list('', 'v1'))
            if len(parts) == 3 and parts[0] == 'apis':
                rl = self._resource_list(parts[1], parts[2])
                if not rl['resources'] and not any(
                        t.group == parts[1] and parts[2] in t.versions
                        for t in api.types.values()):
                    raise ApiError(404, 'NotFound', 'the server could not find the requested '
                                   'resource')
                return self._send(200, rl)
        if parts[:2] == ['api', 'v1']:
            group, version, rest = '', 'v1', parts[2:]
        elif len(parts) >= 3 and parts[0] == 'apis':
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        ns = None
        if len(rest) >= 3 and rest[0] == 'namespaces' and group == '' and \
                rest[2] in ('status', 'finalize') and len(rest) == 3:
            plural, name, sub = 'namespaces', rest[1], rest[2]
        elif len(rest) >= 3 and rest[0] == 'namespaces':
            ns, plural = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
            if len(rest) > 5:
                raise ApiError(404, 'NotFound', 'the server could not find the requested '
                               'resource')
        else:
            plural = rest[0] if rest else None
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            if len(rest) > 3 or not plural:
                raise ApiError(404, 'NotFound', 'the server could not find the requested '
                               'resource')
        with api.lock:
            rt = api.find_type(group, version, plural)
            if rt is None:
                raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
            if ns is not None and not rt.namespaced:
                raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
            if sub == 'finalize':
                sub = 'status'
            if sub and not ((sub == 'status' and rt.status) or (sub == 'scale' and rt.scale)):
                raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if m in ('GET', 'HEAD') and name is None and is_watch:
            return self._watch(rt, version, ns, q, raw_q, path)
        self._defer = []
        try:
            with api.lock:
                if m in ('GET', 'HEAD') and name is None:
                    self._list(rt, version, ns, q)
                else:
                    self._write(m, rt, version, ns, name, sub, q, body)
                out = [(c, json.dumps(b).encode() if isinstance(b, (dict, list)) else b, t, h)
                       for c, b, t, h in self._defer]
        finally:
            self._defer = None
        for args in out:
            self._send(*args)

    def _group_list(self):
        api = self.api
        groups = {}
        order = []
        for t in api.types.values():
            if t.group == '':
                continue
            if t.group not in groups:
                groups[t.group] = []
                order.append(t.group)
            for v in t.versions:
                if v not in groups[t.group]:
                    groups[t.group].append(v)
        out = []
        for g in order:
            vs = sorted(groups[g], key=_version_rank)
            gvs = [{'groupVersion': '%s/%s' % (g, v), 'version': v} for v in vs]
            out.append({'name': g, 'versions': gvs, 'preferredVersion': gvs[0]})
        return {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': out}

    def _resource_list(self, group, version):
        api = self.api
        res = []
        verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update',
                 'watch']
        for t in api.types.values():
            if t.group != group or version not in t.versions:
                continue
            r = {'name': t.plural, 'singularName': t.singular, 'namespaced': t.namespaced,
                 'kind': t.kind, 'verbs': verbs}
            if t.short:
                r['shortNames'] = t.short
            if t.categories:
                r['categories'] = t.categories
            res.append(r)
            if t.status:
                res.append({'name': t.plural + '/status', 'singularName': '',
                            'namespaced': t.namespaced, 'kind': t.kind,
                            'verbs': ['get', 'patch', 'update']})
            if t.scale:
                res.append({'name': t.plural + '/scale', 'singularName': '',
                            'namespaced': t.namespaced, 'group': 'autoscaling', 'version': 'v1',
                            'kind': 'Scale', 'verbs': ['get', 'patch', 'update']})
        gv = '%s/%s' % (group, version) if group else version
        return {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': gv,
                'resources': res}

    # -- list

    def _list(self, rt, version, ns, q):
        api = self.api
        lsel = parse_label_selector(q.get('labelSelector', ''))
        fsel = parse_field_selector(q.get('fieldSelector', ''))
        rv = q.get('resourceVersion', '')
        if rv not in ('', '0'):
            try:
                n = int(rv)
            except ValueError:
                raise ApiError(400, 'BadRequest', 'invalid resourceVersion %r' % rv)
            if n > api.rv:
                raise ApiError(504, 'Timeout', 'Too large resource version: %d, current: %d'
                               % (n, api.rv), {'causes': [{
                                   'reason': 'ResourceVersionTooLarge',
                                   'message': 'Too large resource version'}],
                                   'retryAfterSeconds': 1})
            if q.get('resourceVersionMatch') == 'Exact' and n < api.floor:
                raise ApiError(410, 'Expired', 'too old resource version: %d (%d)'
                               % (n, api.floor))
        items = api.list_items(rt, ns, lsel, fsel)
        list_rv = str(api.rv)
        cont = q.get('continue', '')
        start = 0
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                crv, last = int(tok['rv']), tuple(tok['last'])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, 'BadRequest', 'invalid continue token')
            if crv < api.floor:
                raise ApiError(410, 'Expired', 'The provided continue parameter is too old to '
                               'display a consistent list result. You can start a new list '
                               'without the continue parameter.')
            list_rv = str(crv)
            keys = [(o['metadata'].get('namespace', ''), o['metadata']['name']) for o in items]
            start = next((i for i, k in enumerate(keys) if k > last), len(keys))
        try:
            limit = int(q.get('limit') or 0)
        except ValueError:
            raise ApiError(400, 'BadRequest', 'invalid limit %r' % q.get('limit'))
        meta = {'resourceVersion': list_rv}
        page = items[start:]
        if limit > 0 and len(page) > limit:
            page = page[:limit]
            lo = page[-1]['metadata']
            meta['continue'] = base64.urlsafe_b64encode(json.dumps(
                {'rv': int(list_rv), 'last': [lo.get('namespace', ''), lo['name']]}).encode()
            ).decode()
            meta['remainingItemCount'] = len(items) - start - limit
        if wants_table(self.headers.get('Accept')):
            return self._send(200, self._table(rt, version, page, meta,
                                               q.get('includeObject', 'PartialObjectMetadata')))
        out = {'kind': rt.kind + 'List', 'apiVersion': rt.gv(version), 'metadata': meta,
               'items': [api._out(rt, o, version) for o in page]}
        return self._send(200, out)

    def _table(self, rt, version, objs, meta, include, with_cols=True):
        cols = table_columns(rt, version)
        rows = []
        for o in objs:
            if include == 'Object':
                ro = self.api._out(rt, o, version)
            elif include == 'None':
                ro = None
            else:
                ro = {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1',
                      'metadata': dcopy(o['metadata'])}
            row = {'cells': table_cells(cols, o)}
            if ro is not None:
                row['object'] = ro
            rows.append(row)
        t = {'kind': 'Table', 'apiVersion': 'meta.k8s.io/v1', 'metadata': meta, 'rows': rows}
        t['columnDefinitions'] = [d for d, _ in cols] if with_cols else []
        return t

    # -- watch

    def _chunk(self, data):
        self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
        self.wfile.flush()

    def _watch(self, rt, version, ns, q, raw_q, path):
        api = self.api
        lsel = parse_label_selector(q.get('labelSelector', ''))
        fsel = parse_field_selector(q.get('fieldSelector', ''))
        table = wants_table(self.headers.get('Accept'))
        include = q.get('includeObject', 'PartialObjectMetadata')
        bookmarks = q.get('allowWatchBookmarks') == 'true'
        initial = q.get('sendInitialEvents') == 'true'
        try:
            timeout = float(q.get('timeoutSeconds') or 0)
        except ValueError:
            raise ApiError(400, 'BadRequest', 'invalid timeoutSeconds')
        rv = q.get('resourceVersion', '')
        gone = api.take_fault(('gone',), self.command, path, raw_q)
        drop_after_start = api.take_fault(('drop_watches',), self.command, path, raw_q)
        if initial and not bookmarks:
            raise ApiError(422, 'Invalid', 'sendInitialEvents requires allowWatchBookmarks=true')
        with api.cond:
            if gone is not None and gone.get('mode', 'event') == 'http':
                raise ApiError(410, 'Expired', 'too old resource version: %s (%d)' %
                               (rv or '0', api.rv))
            if rv in ('', '0') or initial:
                start_rv = api.rv
                synth = api.list_items(rt, ns, lsel, fsel)
                synth = [dcopy(o) for o in synth]
                expired = False
            else:
                try:
                    start_rv = int(rv)
                except ValueError:
                    raise ApiError(400, 'BadRequest', 'invalid resourceVersion %r' % rv)
                synth = []
                expired = start_rv < api.floor
                if expired and api.gone_mode == 'http':
                    raise ApiError(410, 'Expired', 'too old resource version: %d (%d)'
                                   % (start_rv, api.floor))
            if gone is not None:
                expired = True
            w = Watch(api.next_id, path, raw_q)
            api.next_id += 1
            api.watches[w.id] = w
        try:
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Transfer-Encoding', 'chunked')
            self.send_header('Cache-Control', 'no-cache, private')
            self.end_headers()
        except OSError:
            with api.lock:
                api.watches.pop(w.id, None)
            raise
        self._status = 200
        first_table = [True]

        def encode_obj(o):
            if not table:
                return api._out(rt, o, version)
            t = self._table(rt, version, [o], {'resourceVersion': o['metadata']
                                               ['resourceVersion']}, include,
                            with_cols=first_table[0])
            first_table[0] = False
            return t

        def send(etype, o):
            self._chunk(json.dumps({'type': etype, 'object': o}).encode() + b'\n')

        def send_error(code, msg):
            send('ERROR', ApiError(code, REASONS.get(code, 'InternalError'), msg).status())

        def bookmark(rv_, initial_end=False):
            md = {'resourceVersion': str(rv_)}
            if initial_end:
                md['annotations'] = {'k8s.io/initial-events-end': 'true'}
            send('BOOKMARK', {'kind': rt.kind, 'apiVersion': rt.gv(version), 'metadata': md})

        deadline = time.time() + timeout if timeout > 0 else None
        try:
            if expired:
                send_error(410, 'too old resource version: %d (%d)' % (
                    int(rv) if rv.isdigit() else 0, api.floor))
                self._chunk(b'')
                return
            for o in synth:
                send('ADDED', encode_obj(o))
            if initial:
                bookmark(start_rv, True)
            if drop_after_start is not None:
                if drop_after_start.get('error'):
                    code = int(drop_after_start['error'])
                    send_error(code, 'fake fault: watch dropped')
                if drop_after_start.get('abrupt'):
                    self._abort()
                self._chunk(b'')
                return
            sent_rv = start_rv
            next_bm = time.time() + api.bookmark_interval
            while True:
                with api.cond:
                    while True:
                        if api.stopping:
                            raise _Dropped()
                        if w.drop is not None:
                            break
                        if api.events and api.events[-1][0] > sent_rv:
                            break
                        now = time.time()
                        if deadline and now >= deadline:
                            break
                        if bookmarks and now >= next_bm:
                            break
                        if self._client_gone():
                            raise _Dropped()
                        until = min(x for x in (deadline, next_bm if bookmarks else None,
                                                now + 1.0) if x)
                        api.cond.wait(max(0.01, until - now))
                    drop = w.drop
                    behind = sent_rv < api.floor
                    batch = []
                    if not behind:
                        for ev in reversed(api.events):
                            if ev[0] <= sent_rv:
                                break
                            batch.append(ev)
                        batch.reverse()
                    cur_rv = api.rv
                if drop is not None:
                    if drop.get('error'):
                        send_error(int(drop['error']), 'fake fault: watch dropped')
                    if drop.get('abrupt'):
                        self._abort()
                    self._chunk(b'')
                    return
                if behind:
                    send_error(410, 'too old resource version: %d (%d)' % (sent_rv, api.floor))
                    self._chunk(b'')
                    return
                for ev_rv, key, ens, etype, obj, old in batch:
                    sent_rv = ev_rv
                    if key != rt.key or (ns and ens != ns):
                        continue
                    mn = (not lsel or label_match(lsel, obj['metadata'].get('labels'))) and \
                        (not fsel or field_match(fsel, obj))
                    if etype == 'MODIFIED' and (lsel or fsel):
                        mo = old is not None and \
                            (not lsel or label_match(lsel, old['metadata'].get('labels'))) and \
                            (not fsel or field_match(fsel, old))
                        if mn and not mo:
                            etype = 'ADDED'
                        elif mo and not mn:
                            etype, mn = 'DELETED', True
                    if not mn:
                        continue
                    send(etype, encode_obj(obj))
                now = time.time()
                if bookmarks and now >= next_bm:
                    bookmark(max(sent_rv, cur_rv) if not batch else sent_rv)
                    next_bm = now + api.bookmark_interval
                if deadline and now >= deadline:
                    self._chunk(b'')
                    return
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            with api.lock:
                api.watches.pop(w.id, None)

    def _client_gone(self):
        """True when the watch client closed its end (so idle watches do not linger)."""
        if isinstance(self.connection, ssl.SSLSocket):
            return False
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b''
        except (OSError, ValueError):
            return True

    def _abort(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b'\x01\x00\x00\x00\x00\x00\x00\x00')
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped()

    # -- writes

    def _parse_body(self, body, ctype):
        if ctype.startswith('application/vnd.kubernetes.protobuf'):
            try:
                return kproto.decode(body)[2]
            except ValueError as e:
                raise ApiError(415, 'UnsupportedMediaType', str(e))
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError as e:
            raise ApiError(400, 'BadRequest', 'invalid JSON body: %s' % e)

    def _write(self, m, rt, version, ns, name, sub, q, body):
        api = self.api
        ctype = (self.headers.get('Content-Type') or 'application/json').split(';')[0].strip()
        manager = q.get('fieldManager') or _manager_from_ua(self.headers.get('User-Agent', ''))
        self._manager = manager
        if m == 'GET':
            obj = api.get(rt, ns, name)
            if sub == 'scale':
                return self._send(200, api.scale_get(rt, obj))
            if wants_table(self.headers.get('Accept')):
                return self._send(200, self._table(rt, version, [obj],
                                                   {'resourceVersion': str(api.rv)},
                                                   q.get('includeObject',
                                                         'PartialObjectMetadata')))
            return self._send(200, api._out(rt, obj, version))
        if m == 'POST':
            if name is not None:
                raise ApiError(405, 'MethodNotAllowed', 'POST on a named resource is not '
                               'supported')
            obj = self._parse_body(body, ctype)
            self._check_kind(rt, obj)
            res = api.create(rt, version, ns, obj, manager, q)
            return self._send(201, api._out(rt, res, version))
        if m == 'PUT':
            if name is None:
                raise ApiError(405, 'MethodNotAllowed', 'PUT needs a name')
            obj = self._parse_body(body, ctype)
            if sub == 'scale':
                return self._send(200, api.scale_set(rt, version, ns, name, obj, manager, q))
            self._check_kind(rt, obj)
            res = api.update(rt, version, ns, name, obj, manager, q, sub=sub or '')
            return self._send(200, api._out(rt, res, version))
        if m == 'PATCH':
            if name is None:
                raise ApiError(405, 'MethodNotAllowed', 'PATCH needs a name')
            return self._patch(rt, version, ns, name, sub, q, body, ctype, manager)
        if m == 'DELETE':
            opts = {}
            if body and not ctype.startswith('application/vnd.kubernetes.protobuf'):
                try:
                    opts = json.loads(body) or {}
                except ValueError:
                    raise ApiError(400, 'BadRequest', 'invalid DeleteOptions body')
                if not isinstance(opts, dict):
                    raise ApiError(400, 'BadRequest', 'DeleteOptions must be a JSON object')
            elif body:
                try:
                    opts = kproto.decode(body)[2]
                except ValueError:
                    opts = {}
            if name is None:
                lsel = parse_label_selector(q.get('labelSelector', ''))
                fsel = parse_field_selector(q.get('fieldSelector', ''))
                items = api.list_items(rt, ns, lsel, fsel)
                gone = []
                for o in items:
                    md = o['metadata']
                    gone.append(api._out(rt, api.delete(rt, md.get('namespace'), md['name'],
                                                        opts, q), version))
                return self._send(200, {'kind': rt.kind + 'List', 'apiVersion': rt.gv(version),
                                        'metadata': {'resourceVersion': str(api.rv)},
                                        'items': gone})
            res = api.delete(rt, ns, name, opts, q)
            return self._send(200, api._out(rt, res, version))
        raise ApiError(405, 'MethodNotAllowed', 'method %s not allowed' % m)

    def _check_kind(self, rt, obj):
        if isinstance(obj, dict) and obj.get('kind') and obj['kind'] != rt.kind:
            raise ApiError(400, 'BadRequest', 'the kind of the object (%s) does not match the '
                           'resource (%s)' % (obj['kind'], rt.kind))

    def _patch(self, rt, version, ns, name, sub, q, body, ctype, manager):
        api = self.api
        force = q.get('force') == 'true'
        if ctype == 'application/apply-patch+yaml':
            cfg = _load_body_yaml(body.decode('utf-8', 'replace'))
            if sub == 'scale':
                raise ApiError(415, 'UnsupportedMediaType', 'apply to /scale is not supported '
                               'by the fake')
            res, created = api.apply(rt, version, ns, name, cfg, q.get('fieldManager', ''),
                                     force, q, sub=sub or '')
            return self._send(201 if created else 200, api._out(rt, res, version))
        try:
            patch = json.loads(body) if body else None
        except ValueError as e:
            raise ApiError(400, 'BadRequest', 'invalid JSON patch body: %s' % e)
        if sub == 'scale':
            cur = api.scale_get(rt, api.get(rt, ns, name))
            new = self._apply_patch(cur, patch, ctype, rt, True)
            return self._send(200, api.scale_set(rt, version, ns, name, new, manager, q))
        cur = api._out(rt, api.get(rt, ns, name), version)
        new = self._apply_patch(cur, patch, ctype, rt, False)
        if not isinstance(new, dict):
            raise ApiError(422, 'Invalid', 'patch result is not an object')
        res = api.update(rt, version, ns, name, new, manager, q, sub=sub or '')
        return self._send(200, api._out(rt, res, version))

    def _apply_patch(self, cur, patch, ctype, rt, is_scale):
        if ctype == 'application/merge-patch+json':
            return merge_patch(cur, patch)
        if ctype == 'application/strategic-merge-patch+json':
            if rt.crd and not is_scale:
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an '
                               'unknown format - accepted media types include: '
                               'application/json-patch+json, application/merge-patch+json, '
                               'application/apply-patch+yaml')
            return smp(cur, patch)
        if ctype == 'application/json-patch+json':
            return json_patch(cur, patch)
        raise ApiError(415, 'UnsupportedMediaType', 'unsupported patch type %r' % ctype)


def _manager_from_ua(ua):
    """client-go's default field manager: the User-Agent's first token up to '/'."""
    tok = ua.split(' ')[0] if ua else ''
    return tok.split('/')[0][:128] or 'unknown'


def _version_rank(v):
    m = re.fullmatch(r'v(\d+)(?:(alpha|beta)(\d+))?', v)
    if not m:
        return (3, 0, 0, v)
    stab = {'alpha': 2, 'beta': 1, None: 0}[m.group(2)]
    return (stab, -int(m.group(1)), -int(m.group(3) or 0), v)


# ---------------------------------------------------------------- CLI

def load_file_objects(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise SystemExit('fakeapi: %s: not JSON and PyYAML is not installed' % path)
        return [d for d in yaml.safe_load_all(text) if d]
    if isinstance(doc, dict) and doc.get('kind') == 'List':
        return doc.get('items') or []
    return doc if isinstance(doc, list) else [doc]


def main(argv=None):
    ap = argparse.ArgumentParser(description='fake kube-apiserver for tests')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--kubeconfig')
    ap.add_argument('--history', type=int, default=1000)
    ap.add_argument('--bookmark-interval', type=float, default=5.0)
    ap.add_argument('--deploy-delay-ms', type=int, default=100)
    ap.add_argument('--no-controllers', action='store_true')
    ap.add_argument('--keda', action='store_true')
    ap.add_argument('--crd', action='append', default=[])
    ap.add_argument('--load', action='append', default=[])
    ap.add_argument('--fault', action='append', default=[])
    ap.add_argument('--gone-mode', choices=('event', 'http'), default='event')
    ap.add_argument('--token')
    ap.add_argument('--tls-cert')
    ap.add_argument('--tls-key')
    ap.add_argument('--log')
    ap.add_argument('-v', '--verbose', action='store_true')
    a = ap.parse_args(argv)
    if a.host not in ('127.0.0.1', 'localhost', '::1'):
        raise SystemExit('fakeapi: only loopback addresses are allowed')
    logf = open(a.log, 'a', encoding='utf-8') if a.log else sys.stderr
    api = FakeAPI(a.host, a.port, a.history, a.bookmark_interval, a.deploy_delay_ms,
                  not a.no_controllers, a.gone_mode, a.token, a.tls_cert, a.tls_key, logf,
                  a.verbose)
    crds = keda_crds() if a.keda else []
    for p in a.crd:
        crds.extend(load_file_objects(p))
    with api.lock:
        for c in crds:
            try:
                api.create(api.types[('apiextensions.k8s.io', 'customresourcedefinitions')],
                           'v1', None, c, 'fakeapi', {})
            except ApiError as e:
                raise SystemExit('fakeapi: --crd: %s' % e.message)
        for p in a.load:
            for o in load_file_objects(p):
                try:
                    api.load_object(o)
                except ApiError as e:
                    raise SystemExit('fakeapi: --load %s: %s' % (p, e.message))
    for fj in a.fault:
        try:
            api.add_faults(json.loads(fj))
        except (ValueError, ApiError) as e:
            raise SystemExit('fakeapi: --fault %r: %s' % (fj, e))
    api.start()
    if a.kubeconfig:
        tmp = a.kubeconfig + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(api.kubeconfig())
        os.replace(tmp, a.kubeconfig)
    if a.port_file:
        tmp = a.port_file + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write('%d\n' % api.port)
        os.replace(tmp, a.port_file)
    print('FAKEAPI_PORT=%d' % api.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    api.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
