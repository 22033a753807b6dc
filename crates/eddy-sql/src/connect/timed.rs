//! A source adapter that turns a connector's records into row updates with an event time
//! as they are read, so that the watermark strategy sees rows, not raw records.
//!
//! A table with a rowtime (`WATERMARK FOR`) takes each record's event time from its rowtime
//! column. Converting the record inside the source, rather than after it, lets a record whose
//! rowtime is `NULL` or before 1970 be refused with an error naming the table, the split and
//! the line (or become a dead letter of the source with the format's `ignore-parse-errors`),
//! instead of reaching the watermark with a meaningless time. Everything else (splits,
//! positions, checkpoints, the source's name) is the wrapped source's, so record tags and
//! checkpoints are those of the connector alone.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use eddy_core::error::{Error, Result};
use eddy_core::source::{
    DeadLetter, ReadStatus, RestoredSplit, Source, SplitContext, SplitOutput, SplitReader,
};
use serde::{Deserialize, Serialize};

use crate::connect::table::RowUpdate;
use crate::datum::Datum;

/// A record converted to row updates, with its event time (milliseconds; 0 for tables read at
/// one time).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TimedRows {
    /// The record's row updates (none for a record of another kind, such as a Nexmark event
    /// of another table).
    pub updates: Vec<RowUpdate>,
    /// Its event time.
    pub event_time: u64,
}

/// Converts a record: `Ok` with its rows, or `Err` with why the record is bad.
pub(crate) type Convert<T> = Rc<dyn Fn(&T) -> std::result::Result<TimedRows, BadRecord>>;

/// Why a record was refused.
#[derive(Clone, Debug)]
pub(crate) enum BadRecord {
    /// It does not parse: fails the job as a user error unless bad records are skipped.
    Format(String),
    /// Its rowtime is `NULL` or negative.
    Rowtime(String),
}

impl BadRecord {
    /// Why the record was refused.
    pub(crate) fn into_reason(self) -> String {
        match self {
            BadRecord::Format(reason) | BadRecord::Rowtime(reason) => reason,
        }
    }
}

/// The event time of `updates` from the rowtime column at `column`: the largest rowtime of
/// its rows (a Debezium update's before and after images). `Err` names the table.
pub(crate) fn rowtime_of(
    table: &str,
    column: &str,
    position: usize,
    updates: &[RowUpdate],
) -> std::result::Result<u64, BadRecord> {
    let mut time = 0;
    for (row, _) in updates {
        match row.get(position) {
            Some(Datum::Timestamp(ms)) if *ms >= 0 => time = time.max(*ms as u64),
            Some(Datum::Timestamp(ms)) => {
                return Err(BadRecord::Rowtime(format!(
                    "table {table}: the rowtime {column} is {ms} ms, before 1970-01-01 (event times are \
                     0..=i64::MAX ms)"
                )))
            }
            other => {
                let value = match other {
                    Some(Datum::Null) | None => "NULL".to_owned(),
                    Some(value) => format!("{value:?}"),
                };
                return Err(BadRecord::Rowtime(format!(
                    "table {table}: the rowtime {column} is {value}; a row of a table with a \
                     WATERMARK needs a time"
                )));
            }
        }
    }
    Ok(time)
}

/// `inner` with every record converted by `convert`.
pub(crate) struct TimedSource<T> {
    inner: Box<dyn Source<T>>,
    convert: Convert<T>,
    /// Whether bad records become dead letters (the format's `ignore-parse-errors`).
    skip_bad: bool,
}

impl<T: Serialize + 'static> TimedSource<T> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: impl Source<T> + 'static, convert: Convert<T>, skip_bad: bool) -> Self {
        TimedSource { inner: Box::new(inner), convert, skip_bad }
    }

    fn wrap(&self, split: Box<dyn SplitReader<T>>) -> Box<dyn SplitReader<TimedRows>> {
        Box::new(TimedSplit {
            inner: split,
            convert: Rc::clone(&self.convert),
            skip_bad: self.skip_bad,
            scratch: SplitOutput::default(),
        })
    }
}

impl<T: Serialize + 'static> Source<TimedRows> for TimedSource<T> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<TimedRows>>>> {
        Ok(self.inner.splits(context)?.into_iter().map(|split| self.wrap(split)).collect())
    }

    fn discovery_interval(&self) -> Option<Duration> {
        self.inner.discovery_interval()
    }

    fn discover(
        &self,
        context: &SplitContext,
        known: &[String],
    ) -> Result<Vec<Box<dyn SplitReader<TimedRows>>>> {
        Ok(self.inner.discover(context, known)?.into_iter().map(|split| self.wrap(split)).collect())
    }

    fn reconcile_restored(
        &self,
        context: &SplitContext,
        checkpoint: &std::path::Path,
        splits: &[RestoredSplit<'_>],
    ) -> Result<BTreeMap<String, String>> {
        self.inner.reconcile_restored(context, checkpoint, splits)
    }

    fn sends_bad_records_to_dead_letters(&self) -> bool {
        self.skip_bad || self.inner.sends_bad_records_to_dead_letters()
    }
}

struct TimedSplit<T> {
    inner: Box<dyn SplitReader<T>>,
    convert: Convert<T>,
    skip_bad: bool,
    scratch: SplitOutput<T>,
}

impl<T: Serialize> SplitReader<TimedRows> for TimedSplit<T> {
    fn split_id(&self) -> &str {
        self.inner.split_id()
    }

    fn read(&mut self, output: &mut SplitOutput<TimedRows>, max_records: usize) -> Result<ReadStatus> {
        let status = self.inner.read(&mut self.scratch, max_records)?;
        let (records, dead_letters) = self.scratch.take();
        for dead_letter in dead_letters {
            output.dead_letter(dead_letter);
        }
        for (position, record) in records {
            match (self.convert)(&record) {
                Ok(rows) => output.push(position, rows),
                Err(bad) if self.skip_bad => {
                    let reason = bad.into_reason();
                    let split = self.inner.split_id().to_owned();
                    let raw = serde_json::to_string(&record).unwrap_or_default();
                    output.dead_letter(DeadLetter { split, line: position, reason, raw });
                }
                Err(BadRecord::Format(reason)) => return Err(Error::User(reason)),
                Err(BadRecord::Rowtime(reason)) => {
                    let path = self.inner.split_id().into();
                    return Err(Error::BadRecord { path, line: position, reason });
                }
            }
        }
        Ok(status)
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        self.inner.snapshot_position()
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        self.inner.restore_position(position)
    }

    fn checkpoint_complete(&mut self, position: &serde_json::Value) -> Result<()> {
        self.inner.checkpoint_complete(position)
    }
}
