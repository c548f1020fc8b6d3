#!/usr/bin/env python3
"""How evenly a pre-fork server spreads connections over its workers.

Opens --conns keep-alive TCP connections to 127.0.0.1:PORT one after another; on each
sends one `GET PATH HTTP/1.1` and reads the whole response before opening the next, and
keeps them all open. Then counts, for every worker, how many of its open fds are sockets
(/proc/PID/fd links "socket:[...]"), minus the count taken before the connections were
opened (listening sockets, channels between master and workers). The connections arrive
while every worker is idle, so the counts show how the server's accept model hands out
new connections, not how fast each worker is: a shared socket woken in every worker
tends to give most of them to one worker, SO_REUSEPORT hashes them evenly.

Workers are the children of the master (/proc/PID/task/*/children); a master without
children (lighttpd with one worker) is its own single worker.

Usage: balance.py --port P (--master PID | --master-pidfile FILE) [--conns 800]
                  [--workers N] [--path /1k.html] [--timeout 10] [--ready-timeout 10]
                  [--max-stalls 1]

A connection not answered within --timeout is a stall: every worker is busy (a worker
that serves one connection at a time holds it while it stays open), so no later
connection would be answered either. After --max-stalls of them no more are opened and
the counts are taken as they are (answered < conns tells).

Output: one line per worker, then one machine-readable line:
  BALANCE workers=.. conns=.. opened=.. answered=.. stalls=.. counted=.. closed_by_server=..
          mean=.. min_ratio=.. max_ratio=.. counts=a/b/c (worker pid order) status=..
Exit: 0 measured (even if some connections failed: see opened/answered), 2 the server
was not ready in time or the master is gone. Every connection is closed before exit.
Stdlib only.
"""
import argparse
import os
import re
import socket
import sys
import time

from benchlib import children, raise_nofile  # the scripts' shared /proc and client helpers

