#!/usr/bin/env python3
"""Writes the seed corpus (corpus/p2p, corpus/http). Run from anywhere:
    python3 test/fuzz/gen_corpus.py
Every file starts with the two bytes the harness uses to pick read and write
sizes (driver.h): bits 0-1 of the first byte 0 = 1-byte reads, 1 = up to 24,
2 = up to 512, 3 = up to 4096; bits 4-5 the same for writes, reversed (0 = up
to 4096); bit 2 turns on checksum verification in the P2P harness; the second
byte seeds the sizes. The rest is what the client sends. Files named regress-*
(inputs that once crashed a harness) are kept as they are."""
import hashlib, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = 0xD9B4BEF9

def checksum(payload):
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]

def msg(cmd, payload=b"", length=None, magic=MAGIC, good_sum=True):
    s = checksum(payload) if good_sum else b"\0\0\0\0"
    n = len(payload) if length is None else length
    return struct.pack("<I12sI", magic, cmd.encode(), n) + s + payload

def getdata(count, size, seed):
    return struct.pack("<IIQ", count, size, seed)

M64 = (1 << 64) - 1

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)

def piece(seed, index, size):
    """Block `index` of an upload stream, as payload.c generates it (the
    pattern is splitmix64 from a fixed seed; a piece is a slice of it)."""
    _, v = splitmix64(seed ^ ((index * 0xD1B54A32D192ED03) & M64))
    start = (v % 64) * 4099
    out, st = bytearray(), 0x6d757862656e6368
    while len(out) < start + size:
        st, w = splitmix64(st)
        out += struct.pack("<Q", w)
    return bytes(out[start:start + size])

def inv(n):
    return bytes([n]) + bytes(range(36)) * n

P2P = {
    "ping": b"\x03\x00" + msg("ping", struct.pack("<Q", 42)),
    "ping-dribble": b"\x30\x11" + msg("ping", struct.pack("<Q", 7)) + msg("ping", struct.pack("<Q", 8)),
    "ping-checksum": b"\x07\x00" + msg("ping", struct.pack("<Q", 42)),
    "pong-unknown": b"\x01\x05" + msg("pong", struct.pack("<Q", 1)) + msg("sendheaders") + msg("ping", b"x"),
    "getdata": b"\x22\x09" + msg("getdata", getdata(3, 1000, 5)) + msg("ping", struct.pack("<Q", 9)),
    "getdata-zero": b"\x03\x01" + msg("getdata", getdata(0, 0, 1)),
    "getdata-pipelined": b"\x01\x33" + msg("getdata", getdata(2, 100, 1)) * 2 + msg("ping", b"12345678"),
    "inv": b"\x03\x02" + msg("inv", inv(2)),
    "inv-bad": b"\x03\x02" + msg("inv", inv(2)[:-1]),
    "upload": b"\x02\x44" + msg("upload", getdata(2, 64, 3)) + msg("block", piece(3, 0, 64)) + msg("block", piece(3, 1, 64)),
    "upload-bad-block": b"\x02\x44" + msg("upload", getdata(1, 64, 3)) + msg("block", b"\0" * 64),
    "upload-zero": b"\x03\x00" + msg("upload", getdata(0, 0, 3)),
    "upload-twice": b"\x03\x00" + msg("upload", getdata(2, 64, 3)) + msg("upload", getdata(2, 64, 3)),
    "bad-magic": b"\x03\x00" + msg("ping", b"12345678", magic=0x0709110B),
    "too-large": b"\x03\x00" + msg("block", length=4000001),
    "max-length-header": b"\x03\x00" + msg("block", length=4000000) + b"\xab" * 100,
    "truncated-header": b"\x03\x00" + msg("ping", b"12345678")[:17],
    "bad-command": b"\x03\x00" + struct.pack("<I12sI", MAGIC, b"pi\x01g", 0) + b"\0" * 4,
    "bad-checksum": b"\x07\x00" + msg("ping", b"12345678", good_sum=False),
}

def rpc(i, extra=""):
    body = '{"jsonrpc":"1.0","id":%d,"method":"getblockcount","params":[]}' % i
    return ("POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s" % (extra, len(body), body)).encode()

HTTP = {
    "rpc": b"\x03\x00" + rpc(1),
    "rpc-dribble": b"\x30\x05" + rpc(2),
    "rpc-pipelined": b"\x02\x17" + rpc(1) + rpc(2) + rpc(3),
    "rpc-close": b"\x03\x00" + rpc(4, "Connection: close\r\n") + rpc(5),
    "rpc-unknown-method": b"\x03\x00" + b'POST / HTTP/1.1\r\nContent-Length: 26\r\n\r\n{"id":5,"method":"stop!"}',
    "rpc-bad-json": b"\x03\x00" + b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}",
    "rpc-chunked": b"\x01\x00" + b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"id":"a"\r\n1\r\n}\r\n0\r\n\r\n',
    "rpc-http10": b"\x03\x00" + b'POST / HTTP/1.0\r\nContent-Length: 9\r\n\r\n{"id":[]}',
    "bulk": b"\x12\x08" + b"GET /bulk?bytes=100000&chunk=4096&seed=4 HTTP/1.1\r\nHost: x\r\n\r\n" + rpc(6),
    "bulk-small": b"\x03\x00" + b"GET /bulk?bytes=10 HTTP/1.1\r\n\r\n" * 2,
    "bulk-zero": b"\x03\x00" + b"GET /bulk?bytes=0 HTTP/1.1\r\n\r\n",
    "bulk-close": b"\x03\x00" + b"GET /bulk?bytes=5000&chunk=1000 HTTP/1.1\r\nConnection: close\r\n\r\n",
    "bulk-bad-query": b"\x03\x00" + b"GET /bulk?bytes=1x&chunk=0 HTTP/1.1\r\n\r\n",
    "bulk-post": b"\x03\x00" + b"POST /bulk?bytes=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "not-found": b"\x03\x00" + b"GET /nothing HTTP/1.1\r\n\r\n",
    "url-long": b"\x03\x00" + b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\n\r\n",
    "upgrade": b"\x03\x00" + b"GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nxyz",
    "bad-request-line": b"\x03\x00" + b"GET/ HTTP/1.1 nonsense\r\n\r\n",
    "oversized-header": b"\x03\x00" + b"GET / HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n",
    "body-too-large": b"\x03\x00" + b"POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n{}",
    "garbage-after-pipelined": b"\x02\x03" + rpc(7) + b"\x00\xff garbage \r\n\r\n",
}

for name, files in (("p2p", P2P), ("http", HTTP)):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for k, v in files.items():
        with open(os.path.join(d, k), "wb") as fh:
            fh.write(v)
    print("%s: %d files, %d bytes" % (d, len(files), sum(map(len, files.values()))), file=sys.stderr)
