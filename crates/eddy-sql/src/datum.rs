//! Values: [`Datum`] (one SQL value, `NULL` included) and [`Row`] (a row of them).
//!
//! Differential dataflow keeps rows in collections and arrangements, which need `Ord` (to sort
//! batches), `Hash` (to exchange records between workers) and serde (to move them between
//! processes and into checkpoints). So `Datum`'s order is a *storage* order, total and
//! deterministic, not SQL's comparison (which returns `NULL` for a `NULL` operand and compares
//! `1.0 = 1.00`; that lives in `expr.rs`):
//!
//! * variants order as declared: `NULL` first, then `BOOLEAN`, `INT`, `BIGINT`, `DOUBLE`,
//!   `DECIMAL`, `VARCHAR`, `DATE`, `TIMESTAMP`, `INTERVAL` (a column holds one type, so this
//!   only decides ties between types in a heterogeneous collection);
//! * `DOUBLE`: every value is normalized when built ([`Double::new`]): all NaNs become one
//!   canonical NaN and `-0.0` becomes `+0.0`. Then equality is bit equality and the order is
//!   IEEE 754 `totalOrder` (`f64::total_cmp`): `-inf < ... < 0 < ... < +inf < NaN`. NaN equals
//!   itself and sorts above every number, as in PostgreSQL; `-0.0` and `0.0` are one group;
//! * `DECIMAL`: by numeric value, then by scale (see `decimal.rs`);
//! * `VARCHAR`: by UTF-8 bytes, which is code point order (no collation);
//! * `INTERVAL`: by months, then milliseconds.
//!
//! `Hash` feeds a one-byte tag and the value's fixed-width bytes to the hasher, never an
//! address or a randomly seeded state, so with a fixed-seed hasher (differential's `Hashable`
//! uses FNV) a row hashes the same in every process of a job.
//!
//! # Layout
//!
//! `Datum` is 32 bytes (the `i128` decimal mantissa sets the size and alignment); a `Row` is a
//! `Vec<Datum>`. Strings are owned `String`s. A compact byte encoding (Materialize's `Row`)
//! is a later optimisation behind the same API.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use crate::datetime;
use crate::decimal::Decimal;

/// A `DOUBLE` value, normalized so that equality, order and hash agree (see the module docs).
///
/// Serialized as its IEEE 754 bits (a `u64`): exact in every serde format, NaN and infinities
/// included (JSON has no number for them).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(from = "u64", into = "u64")]
pub struct Double(f64);

impl Double {
    /// The canonical NaN: the quiet NaN with a clear sign bit and payload.
    const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

    /// Normalizes NaNs to one NaN and `-0.0` to `0.0`.
    pub fn new(value: f64) -> Double {
        if value.is_nan() {
            Double(f64::from_bits(Double::CANONICAL_NAN))
        } else if value == 0.0 {
            Double(0.0)
        } else {
            Double(value)
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl From<f64> for Double {
    fn from(value: f64) -> Self {
        Double::new(value)
    }
}

impl From<Double> for f64 {
    fn from(value: Double) -> Self {
        value.0
    }
}

impl From<u64> for Double {
    fn from(bits: u64) -> Self {
        Double::new(f64::from_bits(bits))
    }
}

impl From<Double> for u64 {
    fn from(value: Double) -> Self {
        value.0.to_bits()
    }
}

impl PartialEq for Double {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Double {}

impl PartialOrd for Double {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Double {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Hash for Double {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.to_bits());
    }
}

impl fmt::Display for Double {
    /// Java's `Double.toString`, which Flink prints: `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`,
    /// `Infinity`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        if value.is_nan() {
            return f.write_str("NaN");
        }
        if value.is_infinite() {
            return f.write_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        }
        let magnitude = value.abs();
        if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
            let text = value.to_string();
            return if text.contains('.') { f.write_str(&text) } else { write!(f, "{text}.0") };
        }
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let point = if mantissa.contains('.') { "" } else { ".0" };
        write!(f, "{mantissa}{point}E{exponent}")
    }
}

/// An `INTERVAL`: months (year-month intervals) and milliseconds (day-time intervals).
///
/// A bound expression keeps the two kinds apart, so one of the fields is zero in practice;
/// keeping both lets `DATE + INTERVAL` be one operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// Whole months.
    pub months: i32,
    /// Milliseconds.
    pub millis: i64,
}

impl fmt::Display for Interval {
    /// Flink's form: `+1-02` (years-months) or `+3 04:05:06.789` (days hours:minutes:seconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.months != 0 && self.millis == 0 {
            let sign = if self.months < 0 { '-' } else { '+' };
            let months = self.months.unsigned_abs();
            return write!(f, "{sign}{}-{:02}", months / 12, months % 12);
        }
        let sign = if self.millis < 0 { '-' } else { '+' };
        let millis = self.millis.unsigned_abs();
        let (days, rest) = (millis / 86_400_000, millis % 86_400_000);
        let (hours, minutes, seconds) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60);
        write!(f, "{sign}{days} {hours:02}:{minutes:02}:{seconds:02}.{:03}", rest % 1000)?;
        if self.months != 0 {
            write!(f, " and {} months", self.months)?;
        }
        Ok(())
    }
}

