//! Flink `MATCH_RECOGNIZE` cases (`cases/flink-match-recognize`, format in
//! `shared/conformance/README.md`, section D): each case's tables are created in an eddy-sql
//! [`Session`] and filled with its rows, the case's SQL runs through the reference evaluator and
//! through the dataflow engine at 1 and 2 workers, and each result is compared with the
//! expected rows as a multiset of Flink-formatted strings.
//!
//! Time: the engine reads an in-memory table at once, as a bounded source whose watermark then
//! reaches +∞, so a table's rows are matched in the order of the `ORDER BY` keys. A
//! `PROCTIME()` column (whose order is the order of `rows`) becomes a `TIMESTAMP(3)` column
//! holding each row's position (ms since the epoch), which orders the rows as they were
//! emitted. Explicit watermarks (`rowtime_from_steps`) only matter for late rows, which the
//! corpus does not have; a case with a row behind an earlier watermark is reported as a failure.

use std::path::{Path, PathBuf};

use eddy::sql::datetime::timestamp_parts;
use eddy::sql::datum::{Datum, Row};
use eddy::sql::engine::{DataflowEngine, OracleEngine};
use eddy::sql::session::{Outcome as SqlOutcome, Session};
use serde_json::Value;

use crate::{case_files, CaseReport, InvalidCase, Outcome, Summary};

/// Whether `dir` holds MATCH_RECOGNIZE cases (its first case has `sql` and `tables`).
pub fn is_match_recognize_dir(dir: &Path) -> bool {
    let Ok(files) = case_files(dir) else { return false };
    let Some(first) = files.first() else { return false };
    let Ok(text) = std::fs::read_to_string(first) else { return false };
    let Ok(value) = serde_json::from_str::<Value>(&text) else { return false };
    value.get("sql").is_some() && value.get("tables").is_some()
}

/// Splits directories into MATCH_RECOGNIZE ones and the rest.
pub fn split_dirs(dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    dirs.iter().cloned().partition(|dir| is_match_recognize_dir(dir))
}

/// One case, as read.
#[derive(Clone, Debug)]
pub struct MrCase {
    /// The file name without `.json`.
    pub name: String,
    /// The whole JSON document.
    pub doc: Value,
}

impl MrCase {
    /// Reads a case file.
    pub fn load(path: &Path) -> Result<MrCase, InvalidCase> {
        let invalid = |reason: String| InvalidCase { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("unreadable: {e}")))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        for field in ["sql", "tables", "expected"] {
            if doc.get(field).is_none() {
                return Err(invalid(format!("no `{field}`")));
            }
        }
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(MrCase { name, doc })
    }
}

fn literal(value: &Value, ty: &str) -> Result<String, String> {
    Ok(match value {
        Value::Null => "NULL".into(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Number(n) if ty.starts_with("TIMESTAMP") => {
            let ms = n.as_i64().ok_or_else(|| format!("timestamp {n} is not an integer"))?;
            timestamp_literal(ms)
        }
        Value::Number(n) => n.to_string(),
        other => return Err(format!("unsupported value {other}")),
    })
}

fn timestamp_literal(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = timestamp_parts(ms);
    format!("TIMESTAMP '{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03}'")
}

/// Java's `LocalDateTime.toString()` of epoch ms.
fn local_date_time(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = timestamp_parts(ms);
    let mut text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}");
    if s != 0 || milli != 0 {
        text.push_str(&format!(":{s:02}"));
        if milli != 0 {
            text.push_str(&format!(".{milli:03}"));
        }
    }
    text
}

