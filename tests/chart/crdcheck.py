"""crdcheck - an independent checker for a CRD's openAPIV3Schema and CEL rules.

Written for tests/chart: it applies the schema's defaults the way the API server
does (missing fields get their default, then the defaulted value is walked), then
checks types, required, enum, pattern, minimum/maximum, min/maxLength,
min/maxItems, maxProperties, int32/int64 ranges and unknown fields (as
fieldValidation=Strict would), and finally evaluates every
x-kubernetes-validations rule with a small CEL interpreter that covers the
subset our CRD uses: literals, field selection, has(), !, &&, ||, ?:,
comparisons, in, size(), duration(), matches(), contains(), startsWith(),
endsWith(), all(), exists() and filter(). A rule outside the subset raises CelError, so a
rule can never pass by being skipped.
"""

import copy
import re

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class CelError(Exception):
    pass


# ---------------------------------------------------------------- schema


def apply_defaults(schema, obj):
    """Fill defaults in place (objects only), like the API server on read/create."""
    if not isinstance(obj, dict):
        if isinstance(obj, list) and "items" in schema:
            for v in obj:
                apply_defaults(schema["items"], v)
        return obj
    props = schema.get("properties") or {}
    for name, sub in props.items():
        if name not in obj and "default" in sub:
            obj[name] = copy.deepcopy(sub["default"])
        if name in obj:
            apply_defaults(sub, obj[name])
    ap = schema.get("additionalProperties")
    if isinstance(ap, dict):
        for v in obj.values():
            apply_defaults(ap, v)
    return obj


def _type_ok(t, v):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise ValueError("unknown schema type %r" % t)


def validate(schema, obj, path="", errors=None, cel=True):
    """Return a list of (path, message). Defaults must already be applied."""
    if errors is None:
        errors = []
    _validate(schema, obj, path, errors)
    if cel and not errors:
        _cel_walk(schema, obj, path, errors)
    return errors


def _validate(s, v, path, errors):
    name = path or "<root>"
    if s.get("x-kubernetes-int-or-string"):
        if not (_type_ok("integer", v) or _type_ok("string", v)):
            errors.append((name, "must be an integer or a string"))
            return
        if isinstance(v, str) and "pattern" in s and not re.search(s["pattern"], v):
            errors.append((name, "does not match pattern %s" % s["pattern"]))
        return
    t = s.get("type")
    if t is None:
        if s.get("x-kubernetes-preserve-unknown-fields"):
            return
        raise ValueError("%s: schema node without a type" % name)
    if not _type_ok(t, v):
        errors.append((name, "must be of type %s, got %s" % (t, type(v).__name__)))
        return
    if "enum" in s and v not in s["enum"]:
        errors.append((name, "must be one of %s, got %r" % (s["enum"], v)))
    if t == "string":
        if "minLength" in s and len(v) < s["minLength"]:
            errors.append((name, "must be at least %d characters" % s["minLength"]))
        if "maxLength" in s and len(v) > s["maxLength"]:
            errors.append((name, "must be at most %d characters" % s["maxLength"]))
        if "pattern" in s and not re.search(s["pattern"], v):
            errors.append((name, "does not match pattern %s" % s["pattern"]))
    if t in ("integer", "number"):
        if "minimum" in s and v < s["minimum"]:
            errors.append((name, "must be >= %s" % s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            errors.append((name, "must be <= %s" % s["maximum"]))
        rng = {"int32": INT32, "int64": INT64}.get(s.get("format"))
        if rng and not rng[0] <= v <= rng[1]:
            errors.append((name, "out of %s range" % s["format"]))
    if t == "array":
        if "minItems" in s and len(v) < s["minItems"]:
            errors.append((name, "must have at least %d items" % s["minItems"]))
        if "maxItems" in s and len(v) > s["maxItems"]:
            errors.append((name, "must have at most %d items" % s["maxItems"]))
        if s.get("x-kubernetes-list-type") == "set" and len(set(map(repr, v))) != len(v):
            errors.append((name, "duplicate entries in a set"))
        for i, item in enumerate(v):
            _validate(s["items"], item, "%s[%d]" % (path, i), errors)
    if t == "object":
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errors.append((name, "must have at most %d properties" % s["maxProperties"]))
        for r in s.get("required", []):
            if r not in v:
                errors.append((_join(path, r), "Required value"))
        props = s.get("properties")
        ap = s.get("additionalProperties")
        for k, item in v.items():
            if props is not None and k in props:
                _validate(props[k], item, _join(path, k), errors)
            elif isinstance(ap, dict):
                _validate(ap, item, _join(path, k), errors)
            elif props is not None and not s.get("x-kubernetes-preserve-unknown-fields"):
                if path == "" and k in ("metadata",):
                    continue
                errors.append((_join(path, k), "unknown field"))


def _join(path, k):
    return "%s.%s" % (path, k) if path else k


def _cel_walk(s, v, path, errors):
    for rule in s.get("x-kubernetes-validations", []):
        try:
            ok = cel_eval(rule["rule"], v)
        except CelError as e:
            errors.append((path or "<root>", "CEL rule %r could not run: %s" % (rule["rule"], e)))
            continue
        if ok is not True:
            errors.append((path or "<root>", rule.get("message") or "failed rule: " + rule["rule"]))
    if isinstance(v, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        for k, item in v.items():
            sub = props.get(k) if k in props else (ap if isinstance(ap, dict) else None)
            if sub is not None:
                _cel_walk(sub, item, _join(path, k), errors)
    elif isinstance(v, list) and "items" in s:
        for i, item in enumerate(v):
            _cel_walk(s["items"], item, "%s[%d]" % (path, i), errors)


def rules(schema, path=""):
    """Yield (path, rule dict) for every x-kubernetes-validations entry."""
    for r in schema.get("x-kubernetes-validations", []):
        yield path or "<root>", r
    for k, sub in (schema.get("properties") or {}).items():
        yield from rules(sub, _join(path, k))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from rules(schema[key], path + ("[]" if key == "items" else ".*"))


def walk_properties(schema, path=""):
    """Yield (path, schema) for every named property."""
    for k, sub in (schema.get("properties") or {}).items():
        p = _join(path, k)
        yield p, sub
        yield from walk_properties(sub, p)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from walk_properties(schema[key], path + ("[]" if key == "items" else ".*"))


# ---------------------------------------------------------------- CEL subset

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>&&|\|\||<=|>=|==|!=|[!<>()\[\].,?:+\-]))"
)


