#!/usr/bin/env python3
"""Helpers for scripts/loadtest.sh and scripts/bench.sh (python3 stdlib only).

Subcommands:
  wrk FILE            parse wrk output -> "rps=.. p99_ms=.. mib_s=.. errors=.. non2xx=.. requests=.."
  ab FILE             parse ab output  -> "rps=.. failed=.. p99_ms=.. complete=.."
  s_time WALL FILE..  parse the outputs of parallel `openssl s_time -new` runs that took
                      WALL seconds together -> "conns=.. conns_s=.. bytes_per_conn=.. failed=.."
                      (conns_s = all their connections / WALL; failed = runs that printed
                      no summary: s_time stops at its first failed connection)
  tlsinfo FILE        parse `openssl s_client -brief` output -> "params=PROTO/SUITE/GROUP/SIG"
  h2load FILE         parse h2load output -> "rps=.. mib_s=.. total=.. succeeded=.. failed=..
                      errored=.. timeout=.. non2xx=.. savings=.. proto=.. summary=0|1"
                      (savings: the header compression's "space savings" %; proto: the
                      "Application protocol" h2load used; summary=0: no summary, killed)
  mem PID             memory of PID and all its descendants
                      -> "rss_kib=.. pss_kib=.. procs=.. worker_rss_kib=.."
  tree PID            PID and all its descendants, one per line
  cpu PID             CPU time (user + system) used so far by PID and its descendants,
                      reaped ones included -> "cpu_ms=.."
  per START END N     (END - START) ms of CPU over N requests -> microseconds per request
  sample PID SECS OUT sample `mem PID` every 0.5 s for SECS seconds (or until
                      SIGTERM), write the peak to OUT as "rss_kib=.. pss_kib=.."
  freeport            print a free TCP port on 127.0.0.1
  run OUT SECS THREADS CMD..
                      run a load tool with stdout+stderr to OUT, killed after SECS;
                      -> "client_cpu_pct=.. wall_s=.." (its user + system CPU over its wall
                      time times THREADS: near 100 means the tool was the bottleneck)
  runmany OUT COPIES SECS CMD..
                      run COPIES single-threaded copies of CMD at once, each with its
                      output to OUT.1 .. OUT.COPIES, all killed after SECS
                      -> "client_cpu_pct=.. wall_s=.." (CPU % per copy; wall until the last
                      one exited)
  report CSV OUTDIR   medians per (scenario, metric, server, workers), markdown
                      tables on stdout, gnuplot data + plot in OUTDIR
  spread BEFORE AFTER two readings of preforkd's /status.json (files) -> the requests each
                      worker slot answered between them: "served=.. per_worker=a/b/..
                      min=.. max=.. mean=.. min_mean=.. max_mean=.." (1.00 both = even)
  loadplot DAT PNG TITLE
                      the load test's plot: requests/s, p99 and the per-worker spread
                      against workers, one line per tool (DAT: loadtest.sh's columns)
"""
import csv
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

# --------------------------------------------------------------------------- parsing

_TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
_SIZE_UNITS = {"B": 1.0 / 1048576, "KB": 1.0 / 1024, "MB": 1.0, "GB": 1024.0, "TB": 1048576.0}


def _ms(tok):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", tok)
    return float(m.group(1)) * _TIME_UNITS[m.group(2)] if m else float("nan")


def parse_wrk(text):
    out = {"rps": "nan", "p99_ms": "nan", "mib_s": "nan", "errors": 0, "non2xx": 0,
           "requests": 0}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Requests/sec:"):
            out["rps"] = "%.2f" % float(s.split()[1])
        elif s.startswith("Transfer/sec:"):
            m = re.fullmatch(r"Transfer/sec:\s+([0-9.]+)(B|KB|MB|GB|TB)", s)
            if m:
                out["mib_s"] = "%.2f" % (float(m.group(1)) * _SIZE_UNITS[m.group(2)])
        elif re.match(r"^99(\.0+)?%\s", s):
            out["p99_ms"] = "%.3f" % _ms(s.split()[1])
        elif s.startswith("Socket errors:"):
            out["errors"] = sum(int(x) for x in re.findall(r"\d+", s))
        elif s.startswith("Non-2xx or 3xx responses:"):
            out["non2xx"] = int(s.split(":")[1])
        else:
            m = re.match(r"^(\d+) requests in", s)
            if m:
                out["requests"] = int(m.group(1))
    if out["requests"] == 0:  # wrk prints 0.00us percentiles when nothing completed
        out["p99_ms"] = "nan"
    return out


def parse_ab(text):
    out = {"rps": "nan", "failed": "nan", "p99_ms": "nan", "complete": 0}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Requests per second:"):
            out["rps"] = "%.2f" % float(s.split()[3])
        elif s.startswith("Failed requests:"):
            out["failed"] = int(s.split()[2])
        elif s.startswith("Complete requests:"):
            out["complete"] = int(s.split()[2])
        elif re.match(r"^99%\s+\d+", s):
            out["p99_ms"] = s.split()[1]
    # ab with -r aborting early prints no summary; count what we know.
    return out


