//! Temporal joins (`FOR SYSTEM_TIME AS OF`): event-time joins against a versioned table,
//! checked against a reference computed here (per order, the rate with the latest time at or
//! before the order's) on out-of-order input at several worker counts; processing-time
//! lookup joins against a dimension table (Nexmark q13's shape); and the errors.

mod jobs_common;

use std::collections::BTreeMap;

use eddy_core::prelude::JobConfig;
use eddy_sql::session::{Session, SqlJob};
use jobs_common::{changelog, job, session};

fn sorted_rows(job: &SqlJob, workers: usize) -> Vec<String> {
    let mut rows: Vec<String> =
        job.collect(JobConfig::with_workers(workers)).unwrap().iter().map(|r| r.to_string()).collect();
    rows.sort();
    rows
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const CURRENCIES: [&str; 4] = ["EUR", "GBP", "JPY", "CHF"];

fn timestamp(ms: u64) -> String {
    let s = ms / 1000;
    format!("2024-01-01 {:02}:{:02}:{:02}.{:03}", s / 3600, s / 60 % 60, s % 60, ms % 1000)
}

/// Rows `(time ms, line)` shuffled within windows of four, so at most ~3 rows out of order.
fn shuffled(mut rows: Vec<(u64, String)>, rng: &mut Rng) -> String {
    for chunk in rows.chunks_mut(4) {
        for i in (1..chunk.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            chunk.swap(i, j);
        }
    }
    rows.into_iter().map(|(_, line)| line + "\n").collect()
}

/// `orders(id, cur, amount, ts)` and `rates(cur, rate, ts)` (a versioned table: primary key
/// `cur`, watermark), with rate changes and orders interleaved in time and out of order by
/// less than the watermark delay (30 s; no row is late); and the reference answer of the
/// event-time temporal join.
fn versioned_tables(s: &mut Session, dir: &std::path::Path, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut rates: Vec<(u64, String, u64)> = Vec::new();
    let mut orders: Vec<(u64, u64, String, u64)> = Vec::new();
    for step in 0..400u64 {
        let at = step * 250 + rng.below(200);
        let cur = CURRENCIES[rng.below(4) as usize].to_owned();
        if rng.below(3) == 0 {
            rates.push((at, cur, 100 + rng.below(50)));
        } else {
            orders.push((at, step, cur, 1 + rng.below(9)));
        }
    }
    let rate_lines =
        rates.iter().map(|(at, cur, rate)| (*at, format!("{cur},{rate},{}", timestamp(*at)))).collect();
    let order_lines =
        orders.iter().map(|(at, id, cur, n)| (*at, format!("{id},{cur},{n},{}", timestamp(*at)))).collect();
    for (name, text) in
        [("rates.csv", shuffled(rate_lines, &mut rng)), ("orders.csv", shuffled(order_lines, &mut rng))]
    {
        std::fs::write(dir.join(name), text).unwrap();
    }
    s.execute(&format!(
        "CREATE TABLE rates (cur STRING, rate INT, ts TIMESTAMP(3), PRIMARY KEY (cur) NOT ENFORCED,
             WATERMARK FOR ts AS ts - INTERVAL '30' SECOND)
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'scan.watermark.emit-every' = '5');
         CREATE TABLE orders (id INT, cur STRING, amount INT, ts TIMESTAMP(3),
             WATERMARK FOR ts AS ts - INTERVAL '30' SECOND)
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'scan.watermark.emit-every' = '7')",
        dir.join("rates.csv").display(),
        dir.join("orders.csv").display()
    ))
    .unwrap();
    // The reference: per order, the rate of its currency with the latest time at or before
    // the order's (LEFT JOIN: NULL when there is none).
    let mut expected: Vec<String> = orders
        .iter()
        .map(|(at, id, cur, amount)| {
            let rate = rates.iter().filter(|(t, c, _)| c == cur && t <= at).max_by_key(|(t, ..)| *t);
            match rate {
                Some((_, _, rate)) => format!("({id}, '{cur}', {}, {rate})", amount * rate),
                None => format!("({id}, '{cur}', NULL, NULL)"),
            }
        })
        .collect();
    expected.sort();
    expected
}

