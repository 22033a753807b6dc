//! Debezium's JSON change events (as its Kafka connectors write them) into the CDC source's
//! [`CdcEvent`], so a job reads Debezium topics and PostgreSQL's own stream the same way.
//!
//! * With the schema envelope (`{"schema": ..., "payload": ...}`, `JsonConverter` with
//!   `schemas.enable=true`) or without it (the payload alone).
//! * `op`: `r` (snapshot read), `c`, `u`, `d`; `before` and `after` rows; the table from
//!   `source.schema` (or `source.db`) and `source.table`; `source.lsn` when present; commit time
//!   from `source.ts_ms` (else `ts_ms`).
//! * The key from the Kafka record's key (also with or without envelope); without a key, the
//!   key is empty.
//! * Tombstones (an empty or `null` value, which follow deletes for log compaction) and
//!   schema-change events (with `ddl` or `tableChanges`, and no `op`) decode to `None`.
//! * With a schema, logical types become what [`crate::value`] gives PostgreSQL's own values:
//!   `Decimal` (base64 unscaled bytes) a number, `Timestamp`/`MicroTimestamp`/`NanoTimestamp`/
//!   `ZonedTimestamp` milliseconds since the epoch, `Json` the document.
//!
//! Key changes arrive from Debezium as a delete and a create, so `old_key` stays `None`.

use serde_json::{Map, Value};

use crate::event::{CdcEvent, Op};
use crate::value::{timestamp_millis, Row};

/// Decodes one Debezium record (`key`, `value`); `Ok(None)` for tombstones and schema-change
/// events. The error says what is wrong with the record.
pub fn decode_debezium(key: Option<&[u8]>, value: &[u8]) -> Result<Option<CdcEvent<Row>>, String> {
    if value.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let document: Value = serde_json::from_slice(value).map_err(|error| format!("not JSON: {error}"))?;
    let (payload, schema) = unwrap_envelope(document);
    let Value::Object(payload) = payload else {
        return match payload {
            Value::Null => Ok(None),
            other => Err(format!("the payload is not an object: {other}")),
        };
    };
    let Some(op) = payload.get("op").and_then(Value::as_str) else {
        if payload.contains_key("ddl") || payload.contains_key("tableChanges") {
            return Ok(None);
        }
        return Err("no `op` field: not a Debezium change event".into());
    };
    let op = match op {
        "r" => Op::Read,
        "c" => Op::Insert,
        "u" => Op::Update,
        "d" => Op::Delete,
        "t" => return Err("a truncate event cannot be expressed as row changes".into()),
        other => return Err(format!("unknown op `{other}`")),
    };
    let field_schema = |name: &str| -> Option<&Value> {
        schema.as_ref()?.get("fields")?.as_array()?.iter().find(|field| field["field"] == name)
    };
    let row = |name: &str| -> Result<Option<Row>, String> {
        match payload.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(row)) => Ok(Some(typed_row(row.clone(), field_schema(name))?)),
            Some(other) => Err(format!("`{name}` is not an object: {other}")),
        }
    };
    let before = row("before")?;
    let after = row("after")?;
    match op {
        Op::Delete if before.is_none() => return Err("a delete without `before`".into()),
        Op::Read | Op::Insert | Op::Update if after.is_none() => {
            return Err(format!("{op:?} without `after`"))
        }
        _ => {}
    }
    let source = payload.get("source").cloned().unwrap_or(Value::Null);
    let table = match (source.get("schema").or_else(|| source.get("db")), source.get("table")) {
        (Some(Value::String(schema)), Some(Value::String(table))) => format!("{schema}.{table}"),
        (_, Some(Value::String(table))) => table.clone(),
        _ => String::new(),
    };
    let key = match key {
        Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
            let document: Value =
                serde_json::from_slice(bytes).map_err(|error| format!("key is not JSON: {error}"))?;
            let (key, key_schema) = unwrap_envelope(document);
            match key {
                Value::Object(key) => typed_row(key, key_schema.as_ref())?,
                Value::Null => Row::new(),
                other => return Err(format!("the key is not an object: {other}")),
            }
        }
        _ => Row::new(),
    };
    let commit_time =
        source.get("ts_ms").or_else(|| payload.get("ts_ms")).and_then(Value::as_i64).unwrap_or(0);
    let lsn = source.get("lsn").and_then(Value::as_u64).unwrap_or(0);
    // Debezium's own order: the LSN where the connector has one (PostgreSQL), else none.
    Ok(Some(CdcEvent { table, op, key, old_key: None, before, after, lsn, commit_time, sequence: lsn }))
}

