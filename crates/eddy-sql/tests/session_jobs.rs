//! Statements over connector tables run as eddy jobs: files in and out, dead letters, an
//! updating query refused by an append-only sink, and a checkpointed SQL job with a join and
//! aggregates that fails, is restored at another worker count, and commits exactly the
//! failure-free result.

mod jobs_common;

use jobs_common::{job, session};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::FileSink;
use eddy_core::checkpoint::{CheckpointConfig, RestoreFrom};
use eddy_core::prelude::{Job, JobConfig};
use eddy_sql::pipeline::Output;
use eddy_testkit::output::committed_sorted;

#[test]
fn files_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("orders.csv"), "1,ann,10.50\n2,bob,3.25\n3,ann,1.00\n4,cid,\n").unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE orders (id INT, customer VARCHAR, amount DECIMAL(10, 2))
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             CREATE TABLE totals (customer VARCHAR, n BIGINT, total DECIMAL(38, 2))
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');",
            dir.path().join("orders.csv").display(),
            dir.path().join("totals").display()
        ))
        .unwrap();
    let query = job(&mut session, "SELECT customer, SUM(amount) FROM orders GROUP BY customer");
    assert!(query.is_bounded());
    let mut rows: Vec<String> =
        query.collect(JobConfig::with_workers(2)).unwrap().iter().map(|r| r.to_string()).collect();
    rows.sort();
    assert_eq!(rows, ["('ann', 11.50)", "('bob', 3.25)", "('cid', NULL)"]);
    let insert = job(
        &mut session,
        "INSERT INTO totals SELECT customer, COUNT(*), SUM(amount) FROM orders WHERE amount IS NOT NULL GROUP BY customer",
    );
    insert.run(JobConfig::with_workers(2)).unwrap();
    assert_eq!(
        committed_sorted(&dir.path().join("totals")),
        [r#"{"customer":"ann","n":2,"total":11.5}"#, r#"{"customer":"bob","n":1,"total":3.25}"#,]
    );
}

#[test]
fn rows_a_query_cannot_process_go_to_the_dead_letter_table_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.csv"), "1,4\n2,0\n3,3\n").unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE t (a INT, b INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             CREATE TABLE out (a INT, q INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
             CREATE TABLE bad (query STRING, operator STRING, row_text STRING, error STRING)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');",
            dir.path().join("in.csv").display(),
            dir.path().join("out").display(),
            dir.path().join("bad").display()
        ))
        .unwrap();
    // Without a dead-letter table, the row fails the job, naming the row.
    let failing = job(&mut session, "INSERT INTO out SELECT a, 12 / b FROM t");
    let error = failing.run(JobConfig::with_workers(2)).unwrap_err().to_string();
    assert!(error.contains("division by zero") && error.contains("(2, 0)"), "{error}");
    // With one, the good rows are written and the bad one is a dead letter.
    std::fs::remove_dir_all(dir.path().join("out")).ok();
    session.execute("SET 'sql.dead-letter-table' = 'bad'").unwrap();
    job(&mut session, "INSERT INTO out SELECT a, 12 / b FROM t").run(JobConfig::with_workers(2)).unwrap();
    assert_eq!(committed_sorted(&dir.path().join("out")), ["1,3", "3,4"]);
    let letters = committed_sorted(&dir.path().join("bad"));
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        letters[0].contains(r#""query":"out""#) && letters[0].contains("division by zero"),
        "{letters:?}"
    );
    assert!(letters[0].contains(r#""row_text":"(2, 0)""#), "{letters:?}");
    // A dead-letter table of another shape is refused.
    session.execute("SET 'sql.dead-letter-table' = 't'").unwrap();
    let error = session.execute("INSERT INTO out SELECT a, b FROM t").unwrap_err().to_string();
    assert!(error.contains("four string columns"), "{error}");
}

#[test]
fn an_append_only_sink_refuses_an_updating_query() {
    let dir = tempfile::tempdir().unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE bid (auction BIGINT, price BIGINT) WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '1000');
             CREATE TABLE out (auction BIGINT, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
            dir.path().display()
        ))
        .unwrap();
    let error =
        session.execute("INSERT INTO out SELECT auction, COUNT(*) FROM bid GROUP BY auction").unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
    // An append-only query is fine.
    job(&mut session, "INSERT INTO out SELECT auction, price FROM bid WHERE price > 100");
}

