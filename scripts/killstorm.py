#!/usr/bin/env python3
"""Kill storm: SIGKILL one random worker of a pre-fork server every --interval seconds
while clients keep using it, and measure what the clients and the worker pool saw.

Meanwhile:
  - wrk -t1 -c$WRK_CONNS -d<seconds+2>s --timeout 5s http://127.0.0.1:PORT/PATH runs in
    the background (keep-alive load: its requests and socket errors);
  - --fresh-threads threads (1 or 2) do fresh-connection GETs in a loop (Connection:
    close, 5 s socket timeout), counting successes, failures by kind and timeouts;
  - a sampler thread reads the master's children every 5 ms: the pool size (live,
    non-zombie children) over time, its minimum, and for each kill the recovery time,
    from the victim leaving the children list (or turning zombie) to the pool being back
    at N.
Only children of the master are ever signalled, never the master, never anything else:
the victim is picked from /proc/MASTER/task/*/children, pinned with pidfd_open, and its
parent checked again before pidfd_send_signal.

Usage: killstorm.py --port P (--master PID | --master-pidfile FILE) --workers N
                    [--seconds 30] [--wrk-conns 32] [--interval 1.0] [--path /1k.html]
                    [--fresh-threads 2] [--seed S] [--timeline FILE]

Exit status: 0 pass; 1 fail: fresh-connection failures > kills, any timeout (a fresh
request, or wrk's timeout count), pool minimum < N-1, a kill whose pool was not back at N
within 5 s after the storm, or the master gone; 2 the server was not ready (no answer,
or not N workers) within --ready-timeout. Stops by itself: wrk is terminated and waited
for, the threads are joined; nothing is left running. Stdlib only.
"""
import argparse
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import children  # the scripts' shared /proc and client helpers

HOST = "127.0.0.1"
FRESH_TIMEOUT = 5.0
SAMPLE_EVERY = 0.005
RECOVERY_GRACE = 5.0


class Interrupted(Exception):
    pass


