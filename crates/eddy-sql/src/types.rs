//! SQL types as eddy's SQL layer knows them, and the names SQL prints for them.
//!
//! The set is Flink SQL's everyday types: `BOOLEAN`, `INT`, `BIGINT`, `DOUBLE`,
//! `DECIMAL(p, s)`, `VARCHAR[(n)]`, `DATE`, `TIMESTAMP(p)` and the two interval kinds, plus
//! the type of an untyped `NULL` literal. Every type is nullable; `NOT NULL` is a later
//! refinement of the planner, not of values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest `DECIMAL` precision (as Flink and SQL Server): 38 digits fit an `i128`.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// The largest `TIMESTAMP` precision eddy stores: milliseconds, eddy's time unit.
pub const MAX_TIMESTAMP_PRECISION: u8 = 3;

/// Which of SQL's two interval families a value belongs to.
///
/// SQL keeps year-month intervals (a number of months, whose length in days varies) apart from
/// day-time intervals (an exact duration); they cannot be compared or added to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IntervalKind {
    /// `INTERVAL YEAR TO MONTH`: whole months.
    YearMonth,
    /// `INTERVAL DAY TO SECOND(3)`: milliseconds.
    DayTime,
}

/// A SQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SqlType {
    /// The type of an untyped `NULL` literal; converts implicitly to every type.
    Null,
    /// `BOOLEAN`.
    Boolean,
    /// `INT`: 32-bit signed.
    Int,
    /// `BIGINT`: 64-bit signed.
    BigInt,
    /// `DOUBLE`: IEEE 754 binary64.
    Double,
    /// `DECIMAL(precision, scale)`: exact, `1 <= precision <= 38`, `0 <= scale <= precision`.
    Decimal {
        /// Total number of digits.
        precision: u8,
        /// Digits after the decimal point.
        scale: u8,
    },
    /// `VARCHAR(n)` or, without a length, `STRING` (Flink's `VARCHAR(2147483647)`).
    Varchar {
        /// The maximum length in characters, if any.
        max_length: Option<u32>,
    },
    /// `DATE`: days since 1970-01-01.
    Date,
    /// `TIMESTAMP(p)` without time zone, `p <= 3`: milliseconds since 1970-01-01 00:00:00.
    Timestamp {
        /// Digits of fractional seconds (0 to 3).
        precision: u8,
    },
    /// `INTERVAL YEAR TO MONTH` or `INTERVAL DAY TO SECOND(3)`.
    Interval(IntervalKind),
}

impl SqlType {
    /// `VARCHAR` without a length (Flink's `STRING`).
    pub const STRING: SqlType = SqlType::Varchar { max_length: None };
    /// `TIMESTAMP(3)`, the type of event-time attributes.
    pub const TIMESTAMP: SqlType = SqlType::Timestamp { precision: 3 };

    /// `DECIMAL(precision, scale)`, or `None` when the pair is out of range.
    pub fn decimal(precision: u8, scale: u8) -> Option<SqlType> {
        (1..=MAX_DECIMAL_PRECISION).contains(&precision).then_some(())?;
        (scale <= precision).then_some(SqlType::Decimal { precision, scale })
    }

    /// Whether the type is `INT`, `BIGINT`, `DECIMAL` or `DOUBLE`.
    pub fn is_numeric(&self) -> bool {
        matches!(self, SqlType::Int | SqlType::BigInt | SqlType::Double | SqlType::Decimal { .. })
    }

    /// Whether the type is `INT` or `BIGINT`.
    pub fn is_integer(&self) -> bool {
        matches!(self, SqlType::Int | SqlType::BigInt)
    }

    /// Whether the type is `VARCHAR`.
    pub fn is_string(&self) -> bool {
        matches!(self, SqlType::Varchar { .. })
    }

    /// Whether the type is `DATE` or `TIMESTAMP`.
    pub fn is_datetime(&self) -> bool {
        matches!(self, SqlType::Date | SqlType::Timestamp { .. })
    }

    /// The `DECIMAL` an exact numeric type converts to without loss (`INT` is `DECIMAL(10, 0)`,
    /// `BIGINT` is `DECIMAL(19, 0)`, as in Flink), `None` for other types.
    pub fn as_decimal(&self) -> Option<(u8, u8)> {
        match *self {
            SqlType::Int => Some((10, 0)),
            SqlType::BigInt => Some((19, 0)),
            SqlType::Decimal { precision, scale } => Some((precision, scale)),
            _ => None,
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Null => f.write_str("NULL"),
            SqlType::Boolean => f.write_str("BOOLEAN"),
            SqlType::Int => f.write_str("INT"),
            SqlType::BigInt => f.write_str("BIGINT"),
            SqlType::Double => f.write_str("DOUBLE"),
            SqlType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            SqlType::Varchar { max_length: None } => f.write_str("STRING"),
            SqlType::Varchar { max_length: Some(n) } => write!(f, "VARCHAR({n})"),
            SqlType::Date => f.write_str("DATE"),
            SqlType::Timestamp { precision } => write!(f, "TIMESTAMP({precision})"),
            SqlType::Interval(IntervalKind::YearMonth) => f.write_str("INTERVAL YEAR TO MONTH"),
            SqlType::Interval(IntervalKind::DayTime) => f.write_str("INTERVAL DAY TO SECOND(3)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_sql_prints_them() {
        let cases = [
            (SqlType::Boolean, "BOOLEAN"),
            (SqlType::Int, "INT"),
            (SqlType::BigInt, "BIGINT"),
            (SqlType::Double, "DOUBLE"),
            (SqlType::decimal(10, 2).unwrap(), "DECIMAL(10, 2)"),
            (SqlType::STRING, "STRING"),
            (SqlType::Varchar { max_length: Some(20) }, "VARCHAR(20)"),
            (SqlType::Date, "DATE"),
            (SqlType::TIMESTAMP, "TIMESTAMP(3)"),
            (SqlType::Interval(IntervalKind::YearMonth), "INTERVAL YEAR TO MONTH"),
            (SqlType::Interval(IntervalKind::DayTime), "INTERVAL DAY TO SECOND(3)"),
            (SqlType::Null, "NULL"),
        ];
        for (ty, name) in cases {
            assert_eq!(ty.to_string(), name);
        }
    }

    #[test]
    fn decimal_bounds() {
        assert!(SqlType::decimal(38, 38).is_some());
        assert!(SqlType::decimal(39, 0).is_none());
        assert!(SqlType::decimal(0, 0).is_none());
        assert!(SqlType::decimal(5, 6).is_none());
        assert_eq!(SqlType::Int.as_decimal(), Some((10, 0)));
        assert_eq!(SqlType::BigInt.as_decimal(), Some((19, 0)));
        assert_eq!(SqlType::Double.as_decimal(), None);
    }
}
