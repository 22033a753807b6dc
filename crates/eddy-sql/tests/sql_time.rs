//! Time attributes in SQL: `WATERMARK FOR` and `PROCTIME()` in `CREATE TABLE`, `DESCRIBE`,
//! tables read at event time (a CSV file with out-of-order rows, a Nexmark table), the
//! processing-time column, and the errors of bad declarations and bad rowtimes.

mod jobs_common;

use jobs_common::{changelog, job, session};

use eddy_core::prelude::JobConfig;
use eddy_sql::datum::Datum;
use eddy_sql::session::{Outcome, Session};

fn rows(session: &mut Session, sql: &str) -> Vec<String> {
    match session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).pop() {
        Some(Outcome::Rows { rows, .. }) => rows
            .iter()
            .map(|row| {
                row.values()
                    .iter()
                    .map(|d| d.to_sql_string().unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
        other => panic!("{sql}: expected rows, got {other:?}"),
    }
}

/// 40 rows of keys `k0..k3`, at most 2 s out of order: rows come in pairs swapped.
fn out_of_order_csv() -> String {
    let mut lines = Vec::new();
    for pair in 0..20u32 {
        for second in [2 * pair + 1, 2 * pair] {
            lines.push(format!(
                "{second},k{},2024-01-01 00:{:02}:{:02}",
                second % 4,
                second / 60,
                second % 60
            ));
        }
    }
    lines.join("\n") + "\n"
}

fn events_table(path: &std::path::Path, name: &str, time: &str) -> String {
    format!(
        "CREATE TABLE {name} (id INT, k STRING, ts TIMESTAMP(3){time})
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv'{})",
        path.display(),
        if time.is_empty() { "" } else { ", 'scan.watermark.emit-every' = '4'" }
    )
}

#[test]
fn ddl_declares_time_attributes_and_describe_shows_them() {
    let mut s = session();
    s.execute(
        "CREATE TABLE clicks (id INT, pt AS PROCTIME(), ts TIMESTAMP(3),
             WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
         WITH ('connector' = 'filesystem', 'path' = '/nonexistent', 'format' = 'csv',
               'scan.watermark.idle-timeout' = '5 s');
         CREATE TABLE plain (ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'values')",
    )
    .unwrap();
    assert_eq!(
        rows(&mut s, "DESCRIBE clicks"),
        [
            "id|INT|TRUE|NULL|NULL|NULL",
            "pt|TIMESTAMP(3) *PROCTIME*|FALSE|NULL|AS PROCTIME()|NULL",
            "ts|TIMESTAMP(3) *ROWTIME*|TRUE|NULL|NULL|`ts` - INTERVAL '4' SECOND",
        ]
    );
    assert_eq!(rows(&mut s, "DESCRIBE plain"), ["ts|TIMESTAMP(3) *ROWTIME*|TRUE|NULL|NULL|`ts`"]);
    let table = s.catalog().table_by_name("clicks").unwrap();
    let rowtime = table.time.rowtime.as_ref().unwrap();
    assert_eq!((rowtime.column, rowtime.delay_ms, rowtime.idle_timeout_ms), (2, 4_000, Some(5_000)));
    assert_eq!(table.time.proctime, Some(1));
}

#[test]
fn bad_declarations_are_refused_with_their_position() {
    let error = |sql: &str| session().execute(sql).unwrap_err().to_string();
    let e = error("CREATE TABLE t (a INT,\n  WATERMARK FOR b AS b)");
    assert!(e.contains("no such column") && e.contains("line 2, column 17"), "{e}");
    let e = error("CREATE TABLE t (a BIGINT, WATERMARK FOR a AS a)");
    assert!(e.contains("must be a TIMESTAMP(3) column; it is BIGINT"), "{e}");
    let e = error("CREATE TABLE t (ts TIMESTAMP(3),\n WATERMARK FOR ts AS ts + INTERVAL '1' SECOND)");
    assert!(e.contains("`ts - INTERVAL 'n' unit`") && e.contains("line 2, column 2"), "{e}");
    let e = error("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts, WATERMARK FOR ts AS ts)");
    assert!(e.contains("more than one WATERMARK"), "{e}");
    let e = error("CREATE TABLE t (a INT, b AS a + 1) WITH ('connector' = 'datagen')");
    assert!(e.contains("only `AS PROCTIME()`"), "{e}");
    let e = error("CREATE TABLE t (a INT, pt AS PROCTIME())");
    assert!(e.contains("needs a connector table"), "{e}");
    let e = error("CREATE TABLE t (ts TIMESTAMP(3), WATERMARK ts AS ts)");
    assert!(e.contains("syntax error"), "{e}");
    let e =
        error("CREATE TABLE t (a INT) WITH ('connector' = 'values', 'scan.watermark.idle-timeout' = '1 s')");
    assert!(e.contains("needs a WATERMARK FOR clause"), "{e}");
}

#[test]
fn a_file_with_a_watermark_is_read_at_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, out_of_order_csv()).unwrap();
    let mut s = session();
    s.execute(&events_table(&path, "events", ", WATERMARK FOR ts AS ts - INTERVAL '2' SECOND")).unwrap();
    s.execute(&events_table(&path, "batch", "")).unwrap();
    let query = "SELECT k, COUNT(*), MAX(id) FROM {} GROUP BY k";
    let streaming = job(&mut s, &query.replace("{}", "events"));
    let batch = job(&mut s, &query.replace("{}", "batch"));
    assert!(streaming.is_bounded());
    let sorted = |mut rows: Vec<String>| {
        rows.sort();
        rows
    };
    let final_rows = sorted(
        streaming.collect(JobConfig::with_workers(2)).unwrap().iter().map(|r| r.to_string()).collect(),
    );
    let batch_rows =
        sorted(batch.collect(JobConfig::with_workers(1)).unwrap().iter().map(|r| r.to_string()).collect());
    assert_eq!(final_rows, batch_rows);
    assert_eq!(final_rows.len(), 4);

    // The changes come at the watermarks: several logical times, not one; the batch table's
    // result comes at one time.
    let changes = changelog(&streaming, 1);
    let times: std::collections::BTreeSet<u64> = changes.keys().map(|(time, _)| *time).collect();
    assert!(times.len() > 3, "{changes:?}");
    let start = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC
    assert!(times.iter().skip(1).all(|t| *t >= start && *t < start + 40_000), "{times:?}");
    let batch_times: std::collections::BTreeSet<u64> = changelog(&batch, 1).keys().map(|(t, _)| *t).collect();
    assert_eq!(batch_times.len(), 1);
    // The same changes at the same times at any worker count.
    assert_eq!(changelog(&streaming, 3), changes);
}

