#!/usr/bin/env bash
# Runs the Nexmark suite with eddy-bench and writes benches/results/<name>.json (one JSON
# object per query, as eddy-bench prints them), then prints a markdown table with the peers'
# figures beside eddy's.
#
#   bash scripts/bench.sh [name] [events] [workers]
#   bash scripts/bench.sh 2026-11-26-2core 10000000 1
#
# Environment: QUERIES="q0 q1" to run a subset; RATE=N to add an open-loop latency run per query
# at N events/s (its figures go to the same file, with "rate" set).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-$(date -u +%Y-%m-%d)}
events=${2:-10000000}
workers=${3:-1}
cargo build --release -q -p eddy-benches
bench=target/release/eddy-bench
queries=${QUERIES:-$("$bench" nexmark --query list)}
mkdir -p benches/results
out=benches/results/$name.json
: > "$out"
for query in $queries; do
    "$bench" nexmark --query "$query" --events "$events" --workers "$workers" | tee -a "$out" >&2
    if [ -n "${RATE:-}" ]; then
        "$bench" nexmark --query "$query" --events "$((RATE * 20))" --workers "$workers" --rate "$RATE" | tee -a "$out" >&2
    fi
done
python3 - "$out" <<'PY'
import json, sys
# Peers on a 2-core machine, parallelism 1, 10 M events (the Nexmark issue's table).
peers = {
    "q0": ("359 K", "929 K", "2.90 M"), "q1": ("372 K", "676 K", "1.48 M"), "q2": ("398 K", "935 K", "2.75 M"),
    "q3": ("326 K", "886 K", "2.61 M"), "q4": ("126 K", "657 K", "1.31 M"), "q5": ("185 K", "829 K", "2.24 M"),
    "q7": ("82 K", "676 K", "1.43 M"), "q8": ("299 K", "918 K", "2.64 M"), "q9": ("91 K", "229 K", "278 K"),
    "q12": ("257 K", "843 K", "2.33 M"), "q14": ("390 K", "854 K", "2.31 M"), "q15": ("137 K", "592 K", "1.09 M"),
    "q16": ("34 K", "248 K", "307 K"), "q17": ("237 K", "403 K", "589 K"), "q18": ("177 K", "337 K", "462 K"),
    "q19": ("144 K", "366 K", "512 K"), "q20": ("135 K", "400 K", "582 K"), "q21": ("233 K", "820 K", "2.17 M"),
    "q22": ("307 K", "737 K", "1.74 M"),
}
def si(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} K"
print("| query | eddy (whole process) | eddy engine only | Flink 2.3 (whole JVM) | Feldera (whole process) | Feldera engine only | output rows | peak RSS | p50 / p99 / p99.9 latency |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    flink, feldera, feldera_engine = peers.get(r["query"], ("-", "-", "-"))
    lat = r.get("latency_ms")
    latency = f'{lat["p50"]:.1f} / {lat["p99"]:.1f} / {lat["p999"]:.1f} ms at {r["rate"]} ev/s' if lat else "-"
    print(f'| {r["query"]} | {si(r["events_per_cpu_s"])} | {si(r["engine_events_per_cpu_s"])} | {flink} | {feldera} | {feldera_engine} '
          f'| {r["output_rows"]} | {r["peak_rss_mb"]:.0f} MiB | {latency} |')
gen = [json.loads(l)["generator_events_per_cpu_s"] for l in open(sys.argv[1])]
print(f"\nGenerator alone: {si(sum(gen) / len(gen))} events per CPU-second (mean over the runs).")
PY
