//! Window table functions and window operators in SQL: `TUMBLE`, `HOP` and `CUMULATE` in
//! `FROM`, window aggregations whose results come once, final, when the watermark passes the
//! window's end (and equal the batch answer), late rows dropped, windows cascading, window
//! Top-N and window joins, at several worker counts.

mod jobs_common;

use jobs_common::{changelog, job, session};
use std::collections::BTreeMap;

use eddy_core::prelude::JobConfig;
use eddy_sql::session::{Session, SqlJob};

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
    for (name, time, every) in
        [("events", watermark, ", 'scan.watermark.emit-every' = '3'"), ("batch", "", "")]
    {
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
        assert!(
            row.contains(&format!(",2024-01-01 00:{:02}:{:02}.000,", end / 60, end % 60)),
            "{time} {row}"
        );
    }
    assert_eq!(changelog(&streaming, 3), changes);
}

/// Deterministic pseudo-random numbers (a linear congruential generator).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// `n` rows of keys `k0..k3` with random gaps (0..6 s, ms precision), written out of order by
/// up to 1.5 s, and the rows in time order as `(key, ms since START)`.
fn random_events(n: usize, seed: u64) -> (String, Vec<(String, u64)>) {
    let mut rng = Lcg(seed);
    let mut rows = Vec::new();
    let mut t = 0u64;
    for id in 0..n {
        t += rng.next(1_500);
        let key = format!("k{}", rng.next(4));
        let ts = t + rng.next(6_000) * u64::from(rng.next(5) == 0);
        rows.push((id, key, ts));
    }
    let mut written = rows.clone();
    // Out of order: sort by a jittered time (at most 1.5 s apart from the true order).
    written.sort_by_key(|(id, _, ts)| ts + (*id as u64 * 7919) % 1_500);
    let csv: Vec<String> = written
        .iter()
        .map(|(id, key, ts)| {
            let seconds = ts / 1000;
            format!(
                "{id},{key},2024-01-01 {:02}:{:02}:{:02}.{:03}",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60,
                ts % 1000
            )
        })
        .collect();
    let mut ordered: Vec<(String, u64)> = rows.into_iter().map(|(_, key, ts)| (key, ts)).collect();
    ordered.sort_by_key(|(_, ts)| *ts);
    (csv.join("\n") + "\n", ordered)
}

fn timestamp(ms: u64) -> String {
    let seconds = ms / 1000;
    format!("2024-01-01 {:02}:{:02}:{:02}.{:03}", seconds / 3600, seconds / 60 % 60, seconds % 60, ms % 1000)
}

/// Tables over random events whose watermark (3 s behind) never makes a row late.
fn random_tables(s: &mut Session, dir: &std::path::Path, n: usize, seed: u64) -> Vec<(String, u64)> {
    let (contents, ordered) = random_events(n, seed);
    let path = dir.join("events.csv");
    std::fs::write(&path, contents).unwrap();
    s.execute(&format!(
        "CREATE TABLE events (id INT, k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '3' SECOND)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'scan.watermark.emit-every' = '2');
         CREATE TABLE batch (id INT, k STRING, ts TIMESTAMP(3))
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
        path.display(),
        path.display()
    ))
    .unwrap();
    ordered
}

#[test]
fn session_windows_match_a_reference_at_any_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let events = random_tables(&mut s, dir.path(), 400, 7);
    // The reference: per key, rows in time order split where the gap reaches 4 s.
    let mut expected = Vec::new();
    for key in ["k0", "k1", "k2", "k3"] {
        let times: Vec<u64> = events.iter().filter(|(k, _)| k == key).map(|(_, t)| *t).collect();
        let mut start = 0;
        for i in 1..=times.len() {
            if i == times.len() || times[i] - times[i - 1] >= 4_000 {
                let (first, last) = (times[start], times[i - 1]);
                expected.push(format!(
                    "{key},{},{},{}",
                    i - start,
                    timestamp(first),
                    timestamp(last + 4_000)
                ));
                start = i;
            }
        }
    }
    expected.sort();
    assert!(expected.len() > 20, "{expected:?}");
    let tvf = "SELECT k, COUNT(*), window_start, window_end
               FROM TABLE(SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '4' SECOND))
               GROUP BY k, window_start, window_end";
    let legacy =
        "SELECT k, COUNT(*), SESSION_START(ts, INTERVAL '4' SECOND), SESSION_END(ts, INTERVAL '4' SECOND)
                  FROM events GROUP BY k, SESSION(ts, INTERVAL '4' SECOND)";
    for query in [tvf, legacy] {
        let job = job(&mut s, query);
        for workers in [1, 2, 4] {
            let changes = changelog(&job, workers);
            assert!(changes.values().all(|n| *n == 1), "append-only: {changes:?}");
            let mut rows: Vec<String> = changes.keys().map(|(_, row)| row.clone()).collect();
            rows.sort();
            assert_eq!(rows, expected, "{query} at {workers} workers");
        }
    }
    // The batch table gives the same.
    let batch = job(&mut s, &tvf.replace("TABLE events", "TABLE batch"));
    let mut rows: Vec<String> = changelog(&batch, 2).keys().map(|(_, row)| row.clone()).collect();
    rows.sort();
    assert_eq!(rows, expected);
}

