//! A table's columns as PostgreSQL's catalog describes them, the fields of a serde type as
//! `serde-reflection` traces them, the check that the two fit (before a job processes
//! anything), and the encoding of JSON values as SQL literals of a column's type.

use eddy_core::error::{Error, Result};
use serde_json::Value;
use serde_reflection::{ContainerFormat, Format, Tracer, TracerConfig};

use crate::client::{identifier, literal, qualified, Connection};

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableColumn {
    /// Its name.
    pub name: String,
    /// Its type as `format_type` prints it (`integer`, `numeric(10,2)`, `jsonb`...).
    pub type_name: String,
    /// The type's category (`pg_type.typcategory`: `N` numeric, `S` string, `B` boolean, `D`
    /// date/time, `U` user-defined such as json...).
    pub category: char,
    /// `NOT NULL`.
    pub not_null: bool,
    /// Whether it has a default (or is an identity or generated column).
    pub has_default: bool,
}

/// A table's columns and primary key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSchema {
    /// The table as given (`schema.table` or `table`).
    pub table: String,
    /// Its columns in order.
    pub columns: Vec<TableColumn>,
    /// The primary key's columns (empty without one).
    pub primary_key: Vec<String>,
}

impl TableSchema {
    /// Reads `table`'s schema from the catalog.
    pub fn read(connection: &mut Connection, table: &str) -> Result<TableSchema> {
        let relation = literal(&qualified(table));
        let columns = connection
            .query(&format!(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, a.attnotnull, \
                 a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = {relation}::regclass AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum"
            ))
            .map_err(|error| {
                error.into_error(format!("reading the columns of PostgreSQL table `{table}`"))
            })?;
        let primary_key = connection
            .query(&format!(
                "SELECT a.attname FROM pg_index i \
                 JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) ON true \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = {relation}::regclass AND i.indisprimary ORDER BY k.position"
            ))
            .map_err(|error| {
                error.into_error(format!("reading the primary key of PostgreSQL table `{table}`"))
            })?;
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        Ok(TableSchema {
            table: table.to_owned(),
            columns: columns
                .rows
                .iter()
                .map(|row| TableColumn {
                    name: text(&row[0]),
                    type_name: text(&row[1]),
                    category: text(&row[2]).chars().next().unwrap_or('X'),
                    not_null: row[3].as_deref() == Some("t"),
                    has_default: row[4].as_deref() == Some("t"),
                })
                .collect(),
            primary_key: primary_key.rows.iter().map(|row| text(&row[0])).collect(),
        })
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.columns.iter().find(|column| column.name == name)
    }
}

/// A field of a traced serde type: its name, its format (without `Option`) and whether it is
/// an `Option`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's (serialized) name.
    pub name: String,
    /// Its format, `Option`s removed.
    pub format: Format,
    /// Whether it may be null.
    pub optional: bool,
}

/// The fields of `T`, a struct with named fields, or `None` for a type that serializes to a
/// single value (a scalar key).
pub fn fields_of<'de, T: serde::Deserialize<'de>>() -> Result<Option<Vec<Field>>> {
    let type_name = std::any::type_name::<T>();
    let error = |reason: String| {
        Error::Config(format!("the PostgreSQL connector cannot use `{type_name}`: {reason}"))
    };
    let mut tracer = Tracer::new(TracerConfig::default());
    let (format, _) = tracer.trace_simple_type::<T>().map_err(|e| error(e.to_string()))?;
    let registry = tracer.registry().map_err(|e| error(e.to_string()))?;
    let Format::TypeName(name) = format else { return Ok(None) };
    let Some(ContainerFormat::Struct(fields)) = registry.get(&name) else {
        return match registry.get(&name) {
            Some(ContainerFormat::NewTypeStruct(_)) => Ok(None),
            _ => Err(error("not a struct with named fields".into())),
        };
    };
    Ok(Some(
        fields
            .iter()
            .map(|field| {
                let mut format = &field.value;
                let mut optional = false;
                while let Format::Option(inner) = format {
                    format = inner;
                    optional = true;
                }
                Field { name: field.name.clone(), format: format.clone(), optional }
            })
            .collect(),
    ))
}

