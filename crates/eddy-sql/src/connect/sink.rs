//! Writing a query's changelog to a table in an eddy job: `print` (Flink's format), `blackhole`,
//! `filesystem` (CSV or JSON lines through eddy's two-phase-commit file sink: exactly-once
//! under checkpoints), `kafka` (with the `kafka` feature; see `connect::kafka`) and in-memory
//! collection for the shell and tests.
//!
//! Append-only connectors (files and topics in `csv` or `json`) take only `+I` changes: [`check_sink`] refuses an updating
//! query before the job starts, as Flink does ("Table sink doesn't support consuming update
//! changes").

use std::io::Write;
use std::sync::{Arc, Mutex};

use eddy_connectors::FileSink;
use eddy_core::error::{Error, Result};
use eddy_core::prelude::{DataStream, Sink, SinkWriter};
use eddy_core::sink::{exit_if_broken_pipe, SinkContext};

use crate::changelog::{ChangelogMode, RowChange, RowKind};
use crate::connect::format::{change_to_debezium, row_to_csv, row_to_json};
use crate::connect::options::{Connector, Format};
use crate::plan::Column;

/// A table written by `INSERT INTO`.
#[derive(Clone, Debug)]
pub struct TableSink {
    /// The catalog name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<Column>,
    /// Where the rows go.
    pub connector: Connector,
}

/// Whether `sink` can take a query result of `mode`: files and topics take appends only,
/// unless their format is a changelog (`debezium-json`).
pub fn check_sink(sink: &TableSink, mode: ChangelogMode) -> Result<()> {
    let append_only = matches!(
        &sink.connector,
        Connector::Filesystem { format, .. } | Connector::Kafka { format, .. } if !format.is_changelog()
    );
    if append_only && mode == ChangelogMode::Updating {
        return Err(Error::Config(format!(
            "table {} ({} connector) is append-only and cannot take the updates (-U, +U, -D) of \
             this query; write it to a connector that takes a changelog (print, or files or a \
             Kafka topic in the debezium-json format) or make the query append-only",
            sink.name,
            sink.connector.name()
        )));
    }
    Ok(())
}

/// Attaches the sink of `table` to a stream of changes.
pub fn write(changes: DataStream<'_, RowChange>, table: &TableSink) -> Result<()> {
    match &table.connector {
        Connector::Print { identifier } => {
            changes.sink(PrintRows { identifier: identifier.clone() });
        }
        Connector::Blackhole => {
            changes.sink(Collect { rows: None });
        }
        Connector::Filesystem { path, format: Format::DebeziumJson { .. } } => {
            let columns = table.columns.clone();
            changes.map(move |change| change_to_debezium(&columns, &change)).sink(FileSink::<
                serde_json::Value,
            >::json_lines(
                path
            ));
        }
        Connector::Filesystem { path, format } => {
            let inserts = changes.filter(|change| change.kind == RowKind::Insert);
            match format {
                Format::Csv { .. } => {
                    inserts.map(|change| row_to_csv(&change.row)).sink(FileSink::<Vec<String>>::csv(path));
                }
                Format::Json { .. } | Format::DebeziumJson { .. } => {
                    let columns = table.columns.clone();
                    inserts.map(move |change| row_to_json(&columns, &change.row)).sink(FileSink::<
                        serde_json::Value,
                    >::json_lines(
                        path
                    ));
                }
            }
        }
        #[cfg(feature = "kafka")]
        Connector::Kafka { .. } => {
            crate::connect::kafka::write(changes, &table.name, &table.columns, &table.connector)?
        }
        #[cfg(not(feature = "kafka"))]
        Connector::Kafka { .. } => {
            return Err(Error::Config(format!(
                "table {}: writing Kafka from SQL needs eddy-sql built with its kafka feature \
                 (which builds librdkafka)",
                table.name
            )))
        }
        other => {
            return Err(Error::Config(format!(
                "table {}: the {} connector cannot be written by INSERT INTO",
                table.name,
                other.name()
            )))
        }
    }
    Ok(())
}

/// Prints changes as Flink's print connector does: `+I[1, a]`, prefixed by
/// `<identifier>> ` or, with several workers, `<identifier>:<worker>> `.
#[derive(Clone, Debug)]
pub struct PrintRows {
    /// `print-identifier`.
    pub identifier: Option<String>,
}

struct PrintRowsWriter {
    prefix: String,
}

impl Sink<RowChange> for PrintRows {
    fn name(&self) -> String {
        "print".into()
    }

    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<RowChange>>> {
        let prefix = match (&self.identifier, context.workers > 1) {
            (Some(id), true) => format!("{id}:{}> ", context.worker_index),
            (Some(id), false) => format!("{id}> "),
            (None, true) => format!("{}> ", context.worker_index),
            (None, false) => String::new(),
        };
        Ok(Box::new(PrintRowsWriter { prefix }))
    }
}

impl SinkWriter<RowChange> for PrintRowsWriter {
    fn write(&mut self, change: RowChange, _timestamp: u64, _logical_time: u64) -> Result<()> {
        writeln!(std::io::stdout().lock(), "{}{change}", self.prefix).map_err(|error| {
            exit_if_broken_pipe(&error);
            Error::io("writing to standard output", error)
        })
    }

    fn finish(&mut self) -> Result<()> {
        std::io::stdout().flush().map_err(|error| {
            exit_if_broken_pipe(&error);
            Error::io("flushing standard output", error)
        })
    }
}

/// Collects changes in memory (or drops them, for `blackhole`), with the logical time each
/// was emitted at.
#[derive(Clone, Debug, Default)]
pub struct Collect {
    /// Where the changes go; `None` drops them.
    pub rows: Option<Arc<Mutex<Vec<(u64, RowChange)>>>>,
}

struct CollectWriter {
    rows: Option<Arc<Mutex<Vec<(u64, RowChange)>>>>,
}

impl Sink<RowChange> for Collect {
    fn name(&self) -> String {
        if self.rows.is_some() { "collect" } else { "blackhole" }.into()
    }

    fn writer(&self, _context: &SinkContext) -> Result<Box<dyn SinkWriter<RowChange>>> {
        Ok(Box::new(CollectWriter { rows: self.rows.clone() }))
    }
}

impl SinkWriter<RowChange> for CollectWriter {
    fn write(&mut self, change: RowChange, _timestamp: u64, logical_time: u64) -> Result<()> {
        if let Some(rows) = &self.rows {
            rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((logical_time, change));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
