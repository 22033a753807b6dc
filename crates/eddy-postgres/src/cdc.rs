//! The change-data-capture source: an initial snapshot of one or more tables at a logical
//! replication slot's consistent point, then the slot's changes through the built-in
//! `pgoutput` plugin and a publication.
//!
//! # No gaps, no duplicates
//! On a fresh start the source (re)creates its slot with `CREATE_REPLICATION_SLOT ... LOGICAL
//! pgoutput EXPORT_SNAPSHOT`: the server returns the slot's consistent point `L` and a snapshot
//! that sees exactly the transactions committed before `L`. The tables are read in that
//! snapshot (`SET TRANSACTION SNAPSHOT`, a cursor ordered by primary key), then streaming
//! starts at `L`, which delivers exactly the transactions committed after it.
//!
//! # Checkpointing
//! The position is `(lsn, skip)`: the end LSN of the last transaction emitted whole, and how
//! many changes of the next one were already emitted (a read may stop inside a transaction;
//! decoding is deterministic, so the same changes come again in the same order after a
//! restart). During the initial snapshot it also names the table and the rows read from it.
//! Restoring starts replication at `lsn` and skips `skip` changes. The server is told
//! (standby status update, *flushed* LSN) only the `lsn` of a **completed** checkpoint, so the
//! slot keeps every change eddy might still need. A checkpoint recorded before the first read
//! restores as a fresh start (nothing was emitted).
//!
//! Restoring a checkpoint taken *inside* the initial snapshot is refused with an error (the
//! exported snapshot does not outlive the process). With the commit time as event time no
//! such checkpoint exists: every snapshot row carries the snapshot's time `T`, so the split's
//! watermark cannot pass a checkpoint's time `E > T` before the first transaction committed
//! after the snapshot arrives, and the source records its position for `E` only then. With
//! event time from a column, a checkpoint may fall inside the snapshot; a restore of it fails
//! and the job must start afresh.
//!
//! # Event time
//! Events carry the commit time of their transaction (`commit_time`, Unix milliseconds; for
//! snapshot rows the time the snapshot was taken) and their row, so a `WatermarkStrategy` can
//! take event time from either.
//!
//! One split reads the replication stream (one slot has one reader); it goes to worker
//! `hash(slot) % workers`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eddy_core::error::{Error, Result};
use eddy_core::source::{ReadStatus, Source, SplitContext, SplitOutput, SplitReader};
use eddy_core::time::{Clock, SystemClock};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{identifier, literal, ConnectConfig, Connection};
pub use crate::event::{CdcEvent, Op};
use crate::pgoutput::{
    format_lsn, parse_logical, parse_lsn, parse_server_message, standby_status_update, Logical, Relation,
    ServerMessage, TupleValue,
};
use crate::value::{decode as decode_value, supported, Row};

type Decode<T> = Arc<dyn Fn(Row) -> std::result::Result<T, String> + Send + Sync>;

/// Reads tables as a changelog: snapshot, then logical replication.
pub struct PostgresCdcSource<T> {
    config: ConnectConfig,
    tables: Vec<String>,
    slot: String,
    publication: String,
    fetch_size: usize,
    bounded: bool,
    decode: Decode<T>,
}

impl<T> Clone for PostgresCdcSource<T> {
    fn clone(&self) -> Self {
        PostgresCdcSource {
            config: self.config.clone(),
            tables: self.tables.clone(),
            slot: self.slot.clone(),
            publication: self.publication.clone(),
            fetch_size: self.fetch_size,
            bounded: self.bounded,
            decode: Arc::clone(&self.decode),
        }
    }
}

impl PostgresCdcSource<Row> {
    /// Rows as generic [`Row`]s.
    pub fn rows(url: &str, tables: &[&str], slot: &str) -> Result<Self> {
        PostgresCdcSource::with_decoder(url, tables, slot, Ok)
    }
}

impl<T: DeserializeOwned + 'static> PostgresCdcSource<T> {
    /// Rows deserialized into `T` (every table's rows must fit `T`).
    pub fn serde(url: &str, tables: &[&str], slot: &str) -> Result<Self> {
        PostgresCdcSource::with_decoder(url, tables, slot, |row| {
            serde_json::from_value(Value::Object(row)).map_err(|error| error.to_string())
        })
    }
}

