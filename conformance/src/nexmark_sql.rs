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
}