def parse_h2load(text):
    """h2load (nghttp2 1.52) ends with
        finished in 2.61s, 76573.47 req/s, 84.39MB/s
        requests: 200000 total, 200000 started, 200000 done, 200000 succeeded, 0 failed,
                  0 errored, 0 timeout
        status codes: 200000 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 220.36MB (231063400) total, 4.58MB (4800000) headers (space savings
                 41.46%), 208.35MB (218470000) data
    (one line each) and says "Application protocol: h2" (h2c in clear text) once the first
    connection is up. "failed" counts every request that did not succeed (errored and
    timed out ones too): a request h2load never sent because its connection was refused,
    reset or sent a GOAWAY is failed and errored. "succeeded" is a 2xx or 3xx response."""
    out = {"rps": "nan", "mib_s": "nan", "total": 0, "succeeded": 0, "failed": "nan",
           "errored": "nan", "timeout": "nan", "non2xx": 0, "savings": "nan", "proto": "none",
           "summary": 0}
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"^finished in [0-9.]+\w*, ([0-9.]+) req/s, ([0-9.]+)(B|KB|MB|GB|TB)/s", s)
        if m:
            out["rps"] = "%.2f" % float(m.group(1))
            out["mib_s"] = "%.2f" % (float(m.group(2)) * _SIZE_UNITS[m.group(3)])
            out["summary"] = 1
            continue
        if s.startswith("requests:"):
            for n, k in re.findall(r"(\d+) (total|succeeded|failed|errored|timeout)", s):
                out[k] = int(n)
        elif s.startswith("status codes:"):
            out["non2xx"] = sum(int(n) for n in re.findall(r"(\d+) [345]xx", s))
        elif s.startswith("traffic:"):
            m = re.search(r"space savings ([0-9.]+)%", s)
            if m:
                out["savings"] = "%.2f" % float(m.group(1))
        elif s.startswith("Application protocol:") and out["proto"] == "none":
            out["proto"] = s.split(":", 1)[1].strip() or "none"
    if not out["succeeded"]:  # h2load prints 0.00% savings when nothing came back
        out["savings"] = "nan"
    return out