def _tokens(src):
    pos, out = 0, []
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise CelError("cannot tokenize at %r" % src[pos:])
        pos = m.end()
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            text = _unquote(text)
        elif kind == "num":
            text = float(text) if "." in text else int(text)
        out.append((kind, text))
    out.append(("eof", None))
    return out


def _unquote(lit):
    body, out, i = lit[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _Missing(Exception):
    pass


class _Parser:
    """Recursive descent parser producing nested tuples (an AST)."""

    def __init__(self, src):
        self.t = _tokens(src)
        self.i = 0

    def peek(self):
        return self.t[self.i]

    def take(self, text=None):
        tok = self.t[self.i]
        if text is not None and tok[1] != text:
            raise CelError("expected %r, got %r" % (text, tok[1]))
        self.i += 1
        return tok

    def parse(self):
        e = self.expr()
        if self.peek()[0] != "eof":
            raise CelError("trailing input at %r" % (self.peek()[1],))
        return e

    def expr(self):
        c = self.orx()
        if self.peek() == ("op", "?"):
            self.take()
            a = self.expr()
            self.take(":")
            b = self.expr()
            return ("cond", c, a, b)
        return c

    def orx(self):
        e = self.andx()
        while self.peek() == ("op", "||"):
            self.take()
            e = ("or", e, self.andx())
        return e

    def andx(self):
        e = self.rel()
        while self.peek() == ("op", "&&"):
            self.take()
            e = ("and", e, self.rel())
        return e

    def rel(self):
        e = self.add()
        tok = self.peek()
        if tok[1] in ("<", "<=", ">", ">=", "==", "!=") and tok[0] == "op" or tok == ("id", "in"):
            self.take()
            e = ("cmp", tok[1], e, self.add())
        return e

    def add(self):
        e = self.unary()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            e = ("arith", op, e, self.unary())
        return e

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.unary())
        if self.peek() == ("op", "-"):
            self.take()
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def args(self):
        self.take("(")
        out = []
        if self.peek() != ("op", ")"):
            out.append(self.expr())
            while self.peek() == ("op", ","):
                self.take()
                out.append(self.expr())
        self.take(")")
        return out

    def postfix(self, e):
        while True:
            if self.peek() == ("op", "."):
                self.take()
                kind, name = self.take()
                if kind != "id":
                    raise CelError("expected a name after '.'")
                if self.peek() == ("op", "("):
                    if name in ("all", "exists", "filter"):
                        self.take("(")
                        kind, var = self.take()
                        if kind != "id":
                            raise CelError("%s() needs a variable" % name)
                        self.take(",")
                        body = self.expr()
                        self.take(")")
                        e = ("macro", name, e, var, body)
                    else:
                        e = ("method", name, e, self.args())
                else:
                    e = ("sel", e, name)
            elif self.peek() == ("op", "["):
                self.take()
                idx = self.expr()
                self.take("]")
                e = ("index", e, idx)
            else:
                return e

    def primary(self):
        kind, text = self.take()
        if kind in ("num", "str"):
            return ("lit", text)
        if kind == "op" and text == "(":
            e = self.expr()
            self.take(")")
            return e
        if kind == "op" and text == "[":
            items = []
            if self.peek() != ("op", "]"):
                items.append(self.expr())
                while self.peek() == ("op", ","):
                    self.take()
                    items.append(self.expr())
            self.take("]")
            return ("list", items)
        if kind == "id":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text == "null":
                return ("lit", None)
            if self.peek() == ("op", "("):
                if text == "has":
                    self.take("(")
                    arg = self.expr()
                    self.take(")")
                    if arg[0] != "sel":
                        raise CelError("has() needs a field selection")
                    return ("has", arg)
                return ("call", text, self.args())
            return ("var", text)
        raise CelError("unexpected token %r" % (text,))


