//! A checkpointed `eddy sql -f` job (a join and an aggregate over paced Nexmark tables,
//! written as a Debezium changelog to files) killed with SIGKILL after a checkpoint, restored
//! with `--restore latest` at another worker count: the changelog, folded into a table, ends
//! where a failure-free run's does. The same for Nexmark's own SQL files (windows, window
//! joins, a temporal join), their blackhole sinks made files.
#![cfg(feature = "sql")]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eddy_core::checkpoint::store::{list_checkpoints, MANIFEST};
use eddy_core::time::{Clock, SystemClock};
use eddy_testkit::output::committed_sorted;

/// The job: bids joined with their auctions, per category the number of bids and the highest
/// price. `RATE` paces each table so that the job runs for a few seconds.
fn script(output: &Path, rate: &str) -> String {
    format!(
        "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT)
             WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '20000'{rate});
         CREATE TABLE auction (id BIGINT, seller BIGINT, category BIGINT)
             WITH ('connector' = 'nexmark', 'table' = 'auction', 'events.num' = '20000'{rate});
         CREATE TABLE per_category (category BIGINT, bids BIGINT, max_price BIGINT)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');
         INSERT INTO per_category
         SELECT a.category, COUNT(*), MAX(b.price)
         FROM bid b JOIN auction a ON b.auction = a.id
         GROUP BY a.category;",
        output.display()
    )
}

fn eddy_sql(script: &Path, flags: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command.args(["sql", "-f"]).arg(script).args(flags);
    command
}

/// The table a Debezium changelog ends at: `c` adds `after`, `d` removes `before`.
fn fold(output: &Path) -> BTreeMap<String, i64> {
    let mut table = BTreeMap::new();
    for line in committed_sorted(output) {
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        let (row, diff) = match event["op"].as_str() {
            Some("c") => (&event["after"], 1),
            Some("d") => (&event["before"], -1),
            other => panic!("unexpected op {other:?} in {line}"),
        };
        *table.entry(row.to_string()).or_insert(0) += diff;
    }
    table.retain(|_, count| *count != 0);
    assert!(table.values().all(|count| *count > 0), "a row removed more often than added: {table:?}");
    table
}