#[test]
fn hopping_and_cumulating_windows_match_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let events = random_tables(&mut s, dir.path(), 300, 11);
    let count = |start: u64, end: u64, key: &str| {
        events.iter().filter(|(k, t)| k == key && *t >= start && *t < end).count()
    };
    let last = events.last().unwrap().1;
    let mut hop = Vec::new();
    let mut cumulate = Vec::new();
    for key in ["k0", "k1", "k2", "k3"] {
        // HOP: 6 s windows every 2 s.
        let mut start = 0i64 - 4_000;
        while start <= last as i64 {
            let (from, to) = (start.max(0) as u64, (start + 6_000) as u64);
            let n = count(from, to, key);
            if n > 0 {
                hop.push(format!("{key},{},{n}", timestamp_signed(start)));
            }
            start += 2_000;
        }
        // CUMULATE: periods of 6 s, growing by 2 s.
        let mut period = 0;
        while period <= last {
            for end in [period + 2_000, period + 4_000, period + 6_000] {
                let n = count(period, end, key);
                if n > 0 {
                    cumulate.push(format!("{key},{},{n}", timestamp(end)));
                }
            }
            period += 6_000;
        }
    }
    hop.sort();
    cumulate.sort();
    let hop_query = "SELECT k, window_start, COUNT(*) FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) GROUP BY k, window_start, window_end";
    let cumulate_query = "SELECT k, window_end, COUNT(*) FROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) GROUP BY k, window_start, window_end";
    let legacy_hop = "SELECT k, HOP_START(ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND), COUNT(*) FROM events GROUP BY HOP(ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND), k";
    for (query, expected) in [(hop_query, &hop), (cumulate_query, &cumulate), (legacy_hop, &hop)] {
        let job = job(&mut s, query);
        for workers in [1, 3] {
            let changes = changelog(&job, workers);
            assert!(changes.values().all(|n| *n == 1), "append-only: {changes:?}");
            let mut rows: Vec<String> = changes.keys().map(|(_, row)| row.clone()).collect();
            rows.sort();
            assert_eq!(&rows, expected, "{query} at {workers} workers");
        }
    }
}

fn timestamp_signed(ms: i64) -> String {
    if ms >= 0 {
        timestamp(ms as u64)
    } else {
        let back = (-ms) as u64;
        let day = 86_400_000;
        let seconds = (day - back) / 1000;
        format!(
            "2023-12-31 {:02}:{:02}:{:02}.{:03}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            (day - back) % 1000
        )
    }
}

#[test]
fn late_rows_are_dropped_and_results_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    // In order, one row a second, then two rows whose windows closed long ago.
    let mut lines: Vec<String> = (0..60).map(|i| format!("{i},k{},{}", i % 2, timestamp(i * 1000))).collect();
    lines.push(format!("100,k0,{}", timestamp(3_000)));
    lines.push(format!("101,k1,{}", timestamp(14_500)));
    let path = dir.path().join("events.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    s.execute(&format!(
        "CREATE TABLE events (id INT, k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'scan.watermark.emit-every' = '1')",
        path.display()
    ))
    .unwrap();
    let job = job(
        &mut s,
        "SELECT k, window_start, COUNT(*), SUM(id) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
         GROUP BY k, window_start, window_end",
    );
    let changes = changelog(&job, 2);
    assert!(changes.values().all(|n| *n == 1), "{changes:?}");
    let mut rows: Vec<String> = changes.keys().map(|(_, row)| row.clone()).collect();
    rows.sort();
    // Each window of a key has 5 rows; the late rows 100 and 101 are in none.
    let mut expected = Vec::new();
    for window in 0..6u64 {
        for key in 0..2u64 {
            let ids: Vec<u64> = (window * 10..window * 10 + 10).filter(|i| i % 2 == key).collect();
            expected.push(format!("k{key},{},5,{}", timestamp(window * 10_000), ids.iter().sum::<u64>()));
        }
    }
    expected.sort();
    assert_eq!(rows, expected);
}