HOST = "127.0.0.1"


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def socket_fds(pid):
    n = 0
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return None
    for fd in names:
        try:
            if os.readlink(os.path.join(d, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass  # closed while we looked
    return n


def master_pid(args):
    if args.master is not None:
        return args.master
    deadline = time.monotonic() + args.ready_timeout
    while True:  # nginx writes its pid file a moment after it starts
        try:
            with open(args.master_pidfile) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            if time.monotonic() > deadline:
                print("balance: no pid in %s" % args.master_pidfile, file=sys.stderr)
                sys.exit(2)
            time.sleep(0.05)


def read_response(sock, keep_alive=True):
    """Reads one response; returns its status (int). Raises OSError/ValueError on a
    short or malformed one. Content-Length or chunked; a response with neither (only
    legal with Connection: close) is read to EOF."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("EOF in response head")
        buf += chunk
        if len(buf) > 65536:
            raise ValueError("response head too long")
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/\d\.\d (\d{3})", lines[0])
    if not m:
        raise ValueError("bad status line %r" % lines[0][:60])
    status = int(m.group(1))
    hdr = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdr[k.strip().lower()] = v.strip()
    if "content-length" in hdr:
        need = int(hdr["content-length"])
        while len(body) < need:
            chunk = sock.recv(max(65536, need - len(body)))
            if not chunk:
                raise ValueError("EOF in body (%d of %d bytes)" % (len(body), need))
            body += chunk
    elif "chunked" in hdr.get("transfer-encoding", "").lower():
        while not body.endswith(b"0\r\n\r\n"):  # good enough for a static server's body
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("EOF in chunked body")
            body += chunk
    elif not keep_alive:
        while sock.recv(65536):
            pass
    else:
        raise ValueError("keep-alive response without a length")
    return status


def wait_ready(port, path, deadline):
    """Until a connection succeeds and a whole response comes back: the server listens
    and a worker serves. Connection: close, read to EOF, so that the server has closed
    its end (and its fd) before the baseline is taken."""
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                           % (path, HOST, port)).encode())
                read_response(s, keep_alive=False)
                s.settimeout(2)
                while s.recv(65536):
                    pass
                return True
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.05)
    print("balance: server on port %d not ready: %s" % (port, last), file=sys.stderr)
    return False


def stable_counts(pids, tries=20):
    """Socket counts per pid, once two readings 50 ms apart agree (a worker may still be
    closing the probe connection)."""
    prev = None
    for _ in range(tries):
        cur = [socket_fds(p) for p in pids]
        if cur == prev:
            return cur
        prev = cur
        time.sleep(0.05)
    return prev


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--master", type=int, help="master pid")
    g.add_argument("--master-pidfile", help="file holding the master pid (nginx)")
    ap.add_argument("--conns", type=int, default=800)
    ap.add_argument("--workers", type=int, default=0,
                    help="wait until the master has this many children (0: don't)")
    ap.add_argument("--path", default="/1k.html")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per connect/read")
    ap.add_argument("--ready-timeout", type=float, default=10.0)
    ap.add_argument("--max-stalls", type=int, default=1,
                    help="stop opening connections after this many timed out")
    args = ap.parse_args()

    raise_nofile(args.conns)
    deadline = time.monotonic() + args.ready_timeout
    master = master_pid(args)
    if not alive(master):
        print("balance: master %d is not running" % master, file=sys.stderr)
        return 2
    if not wait_ready(args.port, args.path, deadline):
        return 2
    if args.workers > 0:
        while len([p for p in children(master) if alive(p)]) < args.workers:
            if time.monotonic() > deadline:
                print("balance: master %d has %d of %d workers after %.0fs"
                      % (master, len(children(master)), args.workers, args.ready_timeout),
                      file=sys.stderr)
                return 2
            time.sleep(0.02)
    workers = [p for p in children(master) if alive(p)]
    if not workers:
        workers = [master]  # single-process server: the master serves
        print("balance: master %d has no children: counting it as the only worker" % master)
    base = stable_counts(workers)

    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (args.path, HOST, args.port)).encode()
    socks, answered, statuses, errors, stalls = [], 0, {}, {}, 0
    t0 = time.monotonic()
    try:
        for _ in range(args.conns):
            if stalls >= args.max_stalls:
                break
            try:
                s = socket.create_connection((HOST, args.port), timeout=args.timeout)
            except OSError as e:
                stalls += isinstance(e, TimeoutError)
                errors["connect: " + type(e).__name__] = errors.get("connect: " + type(e).__name__, 0) + 1
                continue
            socks.append(s)
            try:
                s.sendall(req)
                st = read_response(s)
                statuses[st] = statuses.get(st, 0) + 1
                answered += 1
            except (OSError, ValueError) as e:
                stalls += isinstance(e, TimeoutError)
                k = "read: " + (type(e).__name__ if isinstance(e, OSError) else str(e).split(" (")[0])
                errors[k] = errors.get(k, 0) + 1
        setup = time.monotonic() - t0
        now = [socket_fds(p) for p in workers]
        counts = [(n - b) if n is not None and b is not None else 0 for n, b in zip(now, base)]
        closed = 0
        for s in socks:  # a connection the server already closed reads EOF at once
            try:
                # non-blocking: a socket with a timeout would wait in poll despite DONTWAIT
                s.settimeout(0)
                if s.recv(1, socket.MSG_PEEK) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    for p, c, b in zip(workers, counts, base):
        gone = "" if alive(p) else " (exited meanwhile)"
        print("worker %d: %d connections (baseline %s sockets)%s" % (p, c, b, gone))
    mean = sum(counts) / len(counts)
    lo = min(counts) / mean if mean > 0 else float("nan")
    hi = max(counts) / mean if mean > 0 else float("nan")
    if errors:
        print("errors: " + ", ".join("%s=%d" % kv for kv in sorted(errors.items())))
    print("opened %d, answered %d in %.2fs; counts sorted: %s"
          % (len(socks), answered, setup, " ".join(str(c) for c in sorted(counts, reverse=True))))
    if stalls:
        print("stalled: %d connection(s) got no answer within %.0fs; stopped opening more"
              % (stalls, args.timeout))
    print("BALANCE workers=%d conns=%d opened=%d answered=%d stalls=%d counted=%d "
          "closed_by_server=%d mean=%.1f min_ratio=%.3f max_ratio=%.3f counts=%s status=%s"
          % (len(workers), args.conns, len(socks), answered, stalls, sum(counts), closed, mean,
             lo, hi,
             "/".join(str(c) for c in counts),
             "/".join("%d:%d" % kv for kv in sorted(statuses.items())) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