/// One SQL value. See the module docs for its order and hash.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Datum {
    /// `NULL`, of any type.
    Null,
    /// `BOOLEAN`.
    Boolean(bool),
    /// `INT`.
    Int(i32),
    /// `BIGINT`.
    BigInt(i64),
    /// `DOUBLE`.
    Double(Double),
    /// `DECIMAL(p, s)`; the value carries its scale.
    Decimal(Decimal),
    /// `VARCHAR`.
    String(String),
    /// `DATE`: days since 1970-01-01.
    Date(i32),
    /// `TIMESTAMP(3)`: milliseconds since 1970-01-01 00:00:00.
    Timestamp(i64),
    /// `INTERVAL`.
    Interval(Interval),
}

impl Hash for Datum {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // A fixed tag per variant (not the compiler's discriminant type), then fixed-width data.
        match self {
            Datum::Null => state.write_u8(0),
            Datum::Boolean(value) => {
                state.write_u8(1);
                state.write_u8(*value as u8);
            }
            Datum::Int(value) => {
                state.write_u8(2);
                state.write_i32(*value);
            }
            Datum::BigInt(value) => {
                state.write_u8(3);
                state.write_i64(*value);
            }
            Datum::Double(value) => {
                state.write_u8(4);
                value.hash(state);
            }
            Datum::Decimal(value) => {
                state.write_u8(5);
                state.write_i128(value.mantissa());
                state.write_u8(value.scale());
            }
            Datum::String(value) => {
                state.write_u8(6);
                state.write_u64(value.len() as u64);
                state.write(value.as_bytes());
            }
            Datum::Date(value) => {
                state.write_u8(7);
                state.write_i32(*value);
            }
            Datum::Timestamp(value) => {
                state.write_u8(8);
                state.write_i64(*value);
            }
            Datum::Interval(value) => {
                state.write_u8(9);
                state.write_i32(value.months);
                state.write_i64(value.millis);
            }
        }
    }
}

impl Datum {
    /// A `DOUBLE`, normalized.
    pub fn double(value: f64) -> Datum {
        Datum::Double(Double::new(value))
    }

    /// A `VARCHAR`.
    pub fn string(value: impl Into<String>) -> Datum {
        Datum::String(value.into())
    }

    /// Whether this is `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// The value as SQL's `CAST(value AS VARCHAR)` prints it (Flink's forms): `TRUE`, `1.0E7`,
    /// `2024-01-02 03:04:05.678`; `None` for `NULL`. Timestamps print 3 fraction digits here;
    /// a cast that knows the precision uses [`datetime::format_timestamp`] itself.
    pub fn to_sql_string(&self) -> Option<String> {
        Some(match self {
            Datum::Null => return None,
            Datum::Boolean(value) => (if *value { "TRUE" } else { "FALSE" }).to_owned(),
            Datum::Int(value) => value.to_string(),
            Datum::BigInt(value) => value.to_string(),
            Datum::Double(value) => value.to_string(),
            Datum::Decimal(value) => value.to_string(),
            Datum::String(value) => value.clone(),
            Datum::Date(days) => datetime::format_date(*days as i64),
            Datum::Timestamp(millis) => datetime::format_timestamp(*millis, 3),
            Datum::Interval(value) => value.to_string(),
        })
    }
}

impl fmt::Display for Datum {
    /// As a SQL literal: `NULL`, `TRUE`, `42`, `'it''s'`, `DATE '2024-01-02'`,
    /// `TIMESTAMP '2024-01-02 03:04:05.678'`, `INTERVAL '+1 00:00:00.000'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Null => f.write_str("NULL"),
            Datum::String(value) => write!(f, "'{}'", value.replace('\'', "''")),
            Datum::Date(_) => write!(f, "DATE '{}'", self.to_sql_string().unwrap_or_default()),
            Datum::Timestamp(_) => write!(f, "TIMESTAMP '{}'", self.to_sql_string().unwrap_or_default()),
            Datum::Interval(_) => write!(f, "INTERVAL '{}'", self.to_sql_string().unwrap_or_default()),
            other => f.write_str(&other.to_sql_string().unwrap_or_default()),
        }
    }
}

/// A row: one [`Datum`] per column, in the schema's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Row(Vec<Datum>);

impl Row {
    /// A row of the given values.
    pub fn new(values: Vec<Datum>) -> Row {
        Row(values)
    }

    /// The values.
    pub fn values(&self) -> &[Datum] {
        &self.0
    }

