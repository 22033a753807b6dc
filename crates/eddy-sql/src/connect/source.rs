//! Reading a table in an eddy job: the table's connector becomes an eddy source, and its
//! records become rows with a multiplicity (`+1` for an appended row; changelog sources give
//! `-1` for a retracted one). The SQL layer turns that stream into a differential collection.
//!
//! # Event time
//! A bounded table without a time attribute (issue 17 adds `WATERMARK FOR`; files, in-memory
//! tables, `datagen` with a row count, Kafka with `scan.bounded.mode`) is read with every row
//! at event time 0, so the frontier stays at 0 until a bounded table ends: a query over bounded
//! tables produces its result once, when the input ends, as a batch database does. An
//! unbounded table without a time attribute (Kafka without `scan.bounded.mode`, `datagen`
//! without a row count) is read at ingestion time, so its results follow processing time.
//! The `nexmark` tables carry their generator's event time with the suite's 4 s bounded
//! out-of-orderness.

use eddy_connectors::{CollectionSource, FileSource, GeneratorSource};
use eddy_core::error::Error;
use eddy_core::prelude::{DataStream, Env, WatermarkStrategy};
use eddy_nexmark::{nexmark_watermarks, Event, NexmarkConfig, NexmarkSource};

use crate::cast::cast;
use crate::connect::datagen;
use crate::connect::format::{row_from_csv, row_from_json, updates_from_debezium, FormatError};
use crate::connect::options::{Connector, Format, NexmarkTable};
use crate::datum::{Datum, Row};
use crate::plan::Column;
use crate::types::SqlType;

/// The splits of a `nexmark` table.
const NEXMARK_SPLITS: usize = 4;

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
}

