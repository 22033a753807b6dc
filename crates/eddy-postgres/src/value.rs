//! Column values from PostgreSQL's text format into JSON values, the generic row of the CDC
//! source ([`Row`]) that serde then turns into user structs.
//!
//! | PostgreSQL                                  | JSON                                    |
//! |---------------------------------------------|-----------------------------------------|
//! | `smallint`, `integer`, `bigint`, `oid`      | integer                                 |
//! | `real`, `double precision`, `numeric`       | number (`f64`: `numeric` beyond ~15 significant digits loses precision; NaN and infinities are errors) |
//! | `boolean`                                   | `true` / `false`                        |
//! | `text`, `varchar`, `char(n)`, `name`, `uuid`, `date`, `time` | string                 |
//! | `timestamp`, `timestamptz`                  | integer: milliseconds since the Unix epoch (UTC; a `timestamp` without time zone is read as UTC) |
//! | `json`, `jsonb`                             | the document                            |
//! | NULL                                        | `null`                                  |
//!
//! Any other type is an error naming the table, column and type, reported when the source
//! starts.

use serde_json::{Map, Number, Value};

/// A row: column name to value.
pub type Row = Map<String, Value>;

/// The type OIDs the source decodes.
pub fn supported(type_oid: u32) -> bool {
    matches!(
        type_oid,
        16 | 20
            | 21
            | 23
            | 26
            | 700
            | 701
            | 1700
            | 25
            | 1043
            | 1042
            | 19
            | 2950
            | 1082
            | 1083
            | 1114
            | 1184
            | 114
            | 3802
    )
}

/// Decodes the text form of a value of type `type_oid`.
pub fn decode(type_oid: u32, text: &str) -> Result<Value, String> {
    let bad = || format!("`{text}` is not a valid value of type OID {type_oid}");
    Ok(match type_oid {
        16 => Value::Bool(match text {
            "t" => true,
            "f" => false,
            _ => return Err(bad()),
        }),
        20 | 21 | 23 | 26 => Value::Number(text.parse::<i64>().map_err(|_| bad())?.into()),
        700 | 701 | 1700 => {
            let number: f64 = text.parse().map_err(|_| bad())?;
            Value::Number(Number::from_f64(number).ok_or_else(|| format!("`{text}` has no JSON number"))?)
        }
        1114 | 1184 => Value::Number(timestamp_millis(text).ok_or_else(bad)?.into()),
        114 | 3802 => serde_json::from_str(text).map_err(|error| format!("bad JSON `{text}`: {error}"))?,
        _ => Value::String(text.to_owned()),
    })
}

/// Days from 1970-01-01 to the civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]` (DateStyle ISO) into milliseconds since
/// the Unix epoch; without an offset the time is UTC.
pub fn timestamp_millis(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(' ')?;
    let mut parts = date.splitn(3, '-');
    let (year, month, day): (i64, i64, i64) =
        (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    let offset_at = rest.find(['+', '-']);
    let (time, offset) = match offset_at {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let mut clock = time.splitn(3, ':');
    let (hour, minute): (i64, i64) = (clock.next()?.parse().ok()?, clock.next()?.parse().ok()?);
    let seconds = clock.next()?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let second: i64 = whole.parse().ok()?;
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    let mut offset_seconds = 0;
    if let Some(offset) = offset {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let mut fields = offset[1..].split(':');
        let hours: i64 = fields.next()?.parse().ok()?;
        let minutes: i64 = fields.next().map_or(Some(0), |text| text.parse().ok())?;
        let seconds: i64 = fields.next().map_or(Some(0), |text| text.parse().ok())?;
        offset_seconds = sign * (hours * 3600 + minutes * 60 + seconds);
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_become_unix_milliseconds() {
        assert_eq!(timestamp_millis("1970-01-01 00:00:00"), Some(0));
        assert_eq!(timestamp_millis("2023-11-14 22:13:20.123+00"), Some(1_700_000_000_123));
        assert_eq!(timestamp_millis("2023-11-14 23:13:20.1234+01"), Some(1_700_000_000_123));
        assert_eq!(timestamp_millis("2023-11-14 17:43:20.5-04:30"), Some(1_700_000_000_500));
        assert_eq!(timestamp_millis("1969-12-31 23:59:59.999"), Some(-1));
        assert_eq!(timestamp_millis("2000-02-29 00:00:00"), Some(951_782_400_000));
        assert_eq!(timestamp_millis("infinity"), None);
    }

    #[test]
    fn values_decode_by_type() {
        assert_eq!(decode(16, "t").unwrap(), Value::Bool(true));
        assert_eq!(decode(20, "-9007199254740993").unwrap(), serde_json::json!(-9_007_199_254_740_993i64));
        assert_eq!(decode(1700, "12.50").unwrap(), serde_json::json!(12.5));
        assert_eq!(decode(3802, "{\"a\": [1, null]}").unwrap(), serde_json::json!({"a": [1, null]}));
        assert_eq!(decode(25, "it's").unwrap(), serde_json::json!("it's"));
        assert!(decode(23, "x").unwrap_err().contains("type OID 23"));
        assert!(decode(701, "NaN").is_err());
        assert!(supported(1184) && !supported(17), "bytea is not decoded");
    }
}