/// `(payload, schema)` of an enveloped document, or `(document, None)`.
fn unwrap_envelope(document: Value) -> (Value, Option<Value>) {
    match document {
        Value::Object(mut map)
            if map.len() == 2 && map.contains_key("schema") && map.contains_key("payload") =>
        {
            let schema = map.remove("schema").filter(|schema| !schema.is_null());
            (map.remove("payload").unwrap_or(Value::Null), schema)
        }
        other => (other, None),
    }
}

/// Converts the values of `row` whose schema (a Kafka Connect struct schema) names a logical
/// type.
fn typed_row(mut row: Map<String, Value>, schema: Option<&Value>) -> Result<Row, String> {
    let Some(fields) = schema.and_then(|schema| schema.get("fields")).and_then(Value::as_array) else {
        return Ok(row);
    };
    for field in fields {
        let (Some(name), Some(logical)) = (field["field"].as_str(), field["name"].as_str()) else { continue };
        let Some(value) = row.get_mut(name) else { continue };
        if value.is_null() {
            continue;
        }
        let bad = |why: &str| format!("field `{name}` ({logical}): {why}");
        *value = match logical {
            "org.apache.kafka.connect.data.Decimal" => {
                let scale: i32 = match &field["parameters"]["scale"] {
                    Value::String(text) => text.parse().map_err(|_| bad("bad scale"))?,
                    Value::Number(number) => number.as_i64().unwrap_or(0) as i32,
                    _ => 0,
                };
                let bytes = base64(value.as_str().ok_or_else(|| bad("not base64 text"))?)
                    .ok_or_else(|| bad("bad base64"))?;
                let unscaled = bytes.iter().fold(
                    if bytes.first().is_some_and(|byte| byte & 0x80 != 0) { -1i128 } else { 0 },
                    |acc, byte| (acc << 8) | i128::from(*byte),
                );
                let number = unscaled as f64 / 10f64.powi(scale);
                Value::Number(serde_json::Number::from_f64(number).ok_or_else(|| bad("not finite"))?)
            }
            "io.debezium.time.Timestamp" | "org.apache.kafka.connect.data.Timestamp" => value.clone(),
            "io.debezium.time.MicroTimestamp" => {
                Value::from(value.as_i64().ok_or_else(|| bad("not an integer"))?.div_euclid(1_000))
            }
            "io.debezium.time.NanoTimestamp" => {
                Value::from(value.as_i64().ok_or_else(|| bad("not an integer"))?.div_euclid(1_000_000))
            }
            "io.debezium.time.ZonedTimestamp" => {
                let text = value.as_str().ok_or_else(|| bad("not text"))?;
                Value::from(
                    timestamp_millis(&text.replace('T', " ").replace('Z', "+00"))
                        .ok_or_else(|| bad("bad timestamp"))?,
                )
            }
            "io.debezium.data.Json" => serde_json::from_str(value.as_str().ok_or_else(|| bad("not text"))?)
                .map_err(|error| bad(&error.to_string()))?,
            _ => continue,
        };
    }
    Ok(row)
}

/// Standard base64 (with or without padding).
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for character in text.bytes().filter(|&byte| byte != b'=') {
        let value = match character {
            b'A'..=b'Z' => character - b'A',
            b'a'..=b'z' => character - b'a' + 26,
            b'0'..=b'9' => character - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        assert_eq!(base64("AQI=").unwrap(), vec![1, 2]);
        assert_eq!(base64("/w").unwrap(), vec![255]);
        assert_eq!(base64("TWFu").unwrap(), b"Man".to_vec());
        assert!(base64("a*b").is_none());
    }
}
