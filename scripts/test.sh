#!/usr/bin/env bash
# Every check CI runs, in order: formatting, lints, then all tests (unit, integration, the
# examples' smoke tests, the conformance cases, doc tests). `.ci/run` calls exactly this.
# The Kafka tests need a broker: a local Tansu is installed and started (scripts/kafka.sh)
# unless EDDY_KAFKA_BROKERS names one. The SQL differential tests need PostgreSQL: a private
# cluster is installed and started (scripts/postgres.sh) unless EDDY_TEST_PG names a server.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# What this script started, stopped when it exits.
cleanup=()
trap 'for step in "${cleanup[@]}"; do $step || true; done' EXIT

echo "== Kafka broker (for the Kafka connector's tests)"
if [[ -z "${EDDY_KAFKA_BROKERS:-}" ]]; then
    if ! bash scripts/kafka.sh address > /dev/null; then
        cleanup+=("bash scripts/kafka.sh stop")
    fi
    EDDY_KAFKA_BROKERS=$(bash scripts/kafka.sh start | tail -n 1)
    export EDDY_KAFKA_BROKERS
fi
echo "brokers: $EDDY_KAFKA_BROKERS"

echo "== PostgreSQL (for the SQL differential tests)"
if [[ -z "${EDDY_TEST_PG:-}" ]]; then
    if ! bash scripts/postgres.sh address > /dev/null; then
        cleanup+=("bash scripts/postgres.sh stop")
    fi
    EDDY_TEST_PG=$(bash scripts/postgres.sh start | tail -n 1)
    export EDDY_TEST_PG
fi
echo "postgres: $EDDY_TEST_PG"

echo "== cargo test"
cargo test --workspace --all-targets --locked

echo "== doc tests"
cargo test --workspace --doc --locked
