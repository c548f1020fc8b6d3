#!/usr/bin/env python3
"""Open N keep-alive connections to an HTTP server, send one complete GET on
each, read the response, then hold every connection open and idle for T
seconds, and exit by itself.

Used by scripts/bench.sh (starvation scenario): while the idle connections are
held, fresh clients are measured against the same server. A pre-fork server
whose workers each block on one idle keep-alive connection will starve them.

With --tls each connection first completes a full TLS handshake (Python's ssl
module; no session is offered, so none is resumed), then sends its GET inside
it: scripts/bench.sh's scenario 12 measures the server's memory per idle TLS
connection with them held. --cafile trusts the server's (self-signed)
certificate and checks it against --host; without it nothing is verified.

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
import ssl
import sys
import time

from benchlib import raise_nofile  # the scripts' shared /proc and client helpers


class Conn:
    __slots__ = ("sock", "state", "buf", "need", "hdr_done")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"   # connecting [-> handshaking] -> reading -> idle | failed
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
    ap.add_argument("--tls", action="store_true",
                    help="HTTPS: a full TLS handshake on each connection before its GET")
    ap.add_argument("--cafile", help="with --tls: trust this certificate (else no verification)")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="at most this many connections being set up at once, the next "
                         "one opened as one becomes idle (0: all opened at once)")
    a = ap.parse_args()

    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if a.cafile:
            ctx.load_verify_locations(a.cafile)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE

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
    # to_open: connections not opened yet; pending: opened, neither idle nor failed yet
    st = {"failed": 0, "to_open": a.count, "pending": 0}

    def open_more():
        while st["to_open"] > 0 and (a.concurrency <= 0 or st["pending"] < a.concurrency):
            if stop["flag"] or time.monotonic() > deadline:
                return
            st["to_open"] -= 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                rc = s.connect_ex((a.host, a.port))
            except OSError:
                rc = -1
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                st["failed"] += 1
                continue
            c = Conn(s)
            conns.append(c)
            sel.register(s, selectors.EVENT_WRITE, c)
            st["pending"] += 1

    open_more()

    def handshake(c):
        """Drives c's TLS handshake one step: True once done (c then sends its GET)."""
        try:
            c.sock.do_handshake()
            return True
        except ssl.SSLWantReadError:
            sel.modify(c.sock, selectors.EVENT_READ, c)
        except ssl.SSLWantWriteError:
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
        except OSError:
            c.state = "failed"
        return False

    def send_request(c):
        try:
            c.sock.sendall(req)  # tiny; fits in the socket buffer (and one TLS record)
            c.state = "reading"
            sel.modify(c.sock, selectors.EVENT_READ, c)
        except OSError:
            c.state = "failed"

    # Drive connect [-> TLS handshake] -> send -> read until all done or the setup deadline.
    while (st["pending"] or st["to_open"]) and not stop["flag"]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        open_more()
        for key, _ev in sel.select(timeout=min(left, 0.5)):
            c = key.data
            s = c.sock
            if c.state == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    c.state = "failed"
                elif ctx is None:
                    send_request(c)
                else:
                    sel.unregister(s)
                    try:
                        c.sock = s = ctx.wrap_socket(s, server_hostname=a.host,
                                                     do_handshake_on_connect=False)
                    except OSError:
                        c.state = "failed"
                        st["pending"] -= 1
                        continue
                    sel.register(s, selectors.EVENT_WRITE, c)
                    c.state = "handshaking"
                    if handshake(c):
                        send_request(c)
            elif c.state == "handshaking":
                if handshake(c):
                    send_request(c)
            elif c.state == "reading":
                # an SSL socket may hold decrypted bytes the selector does not see: read
                # until it would block
                while c.state == "reading":
                    try:
                        data = s.recv(65536)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        break
                    except OSError:
                        data = b""
                    if not data:
                        c.state = "failed"
                        break
                    c.buf += data
                    if parse_progress(c):
                        c.state = "idle"
                        sel.unregister(s)
                        st["pending"] -= 1
                if c.state != "failed":
                    continue
            if c.state == "failed":
                sel.unregister(s)
                st["pending"] -= 1

    answered = sum(1 for c in conns if c.state == "idle")
    nfail = st["failed"] + sum(1 for c in conns if c.state == "failed")
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
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue  # e.g. a TLS 1.3 session ticket, which carries no data
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