/// Whether a value of serde `format` can be written to `column`; `Err` says why not.
fn fits(format: &Format, column: &TableColumn) -> std::result::Result<(), String> {
    let json = matches!(column.type_name.as_str(), "json" | "jsonb");
    let ok = match format {
        Format::Bool => matches!(column.category, 'B' | 'S'),
        Format::I8
        | Format::I16
        | Format::I32
        | Format::I64
        | Format::I128
        | Format::U8
        | Format::U16
        | Format::U32
        | Format::U64
        | Format::U128 => matches!(column.category, 'N' | 'S' | 'D') || json,
        Format::F32 | Format::F64 => matches!(column.category, 'N' | 'S') || json,
        // PostgreSQL parses the text as the column's type (numeric, timestamp, uuid...); a
        // boolean column takes no string.
        Format::Str | Format::Char => column.category != 'B',
        Format::Seq(_)
        | Format::Map { .. }
        | Format::Tuple(_)
        | Format::TupleArray { .. }
        | Format::TypeName(_) => json,
        Format::Unit | Format::Bytes | Format::Option(_) | Format::Variable(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("its type {} cannot hold the serde format {format:?}", column.type_name))
    }
}

/// Checks that `fields` can be written to `schema`: every field has a column of a fitting
/// type, and every `NOT NULL` column without a default gets a value. `what` names the fields'
/// owner for the message.
pub fn check_fields(schema: &TableSchema, fields: &[Field], what: &str) -> Result<()> {
    let table = &schema.table;
    for field in fields {
        let Some(column) = schema.column(&field.name) else {
            return Err(Error::Config(format!(
                "PostgreSQL table `{table}` has no column `{}` for the field of {what} (columns: {})",
                field.name,
                schema.columns.iter().map(|column| column.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        };
        fits(&field.format, column).map_err(|why| {
            Error::Config(format!(
                "PostgreSQL table `{table}`, column `{}` for field of {what}: {why}",
                column.name
            ))
        })?;
    }
    Ok(())
}

/// Checks that every `NOT NULL` column without a default is among `written`.
pub fn check_required(schema: &TableSchema, written: &[String]) -> Result<()> {
    for column in &schema.columns {
        if column.not_null && !column.has_default && !written.contains(&column.name) {
            return Err(Error::Config(format!(
                "PostgreSQL table `{}`: column `{}` is NOT NULL without a default, and no field writes it",
                schema.table, column.name
            )));
        }
    }
    Ok(())
}

/// `value` as a SQL expression of `column`'s type. Integers into timestamp columns are
/// milliseconds since the epoch (UTC), as eddy's event times are.
pub fn encode(value: &Value, column: &TableColumn) -> std::result::Result<String, String> {
    let cast = |text: String| format!("{}::{}", literal(&text), column.type_name);
    Ok(match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(flag) => cast(flag.to_string()),
        Value::Number(number) if column.category == 'D' && column.type_name.starts_with("timestamp") => {
            let millis = number.as_i64().ok_or_else(|| format!("{number} is not whole milliseconds"))?;
            if column.type_name.contains("with time zone") {
                format!("to_timestamp({millis}::numeric / 1000)")
            } else {
                format!("(to_timestamp({millis}::numeric / 1000) AT TIME ZONE 'UTC')")
            }
        }
        Value::Number(number) => cast(number.to_string()),
        Value::String(text) => {
            if text.contains('\0') {
                return Err("PostgreSQL text cannot hold a NUL character".into());
            }
            cast(text.clone())
        }
        Value::Array(_) | Value::Object(_) => cast(value.to_string()),
    })
}

/// The column list `(a, b)` of `names`.
pub fn column_list(names: &[String]) -> String {
    names.iter().map(|name| identifier(name)).collect::<Vec<_>>().join(", ")
}