impl<T> PostgresCdcSource<T> {
    /// Rows decoded by `decode`. `slot` names the replication slot (created, and on a fresh
    /// start re-created) and, unless [`publication`](Self::publication) says otherwise, the
    /// publication (created for `tables` if missing).
    pub fn with_decoder(
        url: &str,
        tables: &[&str],
        slot: &str,
        decode: impl Fn(Row) -> std::result::Result<T, String> + Send + Sync + 'static,
    ) -> Result<Self> {
        if tables.is_empty() {
            return Err(Error::Config("a PostgreSQL CDC source needs at least one table".into()));
        }
        Ok(PostgresCdcSource {
            config: ConnectConfig::parse(url)?,
            tables: tables.iter().map(|table| (*table).to_owned()).collect(),
            slot: slot.to_owned(),
            publication: slot.to_owned(),
            fetch_size: 1_000,
            bounded: false,
            decode: Arc::new(decode),
        })
    }

    /// The publication to stream (default: the slot's name). If it does not exist it is
    /// created `FOR TABLE` the source's tables.
    pub fn publication(mut self, name: &str) -> Self {
        self.publication = name.to_owned();
        self
    }

    /// Rows per fetch of the initial snapshot (default 1000).
    pub fn fetch_size(mut self, rows: usize) -> Self {
        self.fetch_size = rows.max(1);
        self
    }

    /// Ends after the changes committed before the source started (a batch job over the
    /// tables' history). Without it the source runs until stopped; a transactional logical
    /// message with prefix [`stop_prefix`] ends it too.
    pub fn bounded(mut self) -> Self {
        self.bounded = true;
        self
    }
}

/// The prefix of the logical message (`pg_logical_emit_message(true, prefix, '')`) that ends
/// the source reading `slot` once the transaction that wrote it is read.
pub fn stop_prefix(slot: &str) -> String {
    format!("eddy-stop:{slot}")
}

/// A table the source reads, as the catalog describes it.
#[derive(Clone, Debug)]
struct Table {
    /// `schema.name`.
    name: String,
    /// (name, type OID) of each column.
    columns: Vec<(String, u32)>,
    primary_key: Vec<String>,
}

/// Reads the tables' columns and primary keys, and checks every column type can be decoded.
fn describe(connection: &mut Connection, tables: &[String]) -> Result<Vec<Table>> {
    let mut described = Vec::new();
    for table in tables {
        let relation = literal(&crate::client::qualified(table));
        let what = format!("reading the columns of PostgreSQL table `{table}`");
        let name = connection
            .query(&format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = {relation}::regclass"
            ))
            .map_err(|error| error.into_error(what.clone()))?;
        let name = name.rows[0][0].clone().unwrap_or_default();
        let columns = connection
            .query(&format!(
                "SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = {relation}::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            ))
            .map_err(|error| error.into_error(what.clone()))?;
        let mut typed = Vec::new();
        for row in &columns.rows {
            let column = row[0].clone().unwrap_or_default();
            let oid: u32 = row[1].as_deref().and_then(|oid| oid.parse().ok()).unwrap_or(0);
            if !supported(oid) {
                return Err(Error::Config(format!(
                    "PostgreSQL table `{name}`, column `{column}`: the CDC source cannot decode type `{}` \
                     (it decodes integers, real, double precision, numeric, boolean, text types, uuid, date, time, \
                     timestamp, timestamptz, json and jsonb)",
                    row[2].as_deref().unwrap_or("?")
                )));
            }
            typed.push((column, oid));
        }
        let schema = crate::schema::TableSchema::read(connection, table)?;
        if schema.primary_key.is_empty() {
            return Err(Error::Config(format!(
                "PostgreSQL table `{name}` has no primary key: the CDC source keys every change by it"
            )));
        }
        described.push(Table { name, columns: typed, primary_key: schema.primary_key });
    }
    Ok(described)
}

impl<T: 'static> Source<CdcEvent<T>> for PostgresCdcSource<T> {
    fn name(&self) -> String {
        format!("postgres-cdc:{}", self.slot)
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<CdcEvent<T>>>>> {
        let owner = (eddy_core::hash::key_hash(&self.slot) % context.workers as u64) as usize;
        if owner != context.worker_index {
            return Ok(Vec::new());
        }
        // Check the tables (and the login) now, before the job processes anything.
        let mut connection = Connection::connect(&self.config, false)
            .map_err(|error| error.into_error(format!("connecting to PostgreSQL at {}", self.config)))?;
        let tables = describe(&mut connection, &self.tables)?;
        Ok(vec![Box::new(CdcReader {
            id: format!("postgres-cdc/{}", self.slot),
            source: self.clone(),
            tables,
            position: Position::default(),
            restored: false,
            phase: Phase::Start,
            relations: BTreeMap::new(),
            transaction: None,
            acknowledged: 0,
            last_status: 0,
            clock: Arc::clone(&context.clock),
            reconnects: 0,
        })])
    }
}

/// Where the reader is (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// LSN as PostgreSQL prints it: the end of the last transaction emitted whole (or the
    /// slot's consistent point).
    lsn: String,
    /// Changes of the transaction after `lsn` already emitted.
    skip: u64,
    /// Changes emitted by the split so far (record positions).
    emitted: u64,
    /// During the initial snapshot: (table index, rows read from it).
    snapshot: Option<(usize, u64)>,
    /// Whether the end marker has been read (bounded or stopped).
    finished: bool,
}

