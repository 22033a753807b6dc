//! The PostgreSQL sink: an upsert changelog ([`Change`]) by primary key, or an append stream,
//! into a table, at-least-once or exactly-once.
//!
//! # Exactly-once: a staged copy and a progress table
//! Each worker consolidates the changes it receives between two checkpoints by key (the last
//! change of a key wins; an append stream keeps every row). When the checkpoint reaches the
//! sink ([`SinkWriter::prepare_commit`]) the writer hands them over as one *committable* named
//! by the writer (`<run>`, worker) and a sequence number that grows with every checkpoint: the
//! rows are then in the checkpoint itself (the staged copy). Once the checkpoint's manifest is
//! durable, the committer applies them in **one transaction** that also records, in the
//! progress table (default `eddy_sink_progress`), the writer's sequence number:
//!
//! * the transaction first locks the writer's progress row and skips committables whose
//!   sequence number it already holds, so a commit replayed after a crash (by
//!   [`Committer::recover`] from the restored checkpoint, or a retry after a lost connection
//!   whose `COMMIT` did reach the server) changes nothing;
//! * rows and progress are committed together, so either both are visible or neither;
//! * nothing is written before the checkpoint that holds it is complete, so a restore never
//!   sees output of an incomplete checkpoint.
//!
//! A connection lost during a commit is retried on a new connection from the staged copy
//! (a few times with back-off; then the job fails and restores, and `recover` commits it).
//!
//! # At-least-once
//! Rows are written as they come, in batches of [`batch_size`](PostgresSink::batch_size) rows
//! or after [`batch_interval`](PostgresSink::batch_interval), and at every checkpoint; no
//! progress table. After a failure the changes since the last checkpoint are written again:
//! harmless for upserts (the same final rows), duplicates for an append stream.
//!
//! # Schema
//! The table's columns are read when the sink is built and checked against the serde types
//! (traced with `serde-reflection`): a field without a column, a column whose type cannot hold
//! the field, a `NOT NULL` column nothing writes, or (for upserts) a table without a primary
//! key or a key type whose fields are not the primary key's columns is an error before the
//! job starts. Integers written to timestamp columns are milliseconds since the epoch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use eddy_core::changelog::Change;
use eddy_core::error::{Error, Result};
use eddy_core::sink::{Committable, Committer, Sink, SinkContext, SinkWriter};
use eddy_core::time::{Clock, SystemClock};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{identifier, literal, qualified, ClientError, ConnectConfig, Connection};
use crate::schema::{check_fields, check_required, column_list, encode, fields_of, TableSchema};

/// How the sink delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Write as records arrive (see the module docs).
    AtLeastOnce,
    /// Write each checkpoint's rows in one transaction with the progress table, once the
    /// checkpoint is complete. Needs a job with checkpoints.
    ExactlyOnce,
}

/// One row change as the sink applies it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RowChange {
    /// Insert or replace the row with this primary key (upsert mode), or insert (append mode).
    Upsert(Map<String, Value>),
    /// Delete the row with these primary-key values.
    Delete(Map<String, Value>),
}

type Encode<T> = Arc<dyn Fn(&T) -> std::result::Result<RowChange, String> + Send + Sync>;

/// Writes a keyed changelog or an append stream into a PostgreSQL table.
pub struct PostgresSink<T> {
    shared: Arc<Shared>,
    delivery: Delivery,
    encode: Encode<T>,
}

/// What writers and the committer share.
struct Shared {
    config: ConnectConfig,
    schema: TableSchema,
    /// Upsert by primary key, or plain inserts.
    upsert: bool,
    /// Names this sink's rows in the progress table (default: the table).
    sink_id: Mutex<String>,
    progress_table: Mutex<String>,
    batch_size: Mutex<usize>,
    batch_interval: Mutex<Duration>,
    committer: Mutex<CommitterState>,
}

