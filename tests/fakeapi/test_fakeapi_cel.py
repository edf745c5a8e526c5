#!/usr/bin/python3
"""Unit tests of the fake API server's CEL subset (kcel) and schema validator (kschema)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, 'tests'))
import kcel  # noqa: E402
import kschema  # noqa: E402
from tclib import Tap  # noqa: E402

SPEC = {'minReplicas': 1, 'maxReplicas': 3, 'enabled': True,
        'prometheus': {'serverAddress': 'http://prom:9090', 'threshold': '10'},
        'retention': '48h', 'tags': ['a', 'bb'], 'labels': {'x': 'y'}}

# (rule, self, expected value or the EvalError class)
CASES = [
    ('self.minReplicas <= self.maxReplicas', SPEC, True),
    ('self.minReplicas > self.maxReplicas', SPEC, False),
    ('has(self.prometheus)', SPEC, True),
    ('has(self.keda)', SPEC, False),
    ('!self.enabled || has(self.prometheus)', SPEC, True),
    ('!self.enabled || has(self.prometheus)', {'enabled': True}, False),
    ('!has(self.enabled) || !self.enabled || has(self.prometheus)', {}, True),
    ("self.prometheus.serverAddress.matches('^https?://')", SPEC, True),
    ("self.retention.matches('^[0-9]+h$')", {'retention': '2d'}, False),
    ("self.prometheus.serverAddress.startsWith('http://') && "
     "self.prometheus.serverAddress.endsWith(':9090')", SPEC, True),
    ("duration(self.retention) >= duration('24h')", SPEC, True),
    ("duration(self.retention) < duration('1h30m')", SPEC, False),
    ('size(self.tags) == 2 && self.tags.all(t, size(t) <= 2)', SPEC, True),
    ("self.tags.exists(t, t == 'bb') && !self.tags.exists_one(t, t == 'zz')", SPEC, True),
    ("'x' in self.labels && 'a' in self.tags", SPEC, True),
    ('self.maxReplicas - self.minReplicas == 2 && self.maxReplicas / 2 == 1', SPEC, True),
    ('-7 / 2 == -3 && -7 % 2 == -1', {}, True),
    ('self.enabled ? self.minReplicas >= 1 : true', SPEC, True),
    ("int(self.prometheus.threshold) > 5", SPEC, True),
    ("self.tags.map(t, t + '!') == ['a!', 'bb!']", SPEC, True),
    ("self.tags.filter(t, size(t) > 1) == ['bb']", SPEC, True),
    ('self.missing == 1', SPEC, kcel.EvalError),
    # CEL's commutative error absorption
    ('self.missing == 1 || true', SPEC, True),
    ('false && self.missing == 1', SPEC, False),
    ('self.minReplicas == 1.0', SPEC, True),
    ("self.retention == 48", SPEC, False),
    ("self.retention < 48", SPEC, kcel.EvalError),
    ("string(self.minReplicas) + 'x' == '1x' && self.retention.size() == 3", SPEC, True),
    ("r'\\d+h'.size() == 4 && '\\u0041' == 'A'", {}, True),
    ("'a.b.c'.replace('.', '-') == 'a-b-c' && 'hello'.substring(1, 3) == 'el'", {}, True),
    ("'hello'.charAt(1) == 'e' && 'abcb'.lastIndexOf('b') == 3", {}, True),
    ("'abc'.substring(2, 9)", {}, kcel.EvalError),
]

UNSUPPORTED = [
    "quantity(self.size).isGreaterThan(quantity('1Gi'))",
    'self.x.optMap(v, v)',
    'self.a ==',
    'self.a = 1',
    '',
]


def main():
    t = Tap()
    for rule, val, want in CASES:
        try:
            ast = kcel.compile_rule(rule)
            got = kcel.evaluate(ast, val)
        except kcel.EvalError:
            got = kcel.EvalError
        except kcel.Unsupported as e:
            got = 'unsupported: %s' % e
        t.ok(got == want and type(got) is type(want), 'cel: %s' % rule, 'got %r' % (got,))
    for rule in UNSUPPORTED:
        try:
            kcel.compile_rule(rule)
            t.ok(False, 'cel unsupported: %r' % rule, 'compiled')
        except kcel.Unsupported:
            t.ok(True, 'cel unsupported: %r' % rule)
    ast = kcel.compile_rule('self == oldSelf')
    t.ok(kcel.uses_old_self(ast) and kcel.evaluate(ast, 'a', 'a', True) and
         not kcel.evaluate(ast, 'a', 'b', True), 'cel: transition rule with oldSelf')

    schema = {'type': 'object', 'properties': {'spec': {
        'type': 'object', 'required': ['size'],
        'x-kubernetes-validations': [{'rule': 'self.size <= 10', 'message': 'too big'}],
        'properties': {'size': {'type': 'integer', 'maximum': 20},
                       'mode': {'type': 'string', 'enum': ['a', 'b'], 'default': 'a'},
                       'port': {'x-kubernetes-int-or-string': True},
                       'ratio': {'type': 'number', 'exclusiveMinimum': True, 'minimum': 0},
                       'name': {'type': 'string', 'pattern': '^[a-z]+$', 'minLength': 2}}}}}
    obj = {'apiVersion': 'x/v1', 'kind': 'X', 'metadata': {'name': 'n'},
           'spec': {'size': 3, 'port': 'http', 'ratio': 0.5, 'name': 'ab', 'junk': 1}}
    errs, unknown = kschema.validate(schema, obj)
    t.ok(errs == [] and unknown == ['spec.junk'] and obj['spec']['mode'] == 'a' and
         'junk' not in obj['spec'], 'schema: valid object defaulted and pruned', [errs, obj])
    obj = {'metadata': {}, 'spec': {'size': 15, 'port': 1.5, 'ratio': 0, 'name': 'A',
                                    'mode': 'c'}}
    errs, _ = kschema.validate(schema, obj)
    fields = sorted(f for f, _, _ in errs)
    t.ok(fields == ['spec', 'spec.mode', 'spec.name', 'spec.name', 'spec.port', 'spec.ratio'],
         'schema: rule, enum, pattern, minLength, int-or-string, exclusiveMinimum', errs)
    errs, _ = kschema.validate(schema, {'metadata': {}, 'spec': {}})
    t.ok([(f, r) for f, r, _ in errs][:1] == [('spec.size', 'FieldValueRequired')],
         'schema: required field', errs)
    errs, _ = kschema.validate(schema, {'metadata': {}, 'spec': 'nope'})
    t.ok(len(errs) == 1 and errs[0][0] == 'spec' and 'must be of type object' in errs[0][2],
         'schema: wrong type stops descent with one clear error', errs)
    lists = {'type': 'object', 'properties': {
        'ids': {'type': 'array', 'x-kubernetes-list-type': 'set', 'items': {'type': 'string'}},
        'ports': {'type': 'array', 'x-kubernetes-list-type': 'map',
                  'x-kubernetes-list-map-keys': ['name'],
                  'items': {'type': 'object', 'properties': {'name': {'type': 'string'},
                                                             'port': {'type': 'integer'}}}}}}
    errs, _ = kschema.validate(lists, {'ids': ['a', 'b', 'a'],
                                       'ports': [{'name': 'x', 'port': 1},
                                                 {'name': 'x', 'port': 2}]})
    t.ok(sorted((f, r) for f, r, _ in errs) == [('ids[2]', 'FieldValueDuplicate'),
                                                 ('ports[1]', 'FieldValueDuplicate')],
         'schema: list-type set/map duplicates', errs)
    emb = {'type': 'object', 'properties': {'tmpl': {
        'type': 'object', 'x-kubernetes-embedded-resource': True,
        'properties': {'spec': {'type': 'object', 'properties': {'n': {'type': 'integer'}}}}}}}
    o = {'tmpl': {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'},
                  'spec': {'n': 1, 'junk': 2}, 'junk': 3}}
    errs, unknown = kschema.validate(emb, o)
    t.ok(errs == [] and sorted(unknown) == ['tmpl.junk', 'tmpl.spec.junk'] and
         o['tmpl']['metadata'] == {'name': 'p'} and o['tmpl']['kind'] == 'Pod',
         'schema: embedded resource keeps apiVersion/kind/metadata', [errs, unknown, o])
    rs = {'type': 'object', 'properties': {'metadata': {'type': 'object', 'properties': {
        'name': {'type': 'string', 'maxLength': 5}}}}}
    o = {'metadata': {'name': 'toolong', 'labels': {'a': 'b'}}}
    errs, unknown = kschema.validate(rs, o)
    t.ok([f for f, _, _ in errs] == ['metadata.name'] and o['metadata']['labels'] == {'a': 'b'}
         and unknown == [], 'schema: root metadata.name checked, metadata never pruned', errs)
    mschema = {'type': 'object', 'x-kubernetes-validations': [{
        'rule': 'self.n < 3', 'message': 'static',
        'messageExpression': "'n is ' + string(self.n) + ', want < 3'"}],
        'properties': {'n': {'type': 'integer'}}}
    errs, _ = kschema.validate(mschema, {'n': 5})
    t.ok(len(errs) == 1 and errs[0][2].endswith('n is 5, want < 3'),
         'schema: messageExpression gives the message', errs)
    t.done()


if __name__ == '__main__':
    main()
