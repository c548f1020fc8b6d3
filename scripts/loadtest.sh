#!/usr/bin/env bash
# Load test for preforkd: for each worker count, start the server on a 1 KiB
# file, run ab and wrk against it on 127.0.0.1, stop it, print a table.
#
# Usage:  scripts/loadtest.sh
# Env:    WORKERS="1 2 4 8"   worker counts to test
#         PREFORKD=target/release/preforkd   server binary (built if missing)
#         MODEL=sync|event    pass --worker-model MODEL (default: server's default)
#         AB_N=50000 AB_C=100 ab request count / concurrency
#         WRK_D=10s WRK_C=100 wrk duration / connections
#         PORT=18480          first port (incremented per run)
#         KEEP_TMP=1          keep the temp dir (logs, raw outputs)
# Smoke:  AB_N=5000 WRK_D=3s WORKERS="1 2" scripts/loadtest.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
lib="$here/benchlib.py"

WORKERS=${WORKERS:-"1 2 4 8"}
PREFORKD=${PREFORKD:-target/release/preforkd}
MODEL=${MODEL:-}
AB_N=${AB_N:-50000}
AB_C=${AB_C:-100}
WRK_D=${WRK_D:-10s}
WRK_C=${WRK_C:-100}
PORT=${PORT:-18480}
KEEP_TMP=${KEEP_TMP:-0}

missing=()
for t in ab wrk curl python3; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((${#missing[@]})); then
    echo "loadtest: missing tool(s): ${missing[*]}" >&2
    echo "install with: apt-get install apache2-utils wrk   (curl, python3 too if missing)" >&2
    exit 1
fi

cd "$repo"
if [[ ! -x $PREFORKD ]]; then
    if [[ $PREFORKD == target/release/preforkd ]]; then
        echo "loadtest: $PREFORKD missing, running cargo build --release" >&2
        cargo build --release >&2
    fi
    [[ -x $PREFORKD ]] || { echo "loadtest: server binary $PREFORKD not found" >&2; exit 1; }
fi
PREFORKD=$(cd "$(dirname "$PREFORKD")" && pwd)/$(basename "$PREFORKD")

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d /tmp/preforkd-loadtest.XXXXXX)
docroot=$tmp/docroot
mkdir -p "$docroot"
python3 - "$docroot/1k.html" <<'EOF_PY'
import sys  # exactly 1024 bytes of HTML
head = b"<!DOCTYPE html><html><head><title>1k</title></head><body><p>"
tail = b"</p></body></html>\n"
body = (b"preforkd load test: one kibibyte of text. " * 40)[:1024 - len(head) - len(tail)]
open(sys.argv[1], "wb").write(head + body + tail)
EOF_PY

server_pid=""
stop_server() {
    local pid=$server_pid
    [[ -n $pid ]] || return 0
    server_pid=""
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "loadtest: server $pid ignored SIGTERM for 10s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop_server
    if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then
        echo "loadtest: logs kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() { # url pid -> 0 when it answers 200, 1 on death/timeout (10 s)
    local url=$1 pid=$2 i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [[ $(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null) == 200 ]] && return 0
        sleep 0.05
    done
    return 1
}

echo "# preforkd load test"
echo "date:    $(date -Is)"
echo "nproc:   $(nproc)"
echo "kernel:  $(uname -srvm)"
echo "server:  $PREFORKD${MODEL:+ --worker-model $MODEL}"
echo "ab:      -n $AB_N -c $AB_C -r        wrk: -t1 -c$WRK_C -d$WRK_D --latency"
echo "file:    /1k.html ($(stat -c %s "$docroot/1k.html") bytes)"
echo

rows=()
port=$PORT
for w in $WORKERS; do
    while ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$port))" 2>/dev/null; do
        port=$((port + 1))
    done
    url="http://127.0.0.1:$port/1k.html"
    log=$tmp/server-w$w.log
    args=(-w "$w" -r "$docroot" -b "127.0.0.1:$port")
    [[ -n $MODEL ]] && args+=(--worker-model "$MODEL")
    # own session/process group: a master that signals its process group on shutdown
    # must not hit this script (setsid execs in place, so $! is the server itself)
    setsid "$PREFORKD" "${args[@]}" >"$log" 2>&1 &
    server_pid=$!
    if ! wait_ready "$url" "$server_pid"; then
        echo "loadtest: server with -w $w did not answer 200 on $url; log tail:" >&2
        tail -n 20 "$log" >&2 || true
        stop_server
        rows+=("$(printf '| %7s | %12s | %9s | %9s | %12s | %10s |' "$w" "no-start" "-" "-" "-" "-")")
        port=$((port + 1))
        continue
    fi

    timeout 600 ab -n "$AB_N" -c "$AB_C" -r "$url" >"$tmp/ab-w$w.txt" 2>&1 || true
    timeout 600 wrk -t1 -c"$WRK_C" -d"$WRK_D" --latency "$url" >"$tmp/wrk-w$w.txt" 2>&1 || true
    stop_server

    declare -A A=() W=()
    for kv in $(python3 "$lib" ab "$tmp/ab-w$w.txt"); do A[${kv%%=*}]=${kv#*=}; done
    for kv in $(python3 "$lib" wrk "$tmp/wrk-w$w.txt"); do W[${kv%%=*}]=${kv#*=}; done
    note=""
    ((${W[errors]:-0} > 0)) && note+=" wrk-errors=${W[errors]}"
    ((${W[non2xx]:-0} > 0)) && note+=" wrk-non2xx=${W[non2xx]}"
    [[ ${A[complete]:-0} != "$AB_N" ]] && note+=" ab-complete=${A[complete]:-0}/$AB_N"
    rows+=("$(printf '| %7s | %12s | %9s | %9s | %12s | %10s |%s' "$w" "${A[rps]}" "${A[failed]}" \
        "${A[p99_ms]}" "${W[rps]}" "${W[p99_ms]}" "${note:+ $note}")")
    unset A W
    port=$((port + 1))
done

printf '| %7s | %12s | %9s | %9s | %12s | %10s |\n' workers "ab req/s" "ab failed" "ab p99 ms" "wrk req/s" "wrk p99 ms"
printf '|%s|%s|%s|%s|%s|%s|\n' --------: -------------: ----------: ----------: -------------: -----------:
printf '%s\n' "${rows[@]}"
