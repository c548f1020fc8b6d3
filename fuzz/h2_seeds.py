#!/usr/bin/env python3
"""Writes seed inputs for the `h2_connection` fuzz target to fuzz/corpus/h2_connection/.

Input layout (see fuzz_targets/h2_connection.rs): byte 0 = flags (0x01 frames mode,
0x02 --autoindex, 0x04 the client sends WINDOW_UPDATEs for what it reads, 0x08 the
prelude in two writes); byte 1 = the prelude's SETTINGS (bits 0-2 INITIAL_WINDOW_SIZE
index, bits 3-4 MAX_FRAME_SIZE index, 0x20 a 16 MiB connection WINDOW_UPDATE, 0x40
HEADER_TABLE_SIZE 0 and ENABLE_PUSH 0); then raw bytes or frame descriptors: an op byte
(kind | 0x10 merge with the previous write | repeat index << 5) and its bytes.

Run from anywhere: python3 fuzz/h2_seeds.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "h2_connection")

FRAMES, AUTOINDEX, WU, SPLIT = 0x01, 0x02, 0x04, 0x08
# INITIAL_WINDOWS indices: 0 none, 1 zero, 2 one byte, 3 100, 4 16384, 5 65535, 6 1 MiB, 7 max
# MAX_FRAMES indices (<< 3): 0 none, 1 16384, 2 65536, 3 16 MiB - 1
BIG_CONN_WU, TABLE0 = 0x20, 0x40

METHODS = {"GET": 0, "HEAD": 1, "POST": 2, "CONNECT": 3}
PATHS = [
    "/", "/a.txt", "/tiny", "/empty.txt", "/thirty.bin", "/edge32k.txt", "/over32k.txt",
    "/large.bin", "/huge.bin", "/dir", "/dir/", "/dir/b.css", "/dir/sub/c.js", "/dir/sub",
    "/empty", "/empty/", "/.hidden", "/sp%20ace.txt", "/out-rel", "/out-abs",
    "/up/secret.txt", "/dir/out-deep", "/dir/out-via-up", "/in-link", "/dir-link",
    "/dir-link/b.css", "/%2e%2e/secret.txt", "/missing", "//evil.example",
    "/dir/..%2f..%2fsecret.txt", "/a.txt?x=1", "*",
]
REPEATS = [1, 2, 4, 8, 32, 128, 512, 4096]


def op(kind, rep=0, merge=False):
    return bytes([kind | (0x10 if merge else 0) | (rep << 5)])


def req(stream, path, method="GET", end=True, range_=None, inm=False, ae=False,
        authority=False, big=None, bad=False, pad=None, split=None, indexing=False,
        table_update=False, rep=0, merge=False):
    """A request descriptor; `stream` 1..0xEF is stream 2*stream-1, 0xF3 the next new."""
    m = METHODS[method] | (PATHS.index(path) << 2) | (0x80 if end else 0)
    f, v, w = 0, 0, 0
    if range_ is not None:
        f |= 1
        v |= range_
    if inm:
        f |= 2
    if ae:
        f |= 4
    if authority:
        f |= 8
    if big is not None:  # 2^(big+2) bytes
        f |= 0x10
        v |= big << 3
    if bad:
        f |= 0x20
    if pad is not None:
        f |= 0x40
        v = pad
    if split is not None:
        f |= 0x80
        w |= (split - 1) & 0x3F
    if indexing:
        w |= 0x80
    if table_update:
        w |= 0x40
    return op(0, rep, merge) + bytes([stream, m, f, v, w])


def data(stream, units, end=False, padded=False, rep=0, merge=False):
    return op(1, rep, merge) + bytes([stream, units, (1 if end else 0) | (2 if padded else 0)])


def window_update(stream, exp, conn=False, rep=0, merge=False):
    return op(2, rep, merge) + bytes([stream, (0x80 if conn else 0) | exp])


def rst(stream, code=8, rep=0, merge=False):
    return op(3, rep, merge) + bytes([stream, code])


def ping(p=1, rep=0, merge=False):
    return op(4, rep, merge) + bytes([p])


def settings(param, value_index, rep=0, merge=False):
    return op(5, rep, merge) + bytes([param, value_index])


def priority(stream, bad=False, rep=0, merge=False):
    return op(6, rep, merge) + bytes([stream, 1 if bad else 2])


def goaway(code=0):
    return op(7) + bytes([code])


def pause(n_index=0):
    return op(12, n_index)


def toggle_wu():
    return op(13)


def raw_frame(kind, flags, stream, payload, rep=0):
    return op(8, rep) + bytes([kind, flags, stream, len(payload)]) + payload


def frames(*descs, flags=WU, settings_byte=0):
    return bytes([FRAMES | flags, settings_byte]) + b"".join(descs)


def raw(stream_bytes, flags=0, settings_byte=0):
    """Raw mode: no chunk descriptors, the bytes in one write."""
    return bytes([flags & ~FRAMES, settings_byte, 0]) + stream_bytes


def h(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


SEEDS = {
    "get-all-paths": frames(*[req(i + 1, p) for i, p in enumerate(PATHS)]),
    "get-all-paths-autoindex": frames(*[req(i + 1, p) for i, p in enumerate(PATHS)],
                                      flags=WU | AUTOINDEX),
    "head-all-paths": frames(*[req(i + 1, p, "HEAD") for i, p in enumerate(PATHS)]),
    "head-flood-indexed": frames(req(1, "/", "HEAD", indexing=True, rep=7)),
    "head-flood-304": frames(req(1, "/a.txt", "GET", inm=True, indexing=True, rep=7)),
    "large-frames": frames(req(1, "/large.bin"), settings_byte=7 | (3 << 3) | BIG_CONN_WU),
    "huge-frames": frames(req(1, "/huge.bin"), settings_byte=7 | (3 << 3) | BIG_CONN_WU),
    "large-frames-many": frames(req(1, "/large.bin", rep=3),
                                settings_byte=7 | (3 << 3) | BIG_CONN_WU),
    "zero-window-no-reads": frames(req(1, "/large.bin"), req(2, "/thirty.bin"),
                                   flags=0, settings_byte=1),
    "zero-window-then-updates": frames(req(1, "/large.bin"), window_update(1, 14),
                                       window_update(0, 20, conn=True), pause(2),
                                       window_update(1, 16), flags=0, settings_byte=1),
    "tiny-window-reading": frames(req(1, "/over32k.txt"), req(2, "/edge32k.txt"),
                                  settings_byte=2),
    "ranges": frames(*[req(i + 1, "/large.bin", range_=i) for i in range(8)]),
    "ranges-head": frames(*[req(i + 1, "/a.txt", "HEAD", range_=i) for i in range(8)]),
    "conditional-encoding": frames(req(1, "/a.txt", inm=True), req(2, "/a.txt", ae=True),
                                   req(3, "/a.txt", ae=True, range_=0)),
    "redirects": frames(req(1, "/dir"), req(2, "/dir-link"), req(3, "/empty"),
                        req(4, "/dir/sub"), req(5, "//evil.example"), flags=WU | AUTOINDEX),
    "escapes": frames(*[req(i + 1, p) for i, p in enumerate(PATHS[18:30])]),
    "rapid-reset": frames(*[req(0xF3, "/large.bin", merge=i > 0) + rst(0, merge=True)
                            for i in range(40)]),
    "ping-flood": frames(ping(7, rep=7), ping(9, rep=7)),
    "settings-flood": frames(settings(4, 3, rep=7)),
    "empty-data-flood": frames(req(1, "/large.bin", end=False), data(1, 0, rep=7)),
    "continuations": frames(req(1, "/a.txt", split=3), req(2, "/dir/b.css", split=1, pad=7)),
    "big-header": frames(req(1, "/a.txt", big=13), req(2, "/a.txt", big=14, split=40),
                         req(3, "/a.txt", big=15)),
    "big-headers-4": frames(*[req(i + 1, "/", "HEAD", big=13) for i in range(6)]),
    "malformed": frames(req(1, "/", bad=True), req(2, "/", "CONNECT"), req(3, "*"),
                        req(4, "/a.txt")),
    "body-then-trailers": frames(req(1, "/a.txt", end=False), data(1, 4),
                                 op(10) + bytes([1, 1]), req(2, "/tiny")),
    "priority": frames(priority(5, bad=True), req(1, "/"), priority(1), priority(1, bad=True),
                       req(2, "/large.bin"), priority(2, bad=True)),
    "goaway-then-request": frames(req(1, "/thirty.bin"), goaway(0), req(2, "/a.txt")),
    "max-streams": frames(req(1, "/large.bin", rep=5), flags=0),
    "settings-change-window": frames(req(1, "/large.bin"), req(2, "/over32k.txt"),
                                     settings(4, 0), pause(1), settings(4, 6), flags=0),
    "table-update": frames(req(1, "/a.txt", indexing=True, table_update=True, rep=2),
                           req(3, "/tiny", indexing=True, rep=2)),
    "window-overflow": frames(req(1, "/large.bin", end=False), window_update(1, 31),
                              window_update(0, 31, conn=True)),
    "toggle-wu": frames(req(1, "/large.bin"), pause(3), toggle_wu(), req(2, "/large.bin"),
                        pause(3), toggle_wu(), pause(3)),
    "split-prelude": frames(req(1, "/a.txt"), flags=WU | SPLIT),
    "raw-get": raw(h(1, 5, 1, b"\x82\x86\x84") + h(1, 5, 3, b"\x82\x86\x44\x06/a.txt")),
    "raw-ping-goaway": raw(h(6, 0, 0, b"12345678") + h(7, 0, 0, b"\0\0\0\0\0\0\0\0"), flags=WU),
    "raw-oversize": raw(h(0, 0, 1, b"x" * 20) + (16385).to_bytes(3, "big") + b"\0\0\0\0\0\1"),
    "raw-hpack-bomb": raw(h(1, 4, 1, b"\x82\x86\x84\x40\x01x" + bytes([0x7f, 0x81, 0x1f]) + b"y" * 3999)
                          + h(1, 5, 3, b"\x82\x86\x84" + b"\xbe" * 300)),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
