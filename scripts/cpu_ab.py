#!/usr/bin/env python3
"""Server CPU per request of two preforkd binaries, in interleaved pairs.

    scripts/cpu_ab.py OLD NEW [--pairs 15] [--duration 10s] [--workers 2]

Each run starts the binary on a 1 KiB file, warms it up with `wrk -t1 -c100 -d2s`,
then reads utime + stime of the master and its workers from /proc around one
`wrk -t1 -c100 -d DURATION` run: CPU per request is that difference over the requests
wrk counted. The two binaries run one after the other in each pair, the order
alternating from pair to pair, and the ratio NEW/OLD is taken within each pair, so a
change in the machine's load between pairs cancels out. Needs wrk; run it on a quiet
machine (no build, no other benchmark).
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

HZ = os.sysconf("SC_CLK_TCK")
PORT = 18611


def ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        out += [int(p) for p in open(f"/proc/{pid}/task/{task}/children").read().split()]
    return out


def wrk(duration):
    return subprocess.run(
        ["wrk", "-t1", "-c100", f"-d{duration}", f"http://127.0.0.1:{PORT}/1k.html"],
        capture_output=True,
        text=True,
    ).stdout


def run(binary, root, workers, duration):
    """(µs of server CPU per request, requests per second)."""
    server = subprocess.Popen(
        [binary, "-w", str(workers), "-r", root, "-b", f"127.0.0.1:{PORT}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        wrk("2s")
        pids = [server.pid] + children(server.pid)
        assert len(pids) == workers + 1, pids
        before = sum(ticks(p) for p in pids)
        out = wrk(duration)
        after = sum(ticks(p) for p in pids)
        assert "Non-2xx" not in out and "Socket errors" not in out, out
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return (after - before) / HZ / requests * 1e6, rps
    finally:
        server.terminate()
        server.wait()
        time.sleep(0.3)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--pairs", type=int, default=15)
    p.add_argument("--duration", default="10s")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "1k.html"), "w") as f:
            f.write("x" * 1024)
        ratios, olds, news = [], [], []
        for i in range(a.pairs):
            order = [("old", a.old), ("new", a.new)]
            if i % 2:
                order.reverse()
            got = {name: run(binary, root, a.workers, a.duration) for name, binary in order}
            ratio = got["new"][0] / got["old"][0]
            ratios.append(ratio)
            olds.append(got["old"][0])
            news.append(got["new"][0])
            print(
                f"pair {i + 1} ({order[0][0]} first): old {got['old'][0]:.2f} µs/req "
                f"{got['old'][1]:.0f} req/s | new {got['new'][0]:.2f} µs/req "
                f"{got['new'][1]:.0f} req/s | ratio {ratio:.3f}",
                flush=True,
            )
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        print(
            f"CPU per request, new/old: median {statistics.median(ratios):.3f} "
            f"(quartiles {q[0]:.3f} and {q[2]:.3f}, {len(ratios)} pairs); "
            f"median µs/req old {statistics.median(olds):.2f}, new {statistics.median(news):.2f}"
        )


if __name__ == "__main__":
    main()
