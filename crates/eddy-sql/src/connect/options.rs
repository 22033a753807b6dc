//! `CREATE TABLE ... WITH ('connector' = ..., ...)` options, checked and typed. Names follow
//! Flink's connectors where eddy has the same one (`filesystem`, `kafka`, `datagen`, `print`,
//! `blackhole`); `nexmark` and the in-memory `values` are eddy's. Every option must be known:
//! a misspelt key is an error naming the table, the key and the keys the connector takes.
//!
//! # Kafka
//! With eddy-sql's `kafka` feature (eddy-kafka, librdkafka), a table with `'connector' =
//! 'kafka'` reads and writes a topic (`connect::kafka`); without it, reading or writing one
//! is an error that says so. Its options, as Flink names them:
//!
//! | key | value |
//! |-----|-------|
//! | `topic` | the topic (required) |
//! | `properties.bootstrap.servers` | the brokers, `host:port,...` (required) |
//! | `properties.group.id` | the consumer group: offsets of completed checkpoints are committed to it |
//! | `format` | `json`, `csv` (one record a message, no header) or `debezium-json` (required) |
//! | `json.ignore-parse-errors`, `csv.ignore-parse-errors`, `debezium-json.ignore-parse-errors` | `true`: a bad message goes to the dead letters instead of failing the job |
//! | `scan.startup.mode` | `earliest-offset` (default), `latest-offset`, or `group-offsets` (the default with a group; earliest where the group has no offset) |
//! | `scan.bounded.mode` | `unbounded` (default) or `latest-offset`: each partition ends at its end offset when the job starts, and the job ends |
//! | `sink.delivery-guarantee` | `at-least-once` (default) or `exactly-once` (transactions committed with checkpoints; the job needs checkpoints) |
//!
//! Each partition is a split of the source, its offset kept in eddy's checkpoints. Writing
//! `json` or `csv` takes append-only queries only; `debezium-json` takes updating ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;

/// Why a table's options are not usable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OptionsError {
    /// `'connector'` names no connector eddy has.
    #[error("table {table}: unknown connector '{connector}'; eddy has {known}")]
    UnknownConnector {
        /// The table.
        table: String,
        /// The name given.
        connector: String,
        /// The connectors there are.
        known: String,
    },
    /// A key the connector does not take.
    #[error("table {table}: connector '{connector}' has no option '{key}'; it takes {known}")]
    UnknownOption {
        /// The table.
        table: String,
        /// The connector.
        connector: String,
        /// The key given.
        key: String,
        /// The keys it takes.
        known: String,
    },
    /// A required key is missing.
    #[error("table {table}: connector '{connector}' needs the option '{key}'")]
    Missing {
        /// The table.
        table: String,
        /// The connector.
        connector: String,
        /// The key.
        key: String,
    },
    /// A value that does not fit its key.
    #[error("table {table}: option '{key}' = '{value}': {reason}")]
    BadValue {
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is expected.
        reason: String,
    },
}

/// The format of a file or a Kafka message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values, one row a line, columns in the table's order. Flink's `csv`
    /// format has no header row; `'csv.header' = 'true'` skips one.
    Csv {
        /// Whether the first line of each file is a header to skip.
        header: bool,
        /// `csv.ignore-parse-errors`: a bad line goes to the dead letters instead of failing.
        ignore_parse_errors: bool,
    },
    /// One JSON object a line, fields by column name; a missing field is `NULL`.
    Json {
        /// `json.ignore-parse-errors`.
        ignore_parse_errors: bool,
    },
    /// A changelog: one Debezium change event a line (`{"before": .., "after": .., "op": ..}`,
    /// bare or inside a `payload` envelope). Written as Flink writes it: `+I` and `+U` as
    /// `"op": "c"` with `after`, `-U` and `-D` as `"op": "d"` with `before`.
    DebeziumJson {
        /// `debezium-json.ignore-parse-errors`.
        ignore_parse_errors: bool,
    },
}

