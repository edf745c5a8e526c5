"""CRD openAPIV3Schema defaulting, pruning and validation (test fake only).

validate(schema, obj, old, strict, rules) -> (errors, unknown_fields, skipped)
  errors: list of (field, reason, message) like the API server's field errors;
  unknown_fields: paths pruned (with strict, the caller rejects them);
  skipped: CEL rules that could not be compiled/evaluated (the caller logs them).
The object is changed in place: defaults applied, unknown fields pruned.
"""

import json
import re

import kcel

_ROOT_KEEP = {'apiVersion', 'kind', 'metadata'}


def _tname(v):
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'boolean'
    if isinstance(v, int):
        return 'integer'
    if isinstance(v, float):
        return 'number'
    if isinstance(v, str):
        return 'string'
    if isinstance(v, list):
        return 'array'
    return 'object'


def _show(v):
    """Value as the API server prints it in 'Invalid value: X'."""
    if isinstance(v, (dict, list)):
        return '"%s"' % _tname(v)
    return json.dumps(v)


def _type_ok(t, v):
    if t == 'object':
        return isinstance(v, dict)
    if t == 'array':
        return isinstance(v, list)
    if t == 'string':
        return isinstance(v, str)
    if t == 'boolean':
        return isinstance(v, bool)
    if t == 'integer':
        return (isinstance(v, int) and not isinstance(v, bool)) or \
            (isinstance(v, float) and v.is_integer())
    if t == 'number':
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return True


class RuleCache:
    """Compiled CEL rules keyed by rule text; remembers rules it had to skip."""

    def __init__(self, log=None):
        self.compiled = {}
        self.skipped = []
        self.log = log

    def get(self, rule, where):
        if rule in self.compiled:
            return self.compiled[rule]
        try:
            ast = kcel.compile_rule(rule)
        except kcel.Unsupported as e:
            ast = None
            self.skipped.append({'crd': where[0], 'path': where[1], 'rule': rule,
                                 'error': str(e)})
            if self.log:
                self.log('WARN cel-skipped crd=%s path=%s rule=%r: %s' %
                         (where[0], where[1], rule, e))
        self.compiled[rule] = ast
        return ast


def precompile(schema, rules, crd_name, path=''):
    """Walk a schema and compile every rule now, so unsupported ones are listed at CRD create."""
    if not isinstance(schema, dict):
        return
    for r in schema.get('x-kubernetes-validations') or []:
        if isinstance(r, dict):
            rules.get(r.get('rule', ''), (crd_name, path or '<root>'))
            if r.get('messageExpression'):
                rules.get(r['messageExpression'], (crd_name, (path or '<root>') +
                                                   ' messageExpression'))
    for k, sub in (schema.get('properties') or {}).items():
        precompile(sub, rules, crd_name, (path + '.' + k) if path else k)
    if isinstance(schema.get('items'), dict):
        precompile(schema['items'], rules, crd_name, path + '[*]')
    if isinstance(schema.get('additionalProperties'), dict):
        precompile(schema['additionalProperties'], rules, crd_name, path + '[*]')


class _Ctx:
    def __init__(self, strict, rules, crd_name):
        self.errors = []
        self.unknown = []
        self.strict = strict
        self.rules = rules
        self.crd = crd_name


def validate(schema, obj, old=None, strict=False, rules=None, crd_name=''):
    ctx = _Ctx(strict, rules or RuleCache(), crd_name)
    _node(ctx, schema or {}, obj, old, old is not None, '', root=True)
    return ctx.errors, ctx.unknown


def _err(ctx, path, reason, msg):
    ctx.errors.append((path, reason, msg))


