#!/usr/bin/env python3
"""Open N keep-alive connections to an HTTP server, send one complete GET on
each, read the response, then hold every connection open and idle for T
seconds, and exit by itself.

Used by scripts/bench.sh (starvation scenario): while the idle connections are
held, fresh clients are measured against the same server. A pre-fork server
whose workers each block on one idle keep-alive connection will starve them.

Output (stdout, one line each, flushed):
  READY opened=<n> answered=<n> failed=<n> setup_s=<secs>
  DONE  still_open=<n> closed_by_server=<n>

Exits by itself after --hold seconds (counted from READY) or on SIGTERM/SIGINT.
Only talks to the address given (meant for 127.0.0.1). Stdlib only.
"""
import argparse
import errno
import selectors
import signal
import socket
import sys
import time

from benchlib import raise_nofile  # the scripts' shared /proc and client helpers


class Conn:
    __slots__ = ("sock", "state", "buf", "need", "hdr_done")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"   # connecting -> reading -> idle | failed
        self.buf = b""
        self.need = None            # remaining body bytes once headers parsed
        self.hdr_done = False


def parse_progress(c):
    """Return True when a complete response has been read."""
    if not c.hdr_done:
        end = c.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = c.buf[:end].decode("latin-1").lower()
        body = len(c.buf) - (end + 4)
        length = None
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip() == "content-length":
                try:
                    length = int(v.strip())
                except ValueError:
                    pass
        c.hdr_done = True
        c.need = (length if length is not None else 0) - body
        c.buf = b""
        if head.startswith("http/1.") and " 304 " in head.split("\r\n")[0]:
            c.need = 0
    else:
        c.need -= len(c.buf)
        c.buf = b""
    return c.need <= 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/1k.html")
    ap.add_argument("-n", "--count", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=30.0,
                    help="seconds to hold the idle connections after READY")
    ap.add_argument("--setup-timeout", type=float, default=8.0,
                    help="max seconds for connecting and reading responses")
    a = ap.parse_args()

    stop = {"flag": False}

    def on_sig(_s, _f):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)

    raise_nofile(a.count)
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n"
           "User-Agent: idle_clients.py\r\n\r\n" % (a.path, a.host, a.port)).encode()

    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.monotonic()
    deadline = t0 + a.setup_timeout
    failed = 0
    for _ in range(a.count):
        if stop["flag"] or time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            rc = s.connect_ex((a.host, a.port))
        except OSError:
            rc = -1
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            failed += 1
            continue
        c = Conn(s)
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE, c)

    # Drive connect -> send -> read until all done or the setup deadline.
    pending = len(conns)
    while pending and not stop["flag"]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ev in sel.select(timeout=min(left, 0.5)):
            c = key.data
            s = c.sock
            if c.state == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    c.state = "failed"
                else:
                    try:
                        s.sendall(req)  # tiny; fits in the socket buffer
                        c.state = "reading"
                        sel.modify(s, selectors.EVENT_READ, c)
                        continue
                    except OSError:
                        c.state = "failed"
            elif c.state == "reading":
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    c.state = "failed"
                else:
                    c.buf += data
                    if parse_progress(c):
                        c.state = "idle"
                        sel.unregister(s)
                        pending -= 1
                        continue
                    continue
            if c.state == "failed":
                sel.unregister(s)
                pending -= 1

    answered = sum(1 for c in conns if c.state == "idle")
    nfail = failed + sum(1 for c in conns if c.state == "failed")
    print("READY opened=%d answered=%d failed=%d setup_s=%.2f" % (
        len(conns) - sum(1 for c in conns if c.state == "failed"),
        answered, nfail, time.monotonic() - t0), flush=True)

    # Hold: watch for the server closing idle connections, but send nothing.
    # Connections whose response never came stay open too (they occupy a
    # server slot or sit in the accept queue: that is the point).
    for c in conns:
        if c.state == "idle":
            sel.register(c.sock, selectors.EVENT_READ, c)
    closed = 0
    end = time.monotonic() + a.hold
    while not stop["flag"]:
        left = end - time.monotonic()
        if left <= 0:
            break
        for key, _ev in sel.select(timeout=min(left, 0.5)):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(c.sock)
                c.state = "closed"
                closed += 1
    still = sum(1 for c in conns if c.state in ("idle", "reading", "connecting"))
    print("DONE still_open=%d closed_by_server=%d" % (still, closed), flush=True)
    for c in conns:
        try:
            c.sock.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
