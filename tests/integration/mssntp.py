"""MS-SNTP helpers for the integration tests: MD4 (RFC 1320, written here because Python's hashlib
has none under OpenSSL 3), the NT hash of a password, 68-byte requests and their signatures."""
import hashlib
import struct

from hltest import build_header
def _rotl(x, n):
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF
def md4(data):
    """MD4 (RFC 1320)."""
    msg = bytearray(data)
    bitlen = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    msg.append(0x80)
    while len(msg) % 64 != 56:
        msg.append(0)
    msg += struct.pack("<Q", bitlen)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    F = lambda x, y, z: (x & y) | (~x & z)
    G = lambda x, y, z: (x & y) | (x & z) | (y & z)
    H = lambda x, y, z: x ^ y ^ z
    for off in range(0, len(msg), 64):
        X = struct.unpack("<16I", msg[off:off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            if i % 4 == 0: a = _rotl(a + F(b, c, d) + X[k], s)
            elif i % 4 == 1: d = _rotl(d + F(a, b, c) + X[k], s)
            elif i % 4 == 2: c = _rotl(c + F(d, a, b) + X[k], s)
            else: b = _rotl(b + F(c, d, a) + X[k], s)
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            if i % 4 == 0: a = _rotl(a + G(b, c, d) + X[k] + 0x5A827999, s)
            elif i % 4 == 1: d = _rotl(d + G(a, b, c) + X[k] + 0x5A827999, s)
            elif i % 4 == 2: c = _rotl(c + G(d, a, b) + X[k] + 0x5A827999, s)
            else: b = _rotl(b + G(c, d, a) + X[k] + 0x5A827999, s)
        order = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
        for i in range(16):
            k, s = order[i], (3, 9, 11, 15)[i % 4]
            if i % 4 == 0: a = _rotl(a + H(b, c, d) + X[k] + 0x6ED9EBA1, s)
            elif i % 4 == 1: d = _rotl(d + H(a, b, c) + X[k] + 0x6ED9EBA1, s)
            elif i % 4 == 2: c = _rotl(c + H(d, a, b) + X[k] + 0x6ED9EBA1, s)
            else: b = _rotl(b + H(c, d, a) + X[k] + 0x6ED9EBA1, s)
        a, b, c, d = [(x + y) & 0xFFFFFFFF for x, y in zip((a, b, c, d), (aa, bb, cc, dd))]
    return struct.pack("<4I", a, b, c, d)

def nt_hash(password):
    """MD4 of the UTF-16LE password: the key MS-SNTP signs with (the account's unicodePwd)."""
    return md4(password.encode("utf-16-le"))


def request(rid, previous_password=False, vn=3, mode=3):
    """A domain member's 68-byte request: header, key id = RID little-endian (top bit: the
    previous password), 16 bytes of checksum the server does not check."""
    key_id = (rid & 0x7FFFFFFF) | (0x80000000 if previous_password else 0)
    return build_header(vn=vn, mode=mode) + struct.pack("<I", key_id) + bytes(16)


def signature_ok(reply, password, key_id_bytes):
    """Whether a 68-byte reply carries the key id sent and MD5(NT hash || the 48-byte header)."""
    return (len(reply) == 68 and reply[48:52] == key_id_bytes and
            reply[52:] == hashlib.md5(nt_hash(password) + reply[:48]).digest())


assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"  # RFC 1320's test suite
assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