#[test]
fn window_top_n_window_joins_and_cascaded_windows_equal_the_batch_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    random_tables(&mut s, dir.path(), 400, 5);
    let queries = [
        // Window Top-N: the two keys with the most rows per window.
        "SELECT * FROM (
             SELECT k, window_start, window_end, n,
                    ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC, k) AS rn
             FROM (SELECT k, window_start, window_end, COUNT(*) AS n
                   FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND))
                   GROUP BY k, window_start, window_end))
         WHERE rn <= 2",
        // Window deduplication: the first row of each key per window.
        "SELECT id, k, window_start FROM (
             SELECT *, ROW_NUMBER() OVER (PARTITION BY k, window_start, window_end ORDER BY ts, id) AS rn
             FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND)))
         WHERE rn = 1",
        // Window join: rows of k0 and k1 in the same window.
        "SELECT a.id, b.id, a.window_start
         FROM (SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND)) WHERE k = 'k0') a
         JOIN (SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '5' SECOND)) WHERE k = 'k1') b
         ON a.window_start = b.window_start AND a.window_end = b.window_end",
        // Nexmark q5's shape: per window, the keys with the most rows (windows cascade).
        "SELECT c.k, c.n FROM (
             SELECT k, COUNT(*) AS n, window_start AS s, window_end AS e
             FROM TABLE(HOP(TABLE {t}, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
             GROUP BY k, window_start, window_end) c
         JOIN (
             SELECT MAX(n) AS m, s, e FROM (
                 SELECT COUNT(*) AS n, window_start AS s, window_end AS e
                 FROM TABLE(HOP(TABLE {t}, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
                 GROUP BY k, window_start, window_end)
             GROUP BY s, e) m
         ON c.s = m.s AND c.e = m.e AND c.n >= m.m",
    ];
    for query in queries {
        let streaming = job(&mut s, &query.replace("{t}", "events"));
        let plan = s.execute(&format!("EXPLAIN {}", query.replace("{t}", "events"))).unwrap();
        let explained = format!("{plan:?}");
        assert!(explained.contains("Finalize"), "{query}: not windowed\n{explained}");
        let batch = sorted_rows(&job(&mut s, &query.replace("{t}", "batch")), 1);
        assert!(batch.len() > 10, "{query}: {batch:?}");
        for workers in [1, 2] {
            let changes = changelog(&streaming, workers);
            assert!(changes.values().all(|n| *n == 1), "{query}: append-only: {changes:?}");
            assert_eq!(sorted_rows(&streaming, workers), batch, "{query} at {workers} workers");
        }
    }
}

#[test]
fn with_allowed_lateness_late_rows_correct_the_results_they_belong_to() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    // In order, one row a second; then a row 14 s late (within the 20 s allowed), and one
    // 56 s late (beyond it).
    let mut lines: Vec<String> = (0..60).map(|i| format!("{i},k{},{}", i % 2, timestamp(i * 1000))).collect();
    lines.push(format!("100,k0,{}", timestamp(45_000)));
    lines.push(format!("101,k1,{}", timestamp(3_500)));
    let path = dir.path().join("events.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    s.execute(&format!(
        "CREATE TABLE events (id INT, k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'scan.watermark.emit-every' = '1');
         SET 'table.exec.emit.allow-lateness' = '20 s'",
        path.display()
    ))
    .unwrap();
    let query = "SELECT k, window_start, COUNT(*), SUM(id) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
                 GROUP BY k, window_start, window_end";
    let job = job(&mut s, query);
    let mut expected = Vec::new();
    for window in 0..6u64 {
        for key in 0..2u64 {
            let mut ids: Vec<u64> = (window * 10..window * 10 + 10).filter(|i| i % 2 == key).collect();
            if window == 4 && key == 0 {
                ids.push(100);
            }
            expected.push(format!(
                "k{key},{},{},{}",
                timestamp(window * 10_000),
                ids.len(),
                ids.iter().sum::<u64>()
            ));
        }
    }
    expected.sort();
    for workers in [1, 2] {
        let changes = changelog(&job, workers);
        // The window [40 s, 50 s) of k0 came out at its end, then was corrected: retracted and
        // emitted again after the late row, at a later time.
        let first = format!("k0,{},5,220", timestamp(40_000));
        let corrected = format!("k0,{},6,320", timestamp(40_000));
        let at = |row: &str, sign: i64| {
            changes
                .iter()
                .filter(|((_, r), n)| r == row && **n == sign)
                .map(|((t, _), _)| *t)
                .collect::<Vec<_>>()
        };
        assert_eq!(at(&first, 1), vec![START + 49_999], "{changes:?}");
        let retracted = at(&first, -1);
        assert_eq!(retracted.len(), 1, "{changes:?}");
        assert!(retracted[0] > START + 50_000);
        assert_eq!(at(&corrected, 1), retracted);
        // Consolidated, the changes are the answer over every row but the one too late.
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for ((_, row), n) in &changes {
            *counts.entry(row.clone()).or_default() += n;
        }
        counts.retain(|_, n| *n != 0);
        assert!(counts.values().all(|n| *n == 1));
        let rows: Vec<String> = counts.into_keys().collect();
        assert_eq!(rows, expected, "{workers} workers");
    }
    // EXPLAIN shows the lateness.
    let plan = format!("{:?}", s.execute(&format!("EXPLAIN {query}")).unwrap());
    assert!(plan.contains("Finalize at #2 lateness 20000 ms"), "{plan}");
}

