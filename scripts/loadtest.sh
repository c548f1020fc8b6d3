#!/usr/bin/env bash
# Load test for preforkd: for each worker count, start the server on a 1 KiB
# file, run ab and wrk against it on 127.0.0.1, stop it, print a table. The server
# runs with a status listener (--status-bind), read before and after each tool's run,
# so the table also says how many requests each worker answered; and a PNG shows
# requests/s, p99 and that spread against workers, one line per tool.
#
# Usage:  scripts/loadtest.sh
# Env:    WORKERS="1 2 4 8"   worker counts to test
#         PREFORKD=target/release/preforkd   server binary (built if missing)
#         MODEL=sync|event    pass --worker-model MODEL (default: server's default)
#         AB_N=50000 AB_C=100 ab request count / concurrency
#         WRK_D=10s WRK_C=100 wrk duration / connections
#         PORT=18480          first port (incremented per run)
#         PLOT=scripts/results/loadtest.png   where the PNG goes (empty: none; needs gnuplot)
#         KEEP_TMP=1          keep the temp dir (logs, raw outputs, /status.json readings)
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
PLOT=${PLOT-scripts/results/loadtest.png}

missing=()
for t in ab wrk curl python3; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((${#missing[@]})); then
    echo "loadtest: missing tool(s): ${missing[*]}" >&2
    echo "install with: apt-get install apache2-utils wrk   (curl, python3 too if missing)" >&2
    exit 1
fi
if [[ -n $PLOT ]] && ! command -v gnuplot >/dev/null 2>&1; then
    echo "loadtest: no gnuplot, so no plot (apt-get install gnuplot-nox; PLOT= to silence)" >&2
    PLOT=""
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

# The next free port from $port on.
free_port() {
    while ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$port))" 2>/dev/null; do
        port=$((port + 1))
    done
}

# Reads /status.json into FILE; a reading that fails leaves no file.
read_status() { # file
    curl -sf -m 5 -o "$1" "http://127.0.0.1:$sport/status.json" || rm -f "$1"
}

# The requests each worker slot answered between two readings -> key=value words
# (benchlib.py spread), or nothing if either reading is missing.
served() { # before after
    [[ -s $1 && -s $2 ]] && python3 "$lib" spread "$1" "$2"
}

rows=()
spread_rows=()
dat=$tmp/loadtest.dat
echo "# workers ab_rps ab_p99_ms ab_min_mean ab_max_mean wrk_rps wrk_p99_ms wrk_min_mean wrk_max_mean" >"$dat"
nan() { [[ -z $1 || $1 == nan || $1 == - ]] && echo NaN || echo "$1"; }
port=$PORT
for w in $WORKERS; do
    free_port
    hport=$port
    port=$((port + 1))
    free_port
    sport=$port
    port=$((port + 1))
    url="http://127.0.0.1:$hport/1k.html"
    log=$tmp/server-w$w.log
    args=(-w "$w" -r "$docroot" -b "127.0.0.1:$hport" --status-bind "127.0.0.1:$sport")
    [[ -n $MODEL ]] && args+=(--worker-model "$MODEL")
    # own session/process group: a master that signals its process group on shutdown
    # must not hit this script (setsid execs in place, so $! is the server itself)
    setsid "$PREFORKD" "${args[@]}" >"$log" 2>&1 &
    server_pid=$!
    if ! wait_ready "$url" "$server_pid"; then
        echo "loadtest: server with -w $w did not answer 200 on $url; log tail:" >&2
        tail -n 20 "$log" >&2 || true
        stop_server
        rows+=("$(printf '| %7s | %9s | %9s | %9s | %11s | %11s | %9s | %10s | %12s | %12s |' \
            "$w" "no-start" "-" "-" "-" "-" "-" "-" "-" "-")")
        continue
    fi

    # /status.json before ab, between the tools and after wrk: the difference of two
    # readings is what each worker answered for that tool (wait_ready's one GET is
    # before the first).
    read_status "$tmp/status-w$w-0.json"
    timeout 600 ab -n "$AB_N" -c "$AB_C" -r "$url" >"$tmp/ab-w$w.txt" 2>&1 || true
    read_status "$tmp/status-w$w-1.json"
    timeout 600 wrk -t1 -c"$WRK_C" -d"$WRK_D" --latency "$url" >"$tmp/wrk-w$w.txt" 2>&1 || true
    read_status "$tmp/status-w$w-2.json"
    stop_server

    declare -A A=() W=() SA=() SW=()
    for kv in $(python3 "$lib" ab "$tmp/ab-w$w.txt"); do A[${kv%%=*}]=${kv#*=}; done
    for kv in $(python3 "$lib" wrk "$tmp/wrk-w$w.txt"); do W[${kv%%=*}]=${kv#*=}; done
    for kv in $(served "$tmp/status-w$w-0.json" "$tmp/status-w$w-1.json"); do SA[${kv%%=*}]=${kv#*=}; done
    for kv in $(served "$tmp/status-w$w-1.json" "$tmp/status-w$w-2.json"); do SW[${kv%%=*}]=${kv#*=}; done
    note=""
    ((${W[errors]:-0} > 0)) && note+=" wrk-errors=${W[errors]}"
    ((${W[non2xx]:-0} > 0)) && note+=" wrk-non2xx=${W[non2xx]}"
    [[ ${A[complete]:-0} != "$AB_N" ]] && note+=" ab-complete=${A[complete]:-0}/$AB_N"
    [[ -n ${SA[served]:-} && -n ${SW[served]:-} ]] || note+=" no-status-reading"
    rows+=("$(printf '| %7s | %9s | %9s | %9s | %11s | %11s | %9s | %10s | %12s | %12s |%s' "$w" \
        "${A[rps]}" "${A[failed]}" "${A[p99_ms]}" "${SA[min_mean]:--}" "${SA[max_mean]:--}" \
        "${W[rps]}" "${W[p99_ms]}" "${SW[min_mean]:--}" "${SW[max_mean]:--}" "${note:+ $note}")")
    per_ab=${SA[per_worker]:--} per_wrk=${SW[per_worker]:--}
    spread_rows+=("| $w | ab | ${SA[served]:--} | ${A[complete]:--} | ${per_ab//\// } |")
    spread_rows+=("| $w | wrk | ${SW[served]:--} | ${W[requests]:--} | ${per_wrk//\// } |")
    echo "$w $(nan "${A[rps]}") $(nan "${A[p99_ms]}") $(nan "${SA[min_mean]:-}") $(nan "${SA[max_mean]:-}")" \
        "$(nan "${W[rps]}") $(nan "${W[p99_ms]}") $(nan "${SW[min_mean]:-}") $(nan "${SW[max_mean]:-}")" >>"$dat"
    unset A W SA SW
done

printf '| %7s | %9s | %9s | %9s | %11s | %11s | %9s | %10s | %12s | %12s |\n' workers "ab req/s" \
    "ab failed" "ab p99 ms" "ab min/mean" "ab max/mean" "wrk req/s" "wrk p99 ms" "wrk min/mean" \
    "wrk max/mean"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' --------: ----------: ----------: ----------: \
    ------------: ------------: ----------: -----------: -------------: -------------:
printf '%s\n' "${rows[@]}"
echo
echo "Requests each worker answered, from the server's /status.json (min/mean and max/mean"
echo "above: 1.00 both is an even spread). served: all the workers together; the tool's"
echo "count: the responses it read (wrk stops with responses in flight, which the server"
echo "counted as it wrote them)."
echo
echo "| workers | tool | served | the tool's count | per worker (slot order) |"
echo "|--------:|------|-------:|-----------------:|-------------------------|"
((${#spread_rows[@]})) && printf '%s\n' "${spread_rows[@]}"

if [[ -n $PLOT ]]; then
    mkdir -p "$(dirname "$PLOT")"
    title="preforkd load test: /1k.html, ab -n $AB_N -c $AB_C (a connection per request),"
    title+=" wrk -t1 -c$WRK_C -d$WRK_D (keep-alive); $(date +%F), $(nproc) CPUs${MODEL:+, $MODEL model}"
    echo
    python3 "$lib" loadplot "$dat" "$PLOT" "$title" || echo "loadtest: the plot failed" >&2
fi
