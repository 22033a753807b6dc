#!/usr/bin/env bash
# A private PostgreSQL for the SQL differential tests and the PostgreSQL connector: Debian's
# `postgresql` package (installed if missing), a fresh cluster made by `initdb` in a temporary
# directory (locale C, UTF8, trust authentication, listening on loopback only, no fsync) and
# started with `pg_ctl` on a free port.
# `wal_level = logical` with room for replication slots, for the PostgreSQL connector's CDC
# source (crates/eddy-postgres).
# PostgreSQL refuses to run as root, so as root the server runs as the unprivileged user
# `postgres` (the package creates it; EDDY_PG_USER picks another, created if missing).
#
#   scripts/postgres.sh start    install if needed, start, wait until it accepts connections;
#                                the last line of output is its address (127.0.0.1:PORT); also
#                                writes `$dir/env` with `EDDY_TEST_PG=127.0.0.1:PORT`
#   scripts/postgres.sh stop     stop the server started here and delete its cluster
#   scripts/postgres.sh address  print the address of the running server
#   scripts/postgres.sh restart [SECONDS]
#                                stop the running server (fast shutdown), wait SECONDS (default
#                                0), start it again on the same port with the same data (for
#                                the connector's server-restart test)
#
# Connect with `psql -X -h 127.0.0.1 -p PORT -U postgres postgres` (no password).
# EDDY_PG_PORT picks the port (default: the first free one from 15432), EDDY_PG_DIR (default
# target/postgres) where the state files (data directory path, port, env) live.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${EDDY_PG_DIR:-target/postgres}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
datafile="$dir/datadir"
portfile="$dir/port"
# One start or stop at a time: test binaries running in parallel may all ask for the server.
exec 9> "$dir/lock"
flock 9

bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n "$found" && -x "$found/initdb" ]] && echo "$found"
}

install() {
    bindir > /dev/null && return
    if [[ $(id -u) -ne 0 ]]; then
        echo "postgres.sh: PostgreSQL is not installed and only root can install it (apt-get install postgresql)" >&2
        exit 1
    fi
    echo "postgres.sh: installing Debian's postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq > /dev/null
    apt-get install -y -qq postgresql > /dev/null
    bindir > /dev/null || { echo "postgres.sh: no initdb after installing postgresql" >&2; exit 1; }
}

# Runs a PostgreSQL program as the unprivileged user when we are root. The lock's descriptor
# is closed for it: a server that inherited it would hold the lock as long as it runs.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$owner" -- "$@" 9>&-
    else
        "$@" 9>&-
    fi
}

choose_owner() {
    owner=$(id -un)
    [[ $(id -u) -ne 0 ]] && return
    owner=${EDDY_PG_USER:-postgres}
    if ! id "$owner" > /dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
    fi
}

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
    [[ -f "$datafile" && -f "$portfile" ]] || return 1
    local data
    data=$(cat "$datafile")
    [[ -f "$data/postmaster.pid" ]] && kill -0 "$(head -n 1 "$data/postmaster.pid")" 2>/dev/null
}

address() {
    echo "127.0.0.1:$(cat "$portfile")"
}

# Starts the cluster on `$1`; fails (leaving the cluster stopped) if the port cannot be bound.
start_on() {
    local port=$1 data=$2 bin=$3
    as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 -s \
        -o "-p $port -k $data" start > /dev/null 2>&1
}

case "${1:-}" in
start)
    if running; then
        address
        exit 0
    fi
    install
    bin=$(bindir)
    choose_owner
    # A cluster left behind by a run that did not stop it is deleted first.
    if [[ -f "$datafile" ]]; then
        case "$(cat "$datafile")" in
        /tmp/eddy-pg.*) rm -rf "$(cat "$datafile")" ;;
        esac
    fi
    data=$(mktemp -d /tmp/eddy-pg.XXXXXX)
    chmod 700 "$data"
    [[ $(id -u) -eq 0 ]] && chown "$owner" "$data"
    echo "$data" > "$datafile"
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --locale=C --encoding=UTF8 \
        --no-sync > "$dir/initdb.log" 2>&1 || {
        echo "postgres.sh: initdb failed; its log:" >&2
        tail -n 20 "$dir/initdb.log" >&2
        exit 1
    }
    # Loopback only, sockets in the data directory (the system's /var/run/postgresql may not be
    # writable), and no durability: the cluster is thrown away after the tests.
    cat >> "$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
EOF
    if [[ -n "${EDDY_PG_PORT:-}" ]]; then
        ports=("$EDDY_PG_PORT")
    else
        ports=($(seq 15432 15531))
    fi
    for port in "${ports[@]}"; do
        listening "$port" && continue
        if start_on "$port" "$data" "$bin"; then
            echo "$port" > "$portfile"
            for _ in $(seq 1 300); do
                if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
                    echo "EDDY_TEST_PG=$(address)" > "$dir/env"
                    echo "postgres.sh: PostgreSQL running on $(address) (data $data, log $data/server.log)" >&2
                    address
                    exit 0
                fi
                sleep 0.1
            done
            echo "postgres.sh: PostgreSQL did not accept connections within 30 s; log:" >&2
            tail -n 20 "$data/server.log" >&2
            exit 1
        fi
    done
    echo "postgres.sh: could not start PostgreSQL on any of the ports tried; log:" >&2
    tail -n 20 "$data/server.log" >&2 || true
    exit 1
    ;;
stop)
    if [[ -f "$datafile" ]]; then
        data=$(cat "$datafile")
        if running; then
            choose_owner
            as_owner "$(bindir)/pg_ctl" -D "$data" -m immediate -w -s stop > /dev/null 2>&1 || true
        fi
        case "$data" in
        /tmp/eddy-pg.*) rm -rf "$data" ;;
        esac
    fi
    rm -f "$datafile" "$portfile" "$dir/env"
    ;;
address)
    running && address
    ;;
restart)
    if ! running; then
        echo "postgres.sh: no server started here is running" >&2
        exit 1
    fi
    choose_owner
    bin=$(bindir)
    data=$(cat "$datafile")
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -s stop > /dev/null 2>&1
    sleep "${2:-0}"
    start_on "$(cat "$portfile")" "$data" "$bin" || {
        echo "postgres.sh: could not start PostgreSQL again; log:" >&2
        tail -n 20 "$data/server.log" >&2
        exit 1
    }
    address
    ;;
*)
    echo "usage: scripts/postgres.sh start|stop|address|restart [SECONDS]" >&2
    exit 2
    ;;
esac