/// Waits (up to 30 s) until `checkpoints` holds a complete checkpoint and the job has
/// committed some output; fails if `job` exits first.
fn wait_for_checkpointed_output(job: &mut Child, checkpoints: &Path, output: &Path) {
    let deadline = SystemClock.now_ms() + 30_000;
    loop {
        let complete = list_checkpoints(checkpoints)
            .unwrap_or_default()
            .iter()
            .any(|(_, path)| path.join(MANIFEST).exists());
        if complete && !committed_sorted(output).is_empty() {
            return;
        }
        if let Some(status) = job.try_wait().unwrap() {
            panic!("the job ended ({status}) before it committed output at a checkpoint");
        }
        assert!(SystemClock.now_ms() < deadline, "no checkpoint after 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How the first run of [`kill_and_restore`] fails.
enum Failure {
    /// SIGKILL once a checkpoint has committed output (the job must still be running then).
    KillAfterOutput,
    /// The process aborts itself right after committing its N-th checkpoint
    /// (`EDDY_FAILPOINT=after-commit:N`), whether or not output has been committed by then:
    /// a job whose windows all close at the end of its input commits output only then, too
    /// late for a kill from outside to land reliably.
    AbortAfterCommit(u32),
}

/// Runs `script(output, rate)` failure-free, then again failing as `failure` says and restored
/// at three workers; the restored changelog must fold to the failure-free one. Returns the
/// folded table. (The rate paces Nexmark tables and sets their event times, so both runs have
/// it.)
fn kill_and_restore(
    dir: &Path,
    script: &dyn Fn(&Path, &str) -> String,
    failure: Failure,
) -> BTreeMap<String, i64> {
    let (reference, output, checkpoints) = (dir.join("reference"), dir.join("out"), dir.join("chk"));
    let reference_script = dir.join("reference.sql");
    std::fs::write(&reference_script, script(&reference, ", 'events.per-second' = '3000'")).unwrap();
    let status = eddy_sql(&reference_script, &["--workers", "2"]).stderr(Stdio::null()).status().unwrap();
    assert!(status.success());
    let expected = fold(&reference);
    let job_script = dir.join("job.sql");
    std::fs::write(&job_script, script(&output, ", 'events.per-second' = '3000'")).unwrap();
    let flags = ["--checkpoint-dir", checkpoints.to_str().unwrap(), "--checkpoint-interval", "200ms"];
    let mut job = eddy_sql(&job_script, &[&["--workers", "2"], &flags[..]].concat());
    job.stdout(Stdio::null()).stderr(Stdio::null());
    match failure {
        Failure::KillAfterOutput => {
            let mut job = job.spawn().unwrap();
            wait_for_checkpointed_output(&mut job, &checkpoints, &output);
            job.kill().unwrap();
            assert!(!job.wait().unwrap().success(), "the job was killed before it ended");
        }
        Failure::AbortAfterCommit(nth) => {
            let status = job.env("EDDY_FAILPOINT", format!("after-commit:{nth}")).status().unwrap();
            assert!(!status.success(), "the job ended before its checkpoint {nth} was committed");
        }
    }
    let restored = eddy_sql(&job_script, &[&["--workers", "3", "--restore", "latest"], &flags[..]].concat())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&restored.stderr);
    assert!(restored.status.success(), "{stderr}");
    assert!(stderr.contains("restoring from"), "{stderr}");
    assert_eq!(fold(&output), expected);
    expected
}

/// Nexmark's SQL files: hopping windows with a window join (q5), a tumbling window's maximum
/// joined back (q7), a window join of two streams (q8), a lookup join (q13).
#[test]
fn killed_nexmark_sql_jobs_restore_exactly_once() {
    for name in ["q5", "q7", "q8", "q13"] {
        let dir = tempfile::tempdir().unwrap();
        let script = |output: &Path, rate: &str| {
            let sink = format!(
                "'connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json'",
                output.display()
            );
            let text = eddy_nexmark::sql::script(name, 20_000).expect("a Nexmark SQL file");
            assert!(
                text.contains("'connector' = 'blackhole'") && text.contains("'events.num' = '20000'"),
                "{name}"
            );
            text.replace("'connector' = 'blackhole'", &sink)
                .replace("'events.num' = '20000'", &format!("'events.num' = '20000'{rate}"))
        };
        // Checkpoints every 200 ms of a run that lasts about 6.7 s: the fifth falls mid-run.
        let expected = kill_and_restore(dir.path(), &script, Failure::AbortAfterCommit(5));
        assert!(!expected.is_empty(), "{name}: no output");
    }
}

#[test]
fn a_killed_sql_job_restores_at_another_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    // Nexmark's event time follows the rate (3000 events a second) and its watermark lags 4 s
    // behind, so results appear from about 4 s on, and the input ends at about 6.7 s.
    let expected = kill_and_restore(dir.path(), &script, Failure::KillAfterOutput);
    assert!(expected.len() >= 5, "{expected:?}");
    assert!(expected.values().all(|count| *count == 1), "one row per category: {expected:?}");
}

/// A streaming `OVER` (bids ordered by their rowtime, a frame of the last rows per auction):
/// killed after committing output, restored at another worker count, the output is the
/// failure-free run's. The restored job recomputes the rows of its history from the replayed
/// input and keeps only what the frames reach.
#[test]
fn a_killed_streaming_over_job_restores_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let script = |output: &Path, rate: &str| {
        format!(
            "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3),
                               WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND)
                 WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '20000'{rate});
             CREATE TABLE recent (auction BIGINT, bidder BIGINT, price BIGINT, recent_max BIGINT, bids BIGINT)
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');
             INSERT INTO recent
             SELECT auction, bidder, price,
                    MAX(price) OVER (PARTITION BY auction ORDER BY `dateTime` ROWS BETWEEN 5 PRECEDING AND CURRENT ROW),
                    COUNT(*) OVER (PARTITION BY auction ORDER BY `dateTime`
                                   RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW)
             FROM bid;",
            output.display()
        )
    };
    let expected = kill_and_restore(dir.path(), &script, Failure::KillAfterOutput);
    assert!(expected.len() > 1000, "{}", expected.len());
}