enum Phase {
    /// Nothing opened yet.
    Start,
    /// Reading the snapshot: the replication connection that exported it and the connection
    /// reading it.
    Snapshot { replication: Connection, reader: Connection, table: usize, open: bool, time: i64 },
    /// Streaming changes.
    Streaming { replication: Connection },
}

/// The transaction being read.
struct Transaction {
    commit_time: i64,
    final_lsn: u64,
    /// Changes seen so far in it.
    seen: u64,
    stop: bool,
}

struct CdcReader<T> {
    id: String,
    source: PostgresCdcSource<T>,
    tables: Vec<Table>,
    position: Position,
    restored: bool,
    phase: Phase,
    relations: BTreeMap<u32, Relation>,
    transaction: Option<Transaction>,
    /// The flushed LSN last reported to the server.
    acknowledged: u64,
    /// When the last status update was sent (clock milliseconds).
    last_status: u64,
    clock: Arc<dyn Clock>,
    /// Consecutive reconnections without a successful read since.
    reconnects: u32,
}

/// How long a read waits for the first message.
const POLL: Duration = Duration::from_millis(20);
/// Status updates at least this often (the server's `wal_sender_timeout` is 60 s by default).
const STATUS_EVERY_MS: u64 = 10_000;

impl<T> CdcReader<T> {
    fn slot(&self) -> String {
        identifier(&self.source.slot)
    }

    fn connect(&self, replication: bool) -> Result<Connection> {
        Connection::connect(&self.source.config, replication).map_err(|error| {
            error.into_error(format!(
                "connecting to PostgreSQL at {} for slot `{}`",
                self.source.config, self.source.slot
            ))
        })
    }

    fn context(&self, what: &str) -> String {
        format!("PostgreSQL CDC source (slot `{}`): {what}", self.source.slot)
    }

