#!/usr/bin/env bash
# Every check CI runs, in order: formatting, lints, then all tests (unit, integration, the
# examples' smoke tests, the conformance cases, doc tests). `.ci/run` calls exactly this.
# The Kafka tests need a broker: a local Tansu is installed and started (scripts/kafka.sh)
# unless EDDY_KAFKA_BROKERS names one. The SQL differential tests need PostgreSQL: a private
# cluster is installed and started (scripts/postgres.sh) unless EDDY_TEST_PG names a server.
# The checkpoints-on-S3 tests need an S3 API server: moto is installed and started
# (scripts/moto.sh) unless EDDY_TEST_S3 names one, with a second one refusing every credential
# unless EDDY_TEST_S3_AUTH names one. EDDY_TEST_S3=skip skips those tests (loudly).
# The Kubernetes manifests are rendered and validated offline (scripts/k8s-validate.sh).
# The Slurm test (scripts/slurm.sh test) is not run here: it starts system daemons as root.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# What this script started, stopped when it exits.
cleanup=()
trap 'for step in "${cleanup[@]}"; do $step || true; done' EXIT

# Sets the variable $1 to the address `$2... start` prints, unless it names a server already;
# a server this script started is stopped when it exits.
server() {
    local variable=$1 value
    shift
    if [[ -z "${!variable:-}" ]]; then
        if ! "$@" address > /dev/null; then
            cleanup+=("$* stop")
        fi
        value=$("$@" start | tail -n 1)
        export "$variable=$value"
    fi
}

echo "== Kafka broker (for the Kafka connector's tests)"
server EDDY_KAFKA_BROKERS bash scripts/kafka.sh
echo "brokers: $EDDY_KAFKA_BROKERS"

echo "== PostgreSQL (for the SQL differential tests)"
server EDDY_TEST_PG bash scripts/postgres.sh
echo "postgres: $EDDY_TEST_PG"

echo "== S3 API servers (for checkpoints on S3)"
server EDDY_TEST_S3 bash scripts/moto.sh
if [[ "$EDDY_TEST_S3" != skip ]]; then
    server EDDY_TEST_S3_AUTH env EDDY_MOTO_AUTH=1 EDDY_MOTO_PORT=15001 EDDY_MOTO_DIR=target/moto-auth bash scripts/moto.sh
fi
echo "s3: $EDDY_TEST_S3 (refusing credentials: ${EDDY_TEST_S3_AUTH:-none})"

echo "== Kubernetes manifests (deploy/k8s, validated offline)"
if command -v kubectl > /dev/null; then
    bash scripts/k8s-validate.sh
else
    echo "*** kubectl is not installed: SKIPPING the validation of deploy/k8s ***"
fi

echo "== cargo test"
cargo test --workspace --all-targets --locked --no-fail-fast

echo "== doc tests"
cargo test --workspace --doc --locked
