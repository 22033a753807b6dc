//! The PostgreSQL sink against the real server: exactly-once commits (replays skipped, a lost
//! connection retried from the staged copy), a checkpointed job, at-least-once and append
//! modes, and the schema checks made before a job starts.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{execute, rows, server_or_skip, unique};
use eddy_connectors::memory::{CollectionSource, GeneratorSource};
use eddy_core::changelog::{consolidate, Change};
use eddy_core::checkpoint::CheckpointConfig;
use eddy_core::job::{Job, JobConfig};
use eddy_core::sink::{Sink, SinkContext};
use eddy_core::watermark::WatermarkStrategy;
use eddy_postgres::{Delivery, PostgresSink};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Account {
    name: String,
    amount: Option<f64>,
    opened: Option<i64>,
    tags: Option<BTreeMap<String, i64>>,
    active: Option<bool>,
}

fn account(name: &str, amount: f64) -> Account {
    Account {
        name: name.to_owned(),
        amount: Some(amount),
        opened: Some(1_700_000_000_123),
        tags: Some(BTreeMap::from([("tier".to_owned(), 2)])),
        active: Some(true),
    }
}

fn accounts_table(url: &str) -> String {
    let table = unique("accounts");
    execute(
        url,
        &format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), \
             opened timestamptz, tags jsonb, active boolean)"
        ),
    );
    table
}

fn context(run: &str) -> SinkContext {
    SinkContext { worker_index: 0, workers: 1, run_id: Some(run.to_owned()) }
}

#[test]
fn exactly_once_commits_skip_replays_and_survive_a_lost_connection() {
    let Some(url) = server_or_skip() else { return };
    let table = accounts_table(&url);
    let progress = unique("progress");
    let sink = PostgresSink::<Change<i64, Account>>::upsert(&url, &table, Delivery::ExactlyOnce)
        .unwrap()
        .progress_table(&progress)
        .batch_size(2);
    let committer = sink.committer().unwrap();
    let mut writer = sink.writer(&context("run-a")).unwrap();
    execute(&url, &format!("INSERT INTO {table} (id, name) VALUES (3, 'old')"));
    for change in [
        Change::Upsert(1, account("ann", 1.5)),
        Change::Upsert(2, account("bob", 2.0)),
        Change::Upsert(1, account("ann o'hara", 10.25)),
        Change::Delete(3),
        Change::Upsert(
            4,
            Account { name: "dee".into(), amount: None, opened: None, tags: None, active: None },
        ),
    ] {
        writer.write(change, 0, 0).unwrap();
    }
    let first = writer.prepare_commit().unwrap();
    assert!(rows(&url, &format!("SELECT id FROM {table}")) == vec!["3"], "nothing visible before the commit");
    committer.commit(&first).unwrap();
    let after_first = vec![
        "1|ann o'hara|10.25|2023-11-14 22:13:20.123+00|{\"tier\": 2}|t",
        "2|bob|2.00|2023-11-14 22:13:20.123+00|{\"tier\": 2}|t",
        "4|dee|∅|∅|∅|∅",
    ];
    let select = format!("SELECT id, name, amount, opened, tags, active FROM {table}");
    assert_eq!(rows(&url, &select), after_first);

    writer.write(Change::Upsert(2, account("bob", 3.0)), 0, 0).unwrap();
    writer.write(Change::Delete(1), 0, 0).unwrap();
    let second = writer.prepare_commit().unwrap();
    // Cut the committer's connection (found by the progress table in its last statement)
    // between the two commits: the second commit reconnects and applies the staged copy.
    let killed = rows(
        &url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE query LIKE '%{progress}%' AND pid <> pg_backend_pid()"
        ),
    );
    assert_eq!(killed, vec!["t"], "the committer's connection was found and terminated");
    committer.commit(&second).unwrap();
    let after_second =
        vec!["2|bob|3.00|2023-11-14 22:13:20.123+00|{\"tier\": 2}|t".to_owned(), "4|dee|∅|∅|∅|∅".to_owned()];
    assert_eq!(rows(&url, &select), after_second);

    // A replay of the first commit (as after a crash between its commit and the next
    // checkpoint) must not bring back row 1 or the old amount of row 2.
    committer.commit(&first).unwrap();
    committer.recover(&[first, second].concat(), "run-b").unwrap();
    assert_eq!(rows(&url, &select), after_second);
    assert_eq!(
        rows(&url, &format!("SELECT sink, run, writer, sequence FROM {progress}")),
        vec![format!("{table}|run-a|0|2")]
    );
}

