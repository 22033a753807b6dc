//! The CDC source against the real server: a snapshot taken while a writer keeps changing the
//! table, then streaming, delivers every change exactly once in commit order per key; typed
//! values into structs; restoring a checkpoint resumes at its LSN with an exactly-once sink;
//! bad input (types, keys, publications, logins) fails with clear errors.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{connect, execute, rows, server_or_skip, unique};
use eddy_connectors::memory::CollectSink;
use eddy_core::changelog::Change;
use eddy_core::checkpoint::{CheckpointConfig, RestoreFrom};
use eddy_core::job::{Job, JobConfig};
use eddy_core::watermark::WatermarkStrategy;
use eddy_postgres::{stop_prefix, CdcEvent, Delivery, Op, PostgresCdcSource, PostgresSink, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn strategy<T: 'static>() -> WatermarkStrategy<CdcEvent<T>> {
    WatermarkStrategy::bounded_out_of_orderness(0)
        .with_timestamps(|event: &CdcEvent<T>| event.commit_time as u64)
        .with_emit_every(8)
}

/// Waits until the slot exists (the source created it: the snapshot is being read).
fn wait_for_slot(url: &str, slot: &str) {
    for _ in 0..600 {
        if !rows(url, &format!("SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}'")).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the source never created slot {slot}");
}

fn stop(url: &str, slot: &str) {
    execute(url, &format!("SELECT pg_logical_emit_message(true, '{}', '')", stop_prefix(slot)));
}

/// A deterministic stream of transactions over `table` (ids below `ids`, moved keys below
/// `2 * ids`): inserts, updates (some changing the key) and deletes, each transaction 1 to 4
/// statements.
fn writer(url: &str, table: &str, ids: u64, transactions: u64, seed: u64) {
    let mut connection = connect(url);
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    for _ in 0..transactions {
        let mut sql = vec!["BEGIN".to_owned()];
        for _ in 0..1 + next() % 4 {
            let id = next() % ids;
            sql.push(match next() % 4 {
                0 => format!(
                    "INSERT INTO {table} (id, name, price) VALUES ({id}, 'w{id}', {}.25) ON CONFLICT (id) DO NOTHING",
                    next() % 100
                ),
                1 => format!("UPDATE {table} SET price = price + 1, name = name || '+' WHERE id = {id}"),
                2 => format!("DELETE FROM {table} WHERE id = {id}"),
                _ => format!(
                    "UPDATE {table} SET id = {} WHERE id = {id} AND NOT EXISTS (SELECT 1 FROM {table} WHERE id = {})",
                    id + ids,
                    id + ids
                ),
            });
        }
        sql.push("COMMIT".to_owned());
        connection.execute(&sql.join("; ")).unwrap();
    }
}

/// Applies events strictly: a read or insert of a present key, or an update or delete of an
/// absent one, is a duplicate or a gap.
fn apply_strictly(events: &[CdcEvent<Row>]) -> BTreeMap<String, Row> {
    let mut table: BTreeMap<String, Row> = BTreeMap::new();
    let key = |row: &Row| serde_json::to_string(row).unwrap();
    for (index, event) in events.iter().enumerate() {
        let at = format!("event {index}: {event:?}");
        match event.op {
            Op::Read | Op::Insert => {
                assert!(
                    table.insert(key(&event.key), event.after.clone().unwrap()).is_none(),
                    "duplicate: {at}"
                );
            }
            Op::Update => {
                let old = event.old_key.as_ref().unwrap_or(&event.key);
                assert!(table.remove(&key(old)).is_some(), "update of a missing row: {at}");
                assert!(table.insert(key(&event.key), event.after.clone().unwrap()).is_none(), "{at}");
            }
            Op::Delete => assert!(table.remove(&key(&event.key)).is_some(), "delete of a missing row: {at}"),
        }
    }
    table
}

/// The table's rows as the source decodes them, keyed like `apply_strictly`.
fn current_rows(url: &str, table: &str) -> BTreeMap<String, Row> {
    let json = rows(url, &format!("SELECT row_to_json(t)::text FROM {table} t"));
    json.iter()
        .map(|text| {
            let mut row: Row = serde_json::from_str(text).unwrap();
            let price = row["price"].as_f64().map(|price| serde_json::json!(price)).unwrap_or(Value::Null);
            row.insert("price".into(), price);
            (serde_json::to_string(&Row::from_iter([("id".to_owned(), row["id"].clone())])).unwrap(), row)
        })
        .collect()
}

#[test]
fn a_snapshot_under_concurrent_writes_then_streaming_delivers_each_change_once() {
    let Some(url) = server_or_skip() else { return };
    let table = unique("items");
    let slot = unique("slot");
    execute(
        &url,
        &format!("CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(
        &url,
        &format!("INSERT INTO {table} SELECT g, 'n' || g, g / 4.0 FROM generate_series(0, 1999) g"),
    );
    let (sink, handle) = CollectSink::new();
    let (job_url, job_table, job_slot) = (url.clone(), table.clone(), slot.clone());
    let dir = tempfile::tempdir().unwrap();
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(dir.path().join("chk"), Duration::from_millis(30))),
        ..JobConfig::with_workers(2)
    };
    let job = std::thread::spawn(move || {
        Job::new(config).run(move |env| {
            let source = PostgresCdcSource::rows(&job_url, &[&job_table], &job_slot)?.fetch_size(25);
            env.from_source(source, strategy()).sink(sink.clone());
            Ok(())
        })
    });
    wait_for_slot(&url, &slot);
    writer(&url, &table, 3000, 400, 7);
    stop(&url, &slot);
    job.join().unwrap().unwrap();
    let events = handle.values();
    let reads = events.iter().filter(|event| event.op == Op::Read).count();
    assert!(reads <= 2000 + 400 * 4, "{reads} snapshot rows");
    assert!(
        events.iter().any(|event| event.op == Op::Update && event.old_key.is_some()),
        "a key change streamed"
    );
    assert!(events.iter().any(|event| event.op == Op::Delete), "deletes streamed");
    assert!(
        events.windows(2).all(|pair| pair[0].sequence + 1 == pair[1].sequence),
        "sequences number the changelog without gaps, in order"
    );
    let applied = apply_strictly(&events);
    assert_eq!(applied, current_rows(&url, &table), "the changelog replays to the table's contents");
    // The slot's confirmed position moved: the source acknowledged completed checkpoints.
    let confirmed = rows(
        &url,
        &format!(
            "SELECT confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ),
    );
    assert_eq!(confirmed, vec!["t"]);
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Typed {
    id: i32,
    small: Option<i16>,
    big: Option<i64>,
    amount: Option<f64>,
    ratio: Option<f64>,
    flag: Option<bool>,
    label: Option<String>,
    code: Option<String>,
    at: Option<i64>,
    local_at: Option<i64>,
    doc: Option<Value>,
    plain: Option<Value>,
    day: Option<String>,
}

#[test]
fn typed_values_decode_into_structs_in_snapshot_and_stream() {
    let Some(url) = server_or_skip() else { return };
    let table = unique("typed");
    let slot = unique("slot");
    execute(
        &url,
        &format!(
            "CREATE TABLE {table} (id integer PRIMARY KEY, small smallint, big bigint, amount numeric(12,3), \
             ratio double precision, flag boolean, label text, code varchar(8), at timestamptz, \
             local_at timestamp, doc jsonb, plain json, day date)"
        ),
    );
    let values = "(1, -3, 9007199254740993, 12345.678, 0.5, true, 'it''s', 'ab', \
                  '2023-11-14 23:13:20.123+01', '2023-11-14 22:13:20.123', '{\"k\": [1, null]}', '[true]', '2024-02-29')";
    execute(&url, &format!("INSERT INTO {table} VALUES {values}, (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"));
    let (sink, handle) = CollectSink::new();
    let (job_url, job_table, job_slot) = (url.clone(), table.clone(), slot.clone());
    let job = std::thread::spawn(move || {
        Job::new(JobConfig::with_workers(1)).run(move |env| {
            let source = PostgresCdcSource::<Typed>::serde(&job_url, &[&job_table], &job_slot)?;
            env.from_source(source, strategy()).sink(sink.clone());
            Ok(())
        })
    });
    wait_for_slot(&url, &slot);
    execute(&url, &format!("INSERT INTO {table} VALUES {}", values.replacen("(1,", "(3,", 1)));
    execute(&url, &format!("UPDATE {table} SET flag = false, big = NULL WHERE id = 3"));
    execute(&url, &format!("DELETE FROM {table} WHERE id = 2"));
    stop(&url, &slot);
    job.join().unwrap().unwrap();
    let events = handle.values();
    let full = Typed {
        id: 1,
        small: Some(-3),
        big: Some(9_007_199_254_740_993),
        amount: Some(12345.678),
        ratio: Some(0.5),
        flag: Some(true),
        label: Some("it's".into()),
        code: Some("ab".into()),
        at: Some(1_700_000_000_123),
        local_at: Some(1_700_000_000_123),
        doc: Some(serde_json::json!({"k": [1, null]})),
        plain: Some(serde_json::json!([true])),
        day: Some("2024-02-29".into()),
    };
    let empty = Typed {
        id: 2,
        small: None,
        big: None,
        amount: None,
        ratio: None,
        flag: None,
        label: None,
        code: None,
        at: None,
        local_at: None,
        doc: None,
        plain: None,
        day: None,
    };
    let summary: Vec<(Op, Option<Typed>)> =
        events.iter().map(|event| (event.op, event.after.clone())).collect();
    assert_eq!(
        summary,
        vec![
            (Op::Read, Some(full.clone())),
            (Op::Read, Some(empty.clone())),
            (Op::Insert, Some(Typed { id: 3, ..full.clone() })),
            (Op::Update, Some(Typed { id: 3, flag: Some(false), big: None, ..full.clone() })),
            (Op::Delete, None),
        ]
    );
    assert_eq!(events[4].key, Row::from_iter([("id".to_owned(), serde_json::json!(2))]));
    assert!(events[2].commit_time >= events[0].commit_time, "commit times from the server");
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    id: i64,
    name: String,
    price: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Copy {
    name: String,
    price: Option<f64>,
}

/// Copies `table` into `copy` through the CDC source and the exactly-once sink; panics once
/// after `fail_after` events (if given) when a checkpoint has completed.
fn copy_job(
    url: &str,
    table: &str,
    copy: &str,
    slot: &str,
    checkpoints: &std::path::Path,
    restore: bool,
    fail_after: Option<u64>,
) -> eddy_core::Result<()> {
    let mut checkpoint = CheckpointConfig::new(checkpoints, Duration::from_millis(30));
    if restore {
        checkpoint = checkpoint.restore(RestoreFrom::Latest);
    }
    let config =
        JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(if restore { 3 } else { 2 }) };
    let (url, table, copy, slot) = (url.to_owned(), table.to_owned(), copy.to_owned(), slot.to_owned());
    let seen = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    Job::new(config)
        .run(move |env| {
            let source = PostgresCdcSource::<Item>::serde(&url, &[&table], &slot)?.fetch_size(100);
            let sink = PostgresSink::<Change<i64, Copy>>::upsert(&url, &copy, Delivery::ExactlyOnce)?;
            let (seen, failed) = (Arc::clone(&seen), Arc::clone(&failed));
            env.from_source(source, strategy())
                .uid("cdc")
                .flat_map(move |event: CdcEvent<Item>| {
                    let count = seen.fetch_add(1, Ordering::SeqCst);
                    if fail_after.is_some_and(|limit| count == limit) && !failed.swap(true, Ordering::SeqCst)
                    {
                        panic!("injected failure after {count} events");
                    }
                    event
                        .into_changes(|key| key["id"].as_i64().unwrap())
                        .into_iter()
                        .map(|change| change.map_value(|item| Copy { name: item.name, price: item.price }))
                        .collect::<Vec<_>>()
                })
                .sink(sink)
                .uid("copy");
            Ok(())
        })
        .map(drop)
}

#[test]
fn a_failed_job_restores_at_the_checkpoint_lsn_on_more_workers_and_the_copy_equals_the_table() {
    let Some(url) = server_or_skip() else { return };
    let table = unique("source");
    let copy = unique("copy");
    let slot = unique("slot");
    execute(
        &url,
        &format!("CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(
        &url,
        &format!("CREATE TABLE {copy} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(&url, &format!("INSERT INTO {table} SELECT g, 'n' || g, g / 4.0 FROM generate_series(0, 499) g"));
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = dir.path().join("chk");
    let first = {
        let (url, table, copy, slot, checkpoints) =
            (url.clone(), table.clone(), copy.clone(), slot.clone(), checkpoints.clone());
        std::thread::spawn(move || copy_job(&url, &table, &copy, &slot, &checkpoints, false, Some(900)))
    };
    wait_for_slot(&url, &slot);
    writer(&url, &table, 600, 600, 11);
    let failure = first.join();
    assert!(failure.is_err() || failure.unwrap().is_err(), "the first run failed at the injected panic");
    writer(&url, &table, 600, 200, 13);
    stop(&url, &slot);
    copy_job(&url, &table, &copy, &slot, &checkpoints, true, None).unwrap();
    let select = |name: &str| rows(&url, &format!("SELECT id, name, price FROM {name}"));
    assert_eq!(select(&copy), select(&table), "after the restore, the copy equals the source table");
    // What `eddy inspect CHECKPOINT --operator cdc` prints: the split's LSN position.
    let (_, newest) = eddy_core::checkpoint::store::list_checkpoints(&checkpoints).unwrap().remove(0);
    let mut dump = Vec::new();
    eddy_core::checkpoint::inspect::dump(&newest, "cdc", &mut dump).unwrap();
    let dump = String::from_utf8(dump).unwrap();
    let state: Value = serde_json::from_str(dump.lines().next().unwrap()).unwrap();
    assert_eq!(state["split"], format!("postgres-cdc/{slot}"));
    let lsn = state["state"]["position"]["lsn"].as_str().unwrap().to_owned();
    assert!(eddy_postgres::pgoutput::parse_lsn(&lsn).is_some(), "{dump}");
    assert_eq!(state["state"]["position"]["finished"], true, "{dump}");
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}

/// Terminates the server processes of the source's slot and of the sink writing `copy`.
fn cut_connections(url: &str, slot: &str, copy: &str) -> usize {
    rows(
        url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND \
             (pid IN (SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}') OR query LIKE '%{copy}%')"
        ),
    )
    .len()
}

#[test]
fn lost_connections_reconnect_and_resume_without_loss() {
    let Some(url) = server_or_skip() else { return };
    let table = unique("source");
    let copy = unique("copy");
    let slot = unique("slot");
    execute(
        &url,
        &format!("CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(
        &url,
        &format!("CREATE TABLE {copy} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(&url, &format!("INSERT INTO {table} SELECT g, 'n' || g, g / 4.0 FROM generate_series(0, 299) g"));
    let dir = tempfile::tempdir().unwrap();
    let job = {
        let (url, table, copy, slot, checkpoints) =
            (url.clone(), table.clone(), copy.clone(), slot.clone(), dir.path().join("chk"));
        std::thread::spawn(move || copy_job(&url, &table, &copy, &slot, &checkpoints, false, None))
    };
    wait_for_slot(&url, &slot);
    let mut cut = 0;
    for round in 0..4 {
        writer(&url, &table, 400, 100, 20 + round);
        // Wait until the source streams (its slot is active) so the cut hits the stream.
        for _ in 0..200 {
            if rows(&url, &format!("SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"))
                == ["t"]
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cut += cut_connections(&url, &slot, &copy);
    }
    assert!(cut >= 4, "connections were cut ({cut})");
    writer(&url, &table, 400, 100, 99);
    stop(&url, &slot);
    job.join().unwrap().unwrap();
    let select = |name: &str| rows(&url, &format!("SELECT id, name, price FROM {name}"));
    assert_eq!(select(&copy), select(&table), "after the reconnections, the copy equals the source table");
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}

/// A private cluster of this test only (`scripts/postgres.sh` with its own state directory),
/// stopped and deleted when dropped.
struct PrivateCluster {
    dir: tempfile::TempDir,
    address: String,
}

impl PrivateCluster {
    fn script(dir: &std::path::Path, arguments: &[&str]) -> Result<String, String> {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
        let output = std::process::Command::new("bash")
            .arg(script)
            .args(arguments)
            .env("EDDY_PG_DIR", dir)
            .env_remove("EDDY_PG_PORT")
            .output()
            .map_err(|error| error.to_string())?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_owned())
    }

    fn start() -> Result<PrivateCluster, String> {
        let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
        let address = PrivateCluster::script(dir.path(), &["start"])?;
        Ok(PrivateCluster { dir, address })
    }

    fn restart(&self, down_seconds: u32) {
        PrivateCluster::script(self.dir.path(), &["restart", &down_seconds.to_string()]).unwrap();
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = PrivateCluster::script(self.dir.path(), &["stop"]);
    }
}

#[test]
fn a_server_restart_during_the_run_loses_nothing() {
    // The shared server stays up for the other tests: this one restarts a cluster of its own.
    let Some(_) = server_or_skip() else { return };
    let cluster = PrivateCluster::start().unwrap_or_else(|error| panic!("a second cluster: {error}"));
    let url = format!("postgresql://postgres@{}/postgres", cluster.address);
    let table = unique("source");
    let copy = unique("copy");
    let slot = unique("slot");
    execute(
        &url,
        &format!("CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(
        &url,
        &format!("CREATE TABLE {copy} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2))"),
    );
    execute(&url, &format!("INSERT INTO {table} SELECT g, 'n' || g, g / 4.0 FROM generate_series(0, 299) g"));
    let dir = tempfile::tempdir().unwrap();
    let job = {
        let (url, table, copy, slot, checkpoints) =
            (url.clone(), table.clone(), copy.clone(), slot.clone(), dir.path().join("chk"));
        std::thread::spawn(move || copy_job(&url, &table, &copy, &slot, &checkpoints, false, None))
    };
    wait_for_slot(&url, &slot);
    writer(&url, &table, 400, 150, 5);
    std::thread::sleep(Duration::from_millis(300));
    cluster.restart(2);
    writer(&url, &table, 400, 150, 6);
    cluster.restart(0);
    writer(&url, &table, 400, 150, 7);
    stop(&url, &slot);
    job.join().unwrap().unwrap();
    let select = |name: &str| rows(&url, &format!("SELECT id, name, price FROM {name}"));
    assert_eq!(select(&copy), select(&table), "after the restarts, the copy equals the source table");
}

#[test]
fn bad_input_is_a_clear_error() {
    let Some(url) = server_or_skip() else { return };
    let run = |table: &str, slot: &str, url: &str| -> String {
        let (url, table, slot) = (url.to_owned(), table.to_owned(), slot.to_owned());
        Job::new(JobConfig::with_workers(1))
            .run(move |env| {
                let source = PostgresCdcSource::rows(&url, &[&table], &slot)?;
                env.from_source(source, strategy()).sink(CollectSink::new().0);
                Ok(())
            })
            .unwrap_err()
            .to_string()
    };
    let binary = unique("binary");
    execute(&url, &format!("CREATE TABLE {binary} (id integer PRIMARY KEY, payload bytea)"));
    let error = run(&binary, &unique("slot"), &url);
    assert!(
        error.contains(&format!("public.{binary}`, column `payload`")) && error.contains("type `bytea`"),
        "{error}"
    );
    let keyless = unique("keyless");
    execute(&url, &format!("CREATE TABLE {keyless} (id integer, name text)"));
    let error = run(&keyless, &unique("slot"), &url);
    assert!(error.contains(&format!("public.{keyless}` has no primary key")), "{error}");
    let error = run("no_such_table", &unique("slot"), &url);
    assert!(error.contains("no_such_table") && error.contains("does not exist"), "{error}");
    let error = run(&binary, &unique("slot"), &url.replace("postgres@", "nobody_here@"));
    assert!(error.contains("nobody_here") && error.contains("28000"), "{error}");

    // A publication dropped while the job streams.
    let table = unique("published");
    let slot = unique("slot");
    execute(&url, &format!("CREATE TABLE {table} (id integer PRIMARY KEY)"));
    let job = {
        let (url, table, slot) = (url.clone(), table.clone(), slot.clone());
        std::thread::spawn(move || run(&table, &slot, &url))
    };
    wait_for_slot(&url, &slot);
    std::thread::sleep(Duration::from_millis(300));
    execute(&url, &format!("DROP PUBLICATION \"{slot}\""));
    execute(&url, &format!("INSERT INTO {table} VALUES (1)"));
    let error = job.join().unwrap();
    assert!(error.contains(&format!("publication \"{slot}\" does not exist")), "{error}");
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}
