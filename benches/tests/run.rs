//! The benchmarks are programs that print figures; this only checks that they run on a tiny
//! input and print what they promise.

use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_eddy-bench");

#[test]
fn nexmark_runs_every_implemented_query_on_a_tiny_input() {
    for query in eddy_nexmark::queries::QUERIES {
        let output = Command::new(BENCH)
            .args(["nexmark", "--query", query, "--events", "3000", "--workers", "2"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{query}: {}", String::from_utf8_lossy(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["query"], *query);
        assert_eq!(report["events"], 3000);
        for field in
            ["wall_s", "cpu_s", "events_per_cpu_s", "engine_events_per_cpu_s", "peak_rss_mb", "output_rows"]
        {
            assert!(report[field].is_number(), "{query}: {field} in {report}");
        }
    }
}

#[test]
fn nexmark_paced_run_reports_latency() {
    let output = Command::new(BENCH)
        .args(["nexmark", "--query", "q1", "--events", "2000", "--rate", "20000"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for field in ["p50", "p99", "p999"] {
        assert!(report["latency_ms"][field].is_number(), "{report}");
    }
}

#[test]
fn unknown_query_is_a_clear_error() {
    let output = Command::new(BENCH).args(["nexmark", "--query", "q99", "--events", "10"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("implemented:"));
}

#[test]
fn cep_pipelines_run_and_find_matches() {
    for pipeline in ["cep-fraud", "cep-any"] {
        let output = Command::new(BENCH)
            .args(["--pipeline", pipeline, "--events", "40000", "--keys", "20", "--workers", "2"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{pipeline}: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout);
        let out: u64 = text
            .lines()
            .find_map(|line| line.strip_prefix("records out"))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or_else(|| panic!("{pipeline}: no `records out` in {text}"));
        assert!(out > 0, "{pipeline} found no match: {text}");
        assert!(text.contains("peak rss MB"), "{text}");
    }
}