/// A result row as the Flink test prints it.
fn flink_string(row: &Row) -> String {
    row.values()
        .iter()
        .map(|d| match d {
            Datum::Null => "null".to_string(),
            Datum::String(s) => s.clone(),
            Datum::Timestamp(ms) => local_date_time(*ms),
            other => other.to_sql_string().unwrap_or_else(|| "null".into()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The statements that create and fill the case's tables.
fn setup(case: &MrCase) -> Result<Vec<String>, String> {
    if case.doc.get("functions").is_some_and(|f| f.as_array().is_some_and(|a| !a.is_empty())) {
        return Err("user-defined functions are not supported by the runner".into());
    }
    if let Some(zone) = case.doc.pointer("/config/table.local-time-zone") {
        return Err(format!(
            "table.local-time-zone {zone}: eddy-sql has no TIMESTAMP_LTZ or session time zone"
        ));
    }
    let mut statements = Vec::new();
    for table in case.doc["tables"].as_array().ok_or("`tables` is not a list")? {
        let name = table["name"].as_str().ok_or("a table without a name")?;
        let time = table["time"].as_str().unwrap_or("");
        if time == "rowtime_ddl" {
            return Err("a DDL-defined table (TIMESTAMP_LTZ rowtime) is not supported by the runner".into());
        }
        let columns = table["columns"].as_array().ok_or("a table without columns")?;
        let mut defs = Vec::new();
        let mut types = Vec::new();
        let mut rowtime = None;
        for column in columns {
            let cname = column["name"].as_str().ok_or("a column without a name")?;
            let ty = column["type"].as_str().ok_or("a column without a type")?;
            let sql_ty = match ty {
                "PROCTIME()" | "TIMESTAMP(3) ROWTIME" => {
                    rowtime = Some(cname.to_string());
                    "TIMESTAMP(3)".to_string()
                }
                other => other.to_string(),
            };
            defs.push(format!("`{cname}` {sql_ty}"));
            types.push(sql_ty);
        }
        if let Some(rowtime) = &rowtime {
            defs.push(format!("WATERMARK FOR `{rowtime}` AS `{rowtime}`"));
        }
        statements.push(format!("CREATE TABLE `{name}` ({})", defs.join(", ")));
        // Rows with values for every column (a proctime column gets the row's position).
        let mut rows: Vec<Vec<String>> = Vec::new();
        match time {
            "proctime" | "rowtime_ascending" => {
                for (i, row) in table["rows"].as_array().ok_or("a table without rows")?.iter().enumerate() {
                    let values = row.as_array().ok_or("a row is not a list")?;
                    let mut out = Vec::new();
                    let mut given = values.iter();
                    for (column, ty) in columns.iter().zip(&types) {
                        if column["type"] == "PROCTIME()" {
                            out.push(timestamp_literal(i64::try_from(i).unwrap_or(0) + 1));
                        } else {
                            out.push(literal(given.next().ok_or("a row is too short")?, ty)?);
                        }
                    }
                    rows.push(out);
                }
            }
            "rowtime_from_steps" => {
                let mut watermark = i64::MIN;
                for step in table["steps"].as_array().ok_or("a table without steps")? {
                    if let Some(w) = step.get("watermark").and_then(Value::as_i64) {
                        watermark = watermark.max(w);
                        continue;
                    }
                    let values = step["row"].as_array().ok_or("a step without a row")?;
                    let ts = step["rowtime"].as_i64().ok_or("a step without a rowtime")?;
                    if ts <= watermark {
                        return Err(format!(
                            "a row at {ts} behind the watermark {watermark} (late rows are not modelled)"
                        ));
                    }
                    let mut out = Vec::new();
                    for (value, ty) in values.iter().zip(&types) {
                        out.push(literal(value, ty)?);
                    }
                    out.push(timestamp_literal(ts));
                    rows.push(out);
                }
            }
            other => return Err(format!("unknown table time `{other}`")),
        }
        if !rows.is_empty() {
            let tuples: Vec<String> = rows.iter().map(|r| format!("({})", r.join(", "))).collect();
            statements.push(format!("INSERT INTO `{name}` VALUES {}", tuples.join(", ")));
        }
    }
    Ok(statements)
}

fn run_in(mut session: Session, statements: &[String], sql: &str) -> Result<Vec<String>, String> {
    for statement in statements {
        session.execute(statement).map_err(|e| format!("{statement}: {e}"))?;
    }
    match session.execute(sql).map_err(|e| e.to_string())?.pop() {
        Some(SqlOutcome::Rows { rows, .. }) => Ok(rows.iter().map(flink_string).collect()),
        other => Err(format!("expected rows, got {other:?}")),
    }
}

/// Runs a case: the reference evaluator, then the dataflow at 1 and 2 workers.
pub fn run_case(case: &MrCase) -> Outcome {
    let statements = match setup(case) {
        Ok(s) => s,
        Err(why) => return Outcome::Fail(why),
    };
    let sql = case.doc["sql"].as_str().unwrap_or_default();
    let mut expected: Vec<String> = case.doc["expected"]["strings"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    expected.sort();
    let sessions: [(&str, Session); 3] = [
        ("reference evaluator", Session::with_engine(Box::new(OracleEngine))),
        ("dataflow, 1 worker", Session::with_engine(Box::new(DataflowEngine { workers: 1 }))),
        ("dataflow, 2 workers", Session::with_engine(Box::new(DataflowEngine { workers: 2 }))),
    ];
    for (what, session) in sessions {
        match run_in(session, &statements, sql) {
            Err(why) => return Outcome::Fail(format!("{what}: {why}")),
            Ok(mut got) => {
                got.sort();
                if got != expected {
                    return Outcome::Fail(format!("{what}: got {got:?}, expected {expected:?}"));
                }
            }
        }
    }
    Outcome::Pass
}

/// Runs every case of a directory.
pub fn run_dir(dir: &Path, report: &mut impl FnMut(&CaseReport)) -> Result<Summary, InvalidCase> {
    let mut summary = Summary::default();
    for file in case_files(dir)? {
        let case = MrCase::load(&file)?;
        let outcome = run_case(&case);
        summary.add(&outcome);
        report(&CaseReport { name: format!("flink-match-recognize/{}", case.name), outcome });
    }
    Ok(summary)
}
