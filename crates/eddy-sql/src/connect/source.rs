//! Reading a table in an eddy job: the table's connector becomes an eddy source, and its
//! records become rows with a multiplicity (`+1` for an appended row; changelog sources give
//! `-1` for a retracted one). The SQL layer turns that stream into a differential collection.
//!
//! # Event time
//! A table with a time attribute (`WATERMARK FOR ts AS ts - INTERVAL 'd' ...`, any
//! connector) is read at event time: each row's event time is its rowtime column (epoch
//! milliseconds) and eddy's bounded out-of-orderness with delay `d` makes the split
//! watermarks, which are the logical times of the rows. Its query results are changelogs over
//! event time that become final as the frontier passes them. A row whose rowtime is `NULL` or
//! before 1970 fails the job with an error naming the table and the row's split and line (a
//! dead letter with the format's `ignore-parse-errors`). `'scan.watermark.idle-timeout'` is
//! the strategy's idleness; `'scan.watermark.emit-every'` (eddy's) how many rows of a split
//! pass between watermark advances (default 1024).
//!
//! A bounded table without a time attribute (files, in-memory tables, `datagen` with a row
//! count, Kafka with `scan.bounded.mode`) is read with every row at event time 0, so the
//! frontier stays at 0 until a bounded table ends: a query over bounded tables produces its
//! result once, when the input ends, as a batch database does. An unbounded table without a
//! time attribute (Kafka without `scan.bounded.mode`, `datagen` without a row count) is read
//! at ingestion time, so its results follow processing time. The `nexmark` tables carry their
//! generator's event time (`dateTime`) with the 4 s bounded out-of-orderness of Flink's Nexmark
//! DDL, or the delay of their own `WATERMARK FOR dateTime` clause.
//!
//! # Processing time
//! A `pt AS PROCTIME()` column is not in the data: the source fills it, as each row is read,
//! with the job clock's time (ingestion time, a `TIMESTAMP(3)` in UTC). The clock is the job's
//! injected clock, never read by expression evaluation, so expressions stay deterministic;
//! the column's values are not (a replay after a failure reads them anew).

use eddy_connectors::{CollectionSource, FileSource, GeneratorSource};
use eddy_core::error::Error;
use eddy_core::prelude::{DataStream, Env};
use eddy_nexmark::{Event, NexmarkConfig, NexmarkSource};
use std::rc::Rc;

use crate::connect::datagen;
use crate::connect::format::{row_from_csv, row_from_json, updates_from_debezium, FormatError};
use crate::connect::nexmark::{normalized, NexmarkLayout};
use crate::connect::options::{Connector, Format};
use crate::connect::table::{strategy, watermarks};
pub use crate::connect::table::{RowUpdate, TableSource};
use crate::connect::timed::{rowtime_of, BadRecord, Convert, TimedRows, TimedSource};
use crate::datum::{Datum, Row};

/// The splits of a `nexmark` table.
const NEXMARK_SPLITS: usize = 4;

/// The watermark delay of a `nexmark` table without a `WATERMARK FOR` clause (Flink's
/// Nexmark DDL declares 4 s).
const NEXMARK_DEFAULT_DELAY_MS: u64 = 4_000;

