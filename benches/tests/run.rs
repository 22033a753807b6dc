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

/// `--sql` runs every SQL file that eddy's SQL can run (the others fail with the SQL error that
/// `crates/eddy-nexmark/sql/README.md` lists) and reports the DataStream path's figures.
#[test]
fn nexmark_sql_runs_the_sql_files_on_a_tiny_input() {
    let unsupported = [("q6", "unknown column `rownum`")];
    for (query, _) in eddy_nexmark::sql::QUERIES {
        let output = Command::new(BENCH)
            .args(["nexmark", "--sql", "--query", query, "--events", "3000", "--workers", "2"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some((_, error)) = unsupported.iter().find(|(name, _)| name == query) {
            assert!(!output.status.success() && stderr.contains(error), "{query}: {stderr}");
            continue;
        }
        assert!(output.status.success(), "{query}: {stderr}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["query"], *query);
        assert_eq!(report["sql"], true);
        for field in
            ["cpu_s", "events_per_cpu_s", "engine_events_per_cpu_s", "generator_passes", "output_rows"]
        {
            assert!(report[field].is_number(), "{query}: {field} in {report}");
        }
    }
    let output = Command::new(BENCH)
        .args(["nexmark", "--sql", "--query", "q1", "--events", "10", "--rate", "5"])
        .output()
        .unwrap();
    assert!(!output.status.success() && String::from_utf8_lossy(&output.stderr).contains("latency"));
}