/// The tables. `bid_close` is paced (its event times follow the rate too): its run lasts about
/// a second, so checkpoints commit window results while it runs, whatever the machine's speed.
const SCHEMA: &str = "
    CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3))
        WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '30000');
    CREATE TABLE auction (id BIGINT, seller BIGINT, category BIGINT)
        WITH ('connector' = 'nexmark', 'table' = 'auction', 'events.num' = '30000');
    CREATE TABLE bid_close (auction BIGINT, price BIGINT, dateTime TIMESTAMP(3),
            WATERMARK FOR dateTime AS dateTime - INTERVAL '0.05' SECOND)
        WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '8000',
              'scan.watermark.emit-every' = '64', 'events.per-second' = '8000');";

const QUERY: &str = "SELECT a.category, COUNT(*), MAX(b.price), COUNT(DISTINCT b.bidder)
    FROM bid b JOIN auction a ON b.auction = a.id GROUP BY a.category";

/// When a run fails.
#[derive(Clone, Copy)]
enum Fail {
    Never,
    /// After this many changes.
    After(u64),
    /// After this many changes, at the first change once some output has been committed (so
    /// that the restore starts from a checkpoint that committed results, however fast the job).
    AfterCommitted(u64),
}

/// Runs the query with its changelog written (as `+I[..]` lines) to `output`, failing as `fail`
/// says.
fn run(
    query: &str,
    workers: usize,
    checkpoints: Option<(&Path, Option<RestoreFrom>)>,
    output: &Path,
    fail: Fail,
) -> eddy_core::Result<()> {
    let mut session = session();
    session.execute(SCHEMA).unwrap();
    let mut job = job(&mut session, query);
    job.pipeline.inserts[0].output = Output::Stream;
    let pipeline = job.pipeline.clone();
    let mut config = JobConfig::with_workers(workers);
    if let Some((dir, restore)) = checkpoints {
        let mut checkpoint = CheckpointConfig::new(dir, Duration::from_millis(20));
        checkpoint.restore = restore;
        config.checkpoint = Some(checkpoint);
    }
    let (fail_after, once_committed) = match fail {
        Fail::Never => (u64::MAX, false),
        Fail::After(n) => (n, false),
        Fail::AfterCommitted(n) => (n, true),
    };
    let countdown = Arc::new(AtomicU64::new(fail_after));
    let output = output.to_owned();
    Job::new(config).run(move |env| {
        let countdown = Arc::clone(&countdown);
        let committed = output.clone();
        let streams = pipeline.build(env)?;
        streams
            .into_iter()
            .next()
            .expect("the query's changes")
            .inspect(move |_, _| {
                if fail_after == u64::MAX {
                    return;
                }
                if countdown.load(Ordering::SeqCst) > 1 {
                    countdown.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
                if !once_committed || !committed_sorted(&committed).is_empty() {
                    panic!("injected failure");
                }
                // Waiting for a checkpoint to commit: slow down, so the job does not end first.
                std::thread::sleep(Duration::from_millis(1));
            })
            .map(|change| change.to_string())
            .sink(FileSink::<String>::json_lines(&output))
            .uid("changes");
        Ok(())
    })?;
    Ok(())
}

/// The table a changelog of `+I[..]`/`-D[..]` lines ends at.
fn fold(lines: &[String]) -> BTreeMap<String, i64> {
    let mut table = BTreeMap::new();
    for line in lines {
        let change: String = serde_json::from_str(line).unwrap();
        let (sign, row) = change.split_at(2);
        *table.entry(row.to_owned()).or_insert(0) += if sign.starts_with('+') { 1 } else { -1 };
    }
    table.retain(|_, n| *n != 0);
    assert!(table.values().all(|n| *n == 1), "a row added twice or removed more than added: {table:?}");
    table
}

#[test]
fn a_checkpointed_sql_job_restores_exactly_once_at_another_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, output, checkpoints) =
        (dir.path().join("ref"), dir.path().join("out"), dir.path().join("chk"));
    run(QUERY, 2, None, &reference, Fail::Never).unwrap();
    let expected = fold(&committed_sorted(&reference));
    assert!(expected.len() > 3, "{expected:?}");

    let result = run(QUERY, 2, Some((&checkpoints, None)), &output, Fail::After(40));
    assert!(result.is_err(), "the injected failure fails the job");
    run(QUERY, 3, Some((&checkpoints, Some(RestoreFrom::Latest))), &output, Fail::Never).unwrap();
    assert_eq!(fold(&committed_sorted(&output)), expected);

    // The input states keep only the columns the query reads (not `bid.dateTime`): a query
    // that reads it cannot restore from them, and says so.
    let wider = "SELECT a.category, COUNT(*), MAX(b.dateTime) FROM bid b JOIN auction a ON b.auction = a.id \
                 GROUP BY a.category";
    let error = run(
        wider,
        2,
        Some((&checkpoints, Some(RestoreFrom::Latest))),
        &dir.path().join("wider"),
        Fail::Never,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("kept only the columns"), "{error}");
}

