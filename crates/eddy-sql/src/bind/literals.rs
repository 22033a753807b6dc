//! Literals and type names: numbers, strings, `DATE '...'`, `INTERVAL '...' unit`, the SQL
//! type names of `CAST`, and the time units of `EXTRACT` and `FLOOR ... TO`.

use sqlparser::ast::{self, DateTimeField, Expr, Value};

use super::{location_of, type_error, unsupported, BindError, BindResult, Location};
use crate::cast::interval_of;
use crate::datetime::TimeUnit;
use crate::datum::Datum;
use crate::decimal::Decimal;
use crate::expr::ScalarExpr;
use crate::types::{IntervalKind, SqlType};

/// The literal of a parsed value: integers are `INT` or, if larger, `BIGINT` or `DECIMAL`;
/// numbers with a point are exact `DECIMAL`s (as Flink); with an exponent, `DOUBLE`.
pub(super) fn literal(value: &Value, source: &Expr) -> BindResult<ScalarExpr> {
    Ok(match value {
        Value::Null => ScalarExpr::literal(Datum::Null, SqlType::Null),
        Value::Boolean(b) => ScalarExpr::literal(Datum::Boolean(*b), SqlType::Boolean),
        Value::SingleQuotedString(text) => ScalarExpr::literal(
            Datum::String(text.clone()),
            SqlType::Varchar { max_length: Some(text.chars().count().max(1) as u32) },
        ),
        Value::Number(text, _) => {
            if text.contains(['e', 'E']) {
                let value: f64 =
                    text.parse().map_err(|_| type_error(source, format!("bad number {text}")))?;
                ScalarExpr::literal(Datum::double(value), SqlType::Double)
            } else if let Ok(value) = text.parse::<i32>() {
                ScalarExpr::literal(Datum::Int(value), SqlType::Int)
            } else if let Ok(value) = text.parse::<i64>() {
                ScalarExpr::literal(Datum::BigInt(value), SqlType::BigInt)
            } else {
                let decimal = Decimal::parse(text)
                    .ok_or_else(|| type_error(source, format!("{text} has more than 38 digits")))?;
                let digits = decimal.mantissa().unsigned_abs().to_string().len() as u8;
                let precision = digits.max(decimal.scale()).max(1);
                let ty = SqlType::decimal(precision, decimal.scale())
                    .ok_or_else(|| type_error(source, format!("{text} has more than 38 digits")))?;
                ScalarExpr::literal(Datum::Decimal(decimal), ty)
            }
        }
        other => return Err(unsupported(source, format!("literal {other}"))),
    })
}

pub(super) fn data_type(data_type: &ast::DataType, source: &Expr) -> BindResult<SqlType> {
    data_type_at(data_type, location_of(source))
}

/// The SQL type a type name means, with the spellings of Flink, PostgreSQL and SQLite:
/// `SMALLINT`/`TINYINT` are `INT`, `REAL`/`FLOAT`/`DOUBLE [PRECISION]` are `DOUBLE`, `TEXT`
/// and `STRING` are `VARCHAR` without a length, and `CHAR(n)` is `VARCHAR(n)` (no padding).
pub(crate) fn data_type_at(data_type: &ast::DataType, location: Option<Location>) -> BindResult<SqlType> {
    use ast::{CharacterLength, DataType as D, ExactNumberInfo};
    let type_error = |_: &(), message: String| BindError::Type { message, location };
    let unsupported = |_: &(), what: String| BindError::Unsupported { what, location };
    let source = &();
    Ok(match data_type {
        D::Boolean | D::Bool => SqlType::Boolean,
        D::Int(_)
        | D::Integer(_)
        | D::Int4(_)
        | D::SmallInt(_)
        | D::TinyInt(_)
        | D::Int2(_)
        | D::MediumInt(_) => SqlType::Int,
        D::BigInt(_) | D::Int8(_) | D::Int64 => SqlType::BigInt,
        D::Double(ExactNumberInfo::None)
        | D::DoublePrecision
        | D::Float8
        | D::Float64
        | D::Real
        | D::Float4
        | D::Float(_) => SqlType::Double,
        D::Decimal(info) | D::Numeric(info) | D::Dec(info) => {
            let (precision, scale) = match info {
                // Flink's default: DECIMAL(10, 0).
                ExactNumberInfo::None => (10, 0),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, u64::try_from(*s).unwrap_or(u64::MAX)),
            };
            u8::try_from(precision)
                .ok()
                .zip(u8::try_from(scale).ok())
                .and_then(|(p, s)| SqlType::decimal(p, s))
                .ok_or_else(|| type_error(source, format!("DECIMAL({precision}, {scale}) is out of range (precision 1 to 38, scale up to the precision)")))?
        }
        D::Varchar(length)
        | D::CharacterVarying(length)
        | D::CharVarying(length)
        | D::Char(length)
        | D::Character(length) => match length {
            None | Some(CharacterLength::Max) => SqlType::STRING,
            Some(CharacterLength::IntegerLength { length, .. }) => {
                SqlType::Varchar { max_length: Some(u32::try_from(*length).unwrap_or(u32::MAX)) }
            }
        },
        D::String(_) | D::Text => SqlType::STRING,
        D::Date => SqlType::Date,
        D::Timestamp(precision, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => {
            let precision = precision.unwrap_or(3);
            if precision > 3 {
                // Stored in milliseconds: a finer precision would silently lose digits.
                return Err(unsupported(
                    source,
                    format!("TIMESTAMP({precision}): eddy keeps milliseconds, TIMESTAMP(3) at most"),
                ));
            }
            SqlType::Timestamp { precision: precision as u8 }
        }
        other => return Err(unsupported(source, format!("type {other}"))),
    })
}

