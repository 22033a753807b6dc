#!/usr/bin/env bash
# A local S3 API server for tests and examples: moto's server (Apache-2.0), installed from PyPI
# into a cached virtual environment and started on loopback (in-memory: its buckets are lost
# when it stops).
#
#   scripts/moto.sh start     install if needed, start, wait until ready; the last line of
#                             output is the endpoint (http://127.0.0.1:PORT)
#   scripts/moto.sh stop      stop the server started here
#   scripts/moto.sh endpoint  print the endpoint of the running server
#
# EDDY_MOTO_PORT (default 15000) picks the port, EDDY_MOTO_DIR (default target/moto) where the
# log and the pid file live, EDDY_MOTO_VENV (default target/moto/venv) the virtual environment.
# Clients use any key and secret and the region us-east-1, with path-style requests.
# With EDDY_MOTO_AUTH=1 the server checks credentials (moto's IAM authentication from the first
# request on) and, having no users, refuses every key: the tests of the error for bad
# credentials use such a second server (scripts/test.sh starts it on port 15001).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${EDDY_MOTO_DIR:-target/moto}
port=${EDDY_MOTO_PORT:-15000}
endpoint="http://127.0.0.1:$port"
venv=${EDDY_MOTO_VENV:-target/moto/venv}
pidfile="$dir/moto.pid"
requirement='moto[server]==5.2.6'

running() {
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ready() {
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

install() {
    # `installed` is written last, so an interrupted install is redone from scratch.
    [[ -f "$venv/installed" && -x "$venv/bin/moto_server" ]] && return
    mkdir -p "$dir" "$(dirname "$venv")"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
    touch "$venv/installed"
}

case "${1:-}" in
start)
    install
    mkdir -p "$dir"
    if running; then
        echo "$endpoint"
        exit 0
    fi
    if ready; then
        echo "moto.sh: port $port is taken by another program (set EDDY_MOTO_PORT)" >&2
        exit 1
    fi
    if [[ "${EDDY_MOTO_AUTH:-0}" == 1 ]]; then
        export INITIAL_NO_AUTH_ACTION_COUNT=0
    else
        unset INITIAL_NO_AUTH_ACTION_COUNT
    fi
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$dir/moto.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 300); do
        if ready; then
            echo "moto.sh: S3 server running (pid $(cat "$pidfile"), log $dir/moto.log)" >&2
            echo "$endpoint"
            exit 0
        fi
        if ! running; then
            echo "moto.sh: the server exited; its log:" >&2
            tail -n 20 "$dir/moto.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "moto.sh: the server did not listen on $endpoint within 30 s; log: $dir/moto.log" >&2
    exit 1
    ;;
stop)
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    ;;
endpoint)
    running && echo "$endpoint"
    ;;
*)
    echo "usage: scripts/moto.sh start|stop|endpoint" >&2
    exit 2
    ;;
esac
