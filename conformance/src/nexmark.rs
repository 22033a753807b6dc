//! The Nexmark known answers (`shared/conformance/README.md`, section A): three input tables
//! and one expected result per query, written by RisingWave and checked in PostgreSQL.
//!
//! A case runs the eddy DataStream query of the same name (`eddy_nexmark::queries`) over all
//! rows of the tables and compares its final result with the expected rows as a multiset,
//! column by column in the case's column order, by type: integers and strings exactly,
//! timestamps as values, decimals numerically (to 9 significant digits after rounding, since
//! repeating quotients keep engine-specific digits). The tables have no watermarks, so the
//! sources hold event time at 0 until the input ends; every window then fires over all data.
//!
//! Queries whose case is a RisingWave variant of the Nexmark query (q2, q6_group_top1, q10,
//! q16, q101 to q106) belong to the SQL layer and are reported as `SKIP <name>: needs SQL`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use eddy::prelude::*;
use eddy_nexmark::queries::{self, QueryOutput, QueryRow};
use eddy_nexmark::{
    nexmark_watermarks_with_delay, Auction, Bid, Event, NexmarkConfig, NexmarkSource, Person,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{CaseReport, InvalidCase, Outcome, Summary};

/// Cases that are RisingWave's own variants, for the SQL layer.
const NEEDS_SQL: &[&str] =
    &["q2", "q6_group_top1", "q10", "q16", "q101", "q102", "q103", "q104", "q105", "q106"];

/// Whether `dir` holds the Nexmark corpus.
pub fn is_nexmark_dir(dir: &Path) -> bool {
    dir.join("bid.jsonl").is_file()
        && dir.join("person.jsonl").is_file()
        && dir.join("auction.jsonl").is_file()
}

/// One query file.
#[derive(Clone, Debug, Deserialize)]
pub struct NexmarkCase {
    /// The Nexmark query number.
    pub query: u64,
    /// RisingWave's variant name (only `group_top1`).
    #[serde(default)]
    pub variant: Option<String>,
    /// Result column names.
    pub columns: Vec<String>,
    /// Result column types: bigint, int, decimal, varchar, timestamp.
    pub column_types: Vec<String>,
    /// The expected rows (a multiset).
    pub expected_rows: Vec<Vec<Value>>,
}

impl NexmarkCase {
    /// `q5`, or `q6_group_top1` for a variant.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(variant) => format!("q{}_{variant}", self.query),
            None => format!("q{}", self.query),
        }
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fff]` (UTC) into epoch milliseconds.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut date_parts = date.split('-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date_parts.next()??, date_parts.next()??, date_parts.next()??);
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, fraction),
        None => (time, "0"),
    };
    let mut clock_parts = clock.split(':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock_parts.next()??, clock_parts.next()??, clock_parts.next()??);
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    u64::try_from(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis).ok()
}

fn read_table<T>(
    dir: &Path,
    name: &str,
    convert: impl Fn(Value) -> Option<T>,
) -> Result<Vec<T>, InvalidCase> {
    let path = dir.join(name);
    let invalid =
        |line: usize, reason: String| InvalidCase { path: format!("{}:{line}", path.display()), reason };
    let text = std::fs::read_to_string(&path).map_err(|error| invalid(0, error.to_string()))?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let mut value: Value =
            serde_json::from_str(line).map_err(|error| invalid(index + 1, error.to_string()))?;
        for field in ["date_time", "expires"] {
            if let Some(Value::String(text)) = value.get(field) {
                let millis = parse_timestamp(text)
                    .ok_or_else(|| invalid(index + 1, format!("bad timestamp `{text}`")))?;
                value[field] = Value::from(millis);
            }
        }
        rows.push(
            convert(value).ok_or_else(|| invalid(index + 1, "does not match the table's schema".into()))?,
        );
    }
    Ok(rows)
}

/// The three tables as events, one split per table (persons, auctions, bids).
pub fn load_tables(dir: &Path) -> Result<Vec<Vec<Event>>, InvalidCase> {
    let persons =
        read_table(dir, "person.jsonl", |row| serde_json::from_value::<Person>(row).ok().map(Event::Person))?;
    let auctions = read_table(dir, "auction.jsonl", |row| {
        serde_json::from_value::<Auction>(row).ok().map(Event::Auction)
    })?;
    let bids = read_table(dir, "bid.jsonl", |row| serde_json::from_value::<Bid>(row).ok().map(Event::Bid))?;
    Ok(vec![persons, auctions, bids])
}

/// Collects a query's rows as JSON objects.
struct Collect {
    rows: Arc<Mutex<Vec<Value>>>,
}

impl QueryOutput for Collect {
    fn output<T: QueryRow>(&self, rows: DataStream<'_, T>) {
        let collected = Arc::clone(&self.rows);
        rows.inspect(move |row, _| {
            let value = serde_json::to_value(row).unwrap_or(Value::Null);
            collected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(value);
        })
        .sink(CollectSink::<T>::new().0);
    }
}

/// Holds every split's watermark at 0 until the input ends: the tables have no watermarks.
struct NoWatermark;

impl WatermarkGenerator<Event> for NoWatermark {
    fn on_event(&mut self, _value: &Event, _timestamp: u64) {}
    fn current_watermark(&self) -> u64 {
        0
    }
}

/// Runs query `name` over the tables at `workers` workers; `None` if it is not implemented.
pub fn run_query(name: &str, tables: &[Vec<Event>], workers: usize) -> Result<Option<Vec<Value>>, String> {
    run_query_on(name, Input::Tables(tables.to_vec()), workers)
}

/// What a DataStream query reads.
#[derive(Clone, Debug)]
pub enum Input {
    /// These events, one split per table, with watermarks held at 0 until the input ends.
    Tables(Vec<Vec<Event>>),
    /// The first `events` events of the default generator, in the 4 splits of the SQL
    /// `nexmark` tables, with the suite's watermarks (4 s behind the largest time seen).
    Generated {
        /// How many events.
        events: u64,
    },
}

/// Runs query `name` over `input` at `workers` workers; `None` if it is not implemented.
pub fn run_query_on(name: &str, input: Input, workers: usize) -> Result<Option<Vec<Value>>, String> {
    if !queries::QUERIES.contains(&name) {
        return Ok(None);
    }
    let rows = Arc::new(Mutex::new(Vec::new()));
    let output = Collect { rows: Arc::clone(&rows) };
    let query = name.to_owned();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let events = match &input {
                Input::Tables(partitions) => {
                    let strategy =
                        WatermarkStrategy::custom(|| Box::new(NoWatermark)).with_timestamps(Event::date_time);
                    env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy)
                }
                Input::Generated { events } => env.from_source(
                    NexmarkSource::new(NexmarkConfig::default(), Some(*events), 4),
                    nexmark_watermarks_with_delay(4_000),
                ),
            };
            queries::build(&query, events, &output)?;
            Ok(())
        })
        .map_err(|error| error.to_string())?;
    let rows = consolidate_changes(rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone());
    Ok(Some(match queries::upsert_key(name) {
        Some(key) => latest_per_key(rows, key),
        None => rows,
    }))
}

/// Applies the changes of a [`Change`] changelog (rows `{"Upsert":[key,value]}` and
/// `{"Delete":key}`, in each key's order) and returns the values left; other rows pass.
fn consolidate_changes(rows: Vec<Value>) -> Vec<Value> {
    let mut plain = Vec::new();
    let mut current: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for row in rows {
        match row {
            Value::Object(map) if map.len() == 1 && map.contains_key("Upsert") => {
                if let Some(Value::Array(mut pair)) = map.get("Upsert").cloned() {
                    if pair.len() == 2 {
                        let value = pair.pop().unwrap_or(Value::Null);
                        current.insert(pair[0].to_string(), value);
                    }
                }
            }
            Value::Object(map) if map.len() == 1 && map.contains_key("Delete") => {
                current.remove(&map["Delete"].to_string());
            }
            other => plain.push(other),
        }
    }
    plain.extend(current.into_values());
    plain
}

/// The latest row per key of an upsert stream (rows of one key come from one worker, in order).
fn latest_per_key(rows: Vec<Value>, key: &[&str]) -> Vec<Value> {
    let mut latest: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for row in rows {
        let id: Vec<String> =
            key.iter().map(|column| row.get(*column).map(Value::to_string).unwrap_or_default()).collect();
        latest.insert(id.join("\u{1}"), row);
    }
    latest.into_values().collect()
}

/// The canonical text of one cell, for multiset comparison; `Err` if it does not fit the type.
fn canonical(value: &Value, kind: &str) -> Result<String, String> {
    let number = |value: &Value| -> Option<f64> {
        match value {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.parse().ok(),
            _ => None,
        }
    };
    match (kind, value) {
        (_, Value::Null) => Ok("null".into()),
        ("bigint" | "int", Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Ok(number.to_string())
        }
        ("varchar", Value::String(text)) => Ok(format!("{text:?}")),
        ("timestamp", Value::String(text)) => parse_timestamp(text)
            .map(|millis| millis.to_string())
            .ok_or_else(|| format!("bad timestamp {text}")),
        ("timestamp", Value::Number(number)) if number.is_u64() => Ok(number.to_string()),
        ("decimal", value) => match number(value) {
            Some(number) => Ok(format!("{:.9e}", number)),
            None => Err(format!("{value} is not a decimal")),
        },
        _ => Err(format!("{value} is not a {kind}")),
    }
}

fn canonical_rows(rows: &[Vec<Value>], types: &[String]) -> Result<Vec<String>, String> {
    let mut canonical_rows = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() != types.len() {
            return Err(format!("row {row:?} has {} columns, expected {}", row.len(), types.len()));
        }
        let cells: Result<Vec<String>, String> =
            row.iter().zip(types).map(|(cell, kind)| canonical(cell, kind)).collect();
        canonical_rows.push(cells?.join(" | "));
    }
    canonical_rows.sort();
    Ok(canonical_rows)
}

/// Compares a query's rows (JSON objects) with a case's expected rows.
pub fn compare(case: &NexmarkCase, actual: &[Value]) -> Result<(), String> {
    let positional: Vec<Vec<Value>> = actual
        .iter()
        .map(|row| {
            case.columns.iter().map(|column| row.get(column).cloned().unwrap_or(Value::Null)).collect()
        })
        .collect();
    let expected = canonical_rows(&case.expected_rows, &case.column_types)?;
    let actual = canonical_rows(&positional, &case.column_types)?;
    if expected == actual {
        return Ok(());
    }
    let missing: Vec<&String> = expected.iter().filter(|row| !actual.contains(row)).take(3).collect();
    let unexpected: Vec<&String> = actual.iter().filter(|row| !expected.contains(row)).take(3).collect();
    Err(format!(
        "{} rows expected, {} produced; missing (first 3) {missing:?}; unexpected (first 3) {unexpected:?}",
        expected.len(),
        actual.len()
    ))
}

/// Runs every query file of the Nexmark directory `dir` at 1 and 2 workers.
pub fn run_dir(dir: &Path, mut report: impl FnMut(&CaseReport)) -> Result<Summary, InvalidCase> {
    let tables = load_tables(dir)?;
    let mut summary = Summary::default();
    for file in crate::case_files(dir)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|error| InvalidCase { path: file.display().to_string(), reason: error.to_string() })?;
        let case: NexmarkCase = serde_json::from_str(&text)
            .map_err(|error| InvalidCase { path: file.display().to_string(), reason: error.to_string() })?;
        let name = case.name();
        let outcome = if NEEDS_SQL.contains(&name.as_str()) {
            Outcome::Skip("needs SQL".into())
        } else {
            run_case(&case, &tables)
        };
        let line = CaseReport { name: format!("nexmark/{name}"), outcome };
        summary.add(&line.outcome);
        report(&line);
    }
    Ok(summary)
}

fn run_case(case: &NexmarkCase, tables: &[Vec<Event>]) -> Outcome {
    for workers in [1, 2] {
        match run_query(&case.name(), tables, workers) {
            Err(error) => return Outcome::Fail(format!("at {workers} workers: the job failed: {error}")),
            Ok(None) => return Outcome::Skip("query not implemented yet".into()),
            Ok(Some(rows)) => {
                if let Err(why) = compare(case, &rows) {
                    return Outcome::Fail(format!("at {workers} workers: {why}"));
                }
            }
        }
    }
    Outcome::Pass
}

/// The directories of `dirs` that hold the Nexmark corpus, and the others.
pub fn split_dirs(dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    dirs.iter().cloned().partition(|dir| is_nexmark_dir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_utc_milliseconds() {
        assert_eq!(parse_timestamp("2015-07-15 00:00:00"), Some(1_436_918_400_000));
        assert_eq!(parse_timestamp("2015-07-15 00:00:01.001"), Some(1_436_918_401_001));
        assert_eq!(parse_timestamp("2015-07-15 00:00:00.01"), Some(1_436_918_400_010));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00"), Some(0));
        assert_eq!(parse_timestamp("2024-02-29 12:00:00"), Some(1_709_208_000_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn cells_compare_by_type() {
        assert_eq!(
            canonical(&Value::from("66406144.160"), "decimal"),
            canonical(&serde_json::json!(66406144.16), "decimal")
        );
        assert_eq!(
            canonical(&Value::from("2015-07-15 00:00:00.010"), "timestamp").unwrap(),
            canonical(&Value::from(1_436_918_400_010u64), "timestamp").unwrap()
        );
        assert!(canonical(&Value::from("x"), "bigint").is_err());
    }
}
