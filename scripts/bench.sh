#!/usr/bin/env bash
# Side-by-side benchmark: preforkd (event and sync worker models, and the event model
# under each --accept model) against nginx (default-like, tuned and tuned + reuseport
# configs) and lighttpd, same document root, same worker count, same keep-alive, access
# logs off, all on 127.0.0.1; over HTTPS, preforkd-tls against nginx-tls (scenarios
# s9-s12, run only when named); and over HTTP/2 with h2load, h2c on the plain kinds and h2
# over TLS on the HTTPS kinds (scenarios s13-s15, run only when named).
#
# Usage:  scripts/bench.sh              full run (long: see the estimate it prints)
#         QUICK=1 scripts/bench.sh      smoke run (2 s wrk, ab -n 5000, 1 rep, workers 1 2,
#                                       200 idle clients)
#         SERVERS="nginx-tls preforkd-tls" WORKERS=2 SCENARIOS="s9 s10 s11 s12" scripts/bench.sh
#                                       the HTTPS scenarios (a test certificate is made per run)
#         SERVERS="nginx preforkd-event nginx-tls preforkd-tls" WORKERS=2 SCENARIOS="s13 s14 s15" \
#           scripts/bench.sh                    the HTTP/2 scenarios (h2c and over TLS)
# Env:    WORKERS="1 2 4 8"  REPS=3  WRK_D=10s  STARV_D=5s  AB_N=50000  AB_C=100
#         WRK_T=1  wrk threads in s1, s3, s7, s8, s9 and s11
#         IDLE_N=1000  PROBES=20  PROBE_TIMEOUT=2
#         SERVERS="nginx nginx-tuned lighttpd preforkd-event preforkd-sync"  the default; all kinds:
#           nginx            nginx defaults that matter here (sendfile on, no open_file_cache)
#           nginx-tuned      sendfile off for small files, open_file_cache
#           nginx-reuseport  nginx-tuned with `listen ... reuseport`: one SO_REUSEPORT socket
#                            per worker (accept_mutex stays off, nginx's default)
#           lighttpd         server.max-worker = N (forked children sharing one socket)
#           preforkd-event   --worker-model event, the binary's default accept model
#           preforkd-sync    --worker-model sync, the binary's default accept model
#           preforkd-reuseport | preforkd-shared | preforkd-exclusive
#                            --worker-model event --accept reuseport|shared|exclusive: one
#                            SO_REUSEPORT socket per worker slot / one socket polled by every
#                            worker / one socket registered with EPOLLEXCLUSIVE
#         HTTPS kinds (only an HTTPS listener; they run only s9-s12, s14 and s15, and the
#         kinds above only s1-s8, s13 and s15, so SERVERS may mix them):
#           nginx-tls        nginx-tuned's settings (open_file_cache, keep-alive, no access log)
#                            with `listen 127.0.0.1:PORT ssl`, TLSv1.2 and TLSv1.3 only,
#                            ssl_session_cache off, ssl_session_tickets off and no TLS 1.3
#                            tickets either (every handshake full, nothing kept or sent per
#                            session); sendfile plays no part over TLS without kTLS, see
#                            conf_nginx
#           preforkd-tls     --worker-model event, the default accept model, and
#                            --tls-bind 127.0.0.1:PORT --tls-cert CERT --tls-key KEY, no -b
#                            (a binary without these flags fails at start, one that does not
#                            answer https://.../1k.html with 200 over a verified handshake
#                            within 10 s is stopped: either is skipped with a note)
#         The certificate both use is made once per run in the temp dir by the openssl CLI:
#         self-signed ECDSA P-256, CN=localhost, SAN DNS:localhost and IP:127.0.0.1, 2 days.
#         PREFORKD=target/release/preforkd (built with cargo if missing and at the default path;
#                  a missing/failing binary or a rejected --worker-model/--accept is skipped
#                  with a note)
#         KEEPALIVE_TIMEOUT=65 KEEPALIVE_REQUESTS=1000   (nginx and lighttpd)
#         OUTDIR=scripts/results   KEEP_TMP=1 keeps the temp dir (configs, logs, raw outputs)
#         SCENARIOS="s1 s2 s3 s4 s6"  a subset runs only those (s5 idle memory is always taken);
#                  s7 and s8 (the 100 KiB and 64 MiB downloads), the HTTPS scenarios s9-s12
#                  and the HTTP/2 scenarios s13-s15 run only when named
#         BAL_CONNS=800  connections opened in s6
#         DL_C=16  concurrent clients of the download scenarios s3, s7, s8 and s11 (1, 16, 256...)
#         S_TIME_D=(WRK_D in seconds)  length of s10 in whole seconds (openssl s_time -time)
#         S_TIME_P=2  openssl s_time processes run at once in s10 (see s10 below)
#         IDLE_TLS_N=500  idle TLS connections held in s12
#         IDLE_TLS_C=8    of which at most this many are being set up at once (0: all at once)
#         H2_N=200000  h2load -n in s13 and s14 (all connections together); s15 takes the
#                      largest multiple of 51 x H2_C not above it (at least one page each)
#         H2_C=10  H2_M=10  h2load -c (connections) and -m (concurrent streams per connection)
#
# Scenarios (per server and worker count; each run on a freshly started server, the servers
# taking turns scenario by scenario, A B C then C B A in the next repetition; medians and
# per-repetition paired ratios reported):
#   s1  wrk -t$WRK_T -c100 -d$WRK_D on /1k.html       req/s (memory sampled meanwhile)
#   s2  ab -n $AB_N -c 100 -r on /1k.html              req/s, failed
#   s3  wrk -t$WRK_T -c$DL_C -d$WRK_D on /1m.bin       MiB/s (wrk Transfer/sec)
#   s7  the same on /100k.bin (an image), s8 on /64m.bin (a video): MiB/s
#       s1-s3 also record the server's CPU time per request (user + system, summed over
#       its processes): client and server share the cores, so this is the cost that
#       decides req/s, and it varies far less between runs than req/s on a shared VM;
#       and the load tool's own CPU use (% of one core): wrk -t1 and ab are single
#       threads, so near 100% the tool, not the server, set the rate (WRK_T=2 gives
#       wrk a second thread, to see past that ceiling; the project's targets use 1)
#   s4  $IDLE_N idle keep-alive connections held (scripts/idle_clients.py), meanwhile
#       wrk -t1 -c10 -d$STARV_D --latency and $PROBES sequential fresh curl probes
#       (-m $PROBE_TIMEOUT): req/s, p99, starved probes
#   s5  RSS/PSS summed over the server's process tree, idle and peak during s1; per-worker RSS
#   s6  balance (scripts/balance.py): $BAL_CONNS keep-alive connections opened one after
#       another, one GET /1k.html each, all held; then the sockets each worker holds
#       (/proc/PID/fd, minus its count before): per-worker counts, min/mean and max/mean.
#       The connections arrive while every worker idles, so this shows how the accept
#       model hands out connections (a shared socket woken in every worker can give most
#       of them to one worker, which then serves them all alone)
# HTTPS (the *-tls kinds; each session also records what one `openssl s_client` handshake
# negotiated, so that the servers are seen to do the same work):
#   s9  wrk -t$WRK_T -c100 -d$WRK_D on https://.../1k.html   req/s, server CPU per request,
#       wrk CPU (keep-alive: 100 handshakes, then records)
#   s10 $S_TIME_P x `openssl s_time -connect 127.0.0.1:PORT -new -time $S_TIME_D -www /1k.html`:
#       full handshakes per second (every connection is new, offers no session, sends one
#       HTTP/1.0 GET and reads the response to the close; the connections of all processes
#       over the measured wall time) and server CPU per handshake (handshake + one GET);
#       s_time's CPU % per process: each is single-threaded, and does the costlier half of
#       a handshake (it verifies an ECDSA signature, the server makes one: measured ~1.6x
#       the server's CPU against nginx-tls). So no number of them makes the rate
#       server-bound on 2 shared cores; 2 (the default) saturate both cores and keep both
#       workers of -w 2 busy, where 1 s_time alternates with the server and leaves a core
#       idle (measured: s_time at 54%, nginx-tls at 0.34 cores). The server's CPU per
#       handshake, which the target uses, came out the same with 1 or 2.
#   s11 wrk -t$WRK_T -c$DL_C -d$WRK_D on https://.../1m.bin    MiB/s, server CPU per MiB
#   s12 $IDLE_TLS_N connections (scripts/idle_clients.py --tls) that each completed a full
#       handshake and one GET, then held idle: (PSS of the server's processes with them -
#       PSS just before) / connections answered, in KiB. They are set up $IDLE_TLS_C at a
#       time, so that the figure is what the held connections keep, not what malloc kept
#       from hundreds of handshakes in flight at once (nginx-tls, -w 2: ~12.5 KiB with 1 to
#       8 at a time, ~40 KiB with all 500 at once)
# HTTP/2 (h2load from nghttp2-client, one thread, -c $H2_C connections opened once, -m $H2_M
# streams each, -N 10s: a connection silent for 10 s fails instead of hanging the run;
# each session records req/s, MiB/s, the succeeded/failed/errored/timed-out requests, the
# header compression's "space savings", the protocol h2load used, the server's CPU per
# succeeded request and h2load's CPU %; any failure, non-2xx response or protocol other than
# h2/h2c is also a note in the report). In the sessions of these scenarios the servers
# speak HTTP/2: nginx kinds get `listen 127.0.0.1:PORT http2` (nginx 1.22: that port then
# speaks only h2c with prior knowledge, so its readiness check uses curl
# --http2-prior-knowledge) and nginx-tls `listen 127.0.0.1:PORT ssl http2` (ALPN h2, and
# http/1.1 to clients that do not offer h2); lighttpd 1.4.69 speaks h2c with prior
# knowledge on its one port by default; preforkd is started as in the other scenarios (it
# must tell h2c by the preface and offer h2 in ALPN itself). h2load never reconnects after
# a GOAWAY, and nginx 1.22's keepalive_requests also caps the requests of an HTTP/2
# connection, so in these sessions nginx's and lighttpd's keep-alive request limit is
# max(KEEPALIVE_REQUESTS, H2_N) (preforkd has none). Over TLS h2load offers ALPN h2 only
# (--npn-list=h2), so a server that would pick http/1.1 fails instead of being measured
# over HTTP/1.1 pipelining.
#   s13 h2load -n $H2_N -c $H2_C -m $H2_M http://.../1k.html (h2c, prior knowledge): the
#       plain kinds. preforkd-sync runs it too, as every plain kind runs every plain
#       scenario: its workers serve one connection at a time, so with -w 2 eight of the ten
#       connections wait in the backlog until a worker is done with one (the rate is then
#       that of 2 connections at a time, and a wait over 10 s fails them: see the notes)
#   s14 the same on https://.../1k.html (h2 over TLS, ALPN): the HTTPS kinds
#   s15 page-like mix: /page/index.html (6 KiB) and the 50 assets it links (page/a01.css ..
#       page/a50.js: 10 .css, 20 .js, 20 .png, 300 B to 8 KiB, mean ~4.1 KiB, the same bytes
#       every run), h2load -i with those 51 URIs, which every connection requests in turn,
#       -m $H2_M at a time, index.html first; -n a multiple of 51 x H2_C (whole pages per
#       connection). Every kind runs it over its own transport: h2c for the plain kinds,
#       h2 over TLS for the *-tls kinds (each compared with nginx, resp. nginx-tls). Also
#       pages/s (req/s / 51) and MiB/s
# Output: markdown tables on stdout (also OUTDIR/bench-<date>.md), OUTDIR/bench-<date>.csv,
#         OUTDIR/bench.png (gnuplot, s1 req/s against workers).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
lib="$here/benchlib.py"
idle_py="$here/idle_clients.py"
balance_py="$here/balance.py"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
    : "${WRK_D:=2s}" "${STARV_D:=2s}" "${AB_N:=5000}" "${REPS:=1}" "${WORKERS:=1 2}" "${IDLE_N:=200}"
