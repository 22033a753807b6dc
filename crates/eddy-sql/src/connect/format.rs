//! Rows to and from the formats of files and messages: CSV fields (a column a field, in the
//! table's order) and JSON objects (a column a field, by name). Text converts with the rules of
//! `CAST(text AS type)`; a value that does not convert is an error naming the table, the
//! column and the value.

use serde_json::{Map, Number, Value};
use thiserror::Error;

use crate::cast::cast;
use crate::datum::{Datum, Double, Row};
use crate::decimal::Decimal;
use crate::plan::Column;
use crate::types::SqlType;

/// A record that does not fit the table's columns.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FormatError {
    /// A CSV line with a different number of fields.
    #[error("table {table}: {found} fields where the table has {expected} columns")]
    FieldCount {
        /// The table.
        table: String,
        /// Its columns.
        expected: usize,
        /// The line's fields.
        found: usize,
    },
    /// A value that does not convert to its column's type.
    #[error("table {table}, column {column} ({ty}): {reason}")]
    Value {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type.
        ty: SqlType,
        /// Why, with the value.
        reason: String,
    },
    /// A JSON line that is not an object.
    #[error("table {table}: expected a JSON object, found {found}")]
    NotAnObject {
        /// The table.
        table: String,
        /// What was found, cut short.
        found: String,
    },
}

fn value_error(table: &str, column: &Column, reason: impl Into<String>) -> FormatError {
    FormatError::Value {
        table: table.into(),
        column: column.name.clone(),
        ty: column.ty,
        reason: reason.into(),
    }
}

/// Converts text to a column's type (`CAST` rules); the empty string is `NULL` except for a
/// string column, as in Flink's CSV format.
fn from_text(table: &str, column: &Column, text: &str) -> Result<Datum, FormatError> {
    if column.ty.is_string() {
        return Ok(Datum::String(text.to_owned()));
    }
    if text.is_empty() {
        return Ok(Datum::Null);
    }
    cast(&Datum::String(text.trim().to_owned()), SqlType::STRING, column.ty)
        .map_err(|error| value_error(table, column, error.to_string()))
}

/// A CSV record's fields as a row of `columns`.
pub fn row_from_csv(table: &str, columns: &[Column], fields: &[String]) -> Result<Row, FormatError> {
    if fields.len() != columns.len() {
        return Err(FormatError::FieldCount {
            table: table.into(),
            expected: columns.len(),
            found: fields.len(),
        });
    }
    columns.iter().zip(fields).map(|(column, field)| from_text(table, column, field)).collect()
}

/// A row as CSV fields: `CAST(v AS VARCHAR)`, `NULL` as the empty field.
pub fn row_to_csv(row: &Row) -> Vec<String> {
    row.values().iter().map(|value| value.to_sql_string().unwrap_or_default()).collect()
}

/// A JSON object as a row of `columns`: fields by column name (exactly, then ignoring case);
/// a missing field or `null` is `NULL`; other fields are ignored.
pub fn row_from_json(table: &str, columns: &[Column], value: &Value) -> Result<Row, FormatError> {
    let Value::Object(object) = value else {
        let mut found = value.to_string();
        found.truncate(64);
        return Err(FormatError::NotAnObject { table: table.into(), found });
    };
    columns
        .iter()
        .map(|column| {
            let field = object.get(&column.name).or_else(|| {
                object
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&column.name))
                    .map(|(_, value)| value)
            });
            match field {
                None | Some(Value::Null) => Ok(Datum::Null),
                Some(value) => from_json(table, column, value),
            }
        })
        .collect()
}

fn from_json(table: &str, column: &Column, value: &Value) -> Result<Datum, FormatError> {
    let mismatch = || value_error(table, column, format!("cannot read {value} as {}", column.ty));
    match (value, column.ty) {
        (Value::Bool(b), SqlType::Boolean) => Ok(Datum::Boolean(*b)),
        (Value::Number(n), SqlType::Int) => {
            n.as_i64().and_then(|v| i32::try_from(v).ok()).map(Datum::Int).ok_or_else(mismatch)
        }
        (Value::Number(n), SqlType::BigInt) => n.as_i64().map(Datum::BigInt).ok_or_else(mismatch),
        (Value::Number(n), SqlType::Double) => {
            n.as_f64().map(|v| Datum::Double(Double::new(v))).ok_or_else(mismatch)
        }
        (Value::Number(n), SqlType::Decimal { .. }) => from_text(table, column, &n.to_string()),
        (Value::String(text), _) => from_text(table, column, text),
        (Value::Number(_) | Value::Bool(_), ty) if ty.is_string() => Ok(Datum::String(value.to_string())),
        _ => Err(mismatch()),
    }
}

/// A row as a JSON object of `columns`: numbers as numbers (decimals too, exactly as written),
/// booleans, `null`, and everything else as `CAST(v AS VARCHAR)` text.
pub fn row_to_json(columns: &[Column], row: &Row) -> Value {
    let mut object = Map::new();
    for (column, value) in columns.iter().zip(row.values()) {
        let json = match value {
            Datum::Null => Value::Null,
            Datum::Boolean(b) => Value::Bool(*b),
            Datum::Int(v) => Value::from(*v),
            Datum::BigInt(v) => Value::from(*v),
            Datum::Double(v) => Number::from_f64(v.get()).map_or(Value::Null, Value::Number),
            Datum::Decimal(d) => decimal_json(d),
            other => Value::String(other.to_sql_string().unwrap_or_default()),
        };
        object.insert(column.name.clone(), json);
    }
    Value::Object(object)
}