def stat(pid):
    """(state, ppid) of pid from /proc, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return rest[0], int(rest[1])


def live_children(master):
    out = []
    for k in children(master):
        s = stat(k)
        if s and s[0] not in ("Z", "X") and s[1] == master:
            out.append(k)
    return out


def master_alive(master):
    s = stat(master)
    return s is not None and s[0] not in ("Z", "X")


def get(port, path, timeout):
    """One fresh-connection GET. Returns None on success, else (kind, is_timeout)."""
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
           % (path, HOST, port)).encode()
    stage = "connect"
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            stage = "send"
            s.sendall(req)
            stage = "read"
            buf = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except TimeoutError:
        return ("timeout-" + stage, True)
    except ConnectionRefusedError:
        return ("refused", False)
    except ConnectionResetError:
        return ("reset-" + stage, False)
    except BrokenPipeError:
        return ("pipe-" + stage, False)
    except OSError as e:
        return ("%s-%s" % (type(e).__name__, stage), False)
    if not buf:
        return ("eof-empty", False)
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return ("eof-in-head", False)
    m = re.match(rb"HTTP/\d\.\d (\d{3})", head)
    if not m:
        return ("bad-status-line", False)
    if m.group(1) != b"200":
        return ("status-" + m.group(1).decode(), False)
    cl = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    if cl and len(body) != int(cl.group(1)):
        return ("short-body", False)
    return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = {}
        self.timeouts = {}
        self.max_ms = 0.0

    def add(self, res, ms):
        with self.lock:
            self.max_ms = max(self.max_ms, ms)
            if res is None:
                self.ok += 1
            elif res[1]:
                self.timeouts[res[0]] = self.timeouts.get(res[0], 0) + 1
            else:
                self.failed[res[0]] = self.failed.get(res[0], 0) + 1


def fresh_loop(port, path, stats, stop):
    while not stop.is_set():
        t0 = time.monotonic()
        res = get(port, path, FRESH_TIMEOUT)
        stats.add(res, (time.monotonic() - t0) * 1000)
        if res is not None and res[0] == "refused":
            time.sleep(0.001)  # nobody listens: do not spin


class Kill:
    __slots__ = ("pid", "t_kill", "t_gone", "t_back")

    def __init__(self, pid, t):
        self.pid, self.t_kill, self.t_gone, self.t_back = pid, t, None, None


class Sampler(threading.Thread):
    def __init__(self, master, n, stop, timeline):
        super().__init__(daemon=True)
        self.master, self.n, self.stop = master, n, stop
        self.lock = threading.Lock()
        self.kills = []
        self.min_pool = None
        self.samples = 0
        self.master_gone = False
        self.timeline = timeline  # list of (t, size) at every change, or None
        self.t0 = time.monotonic()
        self.size = None

    def add_kill(self, k):
        with self.lock:
            self.kills.append(k)

    def run(self):
        last = None
        while not self.stop.is_set():
            now = time.monotonic()
            if not master_alive(self.master):
                self.master_gone = True
                return
            live = live_children(self.master)
            n = len(live)
            with self.lock:
                self.samples += 1
                self.size = n
                self.min_pool = n if self.min_pool is None else min(self.min_pool, n)
                alive = set(live)
                for k in self.kills:
                    if k.t_gone is None and k.pid not in alive:
                        k.t_gone = now
                    if k.t_gone is not None and k.t_back is None and n >= self.n:
                        k.t_back = now
            if self.timeline is not None and n != last:
                self.timeline.append((now - self.t0, n))
            last = n
            time.sleep(SAMPLE_EVERY)


def pick_and_kill(master, rng, never):
    """SIGKILLs one random live child of master; returns its pid, or None."""
    cands = [p for p in live_children(master) if p not in never]
    rng.shuffle(cands)
    for pid in cands:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue  # already gone
        try:
            # the pidfd pins one process: check that process is still the master's child
            s = stat(pid)
            if s is None or s[1] != master or s[0] in ("Z", "X"):
                continue
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            return pid
        except OSError:
            continue
        finally:
            os.close(fd)
    return None


def parse_wrk(text):
    out = {"requests": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0}
    m = re.search(r"^\s*(\d+) requests in", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        for k, v in zip(("connect", "read", "write", "timeout"), m.groups()):
            out[k] = int(v)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    return out


def wait_ready(args, master, deadline):
    why = "no attempt"
    while time.monotonic() < deadline:
        if not master_alive(master):
            return "master %d is not running" % master
        res = get(args.port, args.path, 2.0)
        n = len(live_children(master))
        if res is None and n == args.workers:
            return None
        why = ("GET %s: %s" % (args.path, res[0])) if res else \
            "master %d has %d live children, want %d" % (master, n, args.workers)
        time.sleep(0.05)
    return why


def master_pid(args, deadline):
    if args.master is not None:
        return args.master
    while True:
        try:
            with open(args.master_pidfile) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            if time.monotonic() > deadline:
                print("killstorm: no pid in %s" % args.master_pidfile, file=sys.stderr)
                sys.exit(2)
            time.sleep(0.05)


def stop_proc(p, grace=3.0):
    """Stops wrk early: SIGINT first (wrk then stops and still prints its summary), then
    SIGTERM, then SIGKILL; always waited for."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--master", type=int, help="master pid")
    g.add_argument("--master-pidfile", help="file holding the master pid (nginx)")
    ap.add_argument("--workers", type=int, required=True, help="N: the pool size expected")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--wrk-conns", type=int, default=32)
    ap.add_argument("--path", default="/1k.html")
    ap.add_argument("--fresh-threads", type=int, default=2, choices=(1, 2))
    ap.add_argument("--ready-timeout", type=float, default=10.0)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--timeline", help="write 't_ms pool_size' at every change here")
    args = ap.parse_args()
    if args.workers < 1 or args.seconds <= 0 or args.interval <= 0:
        ap.error("--workers >= 1, --seconds > 0 and --interval > 0")

    def on_term(*_):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    if shutil.which("wrk") is None:
        print("killstorm: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.ready_timeout
    master = master_pid(args, deadline)
    if master <= 1 or master == os.getpid():
        print("killstorm: refusing master pid %d" % master, file=sys.stderr)
        return 2
    why = wait_ready(args, master, deadline)
    if why:
        print("killstorm: server not ready: %s" % why, file=sys.stderr)
        return 2

    rng = random.Random(args.seed)
    stop = threading.Event()
    stats = Stats()
    timeline = [] if args.timeline else None
    sampler = Sampler(master, args.workers, stop, timeline)
    threads = [threading.Thread(target=fresh_loop, args=(args.port, args.path, stats, stop),
                                daemon=True) for _ in range(args.fresh_threads)]
    wrk = None
    wrk_out = tempfile.TemporaryFile()
    wrk_secs = int(math.ceil(args.seconds)) + 2
    kills, misses = [], 0
    interrupted = False
    t_start = time.monotonic()
    try:
        sampler.start()
        wrk = subprocess.Popen(
            ["wrk", "-t1", "-c%d" % args.wrk_conns, "-d%ds" % wrk_secs, "--timeout", "5s",
             "http://%s:%d%s" % (HOST, args.port, args.path)],
            stdout=wrk_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for t in threads:
            t.start()
        t_start = time.monotonic()
        never = {master, os.getpid(), wrk.pid}
        i = 1
        while t_start + i * args.interval <= t_start + args.seconds:
            delay = t_start + i * args.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            i += 1
            if sampler.master_gone:
                break
            pid = pick_and_kill(master, rng, never)
            if pid is None:
                misses += 1  # no live worker to kill: the pool is empty
                continue
            k = Kill(pid, time.monotonic())
            kills.append(k)
            sampler.add_kill(k)
        # let the last kills recover (bounded), then let wrk finish its run
        end = time.monotonic() + RECOVERY_GRACE
        while time.monotonic() < end and not sampler.master_gone:
            with sampler.lock:
                if all(k.t_back is not None for k in kills):
                    break
            time.sleep(0.02)
        try:
            wrk.wait(max(0.0, t_start + wrk_secs - time.monotonic()) + 10)
        except subprocess.TimeoutExpired:
            pass
    except Interrupted:
        interrupted = True
    finally:
        # a second ^C must not cut the cleanup short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop.set()
        stop_proc(wrk)
        for t in threads:
            t.join(FRESH_TIMEOUT + 2)
        if sampler.is_alive():
            sampler.join(2)
    wall = time.monotonic() - t_start

    wrk_out.seek(0)
    wtext = wrk_out.read().decode(errors="replace")
    w = parse_wrk(wtext)
    with sampler.lock:
        rec = [(k.t_back - k.t_gone) * 1000 for k in kills
               if k.t_gone is not None and k.t_back is not None]
        unrecovered = sum(1 for k in kills if k.t_back is None)
        min_pool = sampler.min_pool if sampler.min_pool is not None else 0
    failed = sum(stats.failed.values())
    timeouts = sum(stats.timeouts.values())
    if args.timeline and timeline is not None:
        with open(args.timeline, "w") as f:
            f.write("# t_ms pool_size (master %d, N=%d)\n" % (master, args.workers))
            for t, n in timeline:
                f.write("%.1f %d\n" % (t * 1000, n))

    reasons = []
    if failed > len(kills):
        reasons.append("fresh-connection failures %d > kills %d" % (failed, len(kills)))
    if timeouts:
        reasons.append("%d fresh-connection timeout(s)" % timeouts)
    if w["timeout"]:
        reasons.append("wrk counted %d timeout(s)" % w["timeout"])
    if min_pool < args.workers - 1:
        reasons.append("pool fell to %d (< N-1 = %d)" % (min_pool, args.workers - 1))
    if unrecovered:
        reasons.append("%d kill(s) not recovered to N=%d" % (unrecovered, args.workers))
    if sampler.master_gone:
        reasons.append("master %d is gone" % master)
    if interrupted:
        reasons.append("interrupted")
    if wrk is not None and wrk.returncode not in (0, None) and not w["requests"]:
        reasons.append("wrk failed (exit %s): %s" % (wrk.returncode, wtext.strip()[-200:]))

    med = statistics.median(rec) if rec else float("nan")
    mx = max(rec) if rec else float("nan")
    print("killstorm: master %d, N=%d, %.1fs, one SIGKILL every %.2fs"
          % (master, args.workers, wall, args.interval))
    print("  kills: %d (no live worker to kill: %d)" % (len(kills), misses))
    print("  fresh connections: ok %d, failed %d%s, timeouts %d%s, slowest %.0f ms"
          % (stats.ok, failed,
             " (" + ", ".join("%s %d" % kv for kv in sorted(stats.failed.items())) + ")"
             if stats.failed else "", timeouts,
             " (" + ", ".join("%s %d" % kv for kv in sorted(stats.timeouts.items())) + ")"
             if stats.timeouts else "", stats.max_ms))
    print("  wrk -c%d: %d requests, socket errors connect %d, read %d, write %d, timeout %d, "
          "non-2xx %d" % (args.wrk_conns, w["requests"], w["connect"], w["read"], w["write"],
                          w["timeout"], w["non2xx"]))
    # recovery is measured between samples: 0 means the replacement was already there at
    # the first sample that no longer saw the victim
    print("  pool: min %d of %d (%d samples, one per %.1f ms); recovery: %d measured, "
          "median %.1f ms, max %.1f ms, not recovered %d"
          % (min_pool, args.workers, sampler.samples, wall * 1000 / max(1, sampler.samples),
             len(rec), med, mx, unrecovered))
    print("KILLSTORM kills=%d fresh_ok=%d fresh_failed=%d fresh_timeouts=%d wrk_requests=%d "
          "wrk_connect=%d wrk_read=%d wrk_write=%d wrk_timeout=%d min_pool=%d workers=%d "
          "recovery_median_ms=%.1f recovery_max_ms=%.1f unrecovered=%d result=%s"
          % (len(kills), stats.ok, failed, timeouts, w["requests"], w["connect"], w["read"],
             w["write"], w["timeout"], min_pool, args.workers, med, mx, unrecovered,
             "FAIL" if reasons else "PASS"))
    for r in reasons:
        print("  FAIL: " + r)
    return 1 if reasons else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Interrupted:  # before anything was started
        sys.exit(130)
