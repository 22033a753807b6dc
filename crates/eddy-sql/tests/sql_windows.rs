//! Window table functions and window operators in SQL: `TUMBLE`, `HOP` and `CUMULATE` in
//! `FROM`, window aggregations whose results come once, final, when the watermark passes the
//! window's end (and equal the batch answer), late rows dropped, windows cascading, window
//! Top-N and window joins, at several worker counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use eddy_core::prelude::{Job, JobConfig};
use eddy_sql::changelog::RowChange;
use eddy_sql::engine::DataflowEngine;
use eddy_sql::pipeline::Output;
use eddy_sql::session::{Outcome, Session, SqlJob};

fn session() -> Session {
    Session::with_engine(Box::new(DataflowEngine::default()))
}

fn job(session: &mut Session, sql: &str) -> SqlJob {
    match session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).pop() {
        Some(Outcome::Job(job)) => job,
        other => panic!("{sql}: expected a job, got {other:?}"),
    }
}

/// The query's changes as `(logical time, change) -> count`, by running it in `workers`.
fn changelog(job: &SqlJob, workers: usize) -> BTreeMap<(u64, String), i64> {
    let collected: Arc<Mutex<Vec<(u64, RowChange)>>> = Arc::default();
    let mut pipeline = job.pipeline.clone();
    pipeline.inserts[0].output = Output::Collect(Arc::clone(&collected));
    Job::new(JobConfig::with_workers(workers)).run(move |env| pipeline.build(env).map(|_| ())).unwrap();
    let mut changes = BTreeMap::new();
    for (time, change) in collected.lock().unwrap().iter() {
        let sign = if change.kind.is_addition() { 1 } else { -1 };
        let row = eddy_sql::changelog::display_values(&change.row).join(",");
        *changes.entry((*time, row)).or_insert(0) += sign;
    }
    changes.retain(|_, n| *n != 0);
    changes
}

fn sorted_rows(job: &SqlJob, workers: usize) -> Vec<String> {
    let mut rows: Vec<String> =
        job.collect(JobConfig::with_workers(workers)).unwrap().iter().map(|r| r.to_string()).collect();
    rows.sort();
    rows
}

/// `n` rows `(id, k, ts)`, one a second from 2024-01-01 00:00:00, keys `k0..k2`, swapped in pairs
/// (at most 1 s out of order).
fn csv(n: u32) -> String {
    let mut lines = Vec::new();
    for pair in 0..n / 2 {
        for second in [2 * pair + 1, 2 * pair] {
            lines.push(format!(
                "{second},k{},2024-01-01 {:02}:{:02}:{:02}",
                second % 3,
                second / 3600,
                second / 60 % 60,
                second % 60
            ));
        }
    }
    lines.join("\n") + "\n"
}

/// A streaming table `events` (watermark 2 s behind) and a batch table `batch` over one file.
fn tables(s: &mut Session, dir: &std::path::Path, contents: &str) {
    let path = dir.join("events.csv");
    std::fs::write(&path, contents).unwrap();
    let watermark = ", WATERMARK FOR ts AS ts - INTERVAL '2' SECOND";
    for (name, time, every) in [("events", watermark, ", 'scan.watermark.emit-every' = '3'"), ("batch", "", "")] {
        s.execute(&format!(
            "CREATE TABLE {name} (id INT, k STRING, ts TIMESTAMP(3){time})
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv'{every})",
            path.display()
        ))
        .unwrap();
    }
}

const START: u64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC

#[test]
fn a_tumbling_window_aggregation_emits_each_window_once_when_it_closes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    tables(&mut s, dir.path(), &csv(120));
    let query = "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(id) AS total, MAX(ts) AS last
                 FROM TABLE(TUMBLE(TABLE {}, DESCRIPTOR(ts), INTERVAL '10' SECOND))
                 GROUP BY k, window_start, window_end";
    let streaming = job(&mut s, &query.replace("{}", "events"));
    let batch = job(&mut s, &query.replace("{}", "batch"));
    let expected = sorted_rows(&batch, 1);
    assert_eq!(expected.len(), 36, "{expected:?}");
    for workers in [1, 2, 3] {
        assert_eq!(sorted_rows(&streaming, workers), expected, "{workers} workers");
    }
    // Append-only: every change is an insertion, at the window's end - 1 ms.
    let changes = changelog(&streaming, 2);
    assert_eq!(changes.len(), 36);
    for ((time, row), count) in &changes {
        assert_eq!(*count, 1, "{row}");
        let end = (time + 1 - START) / 1000;
        assert_eq!(end % 10, 0, "{time} {row}");
        assert!(row.contains(&format!(",2024-01-01 00:{:02}:{:02}.000,", end / 60, end % 60)), "{time} {row}");
    }
    assert_eq!(changelog(&streaming, 3), changes);
}