pub(super) fn interval(interval: &ast::Interval, value: ScalarExpr, source: &Expr) -> BindResult<ScalarExpr> {
    let text = match value {
        ScalarExpr::Literal { value: Datum::String(text), .. } => text,
        ScalarExpr::Literal { value: Datum::Int(n), .. } => n.to_string(),
        ScalarExpr::Literal { value: Datum::BigInt(n), .. } => n.to_string(),
        _ => return Err(unsupported(source, "an INTERVAL whose value is not a constant")),
    };
    let leading = match &interval.leading_field {
        Some(field) => time_unit(field, source)?,
        None => return Err(unsupported(source, "INTERVAL without a unit (write INTERVAL '1' DAY)")),
    };
    let last = interval.last_field.as_ref().map(|field| time_unit(field, source)).transpose()?;
    let bad = || type_error(source, format!("invalid interval '{text}' for {}", leading.name()));
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let value = match (leading, last) {
        (TimeUnit::Year, Some(TimeUnit::Month)) => {
            let (years, months) = body.split_once('-').ok_or_else(bad)?;
            let years: i64 = years.parse().map_err(|_| bad())?;
            let months: i64 = months.parse().map_err(|_| bad())?;
            interval_of(years * 12 + months, Some(1), None).ok_or_else(bad)?
        }
        (leading, Some(last)) => {
            // DAY TO SECOND and its sub-ranges: "d hh:mm:ss.fff" fields from `leading`.
            let units = [TimeUnit::Day, TimeUnit::Hour, TimeUnit::Minute, TimeUnit::Second];
            let first = units.iter().position(|u| *u == leading).ok_or_else(bad)?;
            let end = units.iter().position(|u| *u == last).ok_or_else(bad)?;
            let fields: Vec<&str> = body.split([' ', ':']).collect();
            if fields.len() != end + 1 - first.min(end + 1) {
                return Err(bad());
            }
            let mut millis: i64 = 0;
            for (unit, field) in units[first..=end].iter().zip(&fields) {
                let part = if *unit == TimeUnit::Second {
                    Decimal::parse(field)
                        .and_then(|d| d.rescale(3))
                        .and_then(|d| i64::try_from(d.mantissa()).ok())
                } else {
                    field.parse::<i64>().ok().and_then(|n| n.checked_mul(unit.fixed_millis()?))
                };
                millis = millis.checked_add(part.ok_or_else(bad)?).ok_or_else(bad)?;
            }
            crate::datum::Interval { months: 0, millis }
        }
        (TimeUnit::Second, None) => {
            let millis = Decimal::parse(body)
                .and_then(|d| d.rescale(3))
                .and_then(|d| i64::try_from(d.mantissa()).ok());
            crate::datum::Interval { months: 0, millis: millis.ok_or_else(bad)? }
        }
        (unit, None) => {
            let count: i64 = body.parse().map_err(|_| bad())?;
            interval_of(count, unit.months(), unit.fixed_millis()).ok_or_else(bad)?
        }
    };
    let value = if negative {
        crate::datum::Interval { months: -value.months, millis: -value.millis }
    } else {
        value
    };
    let kind = if value.months != 0 || leading.months().is_some() {
        IntervalKind::YearMonth
    } else {
        IntervalKind::DayTime
    };
    Ok(ScalarExpr::literal(Datum::Interval(value), SqlType::Interval(kind)))
}

pub(super) fn time_unit(field: &DateTimeField, source: &Expr) -> BindResult<TimeUnit> {
    let name = match field {
        DateTimeField::Custom(ident) => ident.value.clone(),
        DateTimeField::Week(_) => "WEEK".to_owned(),
        other => other.to_string(),
    };
    TimeUnit::from_name(&name).ok_or_else(|| unsupported(source, format!("time unit {name}")))
}