impl Format {
    /// Whether the format carries retractions (so a sink of it takes an updating query).
    pub fn is_changelog(&self) -> bool {
        matches!(self, Format::DebeziumJson { .. })
    }
}

/// Where `SCAN` of a Kafka table starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupMode {
    /// `earliest-offset`.
    Earliest,
    /// `latest-offset`.
    Latest,
    /// `group-offsets`: the consumer group's committed offsets.
    GroupOffsets,
}

/// The Nexmark generator's three tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NexmarkTable {
    /// People registering.
    Person,
    /// Auctions opened.
    Auction,
    /// Bids.
    Bid,
}

/// How `datagen` fills one column.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    /// Uniform values in `[min, max]` (numbers), of `length` characters (strings).
    Random {
        /// `fields.<c>.min`.
        min: Option<String>,
        /// `fields.<c>.max`.
        max: Option<String>,
        /// `fields.<c>.length`.
        length: Option<usize>,
    },
    /// `start`, `start + 1`, ... up to `end`; the table ends with the shortest sequence.
    Sequence {
        /// `fields.<c>.start`.
        start: i64,
        /// `fields.<c>.end`.
        end: i64,
    },
}

/// `datagen`'s options.
#[derive(Clone, Debug, PartialEq)]
pub struct Datagen {
    /// `number-of-rows`; unbounded without it (unless a sequence ends).
    pub rows: Option<u64>,
    /// `rows-per-second`; as fast as possible without it.
    pub rows_per_second: Option<u64>,
    /// Per column (by name): how to fill it; `Random` for columns not named.
    pub fields: BTreeMap<String, FieldKind>,
    /// `fields.<c>.null-rate`, per column.
    pub null_rates: BTreeMap<String, f64>,
    /// `seed`: the generator is deterministic, this picks which sequence.
    pub seed: u64,
}

/// A table's connector, from its options.
#[derive(Clone, Debug, PartialEq)]
pub enum Connector {
    /// No `WITH` clause, or `'connector' = 'values'`: rows kept in memory, changed by
    /// `INSERT`, `UPDATE` and `DELETE` statements.
    Memory,
    /// Files: `path` (a file or a directory) and `format`.
    Filesystem {
        /// `path`.
        path: PathBuf,
        /// `format`.
        format: Format,
    },
    /// Random or sequential rows.
    Datagen(Datagen),
    /// The Nexmark generator's people, auctions or bids as a flat table.
    Nexmark {
        /// `table`.
        table: NexmarkTable,
        /// `events.num`: how many generator events (of all three kinds) to produce.
        events: Option<u64>,
        /// `events.per-second`.
        events_per_second: Option<u64>,
        /// `seed`.
        seed: u64,
    },
    /// A Kafka topic (with the `kafka` feature).
    Kafka {
        /// `topic`.
        topic: String,
        /// `properties.bootstrap.servers`.
        brokers: String,
        /// `properties.group.id`.
        group: Option<String>,
        /// `format`.
        format: Format,
        /// `scan.startup.mode`.
        startup: StartupMode,
        /// `scan.bounded.mode` = `latest-offset`: read up to the end at the start, then end.
        bounded: bool,
        /// `sink.delivery-guarantee` = `exactly-once` (transactions, with checkpoints) rather
        /// than `at-least-once` (the default, as in Flink).
        exactly_once: bool,
    },
    /// Rows printed to standard output (sink only).
    Print {
        /// `print-identifier`: a prefix for each line.
        identifier: Option<String>,
    },
    /// Rows dropped (sink only).
    Blackhole,
}