/// Event-time operators (tumbling windows, sessions, MATCH_RECOGNIZE, an interval join) after a failure and a
/// restore at another worker count: results committed before the checkpoint neither come again
/// nor are retracted, and the rest come once.
#[test]
fn checkpointed_windowed_sql_jobs_restore_exactly_once_at_another_worker_count() {
    let queries = [
        "SELECT b.window_start, COUNT(*), MAX(b.price), SUM(b.auction)
         FROM TABLE(TUMBLE(TABLE bid_close, DESCRIPTOR(dateTime), INTERVAL '25' MILLISECOND)) b
         GROUP BY b.window_start, b.window_end",
        "SELECT auction, window_start, window_end, COUNT(*)
         FROM TABLE(SESSION(TABLE bid_close PARTITION BY auction, DESCRIPTOR(dateTime), INTERVAL '30' MILLISECOND))
         GROUP BY auction, window_start, window_end",
        "SELECT * FROM bid_close MATCH_RECOGNIZE (
             PARTITION BY auction ORDER BY dateTime
             MEASURES FIRST(A.dateTime) AS first_at, LAST(B.dateTime) AS last_at, COUNT(B.price) AS rises
             ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
             PATTERN (A B+ C)
             DEFINE B AS B.price > PREV(B.price), C AS C.price <= PREV(C.price))",
        "SELECT a.auction, a.dateTime, b.dateTime, a.price, b.price FROM bid_close a, bid_close b
         WHERE a.auction = b.auction AND a.price > b.price AND a.auction % 25 = 0
           AND a.dateTime BETWEEN b.dateTime AND b.dateTime + INTERVAL '2' MILLISECOND",
    ];
    for query in queries {
        let dir = tempfile::tempdir().unwrap();
        let (reference, output, checkpoints) =
            (dir.path().join("ref"), dir.path().join("out"), dir.path().join("chk"));
        run(query, 2, None, &reference, Fail::Never).unwrap();
        let expected = fold(&committed_sorted(&reference));
        assert!(expected.len() > 20, "{query}: {expected:?}");
        // Failures at two points: the first wherever it falls (before or after results were
        // committed), the second once some were.
        let mut restored_after_commits = false;
        let third = expected.len() as u64 / 3;
        for (round, fail) in [Fail::After(third), Fail::AfterCommitted(2 * third)].into_iter().enumerate() {
            let (output, checkpoints) = (output.join(round.to_string()), checkpoints.join(round.to_string()));
            let result = run(query, 2, Some((&checkpoints, None)), &output, fail);
            assert!(result.is_err(), "the injected failure fails the job");
            restored_after_commits |= !committed_sorted(&output).is_empty();
            run(query, 3, Some((&checkpoints, Some(RestoreFrom::Latest))), &output, Fail::Never).unwrap();
            assert_eq!(fold(&committed_sorted(&output)), expected, "{query}: failure of round {round}");
        }
        assert!(restored_after_commits, "{query}: no failure came after a checkpoint had committed results");
    }
}
