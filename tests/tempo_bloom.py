"""tempo_bloom.py - an independent reading of Tempo's sharded bloom filters
(research/tempo.md §6.4), for tests: pure Python, no code shared with the
C implementation it checks.

  shard(trace_id, shards)       FNV-1 32 of the 16-byte ID, mod shards
  Bloom(open(path,'rb').read()) willf/bloom WriteTo: >QQQ m, k, len, then
                                big-endian u64 words, bit j in word j/64
  bloom.test(trace_id)          murmur3 x64_128 of the ID and of ID+0x01,
                                k locations (h[i%2] + i*h[2+((i+i%2)%4)//2]) % m
"""
import struct

M64 = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _fmix(k):
    k ^= k >> 33
    k = (k * 0xff51afd7ed558ccd) & M64
    k ^= k >> 33
    k = (k * 0xc4ceb9fe1a85ec53) & M64
    return k ^ (k >> 33)


def murmur3_x64_128(data, seed=0):
    c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
    h1 = h2 = seed
    n = len(data)
    nblocks = n // 16
    for i in range(nblocks):
        k1 = int.from_bytes(data[i * 16:i * 16 + 8], "little")
        k2 = int.from_bytes(data[i * 16 + 8:i * 16 + 16], "little")
        h1 ^= (_rotl((k1 * c1) & M64, 31) * c2) & M64
        h1 = (((_rotl(h1, 27) + h2) & M64) * 5 + 0x52dce729) & M64
        h2 ^= (_rotl((k2 * c2) & M64, 33) * c1) & M64
        h2 = (((_rotl(h2, 31) + h1) & M64) * 5 + 0x38495ab5) & M64
    tail = data[nblocks * 16:]
    if len(tail) > 8:
        h2 ^= (_rotl((int.from_bytes(tail[8:], "little") * c2) & M64, 33) * c1) & M64
    if len(tail) > 0:
        h1 ^= (_rotl((int.from_bytes(tail[:8], "little") * c1) & M64, 31) * c2) & M64
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & M64
    h2 = (h2 + h1) & M64
    return h1, h2


def shard(trace_id, shards):
    h = 0x811c9dc5
    for b in trace_id:
        h = (h * 0x01000193) & 0xffffffff
        h ^= b
    return h % shards


class Bloom:
    def __init__(self, blob):
        if len(blob) < 24:
            raise ValueError("bloom shard of %d bytes" % len(blob))
        self.m, self.k, nbits = struct.unpack(">QQQ", blob[:24])
        nwords = (nbits + 63) // 64
        if len(blob) != 24 + 8 * nwords or nbits != self.m:
            raise ValueError("bloom shard: m=%d len=%d but %d bytes" % (self.m, nbits, len(blob)))
        self.words = struct.unpack(">%dQ" % nwords, blob[24:])

    def test(self, data):
        h = murmur3_x64_128(data) + murmur3_x64_128(data + b"\x01")
        for i in range(self.k):
            loc = ((h[i % 2] + i * h[2 + ((i + i % 2) % 4) // 2]) & M64) % self.m
            if not (self.words[loc // 64] >> (loc % 64)) & 1:
                return False
        return True
