//! The `datagen` connector's rows: row `n` is a pure function of the seed, the column and `n`,
//! so a table reads the same on every run, at every worker count and after a restore (Flink's
//! datagen is random per run; eddy's sources must replay identically).
//!
//! Defaults per type: integers over the whole range, `DOUBLE` in `[0, 1)`, `DECIMAL(p, s)` over
//! its digits, strings of 100 characters from `a-z0-9`, booleans, dates from 2026-01-01 on, and
//! timestamps 2026-01-01 00:00:00.000 plus `n` milliseconds (so a timestamp column is a usable,
//! ascending event time). `fields.<c>.min` / `max` bound numbers (and dates and timestamps, as
//! text), `length` sets a string's length, `kind = 'sequence'` counts from `start` to `end`.

use crate::cast::cast;
use crate::connect::options::{Datagen, FieldKind};
use crate::datetime::MILLIS_PER_DAY;
use crate::datum::{Datum, Double, Row};
use crate::decimal::{pow10, Decimal};
use crate::plan::Column;
use crate::types::SqlType;

/// 2026-01-01 in days since 1970-01-01.
const BASE_DAY: i64 = 20_454;

/// SplitMix64: a fast, well-mixed hash of a counter (Steele, Lea, Flood 2014).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// How many rows the table has: `number-of-rows`, or the shortest sequence, or unbounded.
pub fn row_count(spec: &Datagen) -> Option<u64> {
    let sequences = spec.fields.values().filter_map(|field| match field {
        FieldKind::Sequence { start, end } => Some(end.abs_diff(*start) + 1),
        FieldKind::Random { .. } => None,
    });
    spec.rows.into_iter().chain(sequences).min()
}

/// Row `n` of the table.
pub fn row(spec: &Datagen, columns: &[Column], n: u64) -> Row {
    columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let random = mix(mix(spec.seed ^ (index as u64).wrapping_mul(0x1000_0001)) ^ n);
            if let Some(rate) = spec.null_rates.get(&column.name) {
                if (mix(random) >> 11) as f64 / (1u64 << 53) as f64 <= *rate && *rate > 0.0 {
                    return Datum::Null;
                }
            }
            match spec.fields.get(&column.name) {
                Some(FieldKind::Sequence { start, .. }) => integer(column.ty, start.saturating_add(n as i64)),
                Some(FieldKind::Random { min, max, length }) => {
                    random_value(column.ty, random, n, min.as_deref(), max.as_deref(), *length)
                }
                None => random_value(column.ty, random, n, None, None, None),
            }
        })
        .collect()
}

fn integer(ty: SqlType, value: i64) -> Datum {
    cast(&Datum::BigInt(value), SqlType::BigInt, ty).unwrap_or(Datum::Null)
}

fn parse(text: Option<&str>, ty: SqlType) -> Option<Datum> {
    cast(&Datum::String(text?.trim().to_owned()), SqlType::STRING, ty).ok()
}

/// A value in `[low, high]` from a random word.
fn between(random: u64, low: i128, high: i128) -> i128 {
    let span = (high - low + 1).max(1) as u128;
    low + (u128::from(random) % span) as i128
}

fn random_value(
    ty: SqlType,
    random: u64,
    n: u64,
    min: Option<&str>,
    max: Option<&str>,
    length: Option<usize>,
) -> Datum {
    let bound = |text: Option<&str>, default: i128| match parse(text, SqlType::BigInt) {
        Some(Datum::BigInt(v)) => i128::from(v),
        _ => default,
    };
    match ty {
        SqlType::Boolean => Datum::Boolean(random & 1 == 1),
        SqlType::Int => {
            let (low, high) = (bound(min, i32::MIN.into()), bound(max, i32::MAX.into()));
            integer(ty, between(random, low, high) as i64)
        }
        SqlType::BigInt => {
            let (low, high) = (bound(min, i64::MIN.into()), bound(max, i64::MAX.into()));
            Datum::BigInt(between(random, low, high) as i64)
        }
        SqlType::Double => {
            let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
            let number = |text, default| match parse(text, SqlType::Double) {
                Some(Datum::Double(v)) => v.get(),
                _ => default,
            };
            let (low, high) = (number(min, 0.0), number(max, 1.0));
            Datum::Double(Double::new(low + unit * (high - low)))
        }
        SqlType::Decimal { precision, scale } => {
            let limit = pow10(u32::from(precision)).map_or(i128::MAX, |p| p - 1);
            let mantissa = |text, default| match parse(text, ty) {
                Some(Datum::Decimal(d)) => d.rescale(scale).map_or(default, |d| d.mantissa()),
                _ => default,
            };
            let (low, high) = (mantissa(min, -limit), mantissa(max, limit));
            Decimal::new(between(random, low, high), scale).map_or(Datum::Null, Datum::Decimal)
        }
        SqlType::Varchar { max_length } => {
            let length = length.unwrap_or(100).min(max_length.map_or(usize::MAX, |m| m as usize));
            const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
            let text = (0..length as u64)
                .map(|i| char::from(ALPHABET[(mix(random ^ i) % ALPHABET.len() as u64) as usize]))
                .collect();
            Datum::String(text)
        }
        SqlType::Date => match (parse(min, ty), parse(max, ty)) {
            (Some(Datum::Date(low)), Some(Datum::Date(high))) => {
                Datum::Date(between(random, low.into(), high.into()) as i32)
            }
            _ => Datum::Date((BASE_DAY + (random % 3650) as i64) as i32),
        },
        SqlType::Timestamp { .. } => match (parse(min, ty), parse(max, ty)) {
            (Some(Datum::Timestamp(low)), Some(Datum::Timestamp(high))) => {
                Datum::Timestamp(between(random, low.into(), high.into()) as i64)
            }
            _ => Datum::Timestamp(BASE_DAY * MILLIS_PER_DAY + n as i64),
        },
        SqlType::Null | SqlType::Interval(_) => Datum::Null,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn rows_are_deterministic_bounded_and_sequences_count() {
        let columns = vec![
            Column::new("id", SqlType::BigInt),
            Column::new("score", SqlType::Int),
            Column::new("name", SqlType::Varchar { max_length: Some(4) }),
            Column::new("ts", SqlType::Timestamp { precision: 3 }),
        ];
        let spec = Datagen {
            rows: None,
            rows_per_second: None,
            fields: BTreeMap::from([
                ("id".to_owned(), FieldKind::Sequence { start: 5, end: 9 }),
                (
                    "score".to_owned(),
                    FieldKind::Random { min: Some("1".into()), max: Some("6".into()), length: None },
                ),
            ]),
            null_rates: BTreeMap::new(),
            seed: 7,
        };
        assert_eq!(row_count(&spec), Some(5));
        let rows: Vec<Row> = (0..5).map(|n| row(&spec, &columns, n)).collect();
        assert_eq!(rows, (0..5).map(|n| row(&spec, &columns, n)).collect::<Vec<_>>());
        for (n, r) in rows.iter().enumerate() {
            assert_eq!(r.get(0), Some(&Datum::BigInt(5 + n as i64)));
            assert!(matches!(r.get(1), Some(Datum::Int(v)) if (1..=6).contains(v)), "{r}");
            assert!(matches!(r.get(2), Some(Datum::String(s)) if s.len() == 4), "{r}");
            assert_eq!(r.get(3), Some(&Datum::Timestamp(BASE_DAY * MILLIS_PER_DAY + n as i64)));
        }
        let other = Datagen { seed: 8, ..spec };
        assert_ne!(row(&other, &columns, 0).get(2), rows[0].get(2));
    }
}