def _node(ctx, s, v, old, has_old, path, root=False):
    if not isinstance(s, dict):
        return
    t = s.get('type')
    if s.get('x-kubernetes-int-or-string'):
        if not (isinstance(v, str) or _type_ok('integer', v)):
            _err(ctx, path, 'FieldValueTypeInvalid',
                 '%s: Invalid value: %s: %s in body must be of type int-or-string: %s'
                 % (path, _show(_tname(v)), path, json.dumps(_tname(v))))
            return
    elif t and not _type_ok(t, v):
        _err(ctx, path, 'FieldValueTypeInvalid',
             '%s: Invalid value: "%s": %s in body must be of type %s: "%s"'
             % (path, _tname(v), path, t, _tname(v)))
        return
    if isinstance(v, dict):
        props = s.get('properties')
        addl = s.get('additionalProperties')
        preserve = s.get('x-kubernetes-preserve-unknown-fields')
        if props:
            for k, ps in props.items():
                if k not in v and isinstance(ps, dict) and 'default' in ps:
                    v[k] = json.loads(json.dumps(ps['default']))
        for k in list(v.keys()):
            sub = path + '.' + k if path else k
            if (root or s.get('x-kubernetes-embedded-resource')) and k in _ROOT_KEEP:
                # never pruned; of metadata only name/generateName follow the schema
                ms = (props or {}).get('metadata')
                if k == 'metadata' and isinstance(ms, dict) and isinstance(v[k], dict):
                    mprops = ms.get('properties') or {}
                    for mk in ('name', 'generateName'):
                        if mk in mprops and mk in v[k]:
                            _node(ctx, mprops[mk], v[k][mk], None, False, sub + '.' + mk)
                continue
            child = v[k]
            if props and k in props:
                cs = props[k]
            elif isinstance(addl, dict):
                cs = addl
            elif addl is True or preserve:
                continue
            else:
                ctx.unknown.append(sub)
                del v[k]
                continue
            if child is None and not (isinstance(cs, dict) and cs.get('nullable')):
                del v[k]  # the API server drops nulls for non-nullable fields
                continue
            oc = old.get(k) if isinstance(old, dict) else None
            ohas = has_old and isinstance(old, dict) and k in old
            _node(ctx, cs, child, oc, ohas, sub)
        for r in s.get('required') or []:
            if r not in v:
                f = path + '.' + r if path else r
                _err(ctx, f, 'FieldValueRequired', '%s: Required value' % f)
        if 'maxProperties' in s and len(v) > s['maxProperties']:
            _err(ctx, path, 'FieldValueTooMany',
                 '%s: Too many: %d: must have at most %d items' % (path, len(v), s['maxProperties']))
        if 'minProperties' in s and len(v) < s['minProperties']:
            _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %d: %s in body should have '
                 'at least %d properties' % (path, len(v), path, s['minProperties']))
    elif isinstance(v, list):
        it = s.get('items')
        if isinstance(it, dict):
            for i, x in enumerate(v):
                _node(ctx, it, x, None, False, '%s[%d]' % (path, i))
        lt = s.get('x-kubernetes-list-type')
        if lt in ('set', 'map'):
            keys = s.get('x-kubernetes-list-map-keys') or []
            seen = set()
            for i, x in enumerate(v):
                if lt == 'map' and isinstance(x, dict):
                    k = json.dumps([x.get(n) for n in keys])
                else:
                    k = json.dumps(x, sort_keys=True)
                if k in seen:
                    _err(ctx, '%s[%d]' % (path, i), 'FieldValueDuplicate',
                         '%s[%d]: Duplicate value: %s' % (path, i, json.dumps(
                             {n: x.get(n) for n in keys} if lt == 'map' and
                             isinstance(x, dict) else x)))
                seen.add(k)
        if 'maxItems' in s and len(v) > s['maxItems']:
            _err(ctx, path, 'FieldValueTooMany',
                 '%s: Too many: %d: must have at most %d items' % (path, len(v), s['maxItems']))
        if 'minItems' in s and len(v) < s['minItems']:
            _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %d: %s in body should have '
                 'at least %d items' % (path, len(v), path, s['minItems']))
    else:
        _scalar(ctx, s, v, path)
    if 'enum' in s and v not in s['enum']:
        _err(ctx, path, 'FieldValueNotSupported', '%s: Unsupported value: %s: supported values: %s'
             % (path, json.dumps(v), ', '.join(json.dumps(e) for e in s['enum'])))
    for r in s.get('x-kubernetes-validations') or []:
        if isinstance(r, dict):
            _rule(ctx, r, v, old, has_old, path)