impl Connector {
    /// The name in `'connector' = ...`.
    pub fn name(&self) -> &'static str {
        match self {
            Connector::Memory => "values",
            Connector::Filesystem { .. } => "filesystem",
            Connector::Datagen(_) => "datagen",
            Connector::Nexmark { .. } => "nexmark",
            Connector::Kafka { .. } => "kafka",
            Connector::Print { .. } => "print",
            Connector::Blackhole => "blackhole",
        }
    }

    /// Whether reading the table only ever adds rows: a generator, or files and topics of a
    /// format without retractions. (An in-memory table changes with `UPDATE` and `DELETE`.)
    pub fn is_append_only(&self) -> bool {
        match self {
            Connector::Datagen(_) | Connector::Nexmark { .. } => true,
            Connector::Filesystem { format, .. } | Connector::Kafka { format, .. } => !format.is_changelog(),
            Connector::Memory | Connector::Print { .. } | Connector::Blackhole => false,
        }
    }

    /// Whether the table can be read (print and blackhole are sinks only).
    pub fn can_read(&self) -> bool {
        !matches!(self, Connector::Print { .. } | Connector::Blackhole)
    }

    /// Whether the table can be written by `INSERT INTO` a running job (datagen and nexmark
    /// are sources only).
    pub fn can_write(&self) -> bool {
        !matches!(self, Connector::Datagen(_) | Connector::Nexmark { .. })
    }
}

const CONNECTORS: &str = "values, filesystem, datagen, nexmark, kafka, print, blackhole";

/// Takes the options apart, consuming each key it knows.
struct Options<'a> {
    table: &'a str,
    connector: String,
    rest: BTreeMap<String, String>,
    known: Vec<String>,
}

impl Options<'_> {
    fn take(&mut self, key: &str) -> Option<String> {
        self.known.push(key.to_owned());
        self.rest.remove(key)
    }

    fn require(&mut self, key: &str) -> Result<String, OptionsError> {
        self.take(key).ok_or_else(|| OptionsError::Missing {
            table: self.table.to_owned(),
            connector: self.connector.clone(),
            key: key.to_owned(),
        })
    }

    fn bad(&self, key: &str, value: &str, reason: &str) -> OptionsError {
        OptionsError::BadValue {
            table: self.table.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn number<T: std::str::FromStr>(&mut self, key: &str) -> Result<Option<T>, OptionsError> {
        match self.take(key) {
            None => Ok(None),
            Some(value) => value.trim().parse().map(Some).map_err(|_| self.bad(key, &value, "not a number")),
        }
    }

    fn flag(&mut self, key: &str, default: bool) -> Result<bool, OptionsError> {
        match self.take(key).as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(self.bad(key, other, "expected 'true' or 'false'")),
        }
    }

    fn format(&mut self) -> Result<Format, OptionsError> {
        let format = self.require("format")?;
        match format.as_str() {
            "csv" => Ok(Format::Csv {
                header: self.flag("csv.header", false)?,
                ignore_parse_errors: self.flag("csv.ignore-parse-errors", false)?,
            }),
            "json" => Ok(Format::Json { ignore_parse_errors: self.flag("json.ignore-parse-errors", false)? }),
            "debezium-json" => Ok(Format::DebeziumJson {
                ignore_parse_errors: self.flag("debezium-json.ignore-parse-errors", false)?,
            }),
            other => Err(self.bad("format", other, "eddy reads 'csv', 'json' and 'debezium-json'")),
        }
    }

    /// Fails on any key left over.
    fn finish(self) -> Result<(), OptionsError> {
        match self.rest.keys().next() {
            None => Ok(()),
            Some(key) => {
                let mut known = self.known;
                known.sort();
                known.dedup();
                Err(OptionsError::UnknownOption {
                    table: self.table.to_owned(),
                    connector: self.connector,
                    key: key.clone(),
                    known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
                })
            }
        }
    }
}