    /// The value of column `index`, if the row has that many columns.
    pub fn get(&self, index: usize) -> Option<&Datum> {
        self.0.get(index)
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values, by value.
    pub fn into_values(self) -> Vec<Datum> {
        self.0
    }
}

impl From<Vec<Datum>> for Row {
    fn from(values: Vec<Datum>) -> Self {
        Row(values)
    }
}

impl FromIterator<Datum> for Row {
    fn from_iter<I: IntoIterator<Item = Datum>>(iter: I) -> Self {
        Row(iter.into_iter().collect())
    }
}

impl fmt::Display for Row {
    /// `(1, 'a', NULL)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (index, value) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{value}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// FNV-1a, as differential's `Hashable` uses: a fixed-seed hasher for golden values.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for byte in bytes {
                self.0 = (self.0 ^ *byte as u64).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    fn fnv(value: &impl Hash) -> u64 {
        let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn size() {
        assert_eq!(std::mem::size_of::<Datum>(), 32);
    }

    #[test]
    fn doubles_are_normalized() {
        assert_eq!(Datum::double(-0.0), Datum::double(0.0));
        assert_eq!(fnv(&Datum::double(-0.0)), fnv(&Datum::double(0.0)));
        let other_nan = f64::from_bits(0xfff8_0000_0000_0001);
        assert!(other_nan.is_nan());
        assert_eq!(Datum::double(other_nan), Datum::double(f64::NAN));
        assert!(Datum::double(f64::NAN) > Datum::double(f64::INFINITY));
        assert!(Datum::double(f64::NEG_INFINITY) < Datum::double(-1e300));
    }

    #[test]
    fn java_double_text() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e7, "1.0E7"),
            (1.5e-4, "1.5E-4"),
            (-123.25, "-123.25"),
            (0.0, "0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, text) in cases {
            assert_eq!(Double::new(value).to_string(), text);
        }
    }

    #[test]
    fn literal_display() {
        let row = Row::new(vec![
            Datum::Null,
            Datum::Boolean(true),
            Datum::string("it's"),
            Datum::Date(19_723),
            Datum::Timestamp(1_704_164_645_678),
            Datum::Interval(Interval { months: 14, millis: 0 }),
            Datum::Interval(Interval { months: 0, millis: -90_061_001 }),
        ]);
        assert_eq!(
            row.to_string(),
            "(NULL, TRUE, 'it''s', DATE '2024-01-01', TIMESTAMP '2024-01-02 03:04:05.678', \
             INTERVAL '+1-02', INTERVAL '-1 01:01:01.001')"
        );
    }

    /// Golden hashes: a change here changes how rows are routed between workers, which breaks
    /// restoring a checkpoint taken by an older build.
    #[test]
    fn hash_is_stable() {
        let row = Row::new(vec![Datum::Int(1), Datum::string("a"), Datum::Null, Datum::double(1.5)]);
        assert_eq!(fnv(&row), fnv(&row.clone()));
        assert_eq!(fnv(&row), 2_982_211_363_393_665_467);
        assert_ne!(fnv(&Datum::Int(1)), fnv(&Datum::BigInt(1)));
        assert_ne!(fnv(&Row::new(vec![Datum::string("ab"), Datum::string("")])), {
            fnv(&Row::new(vec![Datum::string("a"), Datum::string("b")]))
        });
    }

    #[test]
    fn serde_round_trip() {
        let row = Row::new(vec![
            Datum::Null,
            Datum::double(-2.5),
            Datum::Decimal(Decimal::parse("-0.05").unwrap()),
            Datum::string("żółw"),
            Datum::Interval(Interval { months: -3, millis: 7 }),
        ]);
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), row);
    }

    pub(crate) fn arbitrary_datum() -> impl Strategy<Value = Datum> {
        prop_oneof![
            Just(Datum::Null),
            any::<bool>().prop_map(Datum::Boolean),
            any::<i32>().prop_map(Datum::Int),
            any::<i64>().prop_map(Datum::BigInt),
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(-0.0),
                Just(0.0),
                Just(f64::INFINITY),
                Just(f64::from_bits(0xfff8_0000_0000_0001))
            ]
            .prop_map(Datum::double),
            (-10i128..10, 0u8..3).prop_map(|(m, s)| Datum::Decimal(Decimal::new(m, s).unwrap())),
            (any::<i128>(), 0u8..=38)
                .prop_filter_map("fits", |(m, s)| Decimal::new(m / 10_000, s).map(Datum::Decimal)),
            "[a-cé]{0,3}".prop_map(Datum::String),
            any::<i32>().prop_map(Datum::Date),
            any::<i64>().prop_map(Datum::Timestamp),
            (any::<i32>(), any::<i64>())
                .prop_map(|(months, millis)| Datum::Interval(Interval { months, millis })),
        ]
    }

    proptest! {
        /// `Ord` is a total order consistent with `Eq` and `Hash`: antisymmetric, transitive,
        /// `Equal` exactly when `==`, and equal values hash alike.
        #[test]
        fn order_is_total_and_consistent(a in arbitrary_datum(), b in arbitrary_datum(), c in arbitrary_datum()) {
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
            prop_assert_eq!(a.cmp(&a), Ordering::Equal);
            if a == b {
                prop_assert_eq!(fnv(&a), fnv(&b));
            }
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
            let json = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<Datum>(&json).unwrap(), a);
        }
    }
}