    /// Creates the publication if missing and the slot afresh; starts the snapshot.
    fn begin_fresh(&mut self) -> Result<()> {
        let mut replication = self.connect(true)?;
        let context = |what: &str| self.context(what);
        let publication = literal(&self.source.publication);
        let exists = replication
            .query(&format!("SELECT 1 FROM pg_publication WHERE pubname = {publication}"))
            .map_err(|error| error.into_error(context("looking up the publication")))?;
        if exists.rows.is_empty() {
            let tables: Vec<String> =
                self.tables.iter().map(|table| crate::client::qualified(&table.name)).collect();
            let created = replication.execute(&format!(
                "CREATE PUBLICATION {} FOR TABLE {}",
                identifier(&self.source.publication),
                tables.join(", ")
            ));
            match created {
                // Another process created it meanwhile.
                Err(crate::client::ClientError::Server(error)) if error.code == "42710" => {}
                other => other.map_err(|error| error.into_error(context("creating the publication")))?,
            }
        }
        // A fresh start has emitted nothing durable: a slot left by an earlier attempt is
        // dropped (waiting for its old reader to go away) and created again.
        let slot = literal(&self.source.slot);
        for attempt in 0.. {
            let dropped = replication.query(&format!(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = {slot}"
            ));
            match dropped {
                Ok(_) => break,
                Err(crate::client::ClientError::Server(error)) if error.code == "55006" && attempt < 100 => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => return Err(error.into_error(context("dropping the old replication slot"))),
            }
        }
        let created = replication
            .query(&format!("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT", self.slot()))
            .map_err(|error| error.into_error(context("creating the replication slot")))?;
        let row = created
            .rows
            .first()
            .ok_or_else(|| Error::Internal("CREATE_REPLICATION_SLOT returned no row".into()))?;
        let consistent = row[1].clone().unwrap_or_default();
        let snapshot = row[2].clone().unwrap_or_default();
        let mut reader = self.connect(false)?;
        let time = reader
            .query(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}; \
                 SELECT (extract(epoch FROM now()) * 1000)::bigint",
                literal(&snapshot)
            ))
            .map_err(|error| error.into_error(context("opening the exported snapshot")))?;
        let time = time.rows[0][0].as_deref().and_then(|text| text.parse().ok()).unwrap_or(0);
        if self.source.bounded {
            self.emit_stop_marker()?;
        }
        self.position =
            Position { lsn: consistent, skip: 0, emitted: 0, snapshot: Some((0, 0)), finished: false };
        self.phase = Phase::Snapshot { replication, reader, table: 0, open: false, time };
        Ok(())
    }

    /// Writes the logical message that ends the stream (on its own connection: the snapshot
    /// reader is inside a read-only transaction).
    fn emit_stop_marker(&self) -> Result<()> {
        let mut connection = self.connect(false)?;
        connection
            .execute(&format!(
                "SELECT pg_logical_emit_message(true, {}, '')",
                literal(&stop_prefix(&self.source.slot))
            ))
            .map_err(|error| error.into_error(self.context("writing the end marker")))
    }

    fn start_streaming(&mut self, replication: Option<Connection>) -> Result<()> {
        let mut replication = match replication {
            Some(connection) => connection,
            None => self.connect(true)?,
        };
        let command = format!(
            "START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', publication_names {}, messages 'true')",
            self.slot(),
            self.position.lsn,
            literal(&identifier(&self.source.publication)),
        );
        replication
            .start_copy_both(&command)
            .map_err(|error| error.into_error(self.context("starting replication")))?;
        self.relations.clear();
        self.transaction = None;
        self.phase = Phase::Streaming { replication };
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        output: &mut SplitOutput<CdcEvent<T>>,
        max_records: usize,
    ) -> Result<ReadStatus> {
        let Phase::Snapshot { reader, table, open, time, .. } = &mut self.phase else {
            return Ok(ReadStatus::More);
        };
        let Some(described) = self.tables.get(*table) else {
            reader.execute("COMMIT").map_err(|error| error.into_error("closing the snapshot"))?;
            let Phase::Snapshot { replication, .. } = std::mem::replace(&mut self.phase, Phase::Start) else {
                unreachable!("matched above")
            };
            self.position.snapshot = None;
            self.start_streaming(Some(replication))?;
            return Ok(ReadStatus::More);
        };
        let name = described.name.clone();
        if !*open {
            let columns: Vec<String> =
                described.columns.iter().map(|(column, _)| identifier(column)).collect();
            let order: Vec<String> = described.primary_key.iter().map(|column| identifier(column)).collect();
            reader
                .execute(&format!(
                    "DECLARE eddy_snapshot NO SCROLL CURSOR FOR SELECT {} FROM {} ORDER BY {}",
                    columns.join(", "),
                    crate::client::qualified(&name),
                    order.join(", ")
                ))
                .map_err(|error| error.into_error(format!("reading the snapshot of `{name}`")))?;
            *open = true;
        }
        let rows = reader
            .query(&format!("FETCH {} FROM eddy_snapshot", max_records.min(self.source.fetch_size).max(1)))
            .map_err(|error| error.into_error(format!("reading the snapshot of `{name}`")))?;
        let lsn = parse_lsn(&self.position.lsn).unwrap_or(0);
        let commit_time = *time;
        let done = rows.rows.is_empty();
        for row in rows.rows {
            let mut decoded = Row::new();
            for ((column, oid), text) in described.columns.iter().zip(row) {
                let value = match text {
                    None => Value::Null,
                    Some(text) => decode_value(*oid, &text).map_err(|why| bad_value(&name, column, &why))?,
                };
                decoded.insert(column.clone(), value);
            }
            let key = key_of(&decoded, &described.primary_key);
            let after = (self.source.decode)(decoded).map_err(|why| bad_row(&name, &why))?;
            output.push(
                self.position.emitted,
                CdcEvent {
                    table: name.clone(),
                    op: Op::Read,
                    key,
                    old_key: None,
                    before: None,
                    after: Some(after),
                    lsn,
                    commit_time,
                    sequence: self.position.emitted,
                },
            );
            self.position.emitted += 1;
            if let Some((_, read)) = &mut self.position.snapshot {
                *read += 1;
            }
        }
        if done {
            reader
                .execute("CLOSE eddy_snapshot")
                .map_err(|error| error.into_error("closing the snapshot cursor"))?;
            *open = false;
            *table += 1;
            self.position.snapshot = Some((*table, 0));
        }
        Ok(ReadStatus::More)
    }

    /// Sends a status update with the acknowledged LSN (at most every `STATUS_EVERY_MS`
    /// unless `force`).
    fn send_status(&mut self, force: bool) -> Result<()> {
        let now = self.clock.now_ms();
        if !force && now.saturating_sub(self.last_status) < STATUS_EVERY_MS {
            return Ok(());
        }
        let status =
            standby_status_update(self.acknowledged, Some(self.acknowledged), SystemClock.now_ms() as i64);
        self.send(&status)?;
        self.last_status = now;
        Ok(())
    }

    fn send(&mut self, status: &[u8]) -> Result<()> {
        let Phase::Streaming { replication } = &mut self.phase else { return Ok(()) };
        replication.send_copy_data(status).map_err(|error| {
            error.into_error(format!(
                "PostgreSQL CDC source (slot `{}`): sending a status update",
                self.source.slot
            ))
        })
    }

    fn read_stream(
        &mut self,
        output: &mut SplitOutput<CdcEvent<T>>,
        max_records: usize,
    ) -> Result<ReadStatus> {
        self.send_status(false)?;
        let mut pushed = 0;
        while pushed < max_records {
            let Phase::Streaming { replication } = &mut self.phase else { break };
            let wait = if pushed == 0 { POLL } else { Duration::from_millis(1) };
            let data = replication
                .read_copy_data(wait)
                .map_err(|error| error.into_error(self.context("reading the replication stream")))?;
            let Some(data) = data else { break };
            let message = parse_server_message(data).map_err(|why| Error::Internal(self.context(&why)))?;
            let data = match message {
                ServerMessage::Keepalive { end, reply_requested } => {
                    if reply_requested {
                        // Received up to `end`, without a flush position: lets a walsender
                        // that is shutting down stop, and never moves the slot (see
                        // `standby_status_update`).
                        self.send(&standby_status_update(end, None, SystemClock.now_ms() as i64))?;
                    }
                    continue;
                }
                ServerMessage::XLogData { data, .. } => data,
            };
            let logical = parse_logical(data).map_err(|why| Error::Internal(self.context(&why)))?;
            pushed += self.apply(logical, output)?;
            if self.position.finished {
                return Ok(ReadStatus::Finished);
            }
        }
        Ok(if pushed >= max_records { ReadStatus::More } else { ReadStatus::Pending })
    }

    /// Applies one `pgoutput` message; returns how many events it pushed.
    fn apply(&mut self, logical: Logical, output: &mut SplitOutput<CdcEvent<T>>) -> Result<usize> {
        let (relation, old, new, op) = match logical {
            Logical::Begin { final_lsn, commit_time } => {
                self.transaction = Some(Transaction { commit_time, final_lsn, seen: 0, stop: false });
                return Ok(0);
            }
            Logical::Commit { end_lsn, .. } => {
                let stop = self.transaction.take().is_some_and(|transaction| transaction.stop);
                self.position.lsn = format_lsn(end_lsn);
                self.position.skip = 0;
                self.position.finished |= stop;
                return Ok(0);
            }
            Logical::Relation(relation) => {
                self.relations.insert(relation.oid, relation);
                return Ok(0);
            }
            Logical::Message { prefix } => {
                if prefix == stop_prefix(&self.source.slot) {
                    if let Some(transaction) = &mut self.transaction {
                        transaction.stop = true;
                    }
                }
                return Ok(0);
            }
            Logical::Truncate { relations } => {
                let names: Vec<String> = relations
                    .iter()
                    .filter_map(|oid| self.relations.get(oid))
                    .map(|relation| format!("{}.{}", relation.namespace, relation.name))
                    .collect();
                return Err(Error::Config(self.context(&format!(
                    "TRUNCATE of {} cannot be expressed as row changes; re-snapshot the tables (start without restoring)",
                    names.join(", ")
                ))));
            }
            Logical::Other => return Ok(0),
            Logical::Insert { relation, new } => (relation, None, Some(new), Op::Insert),
            Logical::Update { relation, old, new } => (relation, old, Some(new), Op::Update),
            Logical::Delete { relation, old } => (relation, Some(old), None, Op::Delete),
        };
        let Some(transaction) = &mut self.transaction else {
            return Err(Error::Internal(self.context("a change outside a transaction")));
        };
        transaction.seen += 1;
        if transaction.seen <= self.position.skip {
            // Emitted before the checkpoint this run restored.
            return Ok(0);
        }
        let (commit_time, lsn) = (transaction.commit_time, transaction.final_lsn);
        let described = self.relations.get(&relation).ok_or_else(|| {
            Error::Internal(self.context(&format!("a change of unknown relation {relation}")))
        })?;
        let table = format!("{}.{}", described.namespace, described.name);
        let Some(wanted) = self.tables.iter().find(|wanted| wanted.name == table) else {
            // Another table of the publication: counted (for `skip`) but not emitted.
            self.position.skip += 1;
            return Ok(0);
        };
        let decode_tuple = |values: &[TupleValue], old: Option<&Row>| -> Result<Row> {
            let mut row = Row::new();
            for (column, value) in described.columns.iter().zip(values) {
                let decoded = match value {
                    TupleValue::Null => Value::Null,
                    TupleValue::Text(text) => {
                        decode_value(column.type_oid, text).map_err(|why| bad_value(&table, &column.name, &why))?
                    }
                    TupleValue::Unchanged => old.and_then(|old| old.get(&column.name).cloned()).ok_or_else(|| {
                        Error::Config(format!(
                            "PostgreSQL table `{table}`, column `{}`: an update left this TOASTed value unchanged and \
                             the server did not send it; set REPLICA IDENTITY FULL on the table",
                            column.name
                        ))
                    })?,
                };
                row.insert(column.name.clone(), decoded);
            }
            Ok(row)
        };
        let old_row = match &old {
            Some((_, values)) => Some(decode_tuple(values, None)?),
            None => None,
        };
        let full_old = old.as_ref().is_some_and(|(full, _)| *full);
        let new_row = match &new {
            Some(values) => Some(decode_tuple(values, old_row.as_ref().filter(|_| full_old))?),
            None => None,
        };
        let key =
            key_of(new_row.as_ref().or(old_row.as_ref()).expect("a change has a row"), &wanted.primary_key);
        let old_key = match (&op, &old_row) {
            (Op::Update, Some(old)) => Some(key_of(old, &wanted.primary_key)).filter(|old| *old != key),
            _ => None,
        };
        let decode = |row: Row| (self.source.decode)(row).map_err(|why| bad_row(&table, &why));
        let before = match old_row {
            Some(row) if full_old => Some(decode(row)?),
            _ => None,
        };
        let after = new_row.map(decode).transpose()?;
        output.push(
            self.position.emitted,
            CdcEvent {
                table,
                op,
                key,
                old_key,
                before,
                after,
                lsn,
                commit_time,
                sequence: self.position.emitted,
            },
        );
        self.position.emitted += 1;
        self.position.skip += 1;
        Ok(1)
    }
}