fi
WORKERS=${WORKERS:-"1 2 4 8"}
REPS=${REPS:-3}
WRK_D=${WRK_D:-10s}
WRK_T=${WRK_T:-1}
STARV_D=${STARV_D:-5s}
AB_N=${AB_N:-50000}
AB_C=${AB_C:-100}
IDLE_N=${IDLE_N:-1000}
PROBES=${PROBES:-20}
PROBE_TIMEOUT=${PROBE_TIMEOUT:-2}
SERVERS=${SERVERS:-"nginx nginx-tuned lighttpd preforkd-event preforkd-sync"}
PREFORKD=${PREFORKD:-target/release/preforkd}
KEEPALIVE_TIMEOUT=${KEEPALIVE_TIMEOUT:-65}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000}
OUTDIR=${OUTDIR:-$here/results}
KEEP_TMP=${KEEP_TMP:-0}
SCENARIOS=${SCENARIOS:-"s1 s2 s3 s4 s6"}
BAL_CONNS=${BAL_CONNS:-800}
DL_C=${DL_C:-16}
IDLE_TLS_N=${IDLE_TLS_N:-500}
IDLE_TLS_C=${IDLE_TLS_C:-8}
S_TIME_P=${S_TIME_P:-2}
H2_N=${H2_N:-200000}
H2_C=${H2_C:-10}
H2_M=${H2_M:-10}
PAGE_URIS=51                # s15: page/index.html and its 50 assets
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
is_tls() { [[ $1 == *-tls ]]; }                             # an HTTPS server kind
tls_sc() { case $1 in s9 | s10 | s11 | s12 | s14) return 0 ;; *) return 1 ;; esac; }
h2_sc() { case $1 in s13 | s14 | s15) return 0 ;; *) return 1 ;; esac; }  # h2load scenarios
# Which sessions run: HTTPS kinds in s9-s12 and s14, the others in s1-s8 and s13; any in s5
# alone and in s15 (each over its own transport: h2c or TLS).
runs_on() {
    [[ $2 == s5 || $2 == s15 ]] || { is_tls "$1" && tls_sc "$2"; } || { ! is_tls "$1" && ! tls_sc "$2"; }
}

