//! The Nexmark known answers (`cases/nexmark/`) from SQL: each case's RisingWave view,
//! translated to eddy's Flink dialect in `cases/nexmark/sql/<case>.sql` (every change noted
//! in the file), runs through eddy's SQL layer over the three JSONL tables (`sql/ddl.sql`:
//! filesystem tables, json format, no watermarks) at 1 and 2 workers. Its final rows are
//! compared with the expected rows exactly as the DataStream runner compares
//! ([`crate::nexmark::compare`]): by position in the case's column order, as a multiset.
//!
//! Every case runs, including RisingWave's own variants; a query that eddy's SQL cannot run
//! (a missing feature) is a failure that carries the SQL error.

use std::path::Path;

use eddy::prelude::JobConfig;
use eddy::sql::datum::{Datum, Row};
use eddy::sql::session::{Outcome as SqlOutcome, Session};
use serde_json::{Map, Value};

use crate::nexmark::{compare, NexmarkCase};
use crate::{CaseReport, InvalidCase, Outcome, Summary};

/// The directory of the translations, inside the Nexmark case directory.
pub const SQL_DIR: &str = "sql";

/// Whether the Nexmark directory `dir` has SQL translations.
pub fn has_sql(dir: &Path) -> bool {
    dir.join(SQL_DIR).join("ddl.sql").is_file()
}

/// The JSON value of one SQL value, in the forms [`compare`] reads: numbers, strings,
/// timestamps as epoch milliseconds, decimals as their exact text.
fn json_value(value: &Datum) -> Value {
    match value {
        Datum::Null => Value::Null,
        Datum::Boolean(b) => Value::Bool(*b),
        Datum::Int(v) => Value::from(*v),
        Datum::BigInt(v) => Value::from(*v),
        Datum::Double(v) => serde_json::Number::from_f64(v.get()).map_or(Value::Null, Value::Number),
        Datum::Decimal(d) => Value::String(d.to_string()),
        Datum::String(s) => Value::String(s.clone()),
        Datum::Timestamp(millis) => Value::from(*millis),
        other => Value::String(other.to_sql_string().unwrap_or_default()),
    }
}

/// A result row as a JSON object keyed by the case's column names, by position (the SQL's
/// own column names may differ in case or alias); `Err` when the widths differ.
fn json_row(columns: &[String], row: &Row) -> Result<Value, String> {
    if row.values().len() != columns.len() {
        return Err(format!(
            "the query returns {} columns, the case has {}",
            row.values().len(),
            columns.len()
        ));
    }
    let object: Map<String, Value> =
        columns.iter().zip(row.values()).map(|(name, value)| (name.clone(), json_value(value))).collect();
    Ok(Value::Object(object))
}

/// Runs `query` (one SELECT, eddy's dialect) over the tables of `ddl` at `workers` workers and
/// returns its final rows.
pub fn run_sql(ddl: &str, query: &str, workers: usize) -> Result<Vec<Row>, String> {
    let mut session = Session::new();
    session.execute(ddl).map_err(|error| format!("the DDL failed: {error}"))?;
    let outcome = session.execute(query).map_err(|error| error.to_string())?.pop();
    match outcome {
        Some(SqlOutcome::Job(job)) => {
            job.collect(JobConfig::with_workers(workers)).map_err(|error| format!("the job failed: {error}"))
        }
        Some(SqlOutcome::Rows { rows, .. }) => Ok(rows),
        other => Err(format!("expected a query, got {other:?}")),
    }
}

/// The shared DDL of the directory, with `${DIR}` replaced by the directory.
fn load_ddl(dir: &Path) -> Result<String, InvalidCase> {
    let path = dir.join(SQL_DIR).join("ddl.sql");
    let text = std::fs::read_to_string(&path)
        .map_err(|error| InvalidCase { path: path.display().to_string(), reason: error.to_string() })?;
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    Ok(text.replace("${DIR}", &absolute.display().to_string()))
}