/// The connector of table `table` with columns `columns` from its `WITH` options (keys
/// compared as written, as Flink does).
pub fn connector(
    table: &str,
    columns: &[String],
    options: &BTreeMap<String, String>,
) -> Result<Connector, OptionsError> {
    let mut rest = options.clone();
    let Some(name) = rest.remove("connector") else {
        if rest.is_empty() {
            return Ok(Connector::Memory);
        }
        return Err(OptionsError::Missing {
            table: table.into(),
            connector: "?".into(),
            key: "connector".into(),
        });
    };
    let mut options = Options { table, connector: name.clone(), rest, known: vec![] };
    let connector = match name.as_str() {
        "values" => Connector::Memory,
        "filesystem" => {
            Connector::Filesystem { path: PathBuf::from(options.require("path")?), format: options.format()? }
        }
        "datagen" => datagen(&mut options, columns)?,
        "nexmark" => {
            let table_name = options.require("table")?;
            let kind = match table_name.as_str() {
                "person" => NexmarkTable::Person,
                "auction" => NexmarkTable::Auction,
                "bid" => NexmarkTable::Bid,
                other => return Err(options.bad("table", other, "expected 'person', 'auction' or 'bid'")),
            };
            Connector::Nexmark {
                table: kind,
                events: options.number("events.num")?,
                events_per_second: options.number("events.per-second")?,
                seed: options.number("seed")?.unwrap_or(0),
            }
        }
        "kafka" => {
            let topic = options.require("topic")?;
            let brokers = options.require("properties.bootstrap.servers")?;
            let group = options.take("properties.group.id");
            let format = options.format()?;
            if let Format::Csv { header: true, .. } = format {
                return Err(options.bad(
                    "csv.header",
                    "true",
                    "a Kafka message is one record, without a header",
                ));
            }
            let startup =
                match options.take("scan.startup.mode").as_deref() {
                    None | Some("group-offsets") if group.is_some() => StartupMode::GroupOffsets,
                    None | Some("earliest-offset") => StartupMode::Earliest,
                    Some("latest-offset") => StartupMode::Latest,
                    Some(other) => return Err(options.bad(
                        "scan.startup.mode",
                        other,
                        "expected earliest-offset, latest-offset or group-offsets (with properties.group.id)",
                    )),
                };
            let bounded = match options.take("scan.bounded.mode").as_deref() {
                None | Some("unbounded") => false,
                Some("latest-offset") => true,
                Some(other) => {
                    return Err(options.bad(
                        "scan.bounded.mode",
                        other,
                        "expected unbounded or latest-offset",
                    ))
                }
            };
            let exactly_once = match options.take("sink.delivery-guarantee").as_deref() {
                Some("exactly-once") => true,
                None | Some("at-least-once") => false,
                Some(other) => {
                    return Err(options.bad(
                        "sink.delivery-guarantee",
                        other,
                        "expected exactly-once or at-least-once",
                    ))
                }
            };
            Connector::Kafka { topic, brokers, group, format, startup, bounded, exactly_once }
        }
        "print" => Connector::Print { identifier: options.take("print-identifier") },
        "blackhole" => Connector::Blackhole,
        other => {
            return Err(OptionsError::UnknownConnector {
                table: table.into(),
                connector: other.into(),
                known: CONNECTORS.into(),
            })
        }
    };
    options.finish()?;
    Ok(connector)
}

