"""Decode Kubernetes protobuf request bodies (test fake only).

Helm's release storage (typed clientset) POSTs/PUTs Secrets as
application/vnd.kubernetes.protobuf and sends DeleteOptions that way. decode(body) returns
(apiVersion, kind, obj) with obj as the JSON form; raises ValueError for unknown kinds or
malformed input. Empty strings / zero values mean "absent", as on the real server.
"""

import base64

MAGIC = b'k8s\x00'


def _varint(b, i):
    shift = val = 0
    while True:
        if i >= len(b):
            raise ValueError('truncated varint')
        c = b[i]
        i += 1
        val |= (c & 0x7f) << shift
        if not c & 0x80:
            return val, i
        shift += 7
        if shift > 63:
            raise ValueError('varint too long')


def fields(b):
    """Parse one message into {field_number: [values]} (bytes for length-delimited)."""
    out, i = {}, 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ValueError('truncated field %d' % num)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError('unsupported wire type %d' % wt)
        out.setdefault(num, []).append(v)
    return out


def _s(f, n):
    v = f.get(n)
    return v[-1].decode('utf-8') if v else ''


def _map(f, n, binary=False):
    out = {}
    for entry in f.get(n, []):
        e = fields(entry)
        k = _s(e, 1)
        raw = e.get(2, [b''])[-1]
        out[k] = base64.b64encode(raw).decode() if binary else raw.decode('utf-8')
    return out


def _meta(b):
    f = fields(b)
    m = {}
    for num, key in ((1, 'name'), (2, 'generateName'), (3, 'namespace'), (5, 'uid'),
                     (6, 'resourceVersion')):
        v = _s(f, num)
        if v:
            m[key] = v
    if f.get(7) and f[7][-1]:
        m['generation'] = f[7][-1]
    for num, key in ((11, 'labels'), (12, 'annotations')):
        mp = _map(f, num)
        if mp:
            m[key] = mp
    refs = []
    for r in f.get(13, []):
        rf = fields(r)
        ref = {'apiVersion': _s(rf, 5), 'kind': _s(rf, 1), 'name': _s(rf, 3), 'uid': _s(rf, 4)}
        if rf.get(6):
            ref['controller'] = bool(rf[6][-1])
        if rf.get(7):
            ref['blockOwnerDeletion'] = bool(rf[7][-1])
        refs.append(ref)
    if refs:
        m['ownerReferences'] = refs
    fin = [x.decode() for x in f.get(14, [])]
    if fin:
        m['finalizers'] = fin
    return m


def _secret(f):
    o = {'metadata': _meta(f.get(1, [b''])[-1])}
    data = _map(f, 2, binary=True)
    if data:
        o['data'] = data
    t = _s(f, 3)
    if t:
        o['type'] = t
    sd = _map(f, 4)
    if sd:
        o['stringData'] = sd
    if f.get(5):
        o['immutable'] = bool(f[5][-1])
    return o


def _configmap(f):
    o = {'metadata': _meta(f.get(1, [b''])[-1])}
    data = _map(f, 2)
    if data:
        o['data'] = data
    bd = _map(f, 3, binary=True)
    if bd:
        o['binaryData'] = bd
    if f.get(4):
        o['immutable'] = bool(f[4][-1])
    return o


def _namespace(f):
    o = {'metadata': _meta(f.get(1, [b''])[-1])}
    if f.get(2):
        spec = fields(f[2][-1])
        fin = [x.decode() for x in spec.get(1, [])]
        if fin:
            o['spec'] = {'finalizers': fin}
    return o


def _deleteoptions(f):
    o = {}
    if f.get(4):
        pol = _s(f, 4)
        if pol:
            o['propagationPolicy'] = pol
    return o


_KINDS = {'Secret': _secret, 'ConfigMap': _configmap, 'Namespace': _namespace,
          'DeleteOptions': _deleteoptions}


def decode(body):
    if not body.startswith(MAGIC):
        raise ValueError('protobuf body without the k8s\\0 envelope')
    unk = fields(body[4:])
    tm = fields(unk.get(1, [b''])[-1])
    api_version, kind = _s(tm, 1), _s(tm, 2)
    fn = _KINDS.get(kind)
    if fn is None:
        raise ValueError('protobuf decoding of kind %r is not supported by the fake; send JSON'
                         % kind)
    obj = fn(fields(unk.get(2, [b''])[-1]))
    if kind != 'DeleteOptions':
        obj['apiVersion'] = api_version or 'v1'
        obj['kind'] = kind
    return api_version, kind, obj


# --- encoder, for the fake's own tests (mirrors what client-go sends) ---

def _key(num, wt):
    return _uv((num << 3) | wt)


def _uv(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return _key(num, 2) + _uv(len(b)) + b


def enc_map(num, d, binary=False):
    out = b''
    for k, v in d.items():
        if binary:
            v = base64.b64decode(v)
        out += enc_bytes(num, enc_bytes(1, k) + enc_bytes(2, v))
    return out


def encode_secret(obj):
    """Encode a JSON Secret as client-go would (used by tests)."""
    md = obj.get('metadata', {})
    m = enc_bytes(1, md.get('name', '')) + enc_bytes(3, md.get('namespace', '')) + \
        enc_bytes(5, '') + enc_bytes(6, md.get('resourceVersion', '')) + _key(7, 0) + _uv(0) + \
        enc_bytes(8, b'') + enc_map(11, md.get('labels', {}))
    raw = enc_bytes(1, m) + enc_map(2, obj.get('data', {}), binary=True) + \
        enc_bytes(3, obj.get('type', 'Opaque'))
    tm = enc_bytes(1, 'v1') + enc_bytes(2, 'Secret')
    return MAGIC + enc_bytes(1, tm) + enc_bytes(2, raw) + enc_bytes(3, '') + enc_bytes(4, '')