/// Runs one case from its translation at 1 and 2 workers.
pub fn run_case(case: &NexmarkCase, ddl: &str, query: &str) -> Outcome {
    for workers in [1, 2] {
        let rows = match run_sql(ddl, query, workers) {
            Ok(rows) => rows,
            Err(error) => return Outcome::Fail(format!("at {workers} workers: {error}")),
        };
        let rows: Result<Vec<Value>, String> = rows.iter().map(|row| json_row(&case.columns, row)).collect();
        if let Err(why) = rows.and_then(|rows| compare(case, &rows)) {
            return Outcome::Fail(format!("at {workers} workers: {why}"));
        }
    }
    Outcome::Pass
}

/// Runs every case of the Nexmark directory `dir` from SQL; a case without a translation
/// fails (so a new case cannot go unnoticed).
pub fn run_dir(dir: &Path, mut report: impl FnMut(&CaseReport)) -> Result<Summary, InvalidCase> {
    let ddl = load_ddl(dir)?;
    let mut summary = Summary::default();
    for file in crate::case_files(dir)? {
        let invalid = |reason: String| InvalidCase { path: file.display().to_string(), reason };
        let text = std::fs::read_to_string(&file).map_err(|error| invalid(error.to_string()))?;
        let case: NexmarkCase = serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        let name = case.name();
        let sql_file = dir.join(SQL_DIR).join(format!("{name}.sql"));
        let outcome = match std::fs::read_to_string(&sql_file) {
            Ok(query) => run_case(&case, &ddl, &query),
            Err(error) => Outcome::Fail(format!("no translation {}: {error}", sql_file.display())),
        };
        let line = CaseReport { name: format!("nexmark-sql/{name}"), outcome };
        summary.add(&line.outcome);
        report(&line);
    }
    Ok(summary)
}

/// Runs the SQL file of Nexmark query `name` (`crates/eddy-nexmark/sql/`: `ddl.sql`, then
/// `name.sql`) over the first `events` generator events at `workers` workers, and returns the
/// final rows of its `INSERT INTO` as JSON objects keyed by the target table's columns.
pub fn run_generated(name: &str, events: u64, workers: usize) -> Result<Vec<Value>, String> {
    let script = eddy_nexmark::sql::script(name, events).ok_or_else(|| format!("no SQL file for {name}"))?;
    let mut session = Session::new();
    let mut rows = Vec::new();
    for outcome in session.execute(&script).map_err(|error| error.to_string())? {
        if let SqlOutcome::Job(job) = outcome {
            let columns: Vec<String> = job.columns.iter().map(|column| column.name.clone()).collect();
            let result = job
                .collect(JobConfig::with_workers(workers))
                .map_err(|error| format!("the job failed: {error}"))?;
            for row in &result {
                rows.push(json_row(&columns, row)?);
            }
        }
    }
    Ok(rows)
}

/// A column name without case and underscores (`dateTime`, `date_time` and `DATETIME` match).
fn normalized(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

/// The canonical text of a value of either side: integers exactly, other numbers (and numeric
/// strings: decimals are text on one side) to 9 significant digits, strings quoted.
fn canonical_value(value: &Value) -> String {
    let float = |number: f64| format!("{number:.8e}");
    match value {
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => integer.to_string(),
            (None, Some(real)) if real.fract() == 0.0 && real.abs() < 9.0e15 => (real as i64).to_string(),
            (None, Some(real)) => float(real),
            _ => number.to_string(),
        },
        Value::String(text) => match (text.parse::<i64>(), text.parse::<f64>()) {
            (Ok(integer), _) => integer.to_string(),
            (Err(_), Ok(real)) if real.fract() == 0.0 && real.abs() < 9.0e15 => (real as i64).to_string(),
            (Err(_), Ok(real)) if real.is_finite() => float(real),
            _ => format!("{text:?}"),
        },
        other => other.to_string(),
    }
}