#[test]
fn an_interval_join_equals_the_batch_join_and_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    random_tables(&mut s, dir.path(), 300, 3);
    let query = "SELECT a.id, b.id, a.k FROM {t} a, {t} b
                 WHERE a.k = b.k AND a.id <> b.id
                   AND a.ts BETWEEN b.ts - INTERVAL '2' SECOND AND b.ts + INTERVAL '1' SECOND";
    let plan = format!("{:?}", s.execute(&format!("EXPLAIN {}", query.replace("{t}", "events"))).unwrap());
    assert!(plan.contains("AppendOnly until min(#"), "{plan}");
    assert!(plan.contains("Expire at #2 + 2001 ms") && plan.contains("Expire at #2 + 1001 ms"), "{plan}");
    let batch = sorted_rows(&job(&mut s, &query.replace("{t}", "batch")), 1);
    assert!(batch.len() > 50, "{batch:?}");
    let streaming = job(&mut s, &query.replace("{t}", "events"));
    for workers in [1, 2, 4] {
        let changes = changelog(&streaming, workers);
        assert!(changes.values().all(|n| *n == 1), "append-only: {changes:?}");
        assert_eq!(sorted_rows(&streaming, workers), batch, "{workers} workers");
    }
}

#[test]
fn grouping_sets_over_windows_are_window_aggregations() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let events = random_tables(&mut s, dir.path(), 200, 13);
    let query = "SELECT window_start, k, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
                 GROUP BY window_start, window_end, ROLLUP (k)";
    let plan = format!("{:?}", s.execute(&format!("EXPLAIN {query}")).unwrap());
    assert_eq!(plan.matches("bounded: retired as the watermark passes").count(), 2, "{plan}");
    assert!(!plan.contains("UNBOUNDED"), "{plan}");
    let mut expected = Vec::new();
    let last = events.last().unwrap().1;
    for window in 0..=last / 10_000 {
        let rows: Vec<&(String, u64)> = events.iter().filter(|(_, t)| t / 10_000 == window).collect();
        if rows.is_empty() {
            continue;
        }
        expected.push(format!("{},<NULL>,{}", timestamp(window * 10_000), rows.len()));
        for key in ["k0", "k1", "k2", "k3"] {
            let n = rows.iter().filter(|(k, _)| k == key).count();
            if n > 0 {
                expected.push(format!("{},{key},{n}", timestamp(window * 10_000)));
            }
        }
    }
    expected.sort();
    let job = job(&mut s, query);
    for workers in [1, 2] {
        let changes = changelog(&job, workers);
        assert!(changes.values().all(|n| *n == 1), "{changes:?}");
        let mut rows: Vec<String> = changes.keys().map(|(_, row)| row.clone()).collect();
        rows.sort();
        assert_eq!(rows, expected);
    }
    // A regular aggregation keeps its state: EXPLAIN says so.
    let plan =
        format!("{:?}", s.execute("EXPLAIN SELECT k, COUNT(*) FROM events GROUP BY CUBE (k)").unwrap());
    assert!(plan.contains("UNBOUNDED: kept for as long as the job runs | Aggregate"), "{plan}");
}