#[derive(Default)]
struct CommitterState {
    connection: Option<Connection>,
    progress_ready: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn object(value: Value, what: &str) -> std::result::Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("{what} serialized to {other}, not to an object with one field per column")),
    }
}

impl<K, V> PostgresSink<Change<K, V>>
where
    K: Serialize + DeserializeOwned + 'static,
    V: Serialize + DeserializeOwned + 'static,
{
    /// An upsert changelog into `table` (`schema.table` or `table`) of the database at `url`
    /// (see [`ConnectConfig::parse`]). `Upsert(key, value)` writes the row made of the key's
    /// and the value's fields (`INSERT ... ON CONFLICT (primary key) DO UPDATE`), `Delete(key)`
    /// deletes it. `K` is a struct whose fields are the primary key's columns, or a single
    /// value for a one-column primary key. Connects and checks the table's schema now.
    pub fn upsert(url: &str, table: &str, delivery: Delivery) -> Result<Self> {
        let config = ConnectConfig::parse(url)?;
        let schema = read_schema(&config, table)?;
        if schema.primary_key.is_empty() {
            return Err(Error::Config(format!(
                "PostgreSQL table `{table}` has no primary key: an upsert sink needs one (or use an append sink)"
            )));
        }
        let key_type = std::any::type_name::<K>();
        let value_type = std::any::type_name::<V>();
        let key_fields = fields_of::<K>()?;
        let key_columns: Vec<String> = match &key_fields {
            Some(fields) => {
                check_fields(&schema, fields, &format!("key `{key_type}`"))?;
                fields.iter().map(|field| field.name.clone()).collect()
            }
            None => schema.primary_key.clone(),
        };
        let mut sorted_key = key_columns.clone();
        sorted_key.sort();
        let mut sorted_primary = schema.primary_key.clone();
        sorted_primary.sort();
        if sorted_key != sorted_primary {
            return Err(Error::Config(format!(
                "PostgreSQL table `{table}`: the key `{key_type}` has the columns ({}) but the primary key is ({})",
                key_columns.join(", "),
                schema.primary_key.join(", ")
            )));
        }
        let value_fields = fields_of::<V>()?.ok_or_else(|| {
            Error::Config(format!("the value `{value_type}` of a PostgreSQL upsert sink must be a struct"))
        })?;
        check_fields(&schema, &value_fields, &format!("value `{value_type}`"))?;
        let mut written = key_columns.clone();
        written.extend(value_fields.iter().map(|field| field.name.clone()));
        check_required(&schema, &written)?;
        let single_key = key_fields.is_none().then(|| schema.primary_key[0].clone());
        let key_map = move |key: &K| -> std::result::Result<Map<String, Value>, String> {
            let value = serde_json::to_value(key).map_err(|error| error.to_string())?;
            match &single_key {
                Some(column) => Ok(Map::from_iter([(column.clone(), value)])),
                None => object(value, key_type),
            }
        };
        let encode = move |change: &Change<K, V>| -> std::result::Result<RowChange, String> {
            match change {
                Change::Upsert(key, value) => {
                    let mut row = key_map(key)?;
                    let value = serde_json::to_value(value).map_err(|error| error.to_string())?;
                    for (name, field) in object(value, value_type)? {
                        row.entry(name).or_insert(field);
                    }
                    Ok(RowChange::Upsert(row))
                }
                Change::Delete(key) => Ok(RowChange::Delete(key_map(key)?)),
            }
        };
        Ok(PostgresSink::new(config, schema, true, delivery, Arc::new(encode)))
    }
}