/// Compares a SQL query's rows with the DataStream query's rows as multisets. Columns match by
/// [`normalized`] name, or through `aliases` (SQL column, DataStream field) where the SQL
/// file's target table names a column differently; every SQL column but the `ignored` ones is
/// compared (a DataStream row may carry more fields). Returns the compared columns, or why the
/// results differ (a SQL column without a match is reported, never dropped silently).
pub fn compare_with_datastream(
    sql: &[Value],
    datastream: &[Value],
    aliases: &[(&str, &str)],
    ignored: &[&str],
) -> Result<Vec<String>, String> {
    let Some(Value::Object(first)) = sql.first().or(datastream.first()) else {
        return Ok(Vec::new());
    };
    let sql_columns: Vec<String> = match sql.first() {
        Some(Value::Object(row)) => row.keys().cloned().collect(),
        _ => first.keys().cloned().collect(),
    };
    let fields: Vec<String> = match datastream.first() {
        Some(Value::Object(row)) => row.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for column in sql_columns.iter().filter(|column| !ignored.contains(&column.as_str())) {
        let wanted = aliases
            .iter()
            .find(|(sql_name, _)| normalized(sql_name) == normalized(column))
            .map_or_else(|| normalized(column), |(_, field)| normalized(field));
        match fields.iter().find(|field| normalized(field) == wanted) {
            Some(field) => pairs.push((column.clone(), field.clone())),
            None => unmatched.push(column.clone()),
        }
    }
    if !datastream.is_empty() && !unmatched.is_empty() {
        return Err(format!("SQL columns {unmatched:?} have no DataStream field among {fields:?}"));
    }
    let project = |rows: &[Value], sql_side: bool| -> Vec<String> {
        let mut out: Vec<String> = rows
            .iter()
            .map(|row| {
                pairs
                    .iter()
                    .map(|(column, field)| {
                        let key = if sql_side { column } else { field };
                        canonical_value(row.get(key).unwrap_or(&Value::Null))
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        out.sort();
        out
    };
    let (sql_rows, datastream_rows) = (project(sql, true), project(datastream, false));
    if sql_rows == datastream_rows {
        return Ok(pairs.into_iter().map(|(column, _)| column).collect());
    }
    let missing: Vec<&String> =
        datastream_rows.iter().filter(|row| !sql_rows.contains(row)).take(3).collect();
    let unexpected: Vec<&String> =
        sql_rows.iter().filter(|row| !datastream_rows.contains(row)).take(3).collect();
    Err(format!(
        "columns {:?}: DataStream {} rows, SQL {} rows; only in DataStream (first 3) {missing:?}; only in SQL \
         (first 3) {unexpected:?}",
        pairs.iter().map(|(column, _)| column).collect::<Vec<_>>(),
        datastream_rows.len(),
        sql_rows.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_values_become_the_json_the_comparison_reads() {
        let row = Row::new(vec![Datum::BigInt(7), Datum::Timestamp(1_436_918_400_010), Datum::Null]);
        let columns = vec!["a".to_owned(), "t".to_owned(), "n".to_owned()];
        assert_eq!(
            json_row(&columns, &row).unwrap(),
            serde_json::json!({"a": 7, "t": 1_436_918_400_010u64, "n": null})
        );
        assert!(json_row(&columns[..2], &row).is_err());
    }

    #[test]
    fn sql_and_datastream_rows_compare_by_normalized_name_and_value() {
        let sql = vec![serde_json::json!({"dateTime": 5, "price": "66406144.160", "stime": 1})];
        let datastream =
            vec![serde_json::json!({"date_time": 5, "price": 66406144.16, "starttime": 1, "more": 2})];
        assert_eq!(
            compare_with_datastream(&sql, &datastream, &[("stime", "starttime")], &[]).unwrap(),
            vec!["dateTime", "price", "stime"]
        );
        assert!(compare_with_datastream(&sql, &datastream, &[], &[]).unwrap_err().contains("stime"));
        assert_eq!(
            compare_with_datastream(&sql, &datastream, &[], &["stime"]).unwrap(),
            vec!["dateTime", "price"]
        );
        let other = vec![serde_json::json!({"date_time": 6, "price": 66406144.16, "starttime": 1})];
        assert!(compare_with_datastream(&sql, &other, &[("stime", "starttime")], &[]).is_err());
        assert_eq!(
            compare_with_datastream(&sql, &other, &[], &["stime", "dateTime"]).unwrap(),
            vec!["price"]
        );
        assert!(compare_with_datastream(&sql, &[], &[], &[]).is_err());
    }
}