/// A streaming `OVER` (ordered by the rowtime of an append-only table, frames reaching a
/// bounded distance back): the window functions the batch query computes, each row once,
/// final, at its rowtime, at any worker count.
#[test]
fn a_streaming_over_equals_the_batch_answer_and_emits_each_row_once_at_its_rowtime() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let events = random_tables(&mut s, dir.path(), 300, 11);
    let query = "SELECT id, k, ts, COUNT(*) OVER w AS n, SUM(id) OVER w AS total,
                        MAX(id) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS top,
                        AVG(id) FILTER (WHERE id % 2 = 0) OVER (PARTITION BY k ORDER BY ts ROWS 2 PRECEDING) AS even,
                        LAG(id, 2, -1) OVER (PARTITION BY k ORDER BY ts) AS back
                 FROM {}
                 WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW)";
    let plan = format!("{:?}", s.execute(&format!("EXPLAIN {}", query.replace("{}", "events"))).unwrap());
    assert!(plan.contains("StreamingOver"), "{plan}");
    assert!(plan.contains("bounded: retired as the watermark passes | StreamingOver"), "{plan}");
    let batch_plan =
        format!("{:?}", s.execute(&format!("EXPLAIN {}", query.replace("{}", "batch"))).unwrap());
    assert!(!batch_plan.contains("StreamingOver"), "a table without a watermark is relational: {batch_plan}");
    let streaming = job(&mut s, &query.replace("{}", "events"));
    let expected = sorted_rows(&job(&mut s, &query.replace("{}", "batch")), 1);
    assert_eq!(expected.len(), events.len());
    for workers in [1, 2, 4] {
        assert_eq!(sorted_rows(&streaming, workers), expected, "{workers} workers");
    }
    // Append-only, each row at its rowtime (ms since 1970 is the logical time).
    let changes = changelog(&streaming, 2);
    assert!(changes.values().all(|n| *n > 0), "{changes:?}");
    assert_eq!(changes.values().sum::<i64>(), events.len() as i64);
    for (time, row) in changes.keys() {
        let ts = row.split(',').nth(2).unwrap();
        assert_eq!(timestamp(time - START), ts, "{row} at {time}");
    }
}

#[test]
fn a_streaming_over_drops_late_rows_as_flink_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    // In order, one row a second (the watermark is the rowtime), then a row 20 s late.
    let mut lines: Vec<String> = (0..40).map(|i| format!("{i},k{},{}", i % 2, timestamp(i * 1000))).collect();
    let on_time = lines.join("\n") + "\n";
    lines.push(format!("100,k0,{}", timestamp(10_500)));
    for (name, contents, time) in
        [("events", lines.join("\n") + "\n", ", WATERMARK FOR ts AS ts"), ("batch", on_time, "")]
    {
        let every = if time.is_empty() { "" } else { ", 'scan.watermark.emit-every' = '1'" };
        let path = dir.path().join(format!("{name}.csv"));
        std::fs::write(&path, contents).unwrap();
        s.execute(&format!(
            "CREATE TABLE {name} (id INT, k STRING, ts TIMESTAMP(3){time})
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv'{every})",
            path.display()
        ))
        .unwrap();
    }
    let query = "SELECT id, SUM(id) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM {}";
    let expected = sorted_rows(&job(&mut s, &query.replace("{}", "batch")), 1);
    assert_eq!(expected.len(), 40);
    assert_eq!(sorted_rows(&job(&mut s, &query.replace("{}", "events")), 2), expected);
}