impl TableSource {
    /// Whether every row is read at logical time 0 (a bounded table without event time), so
    /// a query's result appears once, when the input ends.
    pub fn is_read_at_one_time(&self) -> bool {
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

fn format_failure(error: FormatError) -> Error {
    Error::User(error.to_string())
}

/// Reads `table` as a stream of row updates on this worker (each worker reads its share of
/// the table's splits).
pub fn read<'scope>(
    env: &mut Env<'scope>,
    table: &TableSource,
) -> eddy_core::Result<DataStream<'scope, RowUpdate>> {
    let name = table.name.clone();
    let columns = table.columns.clone();
    let bounded_time = || WatermarkStrategy::monotonous_timestamps();
    let stream = match &table.connector {
        Connector::Memory => env.from_source(CollectionSource::new(table.rows.clone()), bounded_time()),
        Connector::Filesystem { path, format } => match format {
            Format::Csv { header, ignore_parse_errors } => {
                let source = FileSource::<Vec<String>>::csv(path).has_header(*header);
                let failure = env.failure();
                let skip = *ignore_parse_errors;
                env.from_source(source, WatermarkStrategy::monotonous_timestamps()).flat_map(move |fields| {
                    match row_from_csv(&name, &columns, &fields) {
                        Ok(row) => Some((row, 1)),
                        Err(_) if skip => None,
                        Err(error) => {
                            failure.fail(format_failure(error));
                            None
                        }
                    }
                })
            }
            Format::DebeziumJson { ignore_parse_errors } => {
                let source = FileSource::<serde_json::Value>::json_lines(path);
                let failure = env.failure();
                let skip = *ignore_parse_errors;
                env.from_source(source, WatermarkStrategy::monotonous_timestamps()).flat_map(move |value| {
                    match updates_from_debezium(&name, &columns, &value) {
                        Ok(updates) => updates,
                        Err(_) if skip => Vec::new(),
                        Err(error) => {
                            failure.fail(format_failure(error));
                            Vec::new()
                        }
                    }
                })
            }
            Format::Json { ignore_parse_errors } => {
                let source = FileSource::<serde_json::Value>::json_lines(path);
                let failure = env.failure();
                let skip = *ignore_parse_errors;
                env.from_source(source, WatermarkStrategy::monotonous_timestamps()).flat_map(move |value| {
                    match row_from_json(&name, &columns, &value) {
                        Ok(row) => Some((row, 1)),
                        Err(_) if skip => None,
                        Err(error) => {
                            failure.fail(format_failure(error));
                            None
                        }
                    }
                })
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
            let strategy = if rows.is_some() { bounded_time() } else { WatermarkStrategy::ingestion_time() };
            env.from_source(source, strategy)
        }
        Connector::Nexmark { table: kind, events, events_per_second, seed } => {
            let mut config = NexmarkConfig::default().with_seed(*seed);
            if let Some(rate) = events_per_second {
                config = config.with_events_per_second(*rate);
            }
            // A fixed number of splits: a restore at another worker count finds the same ones.
            let mut source = NexmarkSource::new(config, *events, NEXMARK_SPLITS);
            if let Some(rate) = events_per_second {
                source = source.with_max_rate(*rate);
            }
            let kind = *kind;
            let failure = env.failure();
            env.from_source(source, nexmark_watermarks()).flat_map(move |event| {
                match nexmark_row(&name, &columns, kind, &event) {
                    Ok(row) => row.map(|row| (row, 1)),
                    Err(error) => {
                        failure.fail(format_failure(error));
                        None
                    }
                }
            })
        }
        #[cfg(feature = "kafka")]
        Connector::Kafka { .. } => {
            crate::connect::kafka::read(env, &table.name, &table.columns, &table.connector)?
        }
        #[cfg(not(feature = "kafka"))]
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
    Ok(stream)
}

/// A column name as the Nexmark models spell fields: lower case without underscores, so
/// `dateTime`, `date_time` and `DATETIME` all name `date_time`.
fn normalized(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

/// The row of a Nexmark event for a table of `kind`, or `None` for an event of another kind.
fn nexmark_row(
    table: &str,
    columns: &[Column],
    kind: NexmarkTable,
    event: &Event,
) -> Result<Option<Row>, FormatError> {
    let number = |v: u64| Datum::BigInt(v as i64);
    let time = |v: u64| Datum::Timestamp(v as i64);
    let text = |v: &str| Datum::String(v.to_owned());
    let fields: Vec<(&str, Datum)> = match (kind, event) {
        (NexmarkTable::Person, Event::Person(p)) => vec![
            ("id", number(p.id)),
            ("name", text(&p.name)),
            ("emailaddress", text(&p.email_address)),
            ("creditcard", text(&p.credit_card)),
            ("city", text(&p.city)),
            ("state", text(&p.state)),
            ("datetime", time(p.date_time)),
            ("extra", text(&p.extra)),
        ],
        (NexmarkTable::Auction, Event::Auction(a)) => vec![
            ("id", number(a.id)),
            ("itemname", text(&a.item_name)),
            ("description", text(&a.description)),
            ("initialbid", number(a.initial_bid)),
            ("reserve", number(a.reserve)),
            ("datetime", time(a.date_time)),
            ("expires", time(a.expires)),
            ("seller", number(a.seller)),
            ("category", number(a.category)),
            ("extra", text(&a.extra)),
        ],
        (NexmarkTable::Bid, Event::Bid(b)) => vec![
            ("auction", number(b.auction)),
            ("bidder", number(b.bidder)),
            ("price", number(b.price)),
            ("channel", text(&b.channel)),
            ("url", text(&b.url)),
            ("datetime", time(b.date_time)),
            ("extra", text(&b.extra)),
        ],
        _ => return Ok(None),
    };
    let values = columns
        .iter()
        .map(|column| {
            let wanted = normalized(&column.name);
            let (_, value) =
                fields.iter().find(|(name, _)| *name == wanted).ok_or_else(|| FormatError::Value {
                    table: table.into(),
                    column: column.name.clone(),
                    ty: column.ty,
                    reason: format!(
                        "the Nexmark {kind:?} has no such field; it has {}",
                        fields.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                })?;
            let from = match value {
                Datum::BigInt(_) => SqlType::BigInt,
                Datum::Timestamp(_) => SqlType::Timestamp { precision: 3 },
                _ => SqlType::STRING,
            };
            cast(value, from, column.ty).map_err(|error| FormatError::Value {
                table: table.into(),
                column: column.name.clone(),
                ty: column.ty,
                reason: error.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Row::new(values)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_nexmark::NexmarkGenerator;

    #[test]
    fn nexmark_rows_map_columns_by_name_in_any_spelling() {
        let generator = NexmarkGenerator::new(NexmarkConfig::default());
        let bid = (0..100).map(|n| generator.event(n)).find(|e| matches!(e, Event::Bid(_))).expect("a bid");
        let columns = vec![
            Column::new("dateTime", SqlType::Timestamp { precision: 3 }),
            Column::new("price", SqlType::decimal(20, 2).unwrap()),
            Column::new("AUCTION", SqlType::BigInt),
        ];
        let row = nexmark_row("bid", &columns, NexmarkTable::Bid, &bid).unwrap().unwrap();
        let Event::Bid(b) = &bid else { unreachable!() };
        assert_eq!(row.get(0), Some(&Datum::Timestamp(b.date_time as i64)));
        assert_eq!(row.get(2), Some(&Datum::BigInt(b.auction as i64)));
        assert_eq!(nexmark_row("person", &columns, NexmarkTable::Person, &bid), Ok(None));
        let bad = vec![Column::new("bidder_name", SqlType::STRING)];
        let error = nexmark_row("bid", &bad, NexmarkTable::Bid, &bid).unwrap_err();
        assert!(error.to_string().contains("no such field"), "{error}");
    }
}