def _scalar(ctx, s, v, path):
    if _type_ok('number', v):
        mn, mx = s.get('minimum'), s.get('maximum')
        if mn is not None:
            if s.get('exclusiveMinimum') and not v > mn:
                _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %s: %s in body should be '
                     'greater than %s' % (path, json.dumps(v), path, json.dumps(mn)))
            elif v < mn:
                _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %s: %s in body should be '
                     'greater than or equal to %s' % (path, json.dumps(v), path, json.dumps(mn)))
        if mx is not None:
            if s.get('exclusiveMaximum') and not v < mx:
                _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %s: %s in body should be '
                     'less than %s' % (path, json.dumps(v), path, json.dumps(mx)))
            elif v > mx:
                _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %s: %s in body should be '
                     'less than or equal to %s' % (path, json.dumps(v), path, json.dumps(mx)))
    if isinstance(v, str):
        if 'maxLength' in s and len(v) > s['maxLength']:
            _err(ctx, path, 'FieldValueTooLong', '%s: Too long: may not be more than %d bytes'
                 % (path, s['maxLength']))
        if 'minLength' in s and len(v) < s['minLength']:
            _err(ctx, path, 'FieldValueInvalid', '%s: Invalid value: %s: %s in body should be at '
                 'least %d chars long' % (path, json.dumps(v), path, s['minLength']))
        pat = s.get('pattern')
        if pat:
            try:
                ok = re.search(pat, v) is not None
            except re.error:
                ok = True
            if not ok:
                _err(ctx, path, 'FieldValueInvalid', "%s: Invalid value: %s: %s in body should "
                     "match '%s'" % (path, json.dumps(v), path, pat))


def _rule(ctx, r, v, old, has_old, path):
    text = r.get('rule', '')
    ast = ctx.rules.get(text, (ctx.crd, path or '<root>'))
    if ast is None:
        return  # unsupported: listed by RuleCache
    if kcel.uses_old_self(ast) and not has_old:
        return  # transition rules apply to updates only
    field = path
    if r.get('fieldPath'):
        fp = r['fieldPath']
        field = (path + fp) if fp.startswith('.') or fp.startswith('[') else path + '.' + fp
    try:
        ok = kcel.evaluate(ast, v, old, has_old)
    except kcel.EvalError as e:
        _err(ctx, field, 'FieldValueInvalid', '%s: Invalid value: %s: %s evaluating rule: %s'
             % (field or '<nil>', _show(v), e, text))
        return
    if ok is not True:
        msg = r.get('message') or ('failed rule: %s' % text)
        mexpr = r.get('messageExpression')
        if mexpr:
            past = ctx.rules.get(mexpr, (ctx.crd, (path or '<root>') + ' messageExpression'))
            if past is not None:
                try:
                    m = kcel.evaluate(past, v, old, has_old)
                    if isinstance(m, str) and m.strip():
                        msg = m
                except kcel.EvalError:
                    pass
        reason = r.get('reason') or 'FieldValueInvalid'
        label = {'FieldValueForbidden': 'Forbidden', 'FieldValueRequired': 'Required value',
                 'FieldValueDuplicate': 'Duplicate value'}.get(reason)
        if label:
            _err(ctx, field, reason, '%s: %s: %s' % (field or '<nil>', label, msg))
        else:
            _err(ctx, field, reason, '%s: Invalid value: %s: %s' % (field or '<nil>', _show(v), msg))
