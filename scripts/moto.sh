#!/usr/bin/env bash
# A local S3 API server for tests and examples: moto's server (Apache-2.0), installed from PyPI
# into a cached virtual environment and started on loopback (in-memory: its buckets are lost
# when it stops).
#
#   scripts/moto.sh start     install if needed, start, wait until ready; the last line of
#                             output is the endpoint (http://127.0.0.1:PORT)
#   scripts/moto.sh stop      stop the server started here
#   scripts/moto.sh address   print the endpoint of the running server
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

source scripts/daemon.sh
running() { daemon_running "$pidfile"; }
ready() { daemon_ready "$port"; }

install() {
    # `installed` is written last, so an interrupted install is redone from scratch.
    [[ -f "$venv/installed" && -x "$venv/bin/moto_server" ]] && return
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
    touch "$venv/installed"
}

# One start or stop at a time: test binaries running in parallel may all ask for the server.
mkdir -p "$dir"
exec 9> "$dir/lock"
flock 9

case "${1:-}" in
start)
    install
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
    # 9>&-: the server must not hold the lock.
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$dir/moto.log" 2>&1 9>&- &
    echo $! > "$pidfile"
    daemon_wait "moto.sh: S3 server" "$pidfile" "$port" "$dir/moto.log" 300 "$endpoint"
    ;;
stop)
    daemon_stop "$pidfile"
    ;;
address)
    running && echo "$endpoint"
    ;;
*)
    echo "usage: scripts/moto.sh start|stop|address" >&2
    exit 2
    ;;
esac