fn decimal_json(decimal: &Decimal) -> Value {
    // serde_json keeps a number's digits only with its arbitrary_precision feature; write an
    // f64 when it holds the value exactly (as Flink writes decimals as numbers), else the text.
    let exact = decimal.to_f64();
    match Number::from_f64(exact) {
        Some(number)
            if Decimal::from_f64(exact, decimal.scale()).is_some_and(|d| d.cmp_value(decimal).is_eq()) =>
        {
            Value::Number(number)
        }
        _ => Value::String(decimal.to_string()),
    }
}

/// The row updates of one Debezium change event: `before` retracted, `after` added
/// (`op` `c`/`r` insert, `u` update, `d` delete; a `payload` envelope is unwrapped).
pub fn updates_from_debezium(
    table: &str,
    columns: &[Column],
    value: &Value,
) -> Result<Vec<(Row, i64)>, FormatError> {
    let event = value.get("payload").filter(|p| p.is_object()).unwrap_or(value);
    let not_event = || {
        let mut found = value.to_string();
        found.truncate(64);
        FormatError::NotAnObject {
            table: table.into(),
            found: format!("{found} (not a Debezium change event)"),
        }
    };
    let op = event.get("op").and_then(Value::as_str).ok_or_else(not_event)?;
    let side = |name: &str| -> Result<Option<Row>, FormatError> {
        match event.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(row) => row_from_json(table, columns, row).map(Some),
        }
    };
    let (before, after) = (side("before")?, side("after")?);
    let mut updates = Vec::new();
    match (op, before, after) {
        ("c" | "r", _, Some(after)) => updates.push((after, 1)),
        ("u", Some(before), Some(after)) => updates.extend([(before, -1), (after, 1)]),
        ("d", Some(before), _) => updates.push((before, -1)),
        _ => return Err(not_event()),
    }
    Ok(updates)
}

/// A change as a Debezium change event, as Flink's `debezium-json` writes it.
pub fn change_to_debezium(columns: &[Column], change: &crate::changelog::RowChange) -> Value {
    let row = row_to_json(columns, &change.row);
    let mut event = Map::new();
    if change.kind.is_addition() {
        event.insert("before".into(), Value::Null);
        event.insert("after".into(), row);
        event.insert("op".into(), Value::String("c".into()));
    } else {
        event.insert("before".into(), row);
        event.insert("after".into(), Value::Null);
        event.insert("op".into(), Value::String("d".into()));
    }
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("id", SqlType::BigInt),
            Column::new("name", SqlType::STRING),
            Column::new("price", SqlType::decimal(10, 2).unwrap()),
            Column::new("day", SqlType::Date),
        ]
    }

    #[test]
    fn csv_round_trips_and_bad_values_name_the_column() {
        let fields: Vec<String> = ["7", "", "1.50", "2024-01-02"].iter().map(|s| s.to_string()).collect();
        let row = row_from_csv("t", &columns(), &fields).unwrap();
        assert_eq!(row.get(1), Some(&Datum::string("")));
        assert_eq!(row_to_csv(&row), fields);
        let null = row_from_csv("t", &columns(), &["".into(), "x".into(), "".into(), "".into()]).unwrap();
        assert_eq!(null.get(0), Some(&Datum::Null));
        let error =
            row_from_csv("t", &columns(), &["x".into(), "".into(), "".into(), "".into()]).unwrap_err();
        assert!(error.to_string().starts_with("table t, column id (BIGINT): cannot cast 'x'"), "{error}");
        let error = row_from_csv("t", &columns(), &["1".into()]).unwrap_err();
        assert_eq!(error.to_string(), "table t: 1 fields where the table has 4 columns");
    }

    #[test]
    fn json_reads_by_name_and_writes_numbers() {
        let value: Value =
            serde_json::from_str(r#"{"ID": 3, "name": "a", "price": 2.5, "extra": 1}"#).unwrap();
        let row = row_from_json("t", &columns(), &value).unwrap();
        assert_eq!(row.get(0), Some(&Datum::BigInt(3)));
        assert_eq!(row.get(2), Some(&Datum::Decimal(Decimal::parse("2.50").unwrap())));
        assert_eq!(row.get(3), Some(&Datum::Null));
        let json = row_to_json(&columns(), &row);
        assert_eq!(json.to_string(), r#"{"day":null,"id":3,"name":"a","price":2.5}"#);
        let long = Datum::Decimal(Decimal::parse("12345678901234567890.12").unwrap());
        let wide = [Column::new("d", SqlType::decimal(38, 2).unwrap())];
        assert_eq!(
            row_to_json(&wide, &Row::new(vec![long])).to_string(),
            r#"{"d":"12345678901234567890.12"}"#
        );
        let error = row_from_json("t", &columns(), &serde_json::json!({"id": "x"})).unwrap_err();
        assert!(error.to_string().contains("column id"), "{error}");
        assert!(row_from_json("t", &columns(), &serde_json::json!([1])).is_err());
    }

    #[test]
    fn debezium_events_are_updates_both_ways() {
        use crate::changelog::{RowChange, RowKind};
        let columns = [Column::new("id", SqlType::BigInt)];
        let row = |id| Row::new(vec![Datum::BigInt(id)]);
        let event = serde_json::json!({"payload": {"before": {"id": 1}, "after": {"id": 2}, "op": "u"}});
        assert_eq!(updates_from_debezium("t", &columns, &event).unwrap(), vec![(row(1), -1), (row(2), 1)]);
        let deleted = change_to_debezium(&columns, &RowChange { kind: RowKind::UpdateBefore, row: row(3) });
        assert_eq!(deleted.to_string(), r#"{"after":null,"before":{"id":3},"op":"d"}"#);
        assert_eq!(updates_from_debezium("t", &columns, &deleted).unwrap(), vec![(row(3), -1)]);
        assert!(updates_from_debezium("t", &columns, &serde_json::json!({"id": 1})).is_err());
    }
}