_DUR = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_DUR_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


class Duration:
    def __init__(self, text):
        if not isinstance(text, str) or not re.fullmatch(r"(%s)+" % _DUR.pattern, text):
            raise CelError("invalid duration %r" % (text,))
        self.ns = sum(float(n) * _DUR_NS[u] for n, u in _DUR.findall(text))

    def __eq__(self, o):
        return isinstance(o, Duration) and self.ns == o.ns

    def __lt__(self, o):
        return self.ns < o.ns

    def __le__(self, o):
        return self.ns <= o.ns

    def __gt__(self, o):
        return self.ns > o.ns

    def __ge__(self, o):
        return self.ns >= o.ns


def _eval(e, env):
    op = e[0]
    if op == "lit":
        return e[1]
    if op == "var":
        if e[1] not in env:
            raise CelError("undeclared reference to %r" % e[1])
        return env[e[1]]
    if op == "list":
        return [_eval(x, env) for x in e[1]]
    if op == "sel":
        base = _eval(e[1], env)
        if not isinstance(base, dict):
            raise CelError("field selection %r on a non-object" % e[2])
        if e[2] not in base:
            raise CelError("no such key: %s" % e[2])
        return base[e[2]]
    if op == "has":
        base = _eval(e[1][1], env)
        if not isinstance(base, dict):
            raise CelError("has() on a non-object")
        return e[1][2] in base
    if op == "index":
        base, idx = _eval(e[1], env), _eval(e[2], env)
        try:
            return base[idx]
        except (KeyError, IndexError, TypeError):
            raise CelError("no such key or index: %r" % (idx,))
    if op == "not":
        return not _bool(_eval(e[1], env))
    if op == "neg":
        return -_eval(e[1], env)
    if op in ("and", "or"):
        # CEL's logical operators are commutative with respect to errors.
        want = op == "or"
        first_err = None
        for side in (e[1], e[2]):
            try:
                if _bool(_eval(side, env)) == want:
                    return want
            except CelError as err:
                first_err = first_err or err
        if first_err:
            raise first_err
        return not want
    if op == "cond":
        return _eval(e[2], env) if _bool(_eval(e[1], env)) else _eval(e[3], env)
    if op == "cmp":
        a, b = _eval(e[2], env), _eval(e[3], env)
        if e[1] == "in":
            return a in b
        if type(a) is not type(b) and not (_num(a) and _num(b)):
            raise CelError("no matching overload for %s on %s, %s" % (e[1], type(a), type(b)))
        return {
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            ">": lambda: a > b,
            ">=": lambda: a >= b,
            "==": lambda: a == b,
            "!=": lambda: a != b,
        }[e[1]]()
    if op == "arith":
        a, b = _eval(e[2], env), _eval(e[3], env)
        return a + b if e[1] == "+" else a - b
    if op == "call":
        args = [_eval(x, env) for x in e[2]]
        if e[1] == "size" and len(args) == 1:
            return len(args[0])
        if e[1] == "duration" and len(args) == 1:
            return Duration(args[0])
        raise CelError("unsupported function %s()" % e[1])
    if op == "method":
        target = _eval(e[2], env)
        args = [_eval(x, env) for x in e[3]]
        if not isinstance(target, str) and e[1] != "size":
            raise CelError("%s() on a non-string" % e[1])
        if e[1] == "matches":
            return re.search(args[0], target) is not None
        if e[1] == "contains":
            return args[0] in target
        if e[1] == "startsWith":
            return target.startswith(args[0])
        if e[1] == "endsWith":
            return target.endswith(args[0])
        if e[1] == "size":
            return len(target)
        raise CelError("unsupported method %s()" % e[1])
    if op == "macro":
        coll = _eval(e[2], env)
        if not isinstance(coll, (list, dict)):
            raise CelError("%s() on a non-collection" % e[1])
        results = []
        for item in coll:  # for a map, CEL iterates over the keys
            sub = dict(env)
            sub[e[3]] = item
            results.append(_bool(_eval(e[4], sub)))
        if e[1] == "filter":
            return [item for item, keep in zip(coll, results) if keep]
        return all(results) if e[1] == "all" else any(results)
    raise CelError("unsupported expression %r" % (op,))


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _bool(v):
    if not isinstance(v, bool):
        raise CelError("expected a bool, got %r" % (v,))
    return v


def cel_parse(src):
    return _Parser(src).parse()


def cel_eval(src, self_value):
    r = _eval(cel_parse(src), {"self": self_value})
    if not isinstance(r, bool):
        raise CelError("rule did not return a bool")
    return r