def parse_s_time(texts, wall):
    """`openssl s_time -new [-www PATH]` (OpenSSL 3) ends with
        N connections in 1.23s; 456.78 connections/user sec, bytes read B
        N connections in T real seconds, B/N bytes read per connection
    "user sec" is the client's own user CPU time and T is whole seconds of time(), so the
    rate is taken here as all the copies' connections over the measured wall time."""
    conns, nbytes, failed = 0, 0, 0
    for text in texts:
        m = re.search(r"^(\d+) connections in [0-9.]+s; [0-9.]+ connections/user sec, "
                      r"bytes read (\d+)", text, re.M)
        if not m:
            failed += 1
            continue
        conns += int(m.group(1))
        nbytes += int(m.group(2))
    out = {"conns": conns, "conns_s": "nan", "bytes_per_conn": "nan", "failed": failed}
    if conns and wall > 0:
        out["conns_s"] = "%.2f" % (conns / wall)
        out["bytes_per_conn"] = "%d" % (nbytes // conns)
    return out


def parse_tlsinfo(text):
    """What `openssl s_client -brief` says was negotiated, as one token."""
    want = {"Protocol version": "?", "Ciphersuite": "?", "Server Temp Key": "?",
            "Signature type": "?"}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        k = k.strip().replace("Peer Temp Key", "Server Temp Key")  # OpenSSL 3.x says "Peer"
        if k in want and v.strip():
            want[k] = v.strip().split(",")[0].replace(" ", "")
    return {"params": "/".join(want.values())}


# --------------------------------------------------------------------------- /proc

def children(pid):
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return sorted(set(kids))


def raise_nofile(need):
    """A client holding `need` connections open at once lifts its own fd limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need + 64
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass


def tree(pid):
    seen, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        if p in seen:
            continue
        seen.append(p)
        todo.extend(children(p))
    return seen


def rollup(pid):
    rss = pss = None
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return None
    if rss is None or pss is None:
        return None
    return rss, pss


def mem(pid):
    procs = tree(pid)
    rss = pss = 0
    per = {}
    for p in procs:
        r = rollup(p)
        if r:
            rss += r[0]
            pss += r[1]
            per[p] = r[0]
    workers = [per[p] for p in procs[1:] if p in per]
    # A single-process server (no children) is its own only worker.
    wrss = statistics.mean(workers) if workers else per.get(pid, 0)
    return {"rss_kib": rss, "pss_kib": pss, "procs": len(per), "worker_rss_kib": int(wrss)}


def cpu_ms(pid):
    ticks = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime are fields 14 and 15 of stat; [0] here is field 3 (state).
        # cutime and cstime (16, 17) hold the CPU of children already reaped: a worker
        # that exits between two readings (--max-requests, a crash) moves its whole time
        # into its master's, so the difference of two readings still counts it once.
        ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def sample(pid, secs, out):
    stop = {"f": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(f=True))
    peak_rss = peak_pss = 0
    end = time.monotonic() + secs
    while not stop["f"] and time.monotonic() < end:
        m = mem(pid)
        peak_rss = max(peak_rss, m["rss_kib"])
        peak_pss = max(peak_pss, m["pss_kib"])
        with open(out + ".tmp", "w") as f:
            f.write("rss_kib=%d pss_kib=%d\n" % (peak_rss, peak_pss))
        os.replace(out + ".tmp", out)
        time.sleep(0.5)


def run(out, secs, threads, cmd, copies=0):
    """copies=0: one process, output to OUT; copies=N: N processes, to OUT.1 .. OUT.N."""
    outs = [out] if copies == 0 else ["%s.%d" % (out, i + 1) for i in range(copies)]
    files = [open(o, "wb") for o in outs]
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT) for f in files]
    timers = [threading.Timer(secs, p.kill) for p in procs]
    for t in timers:
        t.start()
    used = 0.0
    for p in procs:
        # wait4, not Popen.wait: it also returns the tool's CPU use.
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        used += ru.ru_utime + ru.ru_stime
    wall = time.monotonic() - t0
    for t in timers:
        t.cancel()
    for f in files:
        f.close()
    return {"client_cpu_pct": "%.1f" % (used * 100.0 / wall / threads / len(procs)),
            "wall_s": "%.3f" % wall}


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------- report

SCEN = [
    ("s1", "Scenario 1: wrk -c100 on /1k.html", "rps", "req/s",
     [("wrk_errors", "wrk errors"), ("cpu_us", "server CPU µs/request"),
      ("client_cpu_pct", "wrk CPU % per thread")]),
    ("s2", "Scenario 2: ab -c100 on /1k.html", "rps", "req/s",
     [("failed", "failed"), ("cpu_us", "server CPU µs/request"), ("client_cpu_pct", "ab CPU %")]),
    ("s3", "Scenario 3: wrk on /1m.bin (clients: DL_C, 16 by default)", "mib_s", "MiB/s",
     [("wrk_errors", "wrk errors"), ("cpu_us", "server CPU µs/request (= per MiB)"),
      ("client_cpu_pct", "wrk CPU % per thread")]),
    ("s7", "Scenario 7: wrk on /100k.bin", "mib_s", "MiB/s",
     [("wrk_errors", "wrk errors"), ("cpu_us", "server CPU µs/request (x10.24 = per MiB)"),
      ("client_cpu_pct", "wrk CPU % per thread")]),
    ("s8", "Scenario 8: wrk on /64m.bin", "mib_s", "MiB/s",
     [("wrk_errors", "wrk errors"), ("cpu_us", "server CPU µs/request (/64 = per MiB)"),
      ("client_cpu_pct", "wrk CPU % per thread")]),
    ("s4", "Scenario 4: starvation (idle keep-alive conns held; wrk -c10 + fresh curl probes)",
     "rps", "req/s",
     [("p99_ms", "wrk p99 ms"), ("starved", "starved probes"),
      ("idle_answered", "idle conns answered")]),
    ("s9", "Scenario 9: wrk -c100 on https:// /1k.html (keep-alive over TLS)", "rps", "req/s",
     [("wrk_errors", "wrk errors"), ("p99_ms", "wrk p99 ms"), ("cpu_us", "server CPU µs/request"),
      ("client_cpu_pct", "wrk CPU % per thread")]),
    ("s10", "Scenario 10: full TLS handshakes (openssl s_time -new -www /1k.html: a new "
     "connection and one GET each, never resumed)", "conns_s", "handshakes/s",
     [("s_time_failed", "s_time runs failed"), ("bytes_per_conn", "bytes read per connection"),
      ("cpu_us", "server CPU µs/handshake"), ("client_cpu_pct", "s_time CPU % per process")]),
    ("s11", "Scenario 11: wrk on https:// /1m.bin (clients: DL_C, 16 by default)", "mib_s", "MiB/s",
     [("wrk_errors", "wrk errors"), ("cpu_us", "server CPU µs/request (= per MiB)"),
      ("client_cpu_pct", "wrk CPU % per thread")]),
    ("s12", "Scenario 12: memory per idle TLS connection (IDLE_TLS_N connections, each after "
     "a full handshake and one GET, held idle; PSS of the server's processes)",
     "kib_per_conn", "KiB per connection",
     [("tls_idle_answered", "connections held"), ("tls_pss_before_kib", "PSS before (KiB)"),
      ("tls_pss_after_kib", "PSS with them (KiB)")]),
    ("s13", "Scenario 13: h2load -c10 -m10 on /1k.html over h2c (HTTP/2 in clear text, prior "
     "knowledge; clients and streams: H2_C, H2_M)", "rps", "req/s",
     [("h2_failed", "failed"), ("h2_errored", "errored"), ("cpu_us", "server CPU µs/request"),
      ("hdr_savings_pct", "header space savings %"), ("client_cpu_pct", "h2load CPU %")]),
    ("s14", "Scenario 14: h2load -c10 -m10 on https:// /1k.html (HTTP/2 over TLS, ALPN h2 "
     "only)", "rps", "req/s",
     [("h2_failed", "failed"), ("h2_errored", "errored"), ("cpu_us", "server CPU µs/request"),
      ("hdr_savings_pct", "header space savings %"), ("client_cpu_pct", "h2load CPU %")]),
    ("s15", "Scenario 15: page-like mix over HTTP/2, /page/index.html and its 50 assets in "
     "turn on every connection (h2c for the plain kinds, TLS for the *-tls kinds)", "rps",
     "req/s",
     [("pages_s", "pages/s"), ("mib_s", "MiB/s"), ("h2_failed", "failed"),
      ("h2_errored", "errored"), ("cpu_us", "server CPU µs/request"),
      ("hdr_savings_pct", "header space savings %"), ("client_cpu_pct", "h2load CPU %")]),
]
# The server each scenario's "ratio to" column divides by: nginx, or nginx-tls for HTTPS.
TLS_SCENARIOS = ("s9", "s10", "s11", "s12", "s14")
REF = dict.fromkeys(TLS_SCENARIOS, "nginx-tls")
# Scenarios both kinds of server run, each over its own transport (s15: h2c for the plain
# kinds, TLS for the *-tls kinds): a kind is compared with the nginx of its transport.
BOTH_SCENARIOS = ("s15",)
# The HTTP/2 scenarios (h2load), with their own section of paired ratios.
H2_SCENARIOS = ("s13", "s14", "s15")


def ref(sc, srv):
    """The server `srv`'s figure in scenario `sc` is compared with."""
    if sc in BOTH_SCENARIOS:
        return "nginx-tls" if srv.endswith("-tls") else "nginx"
    return REF.get(sc, "nginx")


def paired(by_rep, sc, metric, a, b, w):
    """a / b per repetition (the two runs seconds apart) -> sorted list of ratios."""
    mine, theirs = by_rep.get((sc, metric, a, w)), by_rep.get((sc, metric, b, w))
    if not mine or not theirs:
        return []
    return sorted(mine[r] / theirs[r] for r in mine
                  if r in theirs and theirs[r] > 0 and mine[r] == mine[r])
# The project's targets: (scenario, metric, subject, peer, op, bound, workers): the ratio
# subject / peer must be >= or <= bound; "report" only shows both values side by side;
# workers: the worker count the target is set at (None: every count run).
SUBJECT = "preforkd-event"
TARGETS = [
    ("s1", "rps", SUBJECT, "nginx-tuned", ">=", 1.3, None),
    ("s1", "rps", SUBJECT, "lighttpd", ">=", 1.0, None),
    ("s2", "rps", SUBJECT, "nginx", ">=", 1.0, None),
    ("s3", "mib_s", SUBJECT, "lighttpd", ">=", 1.1, None),
    ("s4", "rps", SUBJECT, "nginx", ">=", 1.0, None),
    ("s9", "cpu_us", "preforkd-tls", "nginx-tls", "<=", 1.0, 2),
    ("s10", "cpu_us", "preforkd-tls", "nginx-tls", "<=", 1.0, 2),
    ("s11", "mib_s", "preforkd-tls", "nginx-tls", ">=", 1.0, 2),
    ("s12", "kib_per_conn", "preforkd-tls", "nginx-tls", "report", None, 2),
]
TARGET_NAMES = {"rps": "req/s", "mib_s": "MiB/s", "conns_s": "handshakes/s",
                "cpu_us": "server CPU per request", "kib_per_conn": "KiB per idle connection",
                ("s9", "cpu_us"): "server CPU per keep-alive request",
                ("s10", "cpu_us"): "server CPU per full handshake"}
# Rates that a saturated load tool caps (the "client-bound" mark applies to these only).
RATES = {"rps", "mib_s", "conns_s"}
# Metrics whose values are text, not numbers (one worker's "800" is still a list).
TEXT_METRICS = {"balance_counts", "tls_params", "h2_proto"}
# Metrics shown without decimals.
INT_METRICS = {"wrk_errors", "failed", "starved", "idle_answered", "s_time_failed",
               "bytes_per_conn", "tls_idle_answered", "tls_pss_before_kib", "tls_pss_after_kib",
               "h2_failed", "h2_errored", "h2_timeout", "h2_non2xx"}
# A load tool above this share of its one core was the bottleneck of that run.
CLIENT_BOUND_PCT = 90.0
MEM = [("idle_rss_kib", "idle RSS"), ("idle_pss_kib", "idle PSS"),
       ("loaded_rss_kib", "loaded RSS"), ("worker_idle_rss_kib", "per-worker idle RSS")]


def _fmt(v, nd=1):
    if v is None or v != v:
        return "-"
    if abs(v - round(v)) < 1e-9 and abs(v) >= 100:
        return "%d" % round(v)
    return ("%." + str(nd) + "f") % v


def report(csv_path, outdir):
    vals = {}
    by_rep = {}  # (scenario, metric, server, workers) -> {rep: value}
    texts = {}   # the same for values that are not numbers (s6 per-worker counts)
    order, seen_w = [], set()
    notes = []
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            if row["scenario"] == "note":
                notes.append("%s (workers=%s): %s" % (row["server"], row["workers"], row["metric"]))
                continue
            key = (row["scenario"], row["metric"], row["server"], int(row["workers"]))
            if row["metric"] in TEXT_METRICS:
                texts.setdefault(key, {})[row["rep"]] = row["value"]
                continue
            try:
                v = float(row["value"])
            except ValueError:
                continue
            vals.setdefault(key, []).append(v)
            by_rep.setdefault(key, {})[row["rep"]] = v
            if row["server"] not in order:
                order.append(row["server"])
            seen_w.add(int(row["workers"]))
    med = {k: statistics.median([x for x in v if x == x] or [float("nan")])
           for k, v in vals.items()}
    workers = sorted(seen_w)

    def g(sc, metric, srv, w):
        return med.get((sc, metric, srv, w))

    def ratio(sc, metric, srv, w):
        a, b = g(sc, metric, srv, w), g(sc, metric, ref(sc, srv), w)
        if a is None or b is None or a != a or b != b or b == 0:
            return "-"
        return "%.2f" % (a / b)

    nreps = max((len(v) for v in by_rep.values()), default=0)
    print("Values are medians over up to %d repetition(s); ratio = value / nginx "
          "(same workers; / nginx-tls in the HTTPS scenarios 9-12 and 14, and for the *-tls "
          "kinds in 15).\n" % nreps)
    for sc, title, metric, unit, extra in SCEN:
        if not any(g(sc, metric, srv, w) is not None for w in workers for srv in order):
            continue  # not run (SCENARIOS)
        print("### " + title + "\n")
        hdr = (["server", "workers", "value (%s)" % unit,
                "ratio to " + ("nginx / nginx-tls" if sc in BOTH_SCENARIOS else ref(sc, ""))]
               + [e[1] for e in extra])
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        for w in workers:
            for srv in order:
                v = g(sc, metric, srv, w)
                if v is None:
                    continue
                cells = [srv, str(w), _fmt(v), ratio(sc, metric, srv, w)]
                for em, _ in extra:
                    x = g(sc, em, srv, w)
                    cells.append(_fmt(x, 2 if em == "p99_ms" else 0 if em in INT_METRICS else 1))
                print("| " + " | ".join(cells) + " |")
        print()
    tls_params(texts)
    h2_section(g, by_rep, texts, order, workers)
    print("### Scenario 5: memory, sum over master + workers (MiB; loaded = peak during scenario 1)\n")
    hdr = ["server", "workers", "value: loaded PSS", "ratio to nginx"] + [m[1] for m in MEM]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for w in workers:
        for srv in order:
            if g("s5", "loaded_pss_kib", srv, w) is None and g("s5", "idle_pss_kib", srv, w) is None:
                continue
            lp = g("s5", "loaded_pss_kib", srv, w)
            cells = [srv, str(w), _fmt(lp / 1024 if lp is not None else None),
                     ratio("s5", "loaded_pss_kib", srv, w)]
            for m, _ in MEM:
                x = g("s5", m, srv, w)
                cells.append(_fmt(x / 1024 if x is not None else None))
            print("| " + " | ".join(cells) + " |")
    print()
    balance(g, texts, order, workers)
    targets(g, by_rep, workers)
    if notes:
        print("Notes:")
        for n in dict.fromkeys(notes):
            print("- " + n)
        print()

    # gnuplot: scenario 1 req/s against workers, one line per server.
    os.makedirs(outdir, exist_ok=True)
    dat = os.path.join(outdir, "bench-s1.dat")
    srvs = [s for s in order if any(g("s1", "rps", s, w) is not None for w in workers)]
    with open(dat, "w") as f:
        f.write("# workers " + " ".join(srvs) + "\n")
        for w in workers:
            f.write(str(w) + "".join(
                " " + (_fmt(g("s1", "rps", s, w), 2) if g("s1", "rps", s, w) is not None
                       else "NaN").replace("-", "NaN") for s in srvs) + "\n")
    png = os.path.join(outdir, "bench.png")
    if srvs:
        plots = ", ".join(
            "'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'" % (dat, i + 2, s)
            for i, s in enumerate(srvs))
        gp = "\n".join([
            "set terminal pngcairo size 900,560 font ',11'",
            "set output '%s'" % png,
            "set title 'Scenario 1: wrk -t1 -c100 on /1k.html (median req/s)'",
            "set xlabel 'workers'", "set ylabel 'requests/s'",
            "set logscale x 2", "set xtics (%s)" % ", ".join(str(w) for w in workers),
            "set xrange [%g:%g]" % (workers[0] / 1.3, workers[-1] * 1.3) if workers else "",
            "set yrange [0:*]", "set grid", "set key outside right top",
            "set datafile missing 'NaN'",
            "plot " + plots, ""])
        try:
            subprocess.run(["gnuplot"], input=gp, text=True, check=True,
                           stdout=subprocess.DEVNULL, timeout=30)
            print("Plot: %s" % png)
        except (OSError, subprocess.SubprocessError) as e:
            print("Plot: gnuplot failed (%s)" % e)


def tls_params(texts):
    """What the HTTPS sessions negotiated (`openssl s_client -brief`, one handshake each):
    the servers compared should agree on protocol, cipher suite, key exchange group and
    signature, or their CPU figures compare different work."""
    seen = {}
    for (sc, metric, srv, w), reps in sorted(texts.items()):
        if metric == "tls_params":
            for v in reps.values():
                seen.setdefault(srv, {}).setdefault(v, 0)
                seen[srv][v] += 1
    if not seen:
        return
    print("TLS negotiated (protocol/cipher suite/key exchange/signature, from `openssl "
          "s_client -brief` against each HTTPS session): " + "; ".join(
              "%s: %s" % (srv, ", ".join(sorted(v))) for srv, v in seen.items()) + "\n")


def h2_section(g, by_rep, texts, order, workers):
    """The HTTP/2 scenarios side by side: each preforkd kind against each nginx kind of
    the same transport (h2c: nginx, nginx-tuned, nginx-reuseport; TLS: nginx-tls), req/s
    and server CPU per request, as the ratio of the medians and the median (min-max) of
    the ratios paired within each repetition; and the worst repetition's failed requests
    (any failure is also a note below)."""
    rows = []
    for w in workers:
        for sc in H2_SCENARIOS:
            ran = [s for s in order if g(sc, "rps", s, w) is not None]
            for subj in [s for s in ran if s.startswith("preforkd-")]:
                tls = subj.endswith("-tls")
                for peer in [s for s in ran if s.startswith("nginx") and s.endswith("-tls") == tls]:
                    cells = [str(w), sc, "%s / %s" % (subj, peer)]
                    for metric, nd in (("rps", 0), ("cpu_us", 1)):
                        a, b = g(sc, metric, subj, w), g(sc, metric, peer, w)
                        pr = paired(by_rep, sc, metric, subj, peer, w)
                        cells.append("%s / %s" % (_fmt(a, nd), _fmt(b, nd)))
                        cells.append("%.2f (%.2f-%.2f)" % (statistics.median(pr), pr[0], pr[-1])
                                     if pr else "-")
                    worst = [max(by_rep.get((sc, "h2_failed", s, w), {}).values(), default=None)
                             for s in (subj, peer)]
                    cells.append(" / ".join(_fmt(x, 0) if x is not None else "-" for x in worst))
                    cc = [g(sc, "client_cpu_pct", s, w) for s in (subj, peer)]
                    cells.append(" / ".join(_fmt(c, 0) if c is not None else "-" for c in cc))
                    rows.append(cells)
    protos = {}
    for (sc, metric, srv, w), reps in sorted(texts.items()):
        if metric == "h2_proto":
            for v in reps.values():
                protos.setdefault(srv, set()).add(v)
    if protos:
        print("HTTP/2 protocol h2load used (its \"Application protocol\"; none: no connection "
              "came up): " + "; ".join("%s: %s" % (s, ", ".join(sorted(v)))
                                       for s, v in protos.items()) + "\n")
    if not rows:
        return
    print("### HTTP/2 (scenarios 13-15): preforkd / nginx\n")
    print("Each preforkd kind beside each nginx kind of the same transport (h2c or TLS), "
          "same workers. Paired: the median (min-max) of the ratios of runs seconds apart "
          "in the same repetition. CPU per request is lower-is-better. Failed: the worst "
          "repetition's failed requests (h2load's \"failed\", errored and timed out "
          "included). h2load is one thread: near %d%% of its core the rate is its ceiling, "
          "not the server's.\n" % CLIENT_BOUND_PCT)
    hdr = ["workers", "scenario", "preforkd / nginx", "req/s", "req/s paired ratio",
           "server CPU µs/request", "CPU paired ratio", "failed (worst rep)", "h2load CPU %"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def balance(g, texts, order, workers):
    """Scenario 6: how the connections opened one by one ended up spread over the
    workers (1.00 / 1.00 is perfectly even)."""
    rows = []
    for w in workers:
        for srv in order:
            lo, hi = g("s6", "balance_min_ratio", srv, w), g("s6", "balance_max_ratio", srv, w)
            if lo is None and hi is None:
                continue
            counts = texts.get(("s6", "balance_counts", srv, w), {})
            mean, n = g("s6", "balance_mean", srv, w), g("s6", "balance_counted", srv, w)
            ans = g("s6", "balance_answered", srv, w)
            stalls = g("s6", "balance_stalls", srv, w)
            rows.append([srv, str(w), _fmt(lo, 2), _fmt(hi, 2), _fmt(mean, 1),
                         "; ".join(counts[r].replace("/", " ") for r in sorted(counts)) or "-",
                         "%s / %s%s" % (_fmt(n, 0), _fmt(ans, 0),
                                        " (stalled)" if stalls else "")])
    if not rows:
        return
    print("### Scenario 6: balance (keep-alive connections opened one after another and held; "
          "connections per worker)\n")
    print("min/mean and max/mean are medians over repetitions (1.00 both = even); counts are "
          "per worker in pid order, one group per repetition. Stalled: a new connection got "
          "no answer in 10 s (every worker busy), so the rest were not opened.\n")
    hdr = ["server", "workers", "min/mean", "max/mean", "mean per worker",
           "per-worker counts", "counted / answered"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def targets(g, by_rep, workers):
    """The project's targets, two ways: the ratio of the medians, and the median (min-max)
    of the ratios paired within each repetition, whose runs were seconds apart, so drift
    on the host cancels out of them."""
    rows = []
    for w in workers:
        for sc, metric, subject, peer, op, want, at_w in TARGETS:
            if at_w is not None and w != at_w:
                continue
            mine, theirs = by_rep.get((sc, metric, subject, w)), by_rep.get((sc, metric, peer, w))
            a, b = g(sc, metric, subject, w), g(sc, metric, peer, w)
            if not mine or not theirs or not b or a != a or b != b:
                continue
            paired = sorted(mine[r] / theirs[r] for r in mine
                            if r in theirs and theirs[r] > 0 and mine[r] == mine[r])
            pm = statistics.median(paired) if paired else float("nan")
            if op == "report":
                name = TARGET_NAMES.get((sc, metric), TARGET_NAMES.get(metric, metric))
                label = "%s: %s %s beside %s" % (sc, subject, name, peer)
                verdict = "reported: %s / %s" % (_fmt(a), _fmt(b))
            else:
                name = TARGET_NAMES.get((sc, metric), TARGET_NAMES.get(metric, metric))
                label = "%s: %s / %s %s %s %.1fx" % (sc, subject, peer, name, op, want)
                met = [(x >= want if op == ">=" else x <= want) for x in (a / b, pm) if x == x]
                verdict = "met" if met and all(met) else "not met" if not any(met) else "borderline"
            cc = [g(sc, "client_cpu_pct", s, w) for s in (subject, peer)]
            load = " / ".join(_fmt(c, 0) if c is not None else "-" for c in cc)
            if (metric in RATES and cc[0] is not None and cc[0] == cc[0]
                    and cc[0] >= CLIENT_BOUND_PCT):
                verdict += " (client-bound)"
            rows.append([str(w), label, "%.3f" % (a / b),
                         "%.3f (%.2f-%.2f)" % (pm, paired[0], paired[-1]) if paired else "-",
                         load, verdict])
        starved = by_rep.get(("s4", "starved", SUBJECT, w))
        if starved:
            worst = max(starved.values())
            rows.append([str(w), "s4: %s starved probes = 0" % SUBJECT, "-",
                         "max %d" % worst, "-", "met" if worst == 0 else "not met"])
        rss = g("s5", "worker_idle_rss_kib", SUBJECT, w)
        if rss is not None and rss == rss:
            rows.append([str(w), "s5: %s RSS per idle worker <= 2 MiB" % SUBJECT,
                         "%.1f MiB" % (rss / 1024), "-", "-",
                         "met" if rss <= 2048 else "not met"])
    if not rows:
        return
    print("### The project's targets\n")
    print("Client-bound (rates only): the load tool's threads were busy at least %d%% of the "
          "time with the server under test, so that rate is the tool's ceiling on this "
          "machine, not the server's. Targets on server CPU per request or per handshake "
          "are lower-is-better (<=).\n" % CLIENT_BOUND_PCT)
    hdr = ["workers", "target", "ratio of medians", "paired ratio: median (min-max)",
           "client CPU % (preforkd / peer)", "verdict"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def spread(before_path, after_path):
    """What each worker slot answered between two readings of /status.json. Slots, not
    worker pids: a slot's counts include its workers that left (kill -9, --max-requests),
    so nothing served between the readings is missed; a slot first seen in the second
    reading started from 0."""
    def slots(path):
        with open(path) as f:
            doc = json.load(f)
        return {s["slot"]: s["requests"] for s in doc["slots"]}
    before, after = slots(before_path), slots(after_path)
    per = [after[k] - before.get(k, 0) for k in sorted(after)]
    out = {"served": sum(per), "per_worker": "/".join(str(n) for n in per) or "-",
           "min": "nan", "max": "nan", "mean": "nan", "min_mean": "nan", "max_mean": "nan"}
    if per and sum(per) > 0:
        mean = statistics.mean(per)
        out.update(min=min(per), max=max(per), mean="%.1f" % mean,
                   min_mean="%.2f" % (min(per) / mean), max_mean="%.2f" % (max(per) / mean))
    return out


def loadplot(dat, png, title):
    """Three panels against the worker count, ab and wrk in the same colours in each:
    requests/s; p99 latency; the busiest (solid) and idlest (dashed) worker's requests
    over the mean, with the even spread at 1. DAT columns: workers, then for ab and for
    wrk: rps p99_ms min_mean max_mean (NaN where missing)."""
    rows = []
    with open(dat) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                rows.append([float(x) for x in line.split()])
    if not rows:
        print("Plot: no data")
        return
    workers = [int(r[0]) for r in rows]
    tops = [v for r in rows for v in (r[4], r[8]) if v == v]
    top = max([2.0] + [v * 1.1 for v in tops])
    tools = [("ab", 2, "#1f77b4"), ("wrk", 6, "#ff7f0e")]
    gp = ["set terminal pngcairo size 1500,520 font ',11'", "set output '%s'" % png,
          "set termoption noenhanced",
          "set multiplot layout 1,3 title '%s'" % title.replace("'", ""),
          "set logscale x 2", "set xtics (%s)" % ", ".join(str(w) for w in workers),
          "set xrange [%g:%g]" % (workers[0] / 1.3, workers[-1] * 1.3), "set grid",
          "set datafile missing 'NaN'", "set xlabel 'workers'", "set key top left",
          "set yrange [0:*]", "set title 'requests/s (more is better)'",
          "plot " + ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 lc rgb '%s' "
                              "title '%s'" % (dat, c, col, t) for t, c, col in tools),
          "set title 'p99 latency, ms (less is better)'",
          "plot " + ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 lc rgb '%s' "
                              "title '%s'" % (dat, c + 1, col, t) for t, c, col in tools),
          "set title 'requests per worker / mean (1 = even)'",
          "set yrange [0:%g]" % top, "set key top left",
          "plot " + ", ".join(
              "'%s' using 1:%d with linespoints lw 2 pt 7 lc rgb '%s' title '%s busiest', "
              "'%s' using 1:%d with linespoints lw 2 pt 6 dt 2 lc rgb '%s' title '%s idlest'"
              % (dat, c + 3, col, t, dat, c + 2, col, t) for t, c, col in tools)
          + ", 1 with lines lc rgb '#888888' dt 3 notitle",
          "unset multiplot"]
    subprocess.run(["gnuplot"], input="\n".join(gp) + "\n", text=True, check=True, timeout=30)
    print("Plot: %s" % png)


def plot(csv_path, png, panels):
    """One PNG with a panel per SCENARIO:METRIC (median over repetitions against the
    worker count, one line per server), e.g. the accept-model comparison:
    plot CSV accept.png s2:cpu_us s1:rps s6:balance_max_ratio
    Several CSVs may be joined with commas. cpu_mib is cpu_us per MiB sent (downloads).
    More than three panels go on two rows."""
    per_mib = {"s3": 1.0, "s7": 1024 / 100, "s8": 1 / 64, "s11": 1.0}
    vals, order, workers = {}, [], set()
    rows = []
    for path in csv_path.split(","):
        with open(path) as f:
            rows.extend(csv.DictReader(f))
    for row in rows:
        try:
            v = float(row["value"])
        except ValueError:
            continue
        w = int(row["workers"])
        vals.setdefault((row["scenario"], row["metric"], row["server"], w), []).append(v)
        if row["metric"] == "cpu_us" and row["scenario"] in per_mib:
            vals.setdefault((row["scenario"], "cpu_mib", row["server"], w), []).append(
                v * per_mib[row["scenario"]])
        workers.add(w)
        if row["server"] not in order and row["scenario"] != "note":
            order.append(row["server"])
    workers = sorted(workers)
    titles = {"rps": "requests/s (median)", "cpu_us": "server CPU per request (us)",
              "mib_s": "MiB/s (median)", "cpu_mib": "server CPU per MiB (us)",
              "conns_s": "full handshakes/s (median)",
              "kib_per_conn": "KiB per idle TLS connection",
              "balance_max_ratio": "busiest worker / mean", "balance_min_ratio": "idlest worker / mean"}
    names = {"s1": "wrk -c100 keep-alive 1 KiB", "s2": "ab -c100, a new connection per request",
             "s6": "800 connections opened one by one", "s3": "1 MiB downloads",
             "s7": "100 KiB downloads", "s8": "64 MiB downloads",
             "s9": "wrk -c100 keep-alive 1 KiB over TLS", "s10": "full TLS handshakes",
             "s11": "1 MiB downloads over TLS", "s12": "idle TLS connections",
             "s13": "h2c 1 KiB (h2load -c10 -m10)", "s14": "HTTP/2 over TLS 1 KiB",
             "s15": "page mix over HTTP/2 (51 URIs)"}
    tmp = os.path.splitext(png)[0]
    nrows = 2 if len(panels) > 3 else 1
    ncols = -(-len(panels) // nrows)
    gp = ["set terminal pngcairo size %d,%d font ',10'" % (430 * ncols + 200, 520 * nrows),
          "set output '%s'" % png, "set termoption noenhanced",
          "set multiplot layout %d,%d" % (nrows, ncols),
          "set logscale x 2", "set xtics (%s)" % ", ".join(str(w) for w in workers),
          "set xrange [%g:%g]" % (workers[0] / 1.3, workers[-1] * 1.3), "set grid",
          "set datafile missing 'NaN'", "set xlabel 'workers'"]
    for i, panel in enumerate(panels):
        scenario, metric = panel.split(":")
        dat = "%s-%s-%s.dat" % (tmp, scenario, metric)
        with open(dat, "w") as f:
            for w in workers:
                cells = []
                for s in order:
                    v = vals.get((scenario, metric, s, w))
                    cells.append("%.3f" % statistics.median(v) if v else "NaN")
                f.write("%d %s\n" % (w, " ".join(cells)))
        gp.append("set title '%s: %s'" % (names.get(scenario, scenario), titles.get(metric, metric)))
        gp.append("set key %s" % ("bottom left font ',9'" if i == 0 else "off"))
        gp.append("set yrange [0:*]")
        gp.append("plot " + ", ".join("'%s' using 1:%d with linespoints lw 2 pt 7 title '%s'"
                                      % (dat, j + 2, s) for j, s in enumerate(order)))
    gp.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(gp) + "\n", text=True, check=True, timeout=30)
    for panel in panels:
        scenario, metric = panel.split(":")
        os.remove("%s-%s-%s.dat" % (tmp, scenario, metric))
    print("Plot: %s" % png)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "wrk":
        r = parse_wrk(open(argv[2], errors="replace").read())
    elif cmd == "ab":
        r = parse_ab(open(argv[2], errors="replace").read())
    elif cmd == "s_time":
        r = parse_s_time([open(f, errors="replace").read() for f in argv[3:]], float(argv[2]))
    elif cmd == "h2load":
        r = parse_h2load(open(argv[2], errors="replace").read())
    elif cmd == "tlsinfo":
        r = parse_tlsinfo(open(argv[2], errors="replace").read())
    elif cmd == "mem":
        r = mem(int(argv[2]))
    elif cmd == "cpu":
        r = {"cpu_ms": "%.0f" % cpu_ms(int(argv[2]))}
    elif cmd == "per":
        n = float(argv[4] or 0)
        print("%.2f" % ((float(argv[3]) - float(argv[2])) * 1000.0 / n) if n > 0 else "nan")
        return 0
    elif cmd == "tree":
        print("\n".join(str(p) for p in tree(int(argv[2]))))
        return 0
    elif cmd == "sample":
        sample(int(argv[2]), float(argv[3]), argv[4])
        return 0
    elif cmd == "run":
        r = run(argv[2], float(argv[3]), int(argv[4]), argv[5:])
    elif cmd == "runmany":
        r = run(argv[2], float(argv[4]), 1, argv[5:], copies=int(argv[3]))
    elif cmd == "freeport":
        print(freeport())
        return 0
    elif cmd == "report":
        report(argv[2], argv[3])
        return 0
    elif cmd == "spread":
        r = spread(argv[2], argv[3])
    elif cmd == "loadplot":
        loadplot(argv[2], argv[3], argv[4] if len(argv) > 4 else "")
        return 0
    elif cmd == "plot":
        plot(argv[2], argv[3], argv[4:])
        return 0
    else:
        print(__doc__)
        return 2
    print(" ".join("%s=%s" % kv for kv in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