#[test]
fn a_nexmark_table_uses_its_declared_watermark() {
    let mut s = session();
    s.execute(
        "CREATE TABLE bid (auction BIGINT, price BIGINT, dateTime TIMESTAMP(3),
             WATERMARK FOR dateTime AS dateTime - INTERVAL '1' SECOND)
             WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '5000');
         CREATE TABLE bid4 (auction BIGINT, price BIGINT, dateTime TIMESTAMP(3))
             WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '5000')",
    )
    .unwrap();
    let declared = s.catalog().table_by_name("bid").unwrap().time.rowtime.clone().unwrap();
    assert_eq!(declared.delay_ms, 1_000);
    let count = |s: &mut Session, table: &str| {
        let job = job(s, &format!("SELECT COUNT(*), MAX(price) FROM {table}"));
        job.collect(JobConfig::with_workers(2)).unwrap().iter().map(|r| r.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(count(&mut s, "bid"), count(&mut s, "bid4"));
    let changes = changelog(&job(&mut s, "SELECT COUNT(*) FROM bid"), 1);
    let times: std::collections::BTreeSet<u64> = changes.keys().map(|(time, _)| *time).collect();
    assert!(times.len() > 1, "{changes:?}");
}

#[test]
fn the_proctime_column_is_filled_when_rows_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, out_of_order_csv()).unwrap();
    let mut s = session();
    s.execute(&format!(
        "CREATE TABLE events (id INT, k STRING, pt AS PROCTIME(), ts TIMESTAMP(3))
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
        path.display()
    ))
    .unwrap();
    let rows = job(&mut s, "SELECT id, pt, k FROM events WHERE pt IS NOT NULL")
        .collect(JobConfig::with_workers(1))
        .unwrap();
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|row| matches!(row.get(1), Some(Datum::Timestamp(ms)) if *ms > 0)), "{rows:?}");
}