#[test]
fn an_event_time_temporal_join_meets_the_version_valid_at_each_rows_time() {
    for seed in [7, 8] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session();
        let expected = versioned_tables(&mut s, dir.path(), seed);
        let query = "SELECT o.id, o.cur, o.amount * r.rate, r.rate
                     FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur";
        let join = job(&mut s, query);
        assert!(
            expected.iter().any(|row| row.contains("NULL")),
            "some order precedes its currency's first rate"
        );
        for workers in [1, 2, 3] {
            assert_eq!(sorted_rows(&join, workers), expected, "seed {seed}, {workers} workers");
        }
        // Append-only, each order once, at or after its own time: a result is final when it comes.
        let changes = changelog(&join, 2);
        assert_eq!(changes.len(), expected.len());
        assert!(changes.values().all(|count| *count == 1), "{changes:?}");
        // The inner join drops the orders without a rate.
        let inner = job(&mut s, &query.replace("LEFT JOIN", "JOIN"));
        let kept: Vec<String> = expected.iter().filter(|row| !row.contains("NULL")).cloned().collect();
        assert_eq!(sorted_rows(&inner, 2), kept);
        let explained = s.execute(&format!("EXPLAIN {query}")).unwrap();
        let text = format!("{explained:?}");
        assert!(text.contains("TemporalJoin LeftOuter") && text.contains("event time"), "{text}");
    }
}

#[test]
fn a_processing_time_lookup_join_meets_the_dimension_tables_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    let mut events = String::new();
    for i in 0..300u64 {
        events += &format!("{i},{},{}\n", i % 13, timestamp(i * 100));
    }
    let dimension: String = (0..10).map(|k| format!("{k},name{k}\n")).collect();
    std::fs::write(dir.path().join("events.csv"), events).unwrap();
    std::fs::write(dir.path().join("dim.csv"), dimension).unwrap();
    s.execute(&format!(
        "CREATE TABLE events (id INT, k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
         CREATE TABLE dim (k INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
        dir.path().join("events.csv").display(),
        dir.path().join("dim.csv").display()
    ))
    .unwrap();
    // Nexmark q13's shape: PROCTIME() in a subquery, the dimension looked up by key.
    let lookup = job(
        &mut s,
        "SELECT e.id, d.name FROM (SELECT *, PROCTIME() AS pt FROM events) e
         LEFT JOIN dim FOR SYSTEM_TIME AS OF e.pt AS d ON e.k = d.k",
    );
    let expected: BTreeMap<String, ()> = (0..300u64)
        .map(|i| {
            let k = i % 13;
            let name = if k < 10 { format!("'name{k}'") } else { "NULL".to_owned() };
            (format!("({i}, {name})"), ())
        })
        .collect();
    let expected: Vec<String> = expected.into_keys().collect();
    for workers in [1, 2] {
        assert_eq!(sorted_rows(&lookup, workers), expected, "{workers} workers");
    }
}

#[test]
fn temporal_joins_refuse_what_they_cannot_mean() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = session();
    versioned_tables(&mut s, dir.path(), 1);
    let error = |s: &mut Session, sql: &str| s.execute(sql).expect_err(sql).to_string();
    // Event time against a table that is not versioned (no primary key).
    let message =
        error(&mut s, "SELECT * FROM rates r JOIN orders FOR SYSTEM_TIME AS OF r.ts AS o ON r.cur = o.cur");
    assert!(message.contains("versioned table") && message.contains("PRIMARY KEY"), "{message}");
    // The primary key must be equated.
    let message = error(
        &mut s,
        "SELECT * FROM orders o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.amount = r.rate",
    );
    assert!(message.contains("primary key column cur"), "{message}");
    // Not in a FROM list, not FULL, not without an equality.
    let message = error(&mut s, "SELECT * FROM rates FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00'");
    assert!(message.contains("FOR SYSTEM_TIME AS OF outside a join"), "{message}");
    let message = error(
        &mut s,
        "SELECT * FROM orders o FULL JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur",
    );
    assert!(message.contains("temporal join other than"), "{message}");
    let message =
        error(&mut s, "SELECT * FROM orders o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.ts >= r.ts");
    assert!(message.contains("needs an equality"), "{message}");
    // PROCTIME() has no value to read: the job refuses to start.
    let selected = job(&mut s, "SELECT id, PROCTIME() FROM orders");
    let message = selected.collect(JobConfig::with_workers(1)).expect_err("PROCTIME() read").to_string();
    assert!(message.contains("PROCTIME() has no value"), "{message}");
}