/// Reads `table` as a stream of row updates on this worker (each worker reads its share of
/// the table's splits).
pub fn read<'scope>(
    env: &mut Env<'scope>,
    table: &TableSource,
) -> eddy_core::Result<DataStream<'scope, RowUpdate>> {
    #[cfg(feature = "kafka")]
    if let Connector::Kafka { .. } = &table.connector {
        let stream = crate::connect::kafka::read(env, table)?;
        return Ok(with_proctime(env, table, stream));
    }
    let name = table.name.clone();
    let columns = table.time.physical_columns(&table.columns);
    let rowtime = table.time.physical_rowtime(&table.columns);
    // Adds the event time to a record's rows: its rowtime, or 0 without one.
    let rowtime_name = rowtime.as_ref().map(|(_, column)| column.clone());
    let timed = {
        let name = name.clone();
        move |updates: Vec<RowUpdate>| -> Result<TimedRows, BadRecord> {
            let event_time = match &rowtime {
                Some((position, column)) => rowtime_of(&name, column, *position, &updates)?,
                None => 0,
            };
            Ok(TimedRows { updates, event_time })
        }
    };
    let format = |error: FormatError| BadRecord::Format(error.to_string());
    let bounded = table.is_bounded();
    let stream = match &table.connector {
        Connector::Memory => {
            let convert: Convert<RowUpdate> = Rc::new(move |update| timed(vec![update.clone()]));
            let source = TimedSource::new(CollectionSource::new(table.rows.clone()), convert, false);
            env.from_source(source, strategy(table, bounded, event_time))
        }
        Connector::Filesystem { path, format: file_format } => match file_format {
            Format::Csv { header, ignore_parse_errors } => {
                let source = FileSource::<Vec<String>>::csv(path).has_header(*header);
                let convert: Convert<Vec<String>> = Rc::new(move |fields| {
                    timed(vec![(row_from_csv(&name, &columns, fields).map_err(format)?, 1)])
                });
                let source = TimedSource::new(source, convert, *ignore_parse_errors);
                env.from_source(source, strategy(table, bounded, event_time))
            }
            Format::DebeziumJson { ignore_parse_errors } => {
                let source = FileSource::<serde_json::Value>::json_lines(path);
                let convert: Convert<serde_json::Value> = Rc::new(move |value| {
                    timed(updates_from_debezium(&name, &columns, value).map_err(format)?)
                });
                let source = TimedSource::new(source, convert, *ignore_parse_errors);
                env.from_source(source, strategy(table, bounded, event_time))
            }
            Format::Json { ignore_parse_errors } => {
                let source = FileSource::<serde_json::Value>::json_lines(path);
                let convert: Convert<serde_json::Value> = Rc::new(move |value| {
                    timed(vec![(row_from_json(&name, &columns, value).map_err(format)?, 1)])
                });
                let source = TimedSource::new(source, convert, *ignore_parse_errors);
                env.from_source(source, strategy(table, bounded, event_time))
            }
        },
        Connector::Datagen(spec) => {
            let spec = spec.clone();
            let rows = datagen::row_count(&spec);
            let generate = {
                let spec = spec.clone();
                move |_split: usize, n: u64| (datagen::row(&spec, &columns, n), 1i64)
            };
            let mut source = GeneratorSource::new(1, generate);
            if let Some(rows) = rows {
                source = source.with_count(rows);
            }
            if let Some(rate) = spec.rows_per_second {
                source = source.with_rate(rate);
            }
            let convert: Convert<RowUpdate> = Rc::new(move |update| timed(vec![update.clone()]));
            env.from_source(
                TimedSource::new(source, convert, false),
                strategy(table, rows.is_some(), event_time),
            )
        }
        Connector::Nexmark { table: kind, events, events_per_second, seed } => {
            if let Some(column) = &rowtime_name {
                if normalized(column) != "datetime" {
                    return Err(Error::Config(format!(
                        "table {name}: a nexmark table's event time is its dateTime; declare \
                         WATERMARK FOR dateTime, not {column}"
                    )));
                }
            }
            let mut config = NexmarkConfig::default().with_seed(*seed);
            if let Some(rate) = events_per_second {
                config = config.with_events_per_second(*rate);
            }
            // A fixed number of splits: a restore at another worker count finds the same ones.
            let mut source = NexmarkSource::new(config, *events, NEXMARK_SPLITS);
            if let Some(rate) = events_per_second {
                source = source.with_max_rate(*rate);
            }
            let layout =
                NexmarkLayout::new(&name, &columns, *kind).map_err(|e| Error::Config(e.to_string()))?;
            // Every event carries the generator's time, also those of other tables, so that
            // all events advance the watermark as in Flink's Nexmark source.
            let convert: Convert<Event> = Rc::new(move |event| {
                let row = layout.row(event).map_err(format)?;
                let updates = row.map(|row| vec![(row, 1)]).unwrap_or_default();
                Ok(TimedRows { updates, event_time: event.date_time() })
            });
            let delay = table.time.rowtime.as_ref().map_or(NEXMARK_DEFAULT_DELAY_MS, |r| r.delay_ms);
            let strategy = watermarks(table, delay, event_time);
            env.from_source(TimedSource::new(source, convert, false), strategy)
        }
        Connector::Kafka { .. } => {
            return Err(Error::Config(format!(
                "table {}: reading Kafka from SQL needs eddy-sql built with its kafka feature \
                 (which builds librdkafka)",
                table.name
            )))
        }
        Connector::Print { .. } | Connector::Blackhole => {
            return Err(Error::Config(format!(
                "table {}: the {} connector is a sink; it cannot be read",
                table.name,
                table.connector.name()
            )))
        }
    };
    let stream = stream.flat_map(|timed: TimedRows| timed.updates);
    Ok(with_proctime(env, table, stream))
}

fn event_time(rows: &TimedRows) -> u64 {
    rows.event_time
}

/// Fills the `PROCTIME()` column of `table`'s rows, if it has one, with the job clock's time.
pub(crate) fn with_proctime<'scope>(
    env: &mut Env<'scope>,
    table: &TableSource,
    stream: DataStream<'scope, RowUpdate>,
) -> DataStream<'scope, RowUpdate> {
    let Some(position) = table.time.proctime else { return stream };
    let clock = env.clock();
    stream.map(move |(row, diff)| {
        let mut values = row.values().to_vec();
        let now = i64::try_from(clock.now_ms()).unwrap_or(i64::MAX);
        values.insert(position, Datum::Timestamp(now));
        (Row::new(values), diff)
    })
}
