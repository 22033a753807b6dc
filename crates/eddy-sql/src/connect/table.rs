//! A table to read ([`TableSource`]) and how its records get their logical times: what
//! `source.rs` (every connector but Kafka) and `kafka.rs` share, below both of them.

use eddy_core::prelude::WatermarkStrategy;

use crate::catalog::TimeAttributes;
use crate::connect::datagen;
use crate::connect::options::Connector;
use crate::datum::Row;
use crate::plan::Column;

/// A row with its multiplicity: `+1` appended, `-1` retracted.
pub type RowUpdate = (Row, i64);

/// A table to read: its name, columns and connector, and for an in-memory table its rows.
#[derive(Clone, Debug)]
pub struct TableSource {
    /// The catalog name.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// Where the rows come from.
    pub connector: Connector,
    /// An in-memory table's contents (ignored for other connectors).
    pub rows: Vec<RowUpdate>,
    /// The time attributes (`WATERMARK FOR`, `PROCTIME()`).
    pub time: TimeAttributes,
}

impl TableSource {
    /// Whether every row is read at logical time 0 (a bounded table without event time), so
    /// a query's result appears once, when the input ends.
    pub fn is_read_at_one_time(&self) -> bool {
        if self.time.rowtime.is_some() {
            return false;
        }
        match &self.connector {
            Connector::Memory | Connector::Filesystem { .. } => true,
            Connector::Datagen(spec) => datagen::row_count(spec).is_some(),
            Connector::Kafka { bounded, .. } => *bounded,
            _ => false,
        }
    }

    /// Whether the table ends (files, in-memory tables, bounded generators and topics).
    pub fn is_bounded(&self) -> bool {
        match &self.connector {
            Connector::Memory | Connector::Filesystem { .. } => true,
            Connector::Datagen(spec) => datagen::row_count(spec).is_some(),
            Connector::Nexmark { events, .. } => events.is_some(),
            Connector::Kafka { bounded, .. } => *bounded,
            Connector::Print { .. } | Connector::Blackhole => true,
        }
    }
}

/// How `table`'s records get their logical times: its watermark (event times from
/// `event_time`) if it has one, else event time 0 when `bounded`, else ingestion time.
pub(crate) fn strategy<T: 'static>(
    table: &TableSource,
    bounded: bool,
    event_time: impl Fn(&T) -> u64 + 'static,
) -> WatermarkStrategy<T> {
    match &table.time.rowtime {
        Some(rowtime) => watermarks(table, rowtime.delay_ms, event_time),
        None if bounded => WatermarkStrategy::monotonous_timestamps(),
        None => WatermarkStrategy::ingestion_time(),
    }
}

/// Bounded out-of-orderness by `delay_ms` over `event_time`, with the table's idleness and
/// coarsening options.
pub(crate) fn watermarks<T: 'static>(
    table: &TableSource,
    delay_ms: u64,
    event_time: impl Fn(&T) -> u64 + 'static,
) -> WatermarkStrategy<T> {
    let mut strategy = WatermarkStrategy::bounded_out_of_orderness(delay_ms).with_timestamps(event_time);
    if let Some(rowtime) = &table.time.rowtime {
        if let Some(timeout) = rowtime.idle_timeout_ms {
            strategy = strategy.with_idleness(timeout);
        }
        if let Some(records) = rowtime.emit_every {
            strategy = strategy.with_emit_every(records);
        }
    }
    strategy
}
