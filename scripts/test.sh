#!/usr/bin/env bash
# Every check CI runs, in order: formatting, lints, then all tests (unit, integration, the
# examples' smoke tests, the conformance cases, doc tests). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --all-targets --locked

echo "== doc tests"
cargo test --workspace --doc --locked