#[test]
fn a_null_rowtime_fails_the_job_naming_table_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, "1,a,2024-01-01 00:00:01\n2,b,\n").unwrap();
    let mut s = session();
    s.execute(&events_table(&path, "events", ", WATERMARK FOR ts AS ts")).unwrap();
    let error = job(&mut s, "SELECT COUNT(*) FROM events").collect(JobConfig::with_workers(1)).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("events.csv:2") && message.contains("table events: the rowtime ts is NULL"),
        "{message}"
    );
}

#[test]
fn a_bad_rowtime_is_a_dead_letter_when_parse_errors_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, "1,a,2024-01-01 00:00:01\n2,b,\n3,c,1969-12-31 23:59:59\n").unwrap();
    let mut s = session();
    s.execute(&format!(
        "CREATE TABLE events (id INT, k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv',
                   'csv.ignore-parse-errors' = 'true')",
        path.display()
    ))
    .unwrap();
    let rows = job(&mut s, "SELECT id FROM events").collect(JobConfig::with_workers(1)).unwrap();
    assert_eq!(rows.iter().map(|r| r.to_string()).collect::<Vec<_>>(), ["(1)"]);
}

#[test]
fn an_in_memory_table_with_a_watermark_feeds_a_job_at_event_time() {
    let mut s = session();
    s.execute(
        "CREATE TABLE v (id INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' MILLISECOND)
             WITH ('connector' = 'values', 'scan.watermark.emit-every' = '1');
         INSERT INTO v VALUES (1, TIMESTAMP '1970-01-01 00:00:00.010'), (2, TIMESTAMP '1970-01-01 00:00:00.020'),
             (3, TIMESTAMP '1970-01-01 00:00:00.030');
         CREATE TABLE out (n BIGINT) WITH ('connector' = 'blackhole')",
    )
    .unwrap();
    let insert = job(&mut s, "INSERT INTO out SELECT COUNT(*) FROM v");
    let changes = changelog(&insert, 1);
    assert_eq!(
        changes.into_iter().collect::<Vec<_>>(),
        [
            ((0, "1".into()), 1),
            ((9, "1".into()), -1),
            ((9, "2".into()), 1),
            ((19, "2".into()), -1),
            ((19, "3".into()), 1)
        ]
    );
}

#[test]
fn an_append_only_sink_refuses_an_updating_query_over_event_time_but_takes_a_batch_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    std::fs::write(&path, out_of_order_csv()).unwrap();
    let mut s = session();
    s.execute(&events_table(&path, "events", ", WATERMARK FOR ts AS ts - INTERVAL '2' SECOND")).unwrap();
    s.execute(&events_table(&path, "batch", "")).unwrap();
    s.execute(&format!(
        "CREATE TABLE out (k STRING, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
        dir.path().join("out").display()
    ))
    .unwrap();
    let error = s.execute("INSERT INTO out SELECT k, COUNT(*) FROM events GROUP BY k").unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
    // Over a table read at one time the result is final when written, so it appends.
    job(&mut s, "INSERT INTO out SELECT k, COUNT(*) FROM batch GROUP BY k");
    job(&mut s, "INSERT INTO out SELECT k, CAST(id AS BIGINT) FROM events WHERE id > 3");
}

#[test]
fn a_datagen_table_with_a_watermark_is_read_at_event_time() {
    let mut s = session();
    s.execute(
        "CREATE TABLE gen (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE)
             WITH ('connector' = 'datagen', 'number-of-rows' = '200', 'scan.watermark.emit-every' = '10')",
    )
    .unwrap();
    // The session answers queries over a bounded generator from its rows; a job reads it.
    assert_eq!(rows(&mut s, "SELECT COUNT(*) FROM gen"), ["200"]);
    s.execute("CREATE TABLE out (n BIGINT) WITH ('connector' = 'blackhole')").unwrap();
    let changes = changelog(&job(&mut s, "INSERT INTO out SELECT COUNT(*) FROM gen"), 1);
    let times: std::collections::BTreeSet<u64> = changes.keys().map(|(time, _)| *time).collect();
    assert!(times.len() > 1, "{changes:?}");
    let last = changes.iter().filter(|(_, n)| **n > 0).max_by_key(|((time, _), _)| *time);
    assert_eq!(last.map(|((_, row), _)| row.as_str()), Some("200"));
}
