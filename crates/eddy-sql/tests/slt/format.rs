//! How a result value prints in a sqllogictest result, per corpus.
//!
//! SQLite's runner (`src/slt_sqlite.c` in its sqllogictest repository) prints a value by the
//! type letter the *test* gives the column, not by the value's own type: `I` as a C `int`
//! (a real truncated toward zero, text read as its leading number), `R` as `%.3f`, `T` as text
//! with unprintable characters shown as `@`; `NULL` as `NULL` and the empty string as
//! `(empty)` everywhere. RisingLight's runner prints a value by its own type instead:
//! `true`/`false`, integers, a double as Rust prints an `f64` (`2.5`, `3`), a decimal with its
//! scale, text as is (`(empty)` when empty). RisingWave's runner prints through PostgreSQL's
//! text format, which differs from that plain style in booleans only as far as these files go
//! (`t` and `f`).

use eddy_sql::{Datum, SqlType};

/// The printing convention of a corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// SQLite's runner: by the expected column type letter.
    Sqlite,
    /// The Rust `.slt` runners: by the value's own type.
    Plain,
    /// PostgreSQL's text format (RisingWave's runner): as [`Style::Plain`], booleans `t`/`f`.
    Postgres,
}

impl Style {
    /// The style of the corpus directory `source` (the first path component under
    /// `conformance/cases/sqllogictest/`).
    pub fn of_source(source: &str) -> Style {
        match source {
            "sqlite" => Style::Sqlite,
            "risingwave" => Style::Postgres,
            _ => Style::Plain,
        }
    }
}

/// `value` as a result cell. `expected` is the column's type letter from the test (`I`, `R`,
/// `T`, ...) when the test gave one for this column.
pub fn format_value(value: &Datum, expected: Option<char>, style: Style) -> String {
    if value.is_null() {
        return "NULL".to_owned();
    }
    match (style, expected) {
        (Style::Sqlite, Some('I')) => sqlite_integer(value),
        (Style::Sqlite, Some('R')) => format!("{:.3}", as_f64(value)),
        (Style::Sqlite, Some('T')) => {
            let text = plain(value);
            if text.is_empty() {
                "(empty)".to_owned()
            } else {
                text.chars().map(|c| if (' '..='~').contains(&c) { c } else { '@' }).collect()
            }
        }
        (Style::Postgres, _) if matches!(value, Datum::Boolean(_)) => {
            (if matches!(value, Datum::Boolean(true)) { "t" } else { "f" }).to_owned()
        }
        _ => {
            let text = plain(value);
            if text.is_empty() {
                "(empty)".to_owned()
            } else {
                text
            }
        }
    }
}

/// The sqllogictest type letter of a result column of type `ty` (shown in failure reports;
/// the column types are not compared).
pub fn type_letter(ty: &SqlType) -> char {
    match ty {
        SqlType::Int | SqlType::BigInt => 'I',
        SqlType::Double | SqlType::Decimal { .. } => 'R',
        SqlType::Varchar { .. } => 'T',
        _ => '?',
    }
}

/// A value by its own type, the empty string left empty.
fn plain(value: &Datum) -> String {
    match value {
        Datum::Null => "NULL".to_owned(),
        Datum::Boolean(flag) => flag.to_string(),
        Datum::Double(double) => double.get().to_string(),
        other => other.to_sql_string().unwrap_or_default(),
    }
}

/// SQLite's `sqlite3_column_int`: integers as they are, reals truncated toward zero, booleans
/// as 1 and 0, text by its leading integer (0 when it has none).
fn sqlite_integer(value: &Datum) -> String {
    match value {
        Datum::Int(int) => int.to_string(),
        Datum::BigInt(int) => int.to_string(),
        Datum::Boolean(flag) => i32::from(*flag).to_string(),
        Datum::Double(double) => (double.get().trunc() as i64).to_string(),
        Datum::Decimal(decimal) => decimal.trunc_to_i64().map_or_else(|| plain(value), |int| int.to_string()),
        Datum::String(text) => leading_integer(text).to_string(),
        other => plain(other),
    }
}

/// `value` as a double, as SQLite's `sqlite3_column_double` reads it.
fn as_f64(value: &Datum) -> f64 {
    match value {
        Datum::Int(int) => f64::from(*int),
        Datum::BigInt(int) => *int as f64,
        Datum::Boolean(flag) => f64::from(u8::from(*flag)),
        Datum::Double(double) => double.get(),
        Datum::Decimal(decimal) => decimal.to_f64(),
        Datum::String(text) => leading_real(text),
        _ => 0.0,
    }
}

/// The integer that starts `text` (after spaces, with an optional sign), 0 when none does.
pub fn leading_integer(text: &str) -> i64 {
    let text = text.trim_start();
    let digits_end = text
        .char_indices()
        .find(|&(index, c)| !(c.is_ascii_digit() || (index == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(index, _)| index);
    text[..digits_end].parse().unwrap_or(0)
}

/// The longest prefix of `text` (after spaces) that reads as a real, 0 when none does.
pub fn leading_real(text: &str) -> f64 {
    let text = text.trim_start();
    (1..=text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find_map(|end| text[..end].parse::<f64>().ok().filter(|real| real.is_finite()))
        .unwrap_or(0.0)
}