impl<T: Serialize + DeserializeOwned + 'static> PostgresSink<T> {
    /// An append stream into `table`: every record becomes one inserted row (its fields are
    /// columns). Connects and checks the table's schema now.
    pub fn append(url: &str, table: &str, delivery: Delivery) -> Result<Self> {
        let config = ConnectConfig::parse(url)?;
        let schema = read_schema(&config, table)?;
        let type_name = std::any::type_name::<T>();
        let fields = fields_of::<T>()?.ok_or_else(|| {
            Error::Config(format!("the records `{type_name}` of a PostgreSQL append sink must be structs"))
        })?;
        check_fields(&schema, &fields, &format!("`{type_name}`"))?;
        check_required(&schema, &fields.iter().map(|field| field.name.clone()).collect::<Vec<_>>())?;
        let encode = move |record: &T| -> std::result::Result<RowChange, String> {
            let value = serde_json::to_value(record).map_err(|error| error.to_string())?;
            Ok(RowChange::Upsert(object(value, type_name)?))
        };
        Ok(PostgresSink::new(config, schema, false, delivery, Arc::new(encode)))
    }
}

fn read_schema(config: &ConnectConfig, table: &str) -> Result<TableSchema> {
    let mut connection = Connection::connect(config, false)
        .map_err(|error| error.into_error(format!("connecting to PostgreSQL at {config}")))?;
    TableSchema::read(&mut connection, table)
}

impl<T> PostgresSink<T> {
    fn new(
        config: ConnectConfig,
        schema: TableSchema,
        upsert: bool,
        delivery: Delivery,
        encode: Encode<T>,
    ) -> Self {
        PostgresSink {
            shared: Arc::new(Shared {
                config,
                sink_id: Mutex::new(schema.table.clone()),
                schema,
                upsert,
                progress_table: Mutex::new("eddy_sink_progress".to_owned()),
                batch_size: Mutex::new(1_000),
                batch_interval: Mutex::new(Duration::from_secs(1)),
                committer: Mutex::default(),
            }),
            delivery,
            encode,
        }
    }

    /// Rows per statement, and (at-least-once) how many rows to collect before writing
    /// (default 1000).
    pub fn batch_size(self, rows: usize) -> Self {
        *lock(&self.shared.batch_size) = rows.max(1);
        self
    }

    /// At-least-once: the longest a row waits before it is written, checked as rows arrive
    /// (default 1 s); checkpoints write what waits too.
    pub fn batch_interval(self, interval: Duration) -> Self {
        *lock(&self.shared.batch_interval) = interval;
        self
    }

    /// Exactly-once: the table that records each writer's last committed checkpoint (default
    /// `eddy_sink_progress`, created if missing, in the sink's database).
    pub fn progress_table(self, table: &str) -> Self {
        *lock(&self.shared.progress_table) = table.to_owned();
        self
    }

    /// Names this sink in the progress table (default: the table's name). Two jobs writing
    /// the same table exactly-once need different ids.
    pub fn sink_id(self, id: &str) -> Self {
        *lock(&self.shared.sink_id) = id.to_owned();
        self
    }

    /// The checked schema of the table.
    pub fn schema(&self) -> &TableSchema {
        &self.shared.schema
    }
}

impl<T: 'static> Sink<T> for PostgresSink<T> {
    fn name(&self) -> String {
        format!("postgres:{}", self.shared.schema.table)
    }

    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>> {
        match (self.delivery, &context.run_id) {
            (Delivery::AtLeastOnce, _) => Ok(Box::new(AtLeastOnceWriter {
                shared: Arc::clone(&self.shared),
                encode: Arc::clone(&self.encode),
                batch: Batch::default(),
                first_at: None,
                connection: None,
            })),
            (Delivery::ExactlyOnce, Some(run)) => Ok(Box::new(ExactlyOnceWriter {
                run: run.clone(),
                worker: context.worker_index,
                sequence: 0,
                batch: Batch::default(),
                encode: Arc::clone(&self.encode),
                upsert: self.shared.upsert,
                table: self.shared.schema.table.clone(),
                primary_key: self.shared.schema.primary_key.clone(),
            })),
            (Delivery::ExactlyOnce, None) => Err(Error::Config(format!(
                "the exactly-once PostgreSQL sink to `{}` needs a job with checkpoints",
                self.shared.schema.table
            ))),
        }
    }

    fn committer(&self) -> Option<Arc<dyn Committer>> {
        // At-least-once takes part too, only to write what waits at every checkpoint.
        Some(Arc::new(PostgresCommitter { shared: Arc::clone(&self.shared), delivery: self.delivery }))
    }
}