fn key_of(row: &Row, primary_key: &[String]) -> Row {
    primary_key
        .iter()
        .map(|column| (column.clone(), row.get(column).cloned().unwrap_or(Value::Null)))
        .collect()
}

fn bad_value(table: &str, column: &str, why: &str) -> Error {
    Error::BadRecord {
        path: format!("postgres:{table}").into(),
        line: 0,
        reason: format!("column `{column}`: {why}"),
    }
}

fn bad_row(table: &str, why: &str) -> Error {
    Error::BadRecord {
        path: format!("postgres:{table}").into(),
        line: 0,
        reason: format!("row does not fit: {why}"),
    }
}

/// Consecutive failed reconnections before the source fails the job (about a minute).
const MAX_RECONNECTS: u32 = 60;

impl<T> CdcReader<T> {
    fn read_or_start(
        &mut self,
        output: &mut SplitOutput<CdcEvent<T>>,
        max_records: usize,
    ) -> Result<ReadStatus> {
        if matches!(self.phase, Phase::Start) {
            if !self.restored {
                self.begin_fresh()?;
            } else if self.position.snapshot.is_some() {
                return Err(Error::Checkpoint(self.context(
                    "the checkpoint was taken during the initial snapshot, which cannot be resumed; \
                     start the job without restoring to take a new snapshot",
                )));
            } else {
                self.start_streaming(None)?;
            }
        }
        match self.phase {
            Phase::Snapshot { .. } => self.read_snapshot(output, max_records),
            _ => self.read_stream(output, max_records),
        }
    }
}