fn datagen(options: &mut Options<'_>, columns: &[String]) -> Result<Connector, OptionsError> {
    let rows = options.number("number-of-rows")?;
    let rows_per_second = options.number("rows-per-second")?;
    let seed = options.number("seed")?.unwrap_or(0);
    let mut fields = BTreeMap::new();
    let mut null_rates = BTreeMap::new();
    for column in columns {
        let key = |suffix: &str| format!("fields.{column}.{suffix}");
        let kind = options.take(&key("kind"));
        let field = match kind.as_deref() {
            None | Some("random") => FieldKind::Random {
                min: options.take(&key("min")),
                max: options.take(&key("max")),
                length: options.number(&key("length"))?,
            },
            Some("sequence") => {
                let start = options.number(&key("start"))?;
                let end = options.number(&key("end"))?;
                match (start, end) {
                    (Some(start), Some(end)) if start <= end => FieldKind::Sequence { start, end },
                    _ => {
                        return Err(options.bad(
                            &key("kind"),
                            "sequence",
                            "a sequence needs integer start <= end options",
                        ))
                    }
                }
            }
            Some(other) => return Err(options.bad(&key("kind"), other, "expected 'random' or 'sequence'")),
        };
        fields.insert(column.clone(), field);
        if let Some(rate) = options.number::<f64>(&key("null-rate"))? {
            if !(0.0..=1.0).contains(&rate) {
                return Err(options.bad(
                    &key("null-rate"),
                    &rate.to_string(),
                    "expected a rate between 0 and 1",
                ));
            }
            null_rates.insert(column.clone(), rate);
        }
    }
    Ok(Connector::Datagen(Datagen { rows, rows_per_second, fields, null_rates, seed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn connectors_parse_and_unknown_keys_are_named() {
        assert_eq!(connector("t", &[], &BTreeMap::new()), Ok(Connector::Memory));
        let files =
            connector("t", &[], &options(&[("connector", "filesystem"), ("path", "/x"), ("format", "csv")]));
        assert_eq!(
            files,
            Ok(Connector::Filesystem {
                path: "/x".into(),
                format: Format::Csv { header: false, ignore_parse_errors: false }
            })
        );
        let error = connector(
            "t",
            &[],
            &options(&[("connector", "filesystem"), ("path", "/x"), ("format", "csv"), ("pth", "y")]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "table t: connector 'filesystem' has no option 'pth'; it takes csv.header, csv.ignore-parse-errors, format, path"
        );
        let error = connector("t", &[], &options(&[("connector", "jdbc")])).unwrap_err();
        assert!(error.to_string().contains("unknown connector 'jdbc'"), "{error}");
        let error =
            connector("t", &[], &options(&[("connector", "filesystem"), ("format", "csv")])).unwrap_err();
        assert_eq!(error.to_string(), "table t: connector 'filesystem' needs the option 'path'");
    }

    #[test]
    fn kafka_options_default_as_flink_and_are_checked() {
        let base = [
            ("connector", "kafka"),
            ("topic", "orders"),
            ("properties.bootstrap.servers", "127.0.0.1:9092"),
            ("format", "json"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            connector("t", &[], &options(&pairs))
        };
        assert_eq!(
            with(&[]),
            Ok(Connector::Kafka {
                topic: "orders".into(),
                brokers: "127.0.0.1:9092".into(),
                group: None,
                format: Format::Json { ignore_parse_errors: false },
                startup: StartupMode::Earliest,
                bounded: false,
                exactly_once: false,
            })
        );
        let Ok(Connector::Kafka { startup, bounded, exactly_once, .. }) = with(&[
            ("properties.group.id", "g"),
            ("scan.bounded.mode", "latest-offset"),
            ("sink.delivery-guarantee", "exactly-once"),
        ]) else {
            panic!("kafka")
        };
        assert_eq!((startup, bounded, exactly_once), (StartupMode::GroupOffsets, true, true));
        let error = with(&[("scan.startup.mode", "group-offsets")]).unwrap_err();
        assert!(error.to_string().contains("with properties.group.id"), "{error}");
        // A later pair replaces the `format` of `base`.
        let error = with(&[("format", "csv"), ("csv.header", "true")]).unwrap_err();
        assert!(error.to_string().contains("without a header"), "{error}");
    }

    #[test]
    fn datagen_fields_are_checked() {
        let columns = ["id".to_owned(), "name".to_owned()];
        let parsed = connector(
            "g",
            &columns,
            &options(&[
                ("connector", "datagen"),
                ("number-of-rows", "10"),
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "1"),
                ("fields.id.end", "10"),
                ("fields.name.length", "5"),
            ]),
        )
        .unwrap();
        let Connector::Datagen(datagen) = parsed else { panic!("datagen") };
        assert_eq!(datagen.rows, Some(10));
        assert_eq!(datagen.fields["id"], FieldKind::Sequence { start: 1, end: 10 });
        let error =
            connector("g", &columns, &options(&[("connector", "datagen"), ("fields.nme.length", "5")]))
                .unwrap_err();
        assert!(error.to_string().contains("no option 'fields.nme.length'"), "{error}");
    }
}