/// A changelog over `keys` keys, deterministic, with deletes and re-inserts.
fn changelog(n: u64, keys: u64) -> Vec<(u64, Change<i64, Account>)> {
    (0..n)
        .map(|i| {
            let key = ((i * 7919) % keys) as i64;
            let change = if i % 11 == 5 {
                Change::Delete(key)
            } else {
                Change::Upsert(key, account(&format!("name-{i}"), i as f64 / 4.0))
            };
            (1_000 + i * 10, change)
        })
        .collect()
}

fn expected_rows(changes: &[(u64, Change<i64, Account>)]) -> Vec<String> {
    let mut expected: Vec<String> = consolidate(changes.iter().map(|(_, change)| change.clone()))
        .into_iter()
        .map(|(key, value)| format!("{key}|{}|{:.2}", value.name, value.amount.unwrap()))
        .collect();
    expected.sort();
    expected
}

/// Change `n` of split `split` of the paced job below: keys `k` with `k % 3 == split`, so each
/// key's changes stay in one split, in order.
fn split_change(split: usize, n: u64) -> (u64, Change<i64, Account>) {
    let key = 3 * ((n * 7919) % 33) as i64 + split as i64;
    let change = if n % 11 == 5 {
        Change::Delete(key)
    } else {
        Change::Upsert(key, account(&format!("name-{split}-{n}"), n as f64 / 4.0))
    };
    (1_000 + n * 10, change)
}

#[test]
fn a_checkpointed_job_writes_the_changelog_exactly_once() {
    const PER_SPLIT: u64 = 1_000;
    let Some(url) = server_or_skip() else { return };
    let table = accounts_table(&url);
    let changes: Vec<(u64, Change<i64, Account>)> =
        (0..3).flat_map(|split| (0..PER_SPLIT).map(move |n| split_change(split, n))).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(dir.path().join("chk"), Duration::from_millis(20))),
        ..JobConfig::with_workers(2)
    };
    let (job_url, job_table) = (url.clone(), table.clone());
    Job::new(config)
        .run(move |env| {
            let sink =
                PostgresSink::<Change<i64, Account>>::upsert(&job_url, &job_table, Delivery::ExactlyOnce)?
                    .batch_size(64);
            let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
                .with_timestamps(|record: &(u64, Change<i64, Account>)| record.0)
                .with_emit_every(16);
            // Paced so that the run spans several checkpoints.
            let source = GeneratorSource::new(3, split_change).with_rate(4_000).with_count(PER_SPLIT);
            env.from_source(source, strategy).map(|record: (u64, Change<i64, Account>)| record.1).sink(sink);
            Ok(())
        })
        .unwrap();
    assert_eq!(rows(&url, &format!("SELECT id, name, amount FROM {table}")), expected_rows(&changes));
    let commits = rows(
        &url,
        &format!("SELECT count(*), max(sequence) > 1 FROM eddy_sink_progress WHERE sink = '{table}'"),
    );
    assert_eq!(
        commits,
        vec!["2|t"],
        "both writers committed, over several checkpoints, through the progress table"
    );
}

