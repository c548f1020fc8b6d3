#!/usr/bin/env python3
"""Writes seed inputs for the `connection` fuzz target to fuzz/corpus/connection/.

Input layout (see fuzz_targets/connection.rs): byte 0 = number of chunk descriptors
(bits 0-3) | 0x10 for --autoindex; then (len, rep) byte pairs; then the client stream.
A descriptor takes the next `len` stream bytes, written 2^(rep-0xEF) times if
rep >= 0xF0, else once; the rest of the stream is the last chunk.

Run from anywhere: python3 fuzz/connection_seeds.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "connection")


def seed(stream, cuts=(), autoindex=False):
    """One write per piece: `cuts` are piece lengths (each once), then the rest."""
    cuts = list(cuts)[:15]
    head = bytes([len(cuts) | (0x10 if autoindex else 0)])
    for c in cuts:
        head += bytes([c, 0])
    return head + stream


def repeated(piece, log2_times, tail=b"", autoindex=False):
    """`piece` written 2^log2_times times (1 <= log2_times <= 16), then `tail`."""
    assert 1 <= log2_times <= 16 and len(piece) < 256
    head = bytes([1 | (0x10 if autoindex else 0), len(piece), 0xEF + log2_times])
    return head + piece + tail


def req(target, method="GET", *fields, version="1.1"):
    lines = [f"{method} {target} HTTP/{version}", "Host: x", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


SEEDS = {
    "get-index": seed(req("/")),
    "pipelined-get-head": seed(
        req("/a.txt") + req("/a.txt", "HEAD") + req("/large.bin", "HEAD") + req("/dir/"),
        cuts=(5, 17, 1, 30),
    ),
    "large-file-then-small": seed(req("/large.bin") + req("/thirty.bin") + req("/tiny")),
    "edges-32k": seed(req("/edge32k.txt") + req("/over32k.txt") + req("/empty.txt")),
    "ranges": seed(
        req("/large.bin", "GET", "Range: bytes=0-0,100-199,-7")
        + req("/a.txt", "GET", "Range: bytes=2-")
        + req("/a.txt", "GET", "Range: bytes=99-")
        + req("/over32k.txt", "GET", "Range: bytes=0-40000,40001-")
    ),
    "conditionals": seed(
        req("/a.txt", "GET", 'If-None-Match: "x", *')
        + req("/a.txt", "HEAD", "If-Modified-Since: Sun, 06 Nov 2094 08:49:37 GMT")
        + req("/a.txt", "GET", 'If-Match: "nope"')
        + req("/a.txt", "GET", "Range: bytes=0-1", 'If-Range: "old"')
    ),
    "encodings": seed(
        req("/a.txt", "GET", "Accept-Encoding: gzip, br;q=0.5")
        + req("/a.txt.gz")
        + req("/a.txt", "GET", "Accept-Encoding: br")
    ),
    "redirect-slashes": seed(req("//evil.example/../dir")),
    "redirect-backslash": seed(req("/\\evil.example/../dir")),
    "redirect-plain": seed(req("/dir") + req("/empty") + req("/dir-link")),
    "redirect-absolute-form": seed(req("http://x//evil.example/../dir")),
    "outside-links": seed(
        req("/out-rel") + req("/out-abs") + req("/up/secret.txt") + req("/dir/out-deep")
        + req("/dir/out-via-up") + req("/in-link") + req("/%2e%2e/secret.txt")
        + req("/../secret.txt") + req("/.hidden")
    ),
    "autoindex": seed(req("/empty/") + req("/") + req("/dir/sub/"), autoindex=True),
    "cl-bodies": seed(
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /"
        + req("/tiny")
        + b"HEAD /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        cuts=(40, 3, 3),
    ),
    "http10-and-close": seed(
        req("/a.txt", "GET", version="1.0") + req("/tiny"),
    ),
    "connection-close": seed(req("/a.txt", "GET", "Connection: close") + req("/tiny")),
    "bad-method": seed(req("/a.txt", "POST") + req("/a.txt", "DELETE")),
    "bad-head-nul": seed(b"GET /a\x00.txt HTTP/1.1\r\nHost: x\r\n\r\n"),
    "bad-head-tls": seed(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    "bad-head-space": seed(b"GET /a.txt HTTP/1.1\r\nHost : x\r\n\r\n"),
    "bad-head-te": seed(b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "bare-lf": seed(b"GET /a.txt HTTP/1.1\nHost: x\n\n" + b"HEAD / HTTP/1.1\nHost: x\n\n"),
    "crlf-run": repeated(b"\r\n", 16, req("/a.txt")),
    "crlf-run-short": seed(b"\r\n" * 100 + req("/a.txt") + b"\r\n" * 50 + req("/tiny")),
    "long-header": repeated(b"aaaaaaaaaaaaaaaa", 13, b"\r\n\r\n",),
    "many-pipelined": repeated(req("/tiny"), 8),
    "partial-head": seed(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"),
    "odd-targets": seed(
        req("/a.txt?x=1#f") + req("/sp%20ace.txt") + req("*", "OPTIONS")
        + req("/a.txt/") + req("/index.html/..") + req("/dir/index.html")
    ),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, f"seed-{name}"), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
