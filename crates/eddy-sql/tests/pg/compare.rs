//! Type-aware normalisation of both systems' answers, and their comparison as multisets.
//!
//! A value becomes a tagged string: exact numbers by value (`N:1.5` for PostgreSQL's `1.50`,
//! eddy's `DECIMAL` `1.50` and an `INT` 1.5 never occurs), doubles by their shortest
//! round-trip form (`F:0.25`), strings as they are, booleans as `t`/`f`, dates in ISO form. So
//! `SUM(INT)` (PostgreSQL: `BIGINT`, Flink: `INT`) and `SUM(DECIMAL(5,2))` (scale 2 in both, but
//! precision 38 in eddy) compare equal, while a string and a number never do.

use std::collections::BTreeMap;

use eddy_sql::Datum;

use super::tables::Family;

/// A normalised value; `None` is `NULL`.
pub type Value = Option<String>;

/// A normalised row.
pub type Canonical = Vec<Value>;

/// An exact number's canonical text: no trailing fraction zeros, no `-0`.
fn exact(text: &str) -> String {
    let mut text = text.trim().to_owned();
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    if text == "-0" || text.is_empty() {
        text = "0".to_owned();
    }
    format!("N:{text}")
}

/// A double's canonical text.
fn float(value: f64) -> String {
    if value == 0.0 {
        "F:0".to_owned()
    } else if value.is_nan() {
        "F:NaN".to_owned()
    } else {
        format!("F:{value:?}")
    }
}

/// A PostgreSQL value (its text) read as a value of `family`.
pub fn from_postgres(text: &Option<String>, family: Family) -> Result<Value, String> {
    let Some(text) = text else { return Ok(None) };
    Ok(Some(match family {
        Family::Exact => exact(text),
        Family::Float => {
            let value = match text.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                other => other.parse().map_err(|_| format!("PostgreSQL printed {other:?} for a double"))?,
            };
            float(value)
        }
        Family::Text => format!("S:{text}"),
        Family::Bool => match text.as_str() {
            "t" => "B:t".to_owned(),
            "f" => "B:f".to_owned(),
            other => return Err(format!("PostgreSQL printed {other:?} for a boolean")),
        },
        Family::Date => format!("D:{text}"),
    }))
}

/// An eddy value, by its own type.
pub fn from_eddy(datum: &Datum) -> Value {
    Some(match datum {
        Datum::Null => return None,
        Datum::Boolean(value) => (if *value { "B:t" } else { "B:f" }).to_owned(),
        Datum::Int(value) => exact(&value.to_string()),
        Datum::BigInt(value) => exact(&value.to_string()),
        Datum::Decimal(value) => exact(&value.to_string()),
        Datum::Double(value) => float(value.get()),
        Datum::String(value) => format!("S:{value}"),
        Datum::Date(_) => format!("D:{}", datum.to_sql_string().unwrap_or_default()),
        other => format!("?:{other}"),
    })
}

/// Counts of each distinct row.
fn counts(rows: &[Canonical]) -> BTreeMap<&Canonical, i64> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_insert(0) += 1;
    }
    counts
}

/// `None` when `postgres` and `eddy` hold the same rows as many times each; otherwise a
/// description of the difference (each differing row with both counts).
pub fn multiset_difference(postgres: &[Canonical], eddy: &[Canonical]) -> Option<String> {
    let postgres_counts = counts(postgres);
    let eddy_counts = counts(eddy);
    let mut lines = Vec::new();
    let mut rows: Vec<&&Canonical> = postgres_counts.keys().chain(eddy_counts.keys()).collect();
    rows.sort();
    rows.dedup();
    for row in rows {
        let in_postgres = postgres_counts.get(*row).copied().unwrap_or(0);
        let in_eddy = eddy_counts.get(*row).copied().unwrap_or(0);
        if in_postgres != in_eddy {
            lines.push(format!("  {} : PostgreSQL {in_postgres}, eddy {in_eddy}", show(row)));
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A row as `(N:1, NULL, S:a)`.
pub fn show(row: &Canonical) -> String {
    let values: Vec<&str> = row.iter().map(|value| value.as_deref().unwrap_or("NULL")).collect();
    format!("({})", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sql::decimal::Decimal;

    #[test]
    fn values_normalise_across_types() {
        let pg = |text: &str, family| from_postgres(&Some(text.to_owned()), family).unwrap();
        assert_eq!(pg("1.50", Family::Exact), from_eddy(&Datum::Decimal(Decimal::parse("1.5").unwrap())));
        assert_eq!(pg("3", Family::Exact), from_eddy(&Datum::BigInt(3)));
        assert_eq!(pg("-0.00", Family::Exact), from_eddy(&Datum::Int(0)));
        assert_eq!(pg("0.25", Family::Float), from_eddy(&Datum::double(0.25)));
        assert_eq!(pg("1e+15", Family::Float), from_eddy(&Datum::double(1e15)));
        assert_eq!(pg("t", Family::Bool), from_eddy(&Datum::Boolean(true)));
        assert_eq!(pg("2024-01-02", Family::Date), from_eddy(&Datum::Date(19724)));
        assert_ne!(pg("1", Family::Text), from_eddy(&Datum::Int(1)));
        assert_eq!(from_postgres(&None, Family::Exact).unwrap(), from_eddy(&Datum::Null));
    }

    #[test]
    fn multisets_compare_counts() {
        let a = vec![vec![Some("N:1".to_owned())], vec![Some("N:1".to_owned())], vec![None]];
        let b = vec![vec![None], vec![Some("N:1".to_owned())]];
        assert!(multiset_difference(&a, &a).is_none());
        let difference = multiset_difference(&a, &b).unwrap();
        assert!(difference.contains("(N:1) : PostgreSQL 2, eddy 1"), "{difference}");
    }
}