impl<T> SplitReader<CdcEvent<T>> for CdcReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, output: &mut SplitOutput<CdcEvent<T>>, max_records: usize) -> Result<ReadStatus> {
        if self.position.finished {
            return Ok(ReadStatus::Finished);
        }
        let result = self.read_or_start(output, max_records);
        match result {
            // A lost connection while streaming (the server restarted, a network failure):
            // reconnect and resume at the position, as a restore would.
            Err(Error::Io { context, cause })
                if self.position.snapshot.is_none() && self.reconnects < MAX_RECONNECTS =>
            {
                self.reconnects += 1;
                eprintln!(
                    "eddy: {context}: {cause}; reconnecting at LSN {} (attempt {} of {MAX_RECONNECTS})",
                    self.position.lsn, self.reconnects
                );
                self.phase = Phase::Start;
                self.restored = true;
                std::thread::sleep(Duration::from_millis(100 * u64::from(self.reconnects.min(10))));
                Ok(ReadStatus::Pending)
            }
            Ok(status) => {
                if matches!(self.phase, Phase::Streaming { .. }) {
                    self.reconnects = 0;
                }
                Ok(status)
            }
            Err(error) => Err(error),
        }
    }

    fn snapshot_position(&self) -> Result<Option<Value>> {
        serde_json::to_value(&self.position).map(Some).map_err(|error| Error::Internal(error.to_string()))
    }

    fn restore_position(&mut self, position: Value) -> Result<()> {
        self.position = serde_json::from_value(position)
            .map_err(|error| Error::Checkpoint(self.context(&format!("bad position: {error}"))))?;
        if self.position == Position::default() {
            // Recorded before the first read: nothing was emitted, so start afresh.
            return Ok(());
        }
        if parse_lsn(&self.position.lsn).is_none() {
            return Err(Error::Checkpoint(self.context(&format!("bad LSN `{}`", self.position.lsn))));
        }
        self.restored = true;
        // The restored checkpoint is complete: its LSN may be acknowledged.
        self.acknowledged = parse_lsn(&self.position.lsn).unwrap_or(0);
        self.phase = Phase::Start;
        Ok(())
    }

    fn checkpoint_complete(&mut self, position: &Value) -> Result<()> {
        let Ok(position) = serde_json::from_value::<Position>(position.clone()) else { return Ok(()) };
        if position.snapshot.is_some() {
            return Ok(());
        }
        if let Some(lsn) = parse_lsn(&position.lsn) {
            if lsn > self.acknowledged {
                self.acknowledged = lsn;
                self.send_status(true)?;
            }
        }
        Ok(())
    }
}
