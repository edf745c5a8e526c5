"""A small CEL subset for CRD x-kubernetes-validations rules (test fake only).

compile_rule(text) parses a rule or raises Unsupported (the caller skips and logs the rule).
evaluate(ast, self_value, old_value=None) returns the rule's value or raises EvalError (a CEL
runtime error such as "no such key", which the API server reports as a failed rule).

Supported: int/uint/double/string/bytes-free literals, true/false/null, lists, maps,
self/oldSelf, field access, indexing, has(), size(), !, unary -, * / % + -, comparisons, in,
&&, || (with CEL's error absorption), ?:, string matches/startsWith/endsWith/contains/
lowerAscii/upperAscii/trim/split/indexOf, all/exists/exists_one/map/filter macros,
int()/uint()/double()/string()/bool()/duration(), isSorted(), sum(), min(), max().
"""

import re


class Unsupported(Exception):
    pass


class EvalError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|0x[0-9a-fA-F]+u?|\d+u?)
  | (?P<str>[rR]?(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"))
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
""", re.X)

_ESC = {'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0'}


def _unquote(tok):
    raw = tok[0] in 'rR'
    if raw:
        tok = tok[1:]
    body = tok[1:-1]
    if raw:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == '\\' and i + 1 < len(body):
            n = body[i + 1]
            if n in _ESC:
                out.append(_ESC[n])
                i += 2
                continue
            if n == 'u' and i + 5 < len(body):
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            raise Unsupported('unsupported escape \\' + n)
        out.append(c)
        i += 1
    return ''.join(out)


def _tokenize(text):
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise Unsupported('cannot tokenize at %r' % text[pos:pos + 10])
        pos = m.end()
        kind = m.lastgroup
        if kind == 'ws':
            continue
        toks.append((kind, m.group()))
    toks.append(('eof', ''))
    return toks


FUNCS = {'has', 'size', 'int', 'uint', 'double', 'string', 'bool', 'duration', 'type'}
METHODS = {'matches', 'startsWith', 'endsWith', 'contains', 'size', 'lowerAscii', 'upperAscii',
           'trim', 'split', 'indexOf', 'lastIndexOf', 'replace', 'substring', 'charAt',
           'isSorted', 'sum', 'min', 'max', 'join'}
MACROS = {'all', 'exists', 'exists_one', 'map', 'filter'}


class _Parser:
    def __init__(self, text):
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, val):
        if self.toks[self.i][1] == val and self.toks[self.i][0] in ('op', 'id'):
            self.i += 1
            return True
        return False

    def expect(self, val):
        if not self.accept(val):
            raise Unsupported('expected %r, got %r' % (val, self.peek()[1]))

    def parse(self):
        e = self.expr()
        if self.peek()[0] != 'eof':
            raise Unsupported('unexpected %r' % self.peek()[1])
        return e

    def expr(self):
        c = self.or_()
        if self.accept('?'):
            a = self.expr()
            self.expect(':')
            b = self.expr()
            return ('cond', c, a, b)
        return c

    def or_(self):
        e = self.and_()
        while self.accept('||'):
            e = ('or', e, self.and_())
        return e

    def and_(self):
        e = self.rel()
        while self.accept('&&'):
            e = ('and', e, self.rel())
        return e

    def rel(self):
        e = self.add()
        while True:
            t = self.peek()
            if (t[0] == 'op' and t[1] in ('==', '!=', '<', '<=', '>', '>=')) or t == ('id', 'in'):
                self.next()
                e = ('bin', t[1], e, self.add())
            else:
                return e

    def add(self):
        e = self.mul()
        while self.peek()[0] == 'op' and self.peek()[1] in ('+', '-'):
            op = self.next()[1]
            e = ('bin', op, e, self.mul())
        return e

    def mul(self):
        e = self.unary()
        while self.peek()[0] == 'op' and self.peek()[1] in ('*', '/', '%'):
            op = self.next()[1]
            e = ('bin', op, e, self.unary())
        return e

    def unary(self):
        if self.accept('!'):
            return ('not', self.unary())
        if self.accept('-'):
            return ('neg', self.unary())
        return self.member()

    def args(self):
        out = []
        if self.accept(')'):
            return out
        while True:
            out.append(self.expr())
            if self.accept(')'):
                return out
            self.expect(',')

    def member(self):
        e = self.primary()
        while True:
            if self.accept('.'):
                t = self.next()
                if t[0] != 'id':
                    raise Unsupported('expected field name after "."')
                if self.accept('('):
                    name = t[1]
                    if name in MACROS:
                        v = self.next()
                        if v[0] != 'id':
                            raise Unsupported('macro %s needs a variable' % name)
                        self.expect(',')
                        body = self.expr()
                        self.expect(')')
                        e = ('macro', name, e, v[1], body)
                    elif name in METHODS:
                        e = ('method', name, e, self.args())
                    else:
                        raise Unsupported('unsupported method %s()' % name)
                else:
                    e = ('field', e, t[1])
            elif self.accept('['):
                idx = self.expr()
                self.expect(']')
                e = ('index', e, idx)
            else:
                return e

    def primary(self):
        t = self.next()
        kind, val = t
        if kind == 'num':
            if val.endswith('u'):
                return ('lit', int(val[:-1], 0))
            if val.startswith('0x'):
                return ('lit', int(val, 16))
            if any(c in val for c in '.eE'):
                return ('lit', float(val))
            return ('lit', int(val))
        if kind == 'str':
            return ('lit', _unquote(val))
        if kind == 'id':
            if val == 'true':
                return ('lit', True)
            if val == 'false':
                return ('lit', False)
            if val == 'null':
                return ('lit', None)
            if self.accept('('):
                if val == 'has':
                    arg = self.expr()
                    self.expect(')')
                    if arg[0] != 'field':
                        raise Unsupported('has() needs a field selection')
                    return ('has', arg[1], arg[2])
                if val not in FUNCS:
                    raise Unsupported('unsupported function %s()' % val)
                return ('call', val, self.args())
            return ('var', val)
        if kind == 'op' and val == '(':
            e = self.expr()
            self.expect(')')
            return e
        if kind == 'op' and val == '[':
            items = []
            if not self.accept(']'):
                while True:
                    items.append(self.expr())
                    if self.accept(']'):
                        break
                    self.expect(',')
            return ('list', items)
        if kind == 'op' and val == '{':
            pairs = []
            if not self.accept('}'):
                while True:
                    k = self.expr()
                    self.expect(':')
                    pairs.append((k, self.expr()))
                    if self.accept('}'):
                        break
                    self.expect(',')
            return ('map', pairs)
        raise Unsupported('unexpected token %r' % val)


def compile_rule(text):
    """Parse a rule; raises Unsupported for anything outside the subset."""
    if not isinstance(text, str) or not text.strip():
        raise Unsupported('empty rule')
    return _Parser(text).parse()


def uses_old_self(ast):
    if isinstance(ast, tuple):
        if ast == ('var', 'oldSelf'):
            return True
        return any(uses_old_self(a) for a in ast[1:])
    if isinstance(ast, list):
        return any(uses_old_self(a) for a in ast)
    return False


class Duration:
    __slots__ = ('s',)

    def __init__(self, s):
        self.s = s

    def __eq__(self, o):
        return isinstance(o, Duration) and self.s == o.s

    def __lt__(self, o):
        return self.s < _dur(o).s

    def __le__(self, o):
        return self.s <= _dur(o).s

    def __gt__(self, o):
        return self.s > _dur(o).s

    def __ge__(self, o):
        return self.s >= _dur(o).s

    def __hash__(self):
        return hash(self.s)


def _dur(o):
    if not isinstance(o, Duration):
        raise EvalError('no such overload: duration compared with %s' % _tname(o))
    return o


_DUR_UNITS = {'ns': 1e-9, 'us': 1e-6, 'µs': 1e-6, 'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600}


def parse_duration(s):
    if not isinstance(s, str):
        raise EvalError('duration() needs a string')
    m = re.fullmatch(r'(-?)((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)', s)
    if not m:
        if s == '0':
            return Duration(0)
        raise EvalError('invalid duration %r' % s)
    total = 0.0
    for num, unit in re.findall(r'(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)', m.group(2)):
        total += float(num) * _DUR_UNITS[unit]
    return Duration(-total if m.group(1) else total)


def _tname(v):
    if v is None:
        return 'null_type'
    if isinstance(v, bool):
        return 'bool'
    if isinstance(v, int):
        return 'int'
    if isinstance(v, float):
        return 'double'
    if isinstance(v, str):
        return 'string'
    if isinstance(v, list):
        return 'list'
    if isinstance(v, dict):
        return 'map'
    if isinstance(v, Duration):
        return 'google.protobuf.Duration'
    return type(v).__name__


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eq(a, b):
    if _num(a) and _num(b):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, Duration) and isinstance(b, Duration)):
        return False
    return a == b


def _cmp(op, a, b):
    if _num(a) and _num(b) or (isinstance(a, str) and isinstance(b, str)) or \
            (isinstance(a, bool) and isinstance(b, bool)) or isinstance(a, Duration):
        if op == '<':
            return a < b
        if op == '<=':
            return a <= b
        if op == '>':
            return a > b
        return a >= b
    raise EvalError("no such overload: %s %s %s" % (_tname(a), op, _tname(b)))


def _arith(op, a, b):
    if op == '+':
        if _num(a) and _num(b):
            return a + b
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, list) and isinstance(b, list):
            return a + b
        if isinstance(a, Duration) and isinstance(b, Duration):
            return Duration(a.s + b.s)
    elif op == '-':
        if _num(a) and _num(b):
            return a - b
        if isinstance(a, Duration) and isinstance(b, Duration):
            return Duration(a.s - b.s)
    elif _num(a) and _num(b):
        if op == '*':
            return a * b
        if b == 0:
            raise EvalError('division by zero' if op == '/' else 'modulus by zero')
        if isinstance(a, int) and isinstance(b, int):
            q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
            return q if op == '/' else a - q * b
        if op == '/':
            return a / b
    raise EvalError('no such overload: %s %s %s' % (_tname(a), op, _tname(b)))


def evaluate(ast, self_value, old_value=None, has_old=False):
    env = {'self': self_value}
    if has_old:
        env['oldSelf'] = old_value
    return _ev(ast, env)


def _ev(n, env):
    k = n[0]
    if k == 'lit':
        return n[1]
    if k == 'var':
        if n[1] not in env:
            raise EvalError('undeclared reference to %r' % n[1])
        return env[n[1]]
    if k == 'field':
        obj = _ev(n[1], env)
        if not isinstance(obj, dict):
            raise EvalError('no such key: %s (value is %s)' % (n[2], _tname(obj)))
        if n[2] not in obj:
            raise EvalError('no such key: %s' % n[2])
        return obj[n[2]]
    if k == 'has':
        obj = _ev(n[1], env)
        if not isinstance(obj, dict):
            raise EvalError('invalid type for has(): %s' % _tname(obj))
        return n[2] in obj
    if k == 'index':
        obj = _ev(n[1], env)
        idx = _ev(n[2], env)
        if isinstance(obj, list):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise EvalError('list index must be int')
            if idx < 0 or idx >= len(obj):
                raise EvalError('index out of bounds: %d' % idx)
            return obj[idx]
        if isinstance(obj, dict):
            if idx not in obj:
                raise EvalError('no such key: %s' % idx)
            return obj[idx]
        raise EvalError('cannot index %s' % _tname(obj))
    if k == 'not':
        v = _ev(n[1], env)
        if not isinstance(v, bool):
            raise EvalError('no such overload: !%s' % _tname(v))
        return not v
    if k == 'neg':
        v = _ev(n[1], env)
        if isinstance(v, Duration):
            return Duration(-v.s)
        if not _num(v):
            raise EvalError('no such overload: -%s' % _tname(v))
        return -v
    if k in ('and', 'or'):
        short = k == 'or'  # value that decides the result
        err = None
        for side in (n[1], n[2]):
            try:
                v = _ev(side, env)
            except EvalError as e:
                err = err or e
                continue
            if not isinstance(v, bool):
                err = err or EvalError('no matching overload for %s' % k)
                continue
            if v is short:
                return short
        if err:
            raise err
        return not short
    if k == 'cond':
        c = _ev(n[1], env)
        if not isinstance(c, bool):
            raise EvalError('condition must be bool')
        return _ev(n[2] if c else n[3], env)
    if k == 'bin':
        op = n[1]
        a = _ev(n[2], env)
        b = _ev(n[3], env)
        if op == '==':
            return _eq(a, b)
        if op == '!=':
            return not _eq(a, b)
        if op in ('<', '<=', '>', '>='):
            return _cmp(op, a, b)
        if op == 'in':
            if isinstance(b, list):
                return any(_eq(a, x) for x in b)
            if isinstance(b, dict):
                return a in b
            raise EvalError('no such overload: in %s' % _tname(b))
        return _arith(op, a, b)
    if k == 'list':
        return [_ev(x, env) for x in n[1]]
    if k == 'map':
        return {_ev(a, env): _ev(b, env) for a, b in n[1]}
    if k == 'call':
        return _call(n[1], [_ev(a, env) for a in n[2]])
    if k == 'method':
        return _method(n[1], _ev(n[2], env), [_ev(a, env) for a in n[3]])
    if k == 'macro':
        return _macro(n, env)
    raise EvalError('bad node %s' % k)


def _size(v):
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise EvalError('no such overload: size(%s)' % _tname(v))


def _call(name, args):
    if len(args) != 1:
        raise EvalError('%s() takes one argument' % name)
    a = args[0]
    if name == 'size':
        return _size(a)
    if name in ('int', 'uint'):
        if isinstance(a, Duration):
            return int(a.s)
        try:
            v = int(a) if not isinstance(a, str) else int(a, 10)
        except (TypeError, ValueError):
            raise EvalError('cannot convert %r to int' % (a,))
        if name == 'uint' and v < 0:
            raise EvalError('uint overflow')
        return v
    if name == 'double':
        try:
            return float(a)
        except (TypeError, ValueError):
            raise EvalError('cannot convert %r to double' % (a,))
    if name == 'string':
        if isinstance(a, bool):
            return 'true' if a else 'false'
        if isinstance(a, str):
            return a
        if _num(a):
            return repr(a) if isinstance(a, float) else str(a)
        if isinstance(a, Duration):
            return '%gs' % a.s
        raise EvalError('cannot convert %s to string' % _tname(a))
    if name == 'bool':
        if isinstance(a, bool):
            return a
        if a in ('true', 'True', 'TRUE', 't', '1'):
            return True
        if a in ('false', 'False', 'FALSE', 'f', '0'):
            return False
        raise EvalError('cannot convert %r to bool' % (a,))
    if name == 'duration':
        return parse_duration(a)
    if name == 'type':
        return _tname(a)
    raise EvalError('unknown function %s' % name)


def _method(name, recv, args):
    if name == 'size':
        return _size(recv)
    if name in ('sum', 'min', 'max', 'isSorted'):
        if not isinstance(recv, list):
            raise EvalError('%s() needs a list' % name)
        if name == 'isSorted':
            return all(not _cmp('>', recv[i], recv[i + 1]) for i in range(len(recv) - 1))
        if name == 'sum':
            return sum(recv)
        if not recv:
            raise EvalError('%s() of an empty list' % name)
        return min(recv) if name == 'min' else max(recv)
    if name == 'join':
        if not isinstance(recv, list):
            raise EvalError('join() needs a list')
        return (args[0] if args else '').join(recv)
    if not isinstance(recv, str):
        raise EvalError('no such overload: %s.%s()' % (_tname(recv), name))
    if name == 'lowerAscii':
        return recv.lower()
    if name == 'upperAscii':
        return recv.upper()
    if name == 'trim':
        return recv.strip()
    if name in ('charAt', 'substring'):
        return _str_int_method(name, recv, args)
    if len(args) < 1 or not isinstance(args[0], str):
        raise EvalError('%s() needs a string argument' % name)
    a = args[0]
    if name == 'matches':
        try:
            return re.search(a, recv) is not None
        except re.error as e:
            raise EvalError('invalid regex %r: %s' % (a, e))
    if name == 'startsWith':
        return recv.startswith(a)
    if name == 'endsWith':
        return recv.endswith(a)
    if name == 'contains':
        return a in recv
    if name == 'split':
        return recv.split(a)
    if name == 'indexOf':
        return recv.find(a)
    if name == 'lastIndexOf':
        return recv.rfind(a)
    if name == 'replace':
        if len(args) < 2 or not isinstance(args[1], str):
            raise EvalError('replace() needs two strings')
        return recv.replace(a, args[1])
    raise EvalError('unknown method %s' % name)


def _str_int_method(name, recv, args):
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in args) or not args:
        raise EvalError('%s() needs int arguments' % name)
    if name == 'charAt':
        i = args[0]
        if i < 0 or i > len(recv):
            raise EvalError('index out of range: %d' % i)
        return recv[i:i + 1]
    lo = args[0]
    hi = args[1] if len(args) > 1 else len(recv)
    if lo < 0 or hi > len(recv) or lo > hi:
        raise EvalError('substring(%d, %d) out of range' % (lo, hi))
    return recv[lo:hi]
    raise EvalError('unknown method %s' % name)


def _macro(n, env):
    _, name, target, var, body = n
    coll = _ev(target, env)
    if isinstance(coll, dict):
        items = list(coll.keys())
    elif isinstance(coll, list):
        items = coll
    else:
        raise EvalError('%s() needs a list or map' % name)
    results = []
    for it in items:
        sub = dict(env)
        sub[var] = it
        results.append((it, _ev(body, sub)))
    if name == 'map':
        return [r for _, r in results]
    for _, r in results:
        if not isinstance(r, bool):
            raise EvalError('%s() predicate must be bool' % name)
    if name == 'all':
        return all(r for _, r in results)
    if name == 'exists':
        return any(r for _, r in results)
    if name == 'exists_one':
        return sum(1 for _, r in results if r) == 1
    return [it for it, r in results if r]