die() { echo "bench: $*" >&2; exit 1; }
secs() { local d=$1; case $d in *ms) echo 1 ;; *s) echo "${d%s}" ;; *m) echo $((${d%m} * 60)) ;; *) echo "$d" ;; esac; }
S_TIME_D=${S_TIME_D:-$(secs "$WRK_D")}

missing=()
for t in wrk ab curl python3; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((${#missing[@]})); then
    echo "bench: missing tool(s): ${missing[*]}" >&2
    echo "install with: apt-get install apache2-utils wrk curl python3" >&2
    exit 1
fi
if want s13 || want s14 || want s15; then
    command -v h2load >/dev/null 2>&1 ||
        die "h2load not found, needed by s13-s15 (apt-get install nghttp2-client)"
fi
command -v gnuplot >/dev/null 2>&1 || echo "bench: gnuplot not found, no PNG plot (apt-get install gnuplot-nox)" >&2

cd "$repo"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# lighttpd wants server.max-fds <= the fd limit and max-connections <= max-fds/2
LIGHTTPD_FDS=$(ulimit -n)
[[ $LIGHTTPD_FDS == unlimited || $LIGHTTPD_FDS -gt 65536 ]] && LIGHTTPD_FDS=65536

stamp=$(date +%Y%m%d-%H%M%S)
tmp=$(mktemp -d /tmp/preforkd-bench.XXXXXX)
docroot=$tmp/docroot
mkdir -p "$docroot" "$OUTDIR"
csv=$OUTDIR/bench-$stamp.csv
md=$OUTDIR/bench-$stamp.md
echo "date,server,workers,rep,scenario,metric,value" >"$csv"

python3 - "$docroot" <<'EOF_PY'
import os, sys
d = sys.argv[1]
head = b"<!DOCTYPE html><html><head><title>1k</title></head><body><p>"
tail = b"</p></body></html>\n"
body = (b"preforkd benchmark: one kibibyte of text. " * 40)[:1024 - len(head) - len(tail)]
open(os.path.join(d, "1k.html"), "wb").write(head + body + tail)
open(os.path.join(d, "1m.bin"), "wb").write(os.urandom(1 << 20))
open(os.path.join(d, "100k.bin"), "wb").write(os.urandom(100 << 10))
open(os.path.join(d, "64m.bin"), "wb").write(os.urandom(64 << 20))
# s15: a page and the 50 assets it links, the same bytes every run: 10 .css, 20 .js and
# 20 .png, sizes spread evenly over 300 B .. 8 KiB in a shuffled order
import random
os.mkdir(os.path.join(d, "page"))
assets = []
for i in range(1, 51):
    ext = ("js", "css", "png", "js", "png")[i % 5]
    size = 300 + (i * 37 % 50) * (8192 - 300) // 49
    name = "a%02d.%s" % (i, ext)
    if ext == "png":
        data = b"\x89PNG\r\n\x1a\n" + random.Random(i).randbytes(size - 8)
    else:
        line = ("/* %s */ .c%d { margin: 0 %dpx; color: #%06x; }\n" % (name, i, i, i * 99991 % 0xffffff)
                if ext == "css" else
                "/* %s */ function f%d(x) { return x * %d + %d; }\n" % (name, i, i, i * 7))
        data = (line * (size // len(line) + 1)).encode()[:size]
    open(os.path.join(d, "page", name), "wb").write(data)
    assets.append(name)
tags = []
for name in assets:
    if name.endswith(".css"):
        tags.append('<link rel="stylesheet" href="/page/%s">' % name)
    elif name.endswith(".js"):
        tags.append('<script src="/page/%s"></script>' % name)
    else:
        tags.append('<img src="/page/%s" alt="%s" width="64" height="64">' % (name, name))
head = "<!DOCTYPE html><html><head><title>page</title>\n" + "\n".join(tags) + "\n</head><body>\n"
tail = "</body></html>\n"
para = "<p>preforkd benchmark page: an HTML document of six kibibytes and fifty assets.</p>\n"
body = (para * (6144 // len(para) + 1))[:6144 - len(head) - len(tail)]
open(os.path.join(d, "page", "index.html"), "w").write(head + body + tail)
with open(os.path.join(os.path.dirname(d), "page-uris.txt"), "w") as f:
    f.write("/page/index.html\n" + "".join("/page/%s\n" % n for n in assets))
EOF_PY

# ----------------------------------------------------------------------------- process control
declare -A LIVE=()          # background PIDs this script started and has not reaped yet
declare -A TREE=()          # server master PID -> its process tree (space separated)

kill_pid() { # pid [grace-tenths]: TERM, wait, KILL; then reap
    local pid=$1 grace=${2:-100} i
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        unset "LIVE[$pid]"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: pid $pid ignored SIGTERM, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "LIVE[$pid]"
}
starttime() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0; s=${s##*) }; set -- $s; echo "${20}"; }
stop_server() { # master pid: stop it, then any worker it left behind (same pid + start time)
    local pid=$1 e p st i
    kill_pid "$pid"
    for e in ${TREE[$pid]:-}; do
        p=${e%@*} st=${e#*@}
        [[ $p == "$pid" ]] && continue
        for ((i = 0; i < 30; i++)); do [[ $(starttime "$p") == "$st" ]] || break; sleep 0.1; done
        if [[ $(starttime "$p") == "$st" ]]; then
            echo "bench: worker $p outlived its master $pid, killing it" >&2
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    unset "TREE[$pid]"
}
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${!LIVE[@]}"; do
        if [[ -n ${TREE[$pid]:-} ]]; then stop_server "$pid"; else kill_pid "$pid" 20; fi
    done
    if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then echo "bench: temp dir kept: $tmp" >&2; else rm -rf "$tmp"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----------------------------------------------------------------------------- servers
declare -A DISABLED=()
# the most connections a scenario holds at once (nginx's worker_connections is sized on it)
MAX_HELD=$IDLE_N
((BAL_CONNS > MAX_HELD)) && MAX_HELD=$BAL_CONNS
((IDLE_TLS_N > MAX_HELD)) && MAX_HELD=$IDLE_TLS_N
note() { # server workers text
    local t=${3//,/;}
    t=${t//\"/\'}
    echo "bench: NOTE $1 (workers=$2): $3" >&2
    echo "$stamp,$1,$2,0,note,\"$t\"," >>"$csv"
}

conf_nginx() { # kind workers port dir h2(0|1) -> config path
    local kind=$1 w=$2 port=$3 dir=$4 h2=${5:-0} sendfile_loc="" listen_opts="" ka_req=$KEEPALIVE_REQUESTS
    mkdir -p "$dir"
    local common="sendfile on;"
    # reuseport: the master opens one SO_REUSEPORT socket per worker and the kernel hashes
    # each new connection to one of them; accept_mutex is left at its default (off)
    [[ $kind == nginx-reuseport ]] && listen_opts=" reuseport"
    if [[ $kind == nginx-tuned || $kind == nginx-reuseport ]]; then
        common="sendfile off;                 # small files: plain read/write beats sendfile
        open_file_cache max=1000 inactive=20s;
        open_file_cache_valid 1s;"
        sendfile_loc="location ~ \\.bin\$ { sendfile on; }   # large files keep sendfile"
    fi
    # nginx-tls: nginx-tuned over TLS. sendfile is off everywhere, the large files too: on
    # an SSL connection nginx uses sendfile only through kTLS (SSL_sendfile, which needs
    # `ssl_conf_command Options KTLS` and the kernel's tls module), and otherwise reads the
    # file into its output_buffers and SSL_write()s them whatever `sendfile` says. kTLS is
    # not enabled: preforkd (rustls, in user space) encrypts in the process too.
    # No session cache and no session tickets: every handshake is a full one, nothing is
    # stored per session, and nothing is sent after it; s10 measures full handshakes
    # (s_time -new never offers a session), and the other TLS scenarios keep their
    # connections alive, so resumption would not matter to them. `ssl_session_tickets off`
    # alone still lets OpenSSL send TLS 1.3 clients two (stateful, useless: no cache)
    # NewSessionTicket messages after each handshake in nginx 1.22; NumTickets 0 stops that.
    if [[ $kind == nginx-tls ]]; then
        listen_opts=" ssl"
        common="sendfile off;                 # no effect over TLS without kTLS (see above)
        open_file_cache max=1000 inactive=20s;
        open_file_cache_valid 1s;
        ssl_certificate $TLS_CERT;
        ssl_certificate_key $TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        ssl_conf_command NumTickets 0;"
    fi
    # HTTP/2 (the sessions of s13-s15 only, so that s1-s12 measure the same configs as
    # before): `listen ... http2` on a plain port speaks only h2c with prior knowledge in
    # nginx 1.22, and `listen ... ssl http2` offers h2 in ALPN (http/1.1 to other clients).
    # keepalive_requests also caps the requests per HTTP/2 connection, and h2load does not
    # reconnect after the GOAWAY: at least H2_N, so that one connection can carry them all.
    if ((h2)); then
        listen_opts+=" http2"
        ((H2_N > ka_req)) && ka_req=$H2_N
    fi
    cat >"$dir/nginx.conf" <<EOF
# $kind, generated by scripts/bench.sh
user root;
worker_processes $w;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile $((2 * (MAX_HELD + 1024) + 64));
# sized for the scenarios: nginx preallocates connection/event arrays per worker, so a huge
# value would inflate its memory figures
events { worker_connections $((MAX_HELD + 1024)); }
http {
    types { text/html html; text/css css; text/javascript js; image/png png; application/octet-stream bin; }
    default_type application/octet-stream;
    access_log off;
    $common
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout $KEEPALIVE_TIMEOUT;
    keepalive_requests $ka_req;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port$listen_opts;
        server_name localhost;
        root $docroot;
        location / { }
        $sendfile_loc
    }
}
EOF
    echo "$dir/nginx.conf"
}

conf_lighttpd() { # workers port dir h2(0|1) -> config path
    local w=$1 port=$2 dir=$3 h2=${4:-0} mw=0 ka_req=$KEEPALIVE_REQUESTS
    mkdir -p "$dir"
    # server.max-worker forks N worker processes sharing the listen socket; 1 is ignored
    # by lighttpd (single process), so 0 (default) for one worker.
    ((w > 1)) && mw=$w
    # s13-s15: lighttpd 1.4.69 speaks h2c with prior knowledge by default (server.h2proto);
    # the request limit as nginx's (it does not apply it to HTTP/2 connections anyway)
    ((h2 && H2_N > ka_req)) && ka_req=$H2_N
    cat >"$dir/lighttpd.conf" <<EOF
# lighttpd, generated by scripts/bench.sh (no mod_accesslog loaded = no access log)
server.modules = ( )
server.document-root = "$docroot"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$dir/error.log"
server.max-worker = $mw
server.max-fds = $LIGHTTPD_FDS
server.max-connections = $((LIGHTTPD_FDS / 2 - 16))
server.max-keep-alive-idle = $KEEPALIVE_TIMEOUT
server.max-keep-alive-requests = $ka_req
server.listen-backlog = 4096
mimetype.assign = ( ".html" => "text/html", ".css" => "text/css", ".js" => "text/javascript",
                    ".png" => "image/png", ".bin" => "application/octet-stream" )
EOF
    echo "$dir/lighttpd.conf"
}

have_server() { # name -> 0 if its binary exists (records a note otherwise)
    case $1 in
        nginx | nginx-tuned | nginx-reuseport) command -v nginx >/dev/null 2>&1 || { echo "nginx not installed (apt-get install nginx)"; return 1; } ;;
        nginx-tls)
            command -v nginx >/dev/null 2>&1 || { echo "nginx not installed (apt-get install nginx)"; return 1; }
            nginx -V 2>&1 | grep -q -- --with-http_ssl_module || { echo "nginx built without http_ssl_module"; return 1; }
            command -v openssl >/dev/null 2>&1 || { echo "openssl not installed (apt-get install openssl)"; return 1; } ;;
        preforkd-tls)
            [[ -x $PREFORKD ]] || { echo "preforkd binary $PREFORKD missing or not built"; return 1; }
            command -v openssl >/dev/null 2>&1 || { echo "openssl not installed (apt-get install openssl)"; return 1; } ;;
        lighttpd) command -v lighttpd >/dev/null 2>&1 || { echo "lighttpd not installed (apt-get install lighttpd)"; return 1; } ;;
        preforkd-event | preforkd-sync | preforkd-reuseport | preforkd-shared | preforkd-exclusive)
            [[ -x $PREFORKD ]] || { echo "preforkd binary $PREFORKD missing or not built"; return 1; } ;;
        *) echo "unknown server name"; return 1 ;;
    esac
}

SRV_PID=""
LAST_CHECK=""               # what start_server's last readiness check got (for the note)
# Every server runs in its own session/process group (setsid, which execs in place here, so
# $! is the server itself): lighttpd with server.max-worker > 1 signals its whole process
# group on shutdown, which would otherwise kill this script and its caller too.
start_server() { # name workers port dir scenario -> sets SRV_PID; returns 1 if it does not answer
    local name=$1 w=$2 port=$3 dir=$4 sc=${5:-} conf h2=0
    mkdir -p "$dir"
    h2_sc "$sc" && h2=1
    case $name in
        nginx | nginx-tuned | nginx-reuseport)
            conf=$(conf_nginx "$name" "$w" "$port" "$dir" "$h2")
            setsid nginx -p "$dir/" -e "$dir/error.log" -c "$conf" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
            ;;
        lighttpd)
            conf=$(conf_lighttpd "$w" "$port" "$dir" "$h2")
            setsid lighttpd -D -f "$conf" >"$dir/stdout.log" 2>&1 &
            ;;
        preforkd-event | preforkd-sync)
            setsid "$PREFORKD" -w "$w" -r "$docroot" -b "127.0.0.1:$port" --worker-model "${name#preforkd-}" \
                "${PREFORKD_EXTRA[@]}" >"$dir/stdout.log" 2>"$dir/error.log" &
            ;;
        preforkd-reuseport | preforkd-shared | preforkd-exclusive)
            setsid "$PREFORKD" -w "$w" -r "$docroot" -b "127.0.0.1:$port" --worker-model event \
                --accept "${name#preforkd-}" "${PREFORKD_EXTRA[@]}" >"$dir/stdout.log" 2>"$dir/error.log" &
            ;;
        nginx-tls)
            conf=$(conf_nginx "$name" "$w" "$port" "$dir" "$h2")
            setsid nginx -p "$dir/" -e "$dir/error.log" -c "$conf" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
            ;;
        preforkd-tls)
            # HTTPS only: no -b (preforkd takes its default plain 127.0.0.1:8080 only when
            # given neither -b nor --tls-bind)
            setsid "$PREFORKD" -w "$w" -r "$docroot" --worker-model event --tls-bind "127.0.0.1:$port" \
                --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" "${PREFORKD_EXTRA[@]}" \
                >"$dir/stdout.log" 2>"$dir/error.log" &
            ;;
    esac
    SRV_PID=$!
    LIVE[$SRV_PID]=1
    TREE[$SRV_PID]=$SRV_PID
    local i url="http://127.0.0.1:$port/1k.html" copt=()
    # HTTPS kinds: the test certificate is trusted explicitly and checked against 127.0.0.1
    is_tls "$name" && url="https://127.0.0.1:$port/1k.html" copt=(--cacert "$TLS_CERT")
    # nginx's plain `listen ... http2` (s13, s15) answers only HTTP/2 with prior knowledge
    [[ $h2 == 1 && $name == nginx* ]] && ! is_tls "$name" && copt=(--http2-prior-knowledge)
    local code rc
    for ((i = 0; i < 200; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || { LAST_CHECK="it exited"; return 1; }
        rc=0
        code=$(curl -s "${copt[@]}" -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null) || rc=$?
        [[ $code == 200 ]] && break
        # e.g. curl exit 35 over HTTPS: no TLS handshake (a plain HTTP answer, say)
        LAST_CHECK="curl $url: HTTP ${code:-000}, curl exit $rc"
        sleep 0.05
    done
    ((i < 200)) || return 1
    # preforkd answers as soon as its master listens, possibly before every worker waits
    # for connections; one that is not waiting yet gets no share of s6's connections.
    # Binaries that log "worker PID ready" are waited for until N such lines; older ones
    # log only "worker PID started": N of those and no "ready" line for 0.5 s will do.
    if [[ $name == preforkd-* ]]; then
        local ready started
        for ((i = 0; i < 60; i++)); do
            ready=$(grep -c 'worker [0-9]* ready' "$dir/error.log" 2>/dev/null || true)
            started=$(grep -c 'worker [0-9]* started' "$dir/error.log" 2>/dev/null || true)
            ((${ready:-0} >= w)) && break
            ((${ready:-0} == 0 && ${started:-0} >= w && i >= 10)) && break
            sleep 0.05
        done
    fi
    # Let the worker processes come up (bounded), so idle memory covers all of them.
    local want=$((w + 1))
    [[ $name == lighttpd && $w == 1 ]] && want=1
    for ((i = 0; i < 30; i++)); do
        (($(python3 "$lib" tree "$SRV_PID" | wc -l) >= want)) && break
        sleep 0.1
    done
    local p entries=""
    for p in $(python3 "$lib" tree "$SRV_PID"); do entries+="$p@$(starttime "$p") "; done
    TREE[$SRV_PID]=$entries
    return 0
}

kv() { # "a=1 b=2" key -> value
    local k
    for k in $1; do [[ ${k%%=*} == "$2" ]] && { echo "${k#*=}"; return; }; done
    echo nan
}
cpu() { kv "$(python3 "$lib" cpu "$1")" cpu_ms; } # pid -> CPU ms used by its process tree
# Runs a load tool (killed after $secs) against server $pid, parses its output with
# benchlib's $parser into R, and records the server's CPU µs per request (count taken from
# R's $count) and the tool's own CPU use per thread: a tool whose threads are near 100%
# was the bottleneck, not the server.
load() { # srv w rep scenario pid parser count out secs threads cmd...
    local srv=$1 w=$2 rep=$3 sc=$4 pid=$5 parser=$6 count=$7 out=$8 secs=$9 threads=${10} c0 c1 r
    shift 10
    c0=$(cpu "$pid")
    r=$(python3 "$lib" run "$out" "$secs" "$threads" "$@")
    c1=$(cpu "$pid")
    R=$(python3 "$lib" "$parser" "$out")
    rec "$srv" "$w" "$rep" "$sc" cpu_us "$(python3 "$lib" per "$c0" "$c1" "$(kv "$R" "$count")")"
    rec "$srv" "$w" "$rep" "$sc" client_cpu_pct "$(kv "$r" client_cpu_pct)"
}
rec() { echo "$stamp,$1,$2,$3,$4,$5,$6" >>"$csv"; } # server workers rep scenario metric value
# Records fields of a benchlib "key=value ..." line: each NAME=KEY, or NAME for NAME=NAME.
recs() { # server workers rep scenario line NAME[=KEY]...
    local srv=$1 w=$2 rep=$3 sc=$4 line=$5 f
    shift 5
    for f in "$@"; do rec "$srv" "$w" "$rep" "$sc" "${f%%=*}" "$(kv "$line" "${f#*=}")"; done
}
# s1 and s3: wrk for $WRK_D with $WRK_T threads through load(), recording its socket errors.
wrk_load() { # srv w rep scenario pid out conns url [wrk options...]
    local srv=$1 w=$2 rep=$3 sc=$4 pid=$5 out=$6 conns=$7 url=$8
    shift 8
    load "$srv" "$w" "$rep" "$sc" "$pid" wrk requests "$out" $(($(secs "$WRK_D") + 60)) "$WRK_T" \
        wrk -t"$WRK_T" -c"$conns" -d"$WRK_D" "$@" "$url"
    recs "$srv" "$w" "$rep" "$sc" "$R" wrk_errors=errors
}

# One session: a fresh server, its idle memory, then one scenario.
run_session() { # server workers rep scenario
    local srv=$1 w=$2 rep=$3 sc=$4 port dir r out pid
    port=$(python3 "$lib" freeport)
    dir=$tmp/$srv-w$w-r$rep-$sc
    if ! start_server "$srv" "$w" "$port" "$dir" "$sc"; then
        local why
        # its first error line if it has one (clap: "error: unexpected argument ..."),
        # else its last two lines
        why=$(cat "$dir/error.log" "$dir/stdout.log" 2>/dev/null | grep -v '^[[:space:]]*$' |
            grep -i -m 1 -E 'error|emerg|fatal|panicked' || true)
        [[ -n $why ]] || why=$(cat "$dir/error.log" "$dir/stdout.log" 2>/dev/null |
            grep -v '^[[:space:]]*$' | tail -n 2 | tr '\n' ' ' || true)
        note "$srv" "$w" "did not start or answer 200 on /1k.html (skipped; ${LAST_CHECK:-no check}): ${why:-no output}"
        stop_server "$SRV_PID"
        DISABLED[$srv]=1
        return 0
    fi
    pid=$SRV_PID
    local base="http://127.0.0.1:$port"
    is_tls "$srv" && base="https://127.0.0.1:$port"
    echo "  [$sc $srv w=$w rep=$rep] port $port, processes: $(wc -w <<<"${TREE[$pid]}")" >&2

    # HTTPS: what one handshake negotiated (protocol, suite, group, signature)
    if is_tls "$srv"; then
        timeout 10 openssl s_client -connect "127.0.0.1:$port" -brief -CAfile "$TLS_CERT" \
            </dev/null >"$dir/s_client.txt" 2>&1 || true
        rec "$srv" "$w" "$rep" tls tls_params "$(kv "$(python3 "$lib" tlsinfo "$dir/s_client.txt")" params)"
    fi

    # s5 idle memory
    r=$(python3 "$lib" mem "$pid")
    recs "$srv" "$w" "$rep" s5 "$r" idle_rss_kib=rss_kib idle_pss_kib=pss_kib worker_idle_rss_kib=worker_rss_kib procs

    # s1 wrk -c100 1k (+ memory sampling)
    if [[ $sc == s1 ]]; then
        out=$dir/s1-wrk.txt
        python3 "$lib" sample "$pid" $(($(secs "$WRK_D") + 5)) "$dir/s5-peak.txt" &
        local sampler=$!
        LIVE[$sampler]=1
        wrk_load "$srv" "$w" "$rep" s1 "$pid" "$out" 100 "$base/1k.html" --latency
        kill_pid "$sampler" 20
        recs "$srv" "$w" "$rep" s1 "$R" rps p99_ms
        if [[ -s $dir/s5-peak.txt ]]; then
            r=$(cat "$dir/s5-peak.txt")
            recs "$srv" "$w" "$rep" s5 "$r" loaded_rss_kib=rss_kib loaded_pss_kib=pss_kib
        fi
    fi

    # s2 ab -c100 1k
    if [[ $sc == s2 ]]; then
        out=$dir/s2-ab.txt
        load "$srv" "$w" "$rep" s2 "$pid" ab complete "$out" 300 1 \
            ab -n "$AB_N" -c "$AB_C" -r "$base/1k.html"
        recs "$srv" "$w" "$rep" s2 "$R" rps failed p99_ms complete
    fi

    # s3, s7, s8: downloads of 1 MiB, 100 KiB, 64 MiB by $DL_C clients
    local file=""
    case $sc in s3 | s11) file=1m.bin ;; s7) file=100k.bin ;; s8) file=64m.bin ;; esac
    if [[ -n $file ]]; then
        out=$dir/$sc-wrk.txt
        wrk_load "$srv" "$w" "$rep" "$sc" "$pid" "$out" "$DL_C" "$base/$file"
        recs "$srv" "$w" "$rep" "$sc" "$R" mib_s
    fi

    # s9 wrk -c100 1k over TLS (keep-alive)
    if [[ $sc == s9 ]]; then
        out=$dir/s9-wrk.txt
        wrk_load "$srv" "$w" "$rep" s9 "$pid" "$out" 100 "$base/1k.html" --latency
        recs "$srv" "$w" "$rep" s9 "$R" rps p99_ms
    fi

    # s10 full handshakes: openssl s_time -new, each connection new and one GET
    if [[ $sc == s10 ]]; then
        out=$dir/s10-s_time.txt
        local c0 c1
        c0=$(cpu "$pid")
        r=$(python3 "$lib" runmany "$out" "$S_TIME_P" $((S_TIME_D + 60)) \
            openssl s_time -connect "127.0.0.1:$port" -new -time "$S_TIME_D" -www /1k.html)
        c1=$(cpu "$pid")
        R=$(python3 "$lib" s_time "$(kv "$r" wall_s)" "$out".*)
        rec "$srv" "$w" "$rep" s10 cpu_us "$(python3 "$lib" per "$c0" "$c1" "$(kv "$R" conns)")"
        rec "$srv" "$w" "$rep" s10 client_cpu_pct "$(kv "$r" client_cpu_pct)"
        recs "$srv" "$w" "$rep" s10 "$R" conns_s handshakes=conns bytes_per_conn s_time_failed=failed
        # s_time stops at its first connection that fails: say so, with the last line of one
        if [[ $(kv "$R" failed) != 0 ]]; then
            local f last=""
            for f in "$out".*; do grep -q ' connections in ' "$f" || { last=$(tail -n 1 "$f"); break; }; done
            note "$srv" "$w" "s10: $(kv "$R" failed) of $S_TIME_P s_time run(s) stopped early: $last"
        fi
    fi

    # s13-s15 HTTP/2 with h2load: h2c on the plain kinds, over TLS (ALPN h2 only) on the
    # *-tls kinds; s15 requests the page's 51 URIs in turn on each connection
    if h2_sc "$sc"; then
        out=$dir/$sc-h2load.txt
        local n=$H2_N h2opt=(-N 10s -c "$H2_C" -m "$H2_M")
        is_tls "$srv" && h2opt+=(--npn-list=h2)
        if [[ $sc == s15 ]]; then
            local round=$((PAGE_URIS * H2_C))
            n=$((H2_N / round * round))
            ((n > 0)) || n=$round
            sed "s|^|$base|" "$tmp/page-uris.txt" >"$dir/uris.txt"
            h2opt+=(-i "$dir/uris.txt")
        else
            h2opt+=("$base/1k.html")
        fi
        load "$srv" "$w" "$rep" "$sc" "$pid" h2load succeeded "$out" $((300 + n / 1000)) 1 \
            h2load -n "$n" "${h2opt[@]}"
        recs "$srv" "$w" "$rep" "$sc" "$R" rps mib_s h2_succeeded=succeeded h2_failed=failed \
            h2_errored=errored h2_timeout=timeout h2_non2xx=non2xx hdr_savings_pct=savings h2_proto=proto
        [[ $sc == s15 ]] && rec "$srv" "$w" "$rep" s15 pages_s "$(awk -v r="$(kv "$R" rps)" -v p="$PAGE_URIS" \
            'BEGIN { if (r != "nan") printf "%.2f", r / p; else print "nan" }')"
        # any failure, non-2xx answer or other protocol is a note, with h2load's own words
        local why
        why=$(grep -v -E '^(starting benchmark|spawning thread|progress:|Application protocol:|$)' "$out" |
            grep -m 1 -v -E '^(finished in|requests:|status codes:|traffic:|[[:space:]]+min|time for|time to|req/s)' || true)
        if [[ $(kv "$R" summary) != 1 ]]; then
            note "$srv" "$w" "$sc: h2load printed no summary (killed after $((300 + n / 1000)) s?): $(tail -n 1 "$out" 2>/dev/null || true)"
        elif [[ $(kv "$R" succeeded) != "$n" || $(kv "$R" non2xx) != 0 || $(kv "$R" failed) != 0 ]]; then
            local counts="$(kv "$R" succeeded) of $n requests succeeded; $(kv "$R" failed) failed"
            counts+=" ($(kv "$R" errored) errored; $(kv "$R" timeout) timed out); $(kv "$R" non2xx) non-2xx"
            note "$srv" "$w" "$sc: h2load: $counts; protocol $(kv "$R" proto)${why:+: $why}"
        elif [[ $(kv "$R" proto) != h2 && $(kv "$R" proto) != h2c ]]; then
            note "$srv" "$w" "$sc: h2load used $(kv "$R" proto), not HTTP/2"
        fi
    fi

    # s12 memory per idle TLS connection: handshake + one GET each, then held
    if [[ $sc == s12 ]]; then
        local idle_out=$dir/s12-idle.txt before after n i idler
        before=$(kv "$(python3 "$lib" mem "$pid")" pss_kib)
        python3 -u "$idle_py" --port "$port" -n "$IDLE_TLS_N" --hold 300 --setup-timeout 60 \
            --tls --cafile "$TLS_CERT" --concurrency "$IDLE_TLS_C" >"$idle_out" 2>&1 &
        idler=$!
        LIVE[$idler]=1
        for ((i = 0; i < 700; i++)); do
            grep -q '^READY' "$idle_out" 2>/dev/null && break
            kill -0 "$idler" 2>/dev/null || break
            sleep 0.1
        done
        sleep 1 # let the workers finish with the last responses
        after=$(kv "$(python3 "$lib" mem "$pid")" pss_kib)
        r=$(grep '^READY' "$idle_out" | head -n 1 || true)
        kill_pid "$idler" 50
        n=$(kv "$r" answered)
        recs "$srv" "$w" "$rep" s12 "$r" tls_idle_opened=opened tls_idle_answered=answered
        rec "$srv" "$w" "$rep" s12 tls_pss_before_kib "$before"
        rec "$srv" "$w" "$rep" s12 tls_pss_after_kib "$after"
        rec "$srv" "$w" "$rep" s12 kib_per_conn "$(awk -v a="$after" -v b="$before" -v n="$n" \
            'BEGIN { if (n + 0 > 0 && a != "nan" && b != "nan") printf "%.2f", (a - b) / n; else print "nan" }')"
        [[ $n == "$IDLE_TLS_N" ]] ||
            note "$srv" "$w" "s12: $n of $IDLE_TLS_N TLS connections answered ($(tail -n 1 "$idle_out" 2>/dev/null || true))"
    fi

    # s6 balance: connections opened one by one while the workers idle, all held
    if [[ $sc == s6 ]]; then
        out=$dir/s6-balance.txt
        local wopt=(--workers "$w")
        # lighttpd with one worker is one process (no children): balance.py then counts
        # the master itself as the only worker
        [[ $srv == lighttpd && $w == 1 ]] && wopt=()
        # balance.py stops at the first connection unanswered for 10 s (a sync worker holds
        # its one keep-alive connection); this bounds the rest
        timeout 120 python3 "$balance_py" --port "$port" --master "$pid" --conns "$BAL_CONNS" \
            "${wopt[@]}" >"$out" 2>&1 || true
        r=$(grep '^BALANCE' "$out" | head -n 1 || true)
        if [[ -n $r ]]; then
            recs "$srv" "$w" "$rep" s6 "$r" balance_min_ratio=min_ratio balance_max_ratio=max_ratio \
                balance_mean=mean balance_counts=counts balance_counted=counted \
                balance_answered=answered balance_stalls=stalls balance_closed=closed_by_server
        else
            note "$srv" "$w" "s6 balance gave no result: $(tail -n 1 "$out" 2>/dev/null || true)"
        fi
    fi

    [[ $sc == s4 ]] || { stop_server "$pid"; return 0; }

    # s4 starvation: idle keep-alive connections held while fresh clients are measured
    local hold=$(($(secs "$STARV_D") + PROBES * (PROBE_TIMEOUT + 1) + 30))
    local idle_out=$dir/s4-idle.txt
    python3 -u "$idle_py" --port "$port" -n "$IDLE_N" --hold "$hold" --setup-timeout 8 >"$idle_out" 2>&1 &
    local idler=$!
    LIVE[$idler]=1
    local i
    for ((i = 0; i < 150; i++)); do
        grep -q '^READY' "$idle_out" 2>/dev/null && break
        kill -0 "$idler" 2>/dev/null || break
        sleep 0.1
    done
    r=$(grep '^READY' "$idle_out" | head -n 1 || true)
    recs "$srv" "$w" "$rep" s4 "$r" idle_opened=opened idle_answered=answered
    out=$dir/s4-wrk.txt
    timeout $(($(secs "$STARV_D") + 60)) wrk -t1 -c10 -d"$STARV_D" --latency "$base/1k.html" >"$out" 2>&1 || true
    r=$(python3 "$lib" wrk "$out")
    recs "$srv" "$w" "$rep" s4 "$r" rps p99_ms wrk_errors=errors
    local starved=0 code t times=()
    for ((i = 0; i < PROBES; i++)); do
        read -r code t < <(curl -s -o /dev/null -m "$PROBE_TIMEOUT" -w '%{http_code} %{time_total}\n' \
            "$base/1k.html" 2>/dev/null || true) || true
        if [[ ${code:-000} != 200 ]]; then starved=$((starved + 1)); else times+=("$t"); fi
    done
    rec "$srv" "$w" "$rep" s4 starved "$starved"
    if ((${#times[@]})); then
        rec "$srv" "$w" "$rep" s4 probe_p50_ms "$(printf '%s\n' "${times[@]}" | sort -g |
            awk '{a[NR]=$1} END{printf "%.3f", a[int((NR+1)/2)]*1000}')"
    fi
    kill_pid "$idler" 50
    r=$(grep '^DONE' "$idle_out" | head -n 1 || true)
    [[ -n $r ]] && rec "$srv" "$w" "$rep" s4 idle_closed_by_server "$(kv "$r" closed_by_server)"

    stop_server "$pid"
}

# ----------------------------------------------------------------------------- main
if [[ " $SERVERS " == *" preforkd-"* && ! -x $PREFORKD && $PREFORKD == target/release/preforkd ]]; then
    echo "bench: $PREFORKD missing, trying cargo build --release (bounded to 15 min)" >&2
    timeout 900 cargo build --release >"$tmp/cargo-build.log" 2>&1 ||
        echo "bench: cargo build failed, see below; preforkd variants will be skipped" >&2
    tail -n 3 "$tmp/cargo-build.log" >&2 || true
fi

# Same keep-alive timeout as nginx/lighttpd, when the binary has the option.
PREFORKD_EXTRA=()
if [[ -x $PREFORKD ]] && "$PREFORKD" --help 2>&1 | grep -q -- '--keepalive-timeout'; then
    PREFORKD_EXTRA+=(--keepalive-timeout "$KEEPALIVE_TIMEOUT")
fi

active=()
for s in $SERVERS; do
    if why=$(have_server "$s"); then active+=("$s"); else note "$s" all "$why (skipped)"; fi
done

runs=()
for sc in s1 s2 s3 s7 s8 s9 s10 s11 s13 s14 s15 s4 s6 s12; do want "$sc" && runs+=("$sc"); done
((${#runs[@]})) || runs=(s5)

# The HTTPS kinds' certificate, once per run: self-signed ECDSA P-256 for localhost and
# 127.0.0.1, valid 2 days, key unencrypted (PKCS#8 PEM), both in the temp dir.
TLS_CERT=$tmp/cert.pem TLS_KEY=$tmp/key.pem
if [[ " ${active[*]} " == *-tls" "* ]]; then
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$TLS_KEY" -out "$TLS_CERT" >"$tmp/openssl-req.log" 2>&1; then
        kept=()
        for s in "${active[@]}"; do
            if is_tls "$s"; then note "$s" all "openssl req failed: $(tail -n 1 "$tmp/openssl-req.log") (skipped)"; else kept+=("$s"); fi
        done
        active=("${kept[@]}")
    fi
fi
# A kind none of whose scenarios was named runs nothing but says so.
for s in "${active[@]}"; do
    n=0
    for sc in "${runs[@]}"; do runs_on "$s" "$sc" && n=$((n + 1)); done
    ((n)) || note "$s" all "none of its scenarios is in SCENARIOS ($(is_tls "$s" && echo "HTTPS kinds run s9-s12 s14 s15" || echo "it runs s1-s8 s13 s15; not the HTTPS s9-s12 s14"))"
done

nw=$(wc -w <<<"$WORKERS")
per=$(($(secs "$WRK_D") * 2 + $(secs "$STARV_D") + 25))
want s6 && per=$((per + 3))
# the HTTPS kinds run only s9-s12: roughly a wrk run, an s_time run and an s12 each
tls_per=0
want s9 && tls_per=$((tls_per + $(secs "$WRK_D") + 3))
want s11 && tls_per=$((tls_per + $(secs "$WRK_D") + 3))
want s10 && tls_per=$((tls_per + S_TIME_D + 4))
want s12 && tls_per=$((tls_per + 12))
# HTTP/2: guessed at 25000 req/s for 1 KiB and 10000 for the page mix, plus the start
h2_per=0
want s13 && per=$((per + H2_N / 25000 + 3))
want s14 && tls_per=$((tls_per + H2_N / 25000 + 3))
want s15 && h2_per=$((H2_N / 10000 + 3))
est=0
for s in "${active[@]}"; do if is_tls "$s"; then est=$((est + tls_per + h2_per)); else est=$((est + per + h2_per)); fi; done
{
    echo "# preforkd benchmark"
    echo
    echo "- date: $(date -Is)"
    echo "- nproc: $(nproc)"
    echo "- kernel: $(uname -srvm)"
    echo "- nginx: $(nginx -v 2>&1 | head -n 1 || echo none)"
    echo "- lighttpd: $(lighttpd -v 2>&1 | head -n 1 || echo none)"
    echo "- wrk: $(wrk -v 2>&1 | head -n 1 || true)"
    echo "- ab: $(ab -V 2>&1 | head -n 1 || true)"
    if [[ -x $PREFORKD ]]; then
        echo "- preforkd: $PREFORKD ($("$PREFORKD" --version 2>&1 | head -n 1 || true))"
        echo "- preforkd extra args: ${PREFORKD_EXTRA[*]:-none (its --help shows no --keepalive-timeout: runs with its default)}"
    fi
    echo "- servers: ${active[*]:-none}; workers: $WORKERS; reps: $REPS"
    echo "- wrk -t$WRK_T -c100/-c$DL_C -d$WRK_D; ab -n $AB_N -c $AB_C -r; starvation: $IDLE_N idle conns," \
        "wrk -c10 -d$STARV_D, $PROBES probes -m $PROBE_TIMEOUT; balance: $BAL_CONNS conns"
    echo "- keep-alive: timeout ${KEEPALIVE_TIMEOUT}s for all (preforkd via --keepalive-timeout when it has it)," \
        "max $KEEPALIVE_REQUESTS requests per connection for nginx/lighttpd; access logs off everywhere"
    if [[ " ${active[*]} " == *-tls" "* ]]; then
        echo "- HTTPS (s9-s12): $(openssl version 2>&1); certificate: self-signed ECDSA P-256" \
            "(CN=localhost, SAN localhost and 127.0.0.1), made for this run; nginx-tls: TLSv1.2 and" \
            "TLSv1.3, ssl_session_cache off, ssl_session_tickets off, NumTickets 0, sendfile off (no kTLS);" \
            "s_time: $S_TIME_P process(es) x ${S_TIME_D}s; idle TLS connections: $IDLE_TLS_N," \
            "$IDLE_TLS_C at a time"
    fi
    if want s13 || want s14 || want s15; then
        s15_n=$((H2_N / (PAGE_URIS * H2_C) * PAGE_URIS * H2_C))
        ((s15_n > 0)) || s15_n=$((PAGE_URIS * H2_C))
        echo "- HTTP/2 (s13-s15): $(h2load --version 2>&1 | head -n 1); -c $H2_C -m $H2_M -N 10s, one thread;" \
            "-n $H2_N in s13/s14, -n $s15_n in s15 (pages of $PAGE_URIS URIs); nginx: \`listen ... http2\`" \
            "(h2c) / \`listen ... ssl http2\`; over TLS h2load offers ALPN h2 only; keep-alive request" \
            "limit in these sessions: $((H2_N > KEEPALIVE_REQUESTS ? H2_N : KEEPALIVE_REQUESTS)) (nginx, lighttpd)"
    fi
    echo "- client and servers share the same $(nproc) cores (no pinning)"
    echo "- estimated time: >= $((nw * REPS * est / 60)) min" \
        "(+ up to $((PROBES * PROBE_TIMEOUT))s per session for starved probes)"
    echo
} | tee "$md"

((${#active[@]})) || die "no server available"

# Scenario by scenario, each server in turn on a fresh start, so the runs compared are
# seconds apart; the order reverses every repetition (A B C, C B A, ...) so that neither
# end of a round is favoured by drift on the host.
reversed=()
for ((i = ${#active[@]} - 1; i >= 0; i--)); do reversed+=("${active[i]}"); done
for w in $WORKERS; do
    for ((rep = 1; rep <= REPS; rep++)); do
        order=("${active[@]}")
        ((rep % 2 == 0)) && order=("${reversed[@]}")
        for sc in "${runs[@]}"; do
            for s in "${order[@]}"; do
                [[ -n ${DISABLED[$s]:-} ]] && continue
                runs_on "$s" "$sc" || continue
                run_session "$s" "$w" "$rep" "$sc"
            done
        done
    done
done

echo >&2
python3 "$lib" report "$csv" "$OUTDIR" | tee -a "$md"
echo "CSV: $csv" | tee -a "$md"
echo "Markdown: $md"