/// Changes waiting to be written: consolidated by primary key for upserts, in order for appends.
#[derive(Default)]
struct Batch {
    by_key: BTreeMap<String, RowChange>,
    appended: Vec<RowChange>,
}

impl Batch {
    fn push(&mut self, change: RowChange, upsert: bool, key_columns: &[String]) {
        if upsert {
            let row = match &change {
                RowChange::Upsert(row) | RowChange::Delete(row) => row,
            };
            let key: Vec<&Value> =
                key_columns.iter().map(|column| row.get(column).unwrap_or(&Value::Null)).collect();
            self.by_key.insert(serde_json::to_string(&key).unwrap_or_default(), change);
        } else {
            self.appended.push(change);
        }
    }

    fn len(&self) -> usize {
        self.by_key.len() + self.appended.len()
    }

    fn take(&mut self) -> Vec<RowChange> {
        let mut changes: Vec<RowChange> = std::mem::take(&mut self.by_key).into_values().collect();
        changes.append(&mut self.appended);
        changes
    }
}

/// The statements that apply `changes` (already consolidated by key for upserts).
fn statements(shared: &Shared, changes: &[RowChange]) -> std::result::Result<Vec<String>, String> {
    let schema = &shared.schema;
    let table = qualified(&schema.table);
    let batch_size = *lock(&shared.batch_size);
    let mut sql = Vec::new();
    let encode_row = |row: &Map<String, Value>, columns: &[String]| -> std::result::Result<String, String> {
        let values = columns
            .iter()
            .map(|name| {
                let column = schema.column(name).ok_or_else(|| format!("no column `{name}`"))?;
                encode(row.get(name).unwrap_or(&Value::Null), column)
                    .map_err(|why| format!("column `{name}` of `{}`: {why}", schema.table))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(format!("({})", values.join(", ")))
    };
    let deletes: Vec<&Map<String, Value>> = changes
        .iter()
        .filter_map(|change| match change {
            RowChange::Delete(key) => Some(key),
            RowChange::Upsert(_) => None,
        })
        .collect();
    for chunk in deletes.chunks(batch_size) {
        let keys = chunk
            .iter()
            .map(|key| encode_row(key, &schema.primary_key))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        sql.push(format!(
            "DELETE FROM {table} WHERE ({}) IN ({})",
            column_list(&schema.primary_key),
            keys.join(", ")
        ));
    }
    // Rows of one statement share a column list: group by the set of fields they carry.
    let mut by_columns: BTreeMap<Vec<String>, Vec<&Map<String, Value>>> = BTreeMap::new();
    for change in changes {
        if let RowChange::Upsert(row) = change {
            by_columns.entry(row.keys().cloned().collect()).or_default().push(row);
        }
    }
    for (columns, rows) in by_columns {
        let conflict = if shared.upsert {
            let updates: Vec<String> = columns
                .iter()
                .filter(|column| !schema.primary_key.contains(column))
                .map(|column| format!("{0} = EXCLUDED.{0}", identifier(column)))
                .collect();
            if updates.is_empty() {
                format!(" ON CONFLICT ({}) DO NOTHING", column_list(&schema.primary_key))
            } else {
                format!(
                    " ON CONFLICT ({}) DO UPDATE SET {}",
                    column_list(&schema.primary_key),
                    updates.join(", ")
                )
            }
        } else {
            String::new()
        };
        for chunk in rows.chunks(batch_size) {
            let values = chunk
                .iter()
                .map(|row| encode_row(row, &columns))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            sql.push(format!(
                "INSERT INTO {table} ({}) VALUES {}{conflict}",
                column_list(&columns),
                values.join(", ")
            ));
        }
    }
    Ok(sql)
}

struct AtLeastOnceWriter<T> {
    shared: Arc<Shared>,
    encode: Encode<T>,
    batch: Batch,
    /// When the oldest waiting row came (milliseconds of the system clock).
    first_at: Option<u64>,
    connection: Option<Connection>,
}

impl<T> AtLeastOnceWriter<T> {
    fn flush(&mut self) -> Result<()> {
        self.first_at = None;
        if self.batch.len() == 0 {
            return Ok(());
        }
        let changes = self.batch.take();
        let table = self.shared.schema.table.clone();
        let sql = statements(&self.shared, &changes).map_err(|why| Error::BadRecord {
            path: format!("postgres:{table}").into(),
            line: 0,
            reason: why,
        })?;
        let script = format!("BEGIN; {}; COMMIT", sql.join("; "));
        with_retries(
            &self.shared.config,
            &mut self.connection,
            &format!("writing to PostgreSQL table `{table}`"),
            |connection| connection.execute(&script),
        )
    }
}

impl<T> SinkWriter<T> for AtLeastOnceWriter<T> {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        let change = (self.encode)(&value).map_err(|reason| Error::BadRecord {
            path: format!("postgres:{}", self.shared.schema.table).into(),
            line: 0,
            reason,
        })?;
        self.batch.push(change, self.shared.upsert, &self.shared.schema.primary_key);
        // Batching by age is about wall-clock latency, not event time: the system clock.
        let now = SystemClock.now_ms();
        let first_at = *self.first_at.get_or_insert(now);
        if self.batch.len() >= *lock(&self.shared.batch_size)
            || u128::from(now.saturating_sub(first_at)) >= lock(&self.shared.batch_interval).as_millis()
        {
            self.flush()?;
        }
        Ok(())
    }

    fn prepare_commit(&mut self) -> Result<Vec<Committable>> {
        self.flush()?;
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

/// One checkpoint interval's changes of one writer: the staged copy.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Staged {
    /// The run that wrote it.
    run: String,
    worker: usize,
    /// Grows by one with every checkpoint of the run.
    sequence: u64,
    changes: Vec<RowChange>,
}

struct ExactlyOnceWriter<T> {
    run: String,
    worker: usize,
    sequence: u64,
    batch: Batch,
    encode: Encode<T>,
    upsert: bool,
    table: String,
    primary_key: Vec<String>,
}

impl<T> SinkWriter<T> for ExactlyOnceWriter<T> {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        let change = (self.encode)(&value).map_err(|reason| Error::BadRecord {
            path: format!("postgres:{}", self.table).into(),
            line: 0,
            reason,
        })?;
        self.batch.push(change, self.upsert, &self.primary_key);
        Ok(())
    }

    fn prepare_commit(&mut self) -> Result<Vec<Committable>> {
        self.sequence += 1;
        let staged = Staged {
            run: self.run.clone(),
            worker: self.worker,
            sequence: self.sequence,
            changes: self.batch.take(),
        };
        Ok(vec![serde_json::to_value(staged).map_err(|error| Error::Internal(error.to_string()))?])
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Runs `work` on `connection` (connecting first if needed); a lost connection or a server
/// restart is retried on a new connection, up to `ATTEMPTS` times with back-off.
fn with_retries<R>(
    config: &ConnectConfig,
    connection: &mut Option<Connection>,
    what: &str,
    mut work: impl FnMut(&mut Connection) -> std::result::Result<R, ClientError>,
) -> Result<R> {
    const ATTEMPTS: u32 = 8;
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        let result = match connection {
            Some(open) => work(open),
            None => Connection::connect(config, false).and_then(|mut open| {
                let result = work(&mut open);
                *connection = Some(open);
                result
            }),
        };
        match result {
            Ok(value) => return Ok(value),
            Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                eprintln!(
                    "eddy: {what}: {error}; retrying on a new connection (attempt {attempt} of {ATTEMPTS})"
                );
                *connection = None;
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                if error.is_transient() {
                    *connection = None;
                } else if let Some(open) = connection.as_mut() {
                    // Leave no transaction open after a refused statement.
                    let _ = open.execute("ROLLBACK");
                }
                return Err(error.into_error(format!("{what} ({config})")));
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// Commits staged changes with the progress table (exactly-once); nothing for at-least-once.
pub struct PostgresCommitter {
    shared: Arc<Shared>,
    delivery: Delivery,
}

impl PostgresCommitter {
    fn commit_staged(&self, staged: Vec<Staged>) -> Result<()> {
        let todo: Vec<Staged> = staged.into_iter().filter(|staged| !staged.changes.is_empty()).collect();
        if todo.is_empty() || self.delivery == Delivery::AtLeastOnce {
            return Ok(());
        }
        let shared = &self.shared;
        let table = &shared.schema.table;
        let sink_id = lock(&shared.sink_id).clone();
        let progress = qualified(&lock(&shared.progress_table));
        let mut applied = Vec::with_capacity(todo.len());
        for staged in &todo {
            let sql = statements(shared, &staged.changes).map_err(|why| {
                Error::Checkpoint(format!(
                    "staged rows for PostgreSQL table `{table}` cannot be written: {why}"
                ))
            })?;
            applied.push(sql);
        }
        let mut state = lock(&shared.committer);
        let CommitterState { connection, progress_ready } = &mut *state;
        if !*progress_ready {
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {progress} (sink text NOT NULL, run text NOT NULL, writer integer NOT NULL, \
                 sequence bigint NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (sink, run, writer))"
            );
            with_retries(
                &shared.config,
                connection,
                &format!("creating the progress table {progress}"),
                |open| {
                    match open.execute(&create) {
                        // Two processes creating it at once: one wins, the other sees it exist.
                        Err(ClientError::Server(error)) if error.code == "23505" || error.code == "42P07" => {
                            Ok(())
                        }
                        other => other,
                    }
                },
            )?;
            *progress_ready = true;
        }
        let what = format!("committing to PostgreSQL table `{table}`");
        with_retries(&shared.config, connection, &what, |open| {
            open.execute("BEGIN")?;
            let result = (|| {
                let mut script = Vec::new();
                for (staged, sql) in todo.iter().zip(&applied) {
                    let (sink, run) = (literal(&sink_id), literal(&staged.run));
                    let done = open.query(&format!(
                        "SELECT sequence FROM {progress} WHERE sink = {sink} AND run = {run} AND writer = {} FOR UPDATE",
                        staged.worker
                    ))?;
                    let committed: u64 =
                        done.rows.first().and_then(|row| row[0].as_deref()?.parse().ok()).unwrap_or(0);
                    if committed >= staged.sequence {
                        continue;
                    }
                    script.extend(sql.iter().cloned());
                    script.push(format!(
                        "INSERT INTO {progress} (sink, run, writer, sequence) VALUES ({sink}, {run}, {}, {}) \
                         ON CONFLICT (sink, run, writer) DO UPDATE SET sequence = EXCLUDED.sequence, committed_at = now()",
                        staged.worker, staged.sequence
                    ));
                }
                script.push("COMMIT".to_owned());
                open.execute(&script.join("; "))
            })();
            if result.is_err() {
                let _ = open.execute("ROLLBACK");
            }
            result
        })
    }
}

fn parse(committables: &[Committable]) -> Result<Vec<Staged>> {
    committables
        .iter()
        .map(|committable| {
            Staged::deserialize(committable)
                .map_err(|error| Error::Checkpoint(format!("a PostgreSQL sink's staged rows: {error}")))
        })
        .collect()
}

impl Committer for PostgresCommitter {
    fn commit(&self, committables: &[Committable]) -> Result<()> {
        self.commit_staged(parse(committables)?)
    }

    fn recover(&self, committables: &[Committable], _run_id: &str) -> Result<()> {
        // Staged rows of later, failed runs were never written: nothing to discard.
        self.commit_staged(parse(committables)?)
    }
}