#[test]
fn at_least_once_upserts_and_appends_without_checkpoints() {
    let Some(url) = server_or_skip() else { return };
    let table = accounts_table(&url);
    let changes = changelog(500, 31);
    let log = unique("log");
    execute(&url, &format!("CREATE TABLE {log} (seq bigint NOT NULL, at timestamp, note text)"));
    #[derive(Clone, Debug, Serialize, Deserialize)]
    struct Entry {
        seq: u64,
        at: i64,
        note: Option<String>,
    }
    let (job_url, job_table, job_log) = (url.clone(), table.clone(), log.clone());
    let job_changes = changes.clone();
    Job::new(JobConfig::with_workers(1))
        .run(move |env| {
            let sink =
                PostgresSink::<Change<i64, Account>>::upsert(&job_url, &job_table, Delivery::AtLeastOnce)?
                    .batch_size(40);
            let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
                .with_timestamps(|record: &(u64, Change<i64, Account>)| record.0);
            let stream = env.from_source(CollectionSource::new(job_changes.clone()), strategy);
            stream.clone().map(|record: (u64, Change<i64, Account>)| record.1).sink(sink);
            let appender =
                PostgresSink::<Entry>::append(&job_url, &job_log, Delivery::AtLeastOnce)?.batch_size(64);
            stream
                .map(|record: (u64, Change<i64, Account>)| Entry {
                    seq: record.0,
                    at: record.0 as i64,
                    note: record.0.is_multiple_of(20).then(|| "even".to_owned()),
                })
                .sink(appender);
            Ok(())
        })
        .unwrap();
    assert_eq!(rows(&url, &format!("SELECT id, name, amount FROM {table}")), expected_rows(&changes));
    assert_eq!(
        rows(&url, &format!("SELECT count(*), count(DISTINCT seq), count(note), min(at) FROM {log}")),
        vec!["500|500|250|1970-01-01 00:00:01"]
    );
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Extra {
    name: String,
    nickname: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WrongType {
    name: String,
    active: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct NoName {
    amount: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct CompositeKey {
    id: i64,
    region: String,
}

#[test]
fn schema_mismatches_are_clear_errors_before_the_job_starts() {
    let Some(url) = server_or_skip() else { return };
    let table = accounts_table(&url);
    let error = |result: eddy_core::error::Result<()>| result.unwrap_err().to_string();
    let missing =
        error(PostgresSink::<Change<i64, Extra>>::upsert(&url, &table, Delivery::ExactlyOnce).map(drop));
    assert!(missing.contains(&format!("table `{table}` has no column `nickname`")), "{missing}");
    let wrong =
        error(PostgresSink::<Change<i64, WrongType>>::upsert(&url, &table, Delivery::ExactlyOnce).map(drop));
    assert!(
        wrong.contains("column `active`") && wrong.contains("boolean") && wrong.contains("I64"),
        "{wrong}"
    );
    let required =
        error(PostgresSink::<Change<i64, NoName>>::upsert(&url, &table, Delivery::ExactlyOnce).map(drop));
    assert!(required.contains("column `name` is NOT NULL without a default"), "{required}");
    let key = error(
        PostgresSink::<Change<CompositeKey, NoName>>::upsert(&url, &table, Delivery::ExactlyOnce).map(drop),
    );
    assert!(key.contains("no column `region`"), "{key}");
    let log = unique("nokey");
    execute(&url, &format!("CREATE TABLE {log} (id bigint, name text)"));
    let no_key =
        error(PostgresSink::<Change<i64, Extra>>::upsert(&url, &log, Delivery::AtLeastOnce).map(drop));
    assert!(no_key.contains(&format!("table `{log}` has no primary key")), "{no_key}");
    let absent = error(
        PostgresSink::<Change<i64, Account>>::upsert(&url, "no_such_table", Delivery::AtLeastOnce).map(drop),
    );
    assert!(absent.contains("no_such_table") && absent.contains("does not exist"), "{absent}");
    let login = error(
        PostgresSink::<Change<i64, Account>>::upsert(
            &url.replace("postgres@", "nobody_here@"),
            &table,
            Delivery::AtLeastOnce,
        )
        .map(drop),
    );
    assert!(login.contains("nobody_here") && login.contains("28000"), "{login}");
}
