//! Data-driven expression cases: `expression => expected`, bound against one schema and
//! evaluated on one row. `expected` is the result as a SQL literal (`Datum`'s `Display`),
//! optionally followed by `:: TYPE`, or `error: <text the message contains>` (a bind error or
//! a runtime error). Expected values follow PostgreSQL's documentation unless a comment says
//! Flink (Flink SQL "System (Built-in) Functions" and Calcite's typing rules).
//!
//! Also two proptests: evaluation never panics, neither on random (even ill-typed) expression
//! trees nor on random bound expressions over random rows.

use eddy_sql::datetime::TimeUnit;
use eddy_sql::decimal::Decimal;
use eddy_sql::functions::Function;
use eddy_sql::{bind_expression, BinaryOp, Datum, Interval, Row, ScalarExpr, SqlType, UnaryOp};
use proptest::prelude::*;

fn schema() -> Vec<(String, SqlType)> {
    [
        ("i", SqlType::Int),
        ("n", SqlType::Int),
        ("big", SqlType::BigInt),
        ("d", SqlType::decimal(10, 2).unwrap()),
        ("x", SqlType::Double),
        ("s", SqlType::STRING),
        ("e", SqlType::STRING),
        ("dt", SqlType::Date),
        ("ts", SqlType::TIMESTAMP),
        ("t", SqlType::Boolean),
        ("f", SqlType::Boolean),
        ("u", SqlType::Boolean),
        ("imax", SqlType::Int),
        ("zero", SqlType::Int),
        ("ns", SqlType::STRING),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty))
    .collect()
}

fn row() -> Row {
    Row::new(vec![
        Datum::Int(7),
        Datum::Null,
        Datum::BigInt(i64::MAX),
        Datum::Decimal(Decimal::parse("12.34").unwrap()),
        Datum::double(2.5),
        Datum::string("Żółw café"),
        Datum::string(""),
        Datum::Date(19_782),                 // 2024-02-29
        Datum::Timestamp(1_710_506_096_789), // 2024-03-15 12:34:56.789
        Datum::Boolean(true),
        Datum::Boolean(false),
        Datum::Null,
        Datum::Int(i32::MAX),
        Datum::Int(0),
        Datum::Null,
    ])
}

const CASES: &str = r#"
# Three-valued logic: the SQL standard truth tables (PostgreSQL "Logical Operators").
t AND t => TRUE
t AND f => FALSE
t AND u => NULL
f AND u => FALSE
u AND f => FALSE
u AND u => NULL
t OR u => TRUE
u OR t => TRUE
f OR u => NULL
f OR f => FALSE
u OR u => NULL
NOT t => FALSE
NOT u => NULL
u IS NULL => TRUE
u IS UNKNOWN => TRUE
u IS NOT TRUE => TRUE
u IS NOT FALSE => TRUE
f IS FALSE => TRUE
t IS NOT TRUE => FALSE
NULL AND f => FALSE
NULL OR t => TRUE
# Short-circuit: the right side is not evaluated when the left decides.
f AND 1 / zero = 1 => FALSE
t OR 1 / zero = 1 => TRUE

# NULL propagation and comparison.
n + 1 => NULL :: INT
n = n => NULL
n IS NOT DISTINCT FROM n => TRUE
i IS DISTINCT FROM n => TRUE
i IS NOT DISTINCT FROM 7 => TRUE
i < 10 => TRUE
i <> 7 => FALSE
1 = 1.0 => TRUE
'a' < 'b' => TRUE
'B' < 'a' => TRUE
t > f => TRUE
dt < ts => TRUE
dt = DATE '2024-02-29' => TRUE
dt = '2024-02-29' => TRUE
ts > '2024-03-15 12:00:00' => TRUE
i = '7' => TRUE
dt = 'soon' => error: cannot cast 'soon' to DATE
x = s => error: type error
CAST('NaN' AS DOUBLE) = CAST('NaN' AS DOUBLE) => TRUE
CAST('NaN' AS DOUBLE) > CAST('Infinity' AS DOUBLE) => TRUE
CAST('-0.0' AS DOUBLE) = 0.0 => TRUE

# Integer arithmetic: exact or an error (PostgreSQL: "integer out of range"). Flink wraps.
imax + 1 => error: numeric overflow: 2147483647 + 1 does not fit INT
imax + CAST(1 AS BIGINT) => 2147483648 :: BIGINT
-imax - 2 => error: numeric overflow
big + 1 => error: does not fit BIGINT
big * 2 => error: numeric overflow
-CAST(-2147483648 AS INT) => error: numeric overflow
7 / 2 => 3 :: INT
-7 / 2 => -3
-7 % 3 => -1
MOD(7, -3) => 1
i / zero => error: division by zero: 7 / 0
i % zero => error: division by zero
1 / 0 => error: division by zero
x / 0 => error: division by zero
1e308 * 10 => error: numeric overflow
i + 1.5 => 8.5 :: DECIMAL(12, 1)
i + x => 9.5 :: DOUBLE
i + big => error: numeric overflow
i * 2 + 1 => 15 :: INT
2147483648 => 2147483648 :: BIGINT
99999999999999999999 => 99999999999999999999 :: DECIMAL(20, 0)

# Exact decimals (Flink's result types: LogicalTypeMerging).
0.1 + 0.2 = 0.3 => TRUE
0.1 + 0.2 => 0.3 :: DECIMAL(2, 1)
0.1e0 + 0.2e0 = 0.3e0 => FALSE
d * 2 => 24.68 :: DECIMAL(21, 2)
d / 3 => 4.1133333333333 :: DECIMAL(21, 13)
d / 0 => error: division by zero
1.00 / 3 => 0.3333333333333 :: DECIMAL(14, 13)
2.5 * 2.5 => 6.25 :: DECIMAL(5, 2)
d - 12.345 => -0.005 :: DECIMAL(12, 3)
d % 5 => 2.34
-d => -12.34 :: DECIMAL(10, 2)
CAST(d AS INT) => 12
CAST(d AS DECIMAL(3, 1)) => 12.3
CAST(d AS DECIMAL(3, 2)) => error: too many digits
CAST(99999999999999999999999999999999999999 AS DECIMAL(38, 0)) + 1 => error: numeric overflow
ROUND(d, 1) => 12.30
ROUND(12.35, 1) => 12.40
ROUND(-12.35, 1) => -12.40
TRUNCATE(12.39, 1) => 12.30
ROUND(2.675e0, 2) => 2.68
ROUND(1234, -2) => 1200
FLOOR(-1.5) => -2 :: DECIMAL(2, 0)
CEIL(1.2) => 2
FLOOR(x) => 2.0
ABS(-d) => 12.34
ABS(CAST(-2147483648 AS INT)) => error: numeric overflow
SIGN(-3) => -1

# CAST: good and bad (Flink 1.15+ non-legacy casts).
CAST('42' AS INT) => 42
CAST(' 42 ' AS BIGINT) => 42
CAST('4x' AS INT) => error: cannot cast '4x' to INT: not an integer
CAST('3000000000' AS INT) => error: out of range
CAST(3000000000 AS INT) => error: cannot cast 3000000000 to INT: out of range
CAST(x AS INT) => 2
CAST(-2.9e0 AS INT) => -2
CAST(i AS DOUBLE) => 7.0
CAST(1e7 AS STRING) => '1.0E7'
CAST(d AS STRING) => '12.34'
CAST(t AS STRING) => 'TRUE'
CAST('false' AS BOOLEAN) => FALSE
CAST('maybe' AS BOOLEAN) => error: not a boolean
CAST('1.5e2' AS DECIMAL(5, 1)) => 150.0
CAST('abc' AS DECIMAL(5, 1)) => error: not a number
CAST(ts AS DATE) => DATE '2024-03-15'
CAST(dt AS TIMESTAMP(3)) => TIMESTAMP '2024-02-29 00:00:00.000'
CAST(ts AS STRING) => '2024-03-15 12:34:56.789'
CAST(ts AS TIMESTAMP(0)) => TIMESTAMP '2024-03-15 12:34:56.000'
CAST('2024-02-30' AS DATE) => error: cannot cast '2024-02-30' to DATE
CAST(s AS VARCHAR(4)) => 'Żółw'
CAST(dt AS INT) => error: cannot cast DATE to INT
CAST(i AS TIMESTAMP(9)) => error: not supported
TRY_CAST('4x' AS INT) => NULL
TRY_CAST('42' AS INT) => 42
CAST(NULL AS INT) => NULL :: INT
CAST(i AS DECIMAL(40, 2)) => error: out of range

# CASE, COALESCE, NULLIF, IN, BETWEEN.
CASE WHEN i > 5 THEN 'big' ELSE 'small' END => 'big'
CASE WHEN u THEN 1 WHEN f THEN 2 END => NULL :: INT
CASE i WHEN 1 THEN 'one' WHEN 7 THEN 'seven' END => 'seven'
CASE WHEN i > 0 THEN 1 ELSE 2.5 END => 1.0 :: DECIMAL(11, 1)
CASE WHEN f THEN 1 / zero ELSE 0 END => 0
CASE WHEN t THEN 1 / zero ELSE 0 END => error: division by zero
CASE WHEN i THEN 1 END => error: expected a BOOLEAN
COALESCE(n, i, 3) => 7
COALESCE(n, NULL) => NULL
COALESCE(ns, 'default') => 'default'
COALESCE(n, 1 / zero) => error: division by zero
COALESCE(i, 1 / zero) => 7
IFNULL(n, 0) => 0
NULLIF(i, 7) => NULL
NULLIF(i, 8) => 7
NULLIF(n, 1) => NULL
IF(i > 3, 'yes', 'no') => 'yes'
i IN (1, 7, 9) => TRUE
i IN (1, 2) => FALSE
i IN (1, NULL) => NULL
i IN (7, NULL) => TRUE
i NOT IN (1, NULL) => NULL
n IN (1, 2) => NULL
i NOT IN (1, 2) => TRUE
i IN (1, 'x') => error: cannot cast 'x' to INT
i BETWEEN 1 AND 10 => TRUE
i BETWEEN 10 AND 1 => FALSE
i NOT BETWEEN 1 AND 5 => TRUE
i BETWEEN n AND 10 => NULL
i BETWEEN n AND 5 => FALSE
dt BETWEEN '2024-01-01' AND '2024-12-31' => TRUE
GREATEST(1, i, 3) => 7
LEAST(1.5, i) => 1.5
GREATEST(1, n) => NULL

# Strings: characters, not bytes (Flink).
CHAR_LENGTH(s) => 9 :: INT
CHARACTER_LENGTH(e) => 0
UPPER(s) => 'ŻÓŁW CAFÉ'
LOWER('ÀÉÎ') => 'àéî'
SUBSTRING(s FROM 2 FOR 3) => 'ółw'
SUBSTRING(s FROM 6) => 'café'
SUBSTRING('abc' FROM 0 FOR 2) => 'a'
SUBSTRING('abc' FROM -1 FOR 3) => 'a'
SUBSTRING('abc' FROM 2 FOR -1) => error: negative substring length
SUBSTR('hello', 2, 3) => 'ell'
POSITION('ł' IN s) => 3
POSITION('x' IN s) => 0
TRIM('  a b  ') => 'a b'
TRIM(LEADING 'x' FROM 'xxaxx') => 'axx'
TRIM(TRAILING 'x' FROM 'xxaxx') => 'xxa'
TRIM(BOTH 'xy' FROM 'xyaxy') => 'a'
LTRIM('  a') => 'a'
CONCAT('a', s) => 'aŻółw café'
CONCAT('a', ns) => NULL
CONCAT_WS('-', 'a', ns, 'b') => 'a-b'
'a' || 'b' || 'c' => 'abc'
s || n => error: || needs strings
'x' || ns => NULL
REPLACE('banana', 'an', 'AN') => 'bANANa'
LPAD('ab', 5, 'xy') => 'xyxab'
RPAD('ab', 5, 'é') => 'abééé'
LPAD('abcdef', 3, 'x') => 'abc'
REPEAT('ab', 3) => 'ababab'
REPEAT('ab', 1000000000) => error: result too long
LEFT(s, 4) => 'Żółw'
RIGHT(s, 4) => 'café'
REVERSE('añb') => 'bña'
INITCAP('hello wORLD') => 'Hello World'
SPLIT_INDEX('a,b,c', ',', 1) => 'b'
SPLIT_INDEX('a,b,c', ',', 5) => NULL
ASCII('A') => 65
CHR(322) => 'ł'
CHR(-1) => error: not a code point
LENGTH(s) => 9

# LIKE: % any run, _ one character, ESCAPE (SQL standard; PostgreSQL "LIKE").
s LIKE 'Ż%' => TRUE
s LIKE '%café' => TRUE
s LIKE '_ółw%' => TRUE
s LIKE '____ café' => TRUE
s LIKE '___ café' => FALSE
s NOT LIKE '%x%' => TRUE
'50%' LIKE '50!%' ESCAPE '!' => TRUE
'500' LIKE '50!%' ESCAPE '!' => FALSE
'a_b' LIKE 'a#_b' ESCAPE '#' => TRUE
'axb' LIKE 'a#_b' ESCAPE '#' => FALSE
'abc' LIKE 'ABC' => FALSE
'abc' ILIKE 'A%' => TRUE
ns LIKE '%' => NULL
'' LIKE '%' => TRUE
'a' LIKE 'a!' ESCAPE '!' => error: ends with the escape character
i LIKE '7' => error: LIKE needs strings
'a' LIKE 'a' ESCAPE 'xy' => error: one character

# Regular expressions (Flink: REGEXP, REGEXP_REPLACE, REGEXP_EXTRACT; Java syntax, here Rust's).
REGEXP(s, '^Ż.*é$') => TRUE
REGEXP('abc', '[0-9]') => FALSE
REGEXP_REPLACE('a1b22c', '[0-9]+', '#') => 'a#b#c'
REGEXP_EXTRACT('foo=bar', '(\w+)=(\w+)', 2) => 'bar'
REGEXP_EXTRACT('foo', '(\d+)', 1) => NULL
REGEXP_EXTRACT('foo', '(\d+)', 3) => error: no such group
REGEXP('a', '(') => error: invalid regular expression
REGEXP(s, ns) => NULL

# Math (PostgreSQL: domain errors are errors).
POWER(2, 10) => 1024.0 :: DOUBLE
SQRT(16) => 4.0
SQRT(-1) => error: invalid argument for SQRT: negative
LN(0) => error: not positive
LOG10(1000) => 3.0
LOG2(8) => 3.0
LOG(2, 8) => 3.0
EXP(0) => 1.0
PI() > 3.14 => TRUE

# Dates and times. EXTRACT: PostgreSQL fields; DOW is Sunday = 1 (Flink/Calcite).
EXTRACT(YEAR FROM ts) => 2024 :: BIGINT
EXTRACT(MONTH FROM dt) => 2
EXTRACT(DAY FROM dt) => 29
EXTRACT(HOUR FROM ts) => 12
EXTRACT(MINUTE FROM ts) => 34
EXTRACT(SECOND FROM ts) => 56
EXTRACT(MILLISECOND FROM ts) => 56789
EXTRACT(QUARTER FROM ts) => 1
EXTRACT(WEEK FROM ts) => 11
EXTRACT(DOW FROM ts) => 6
EXTRACT(DOY FROM dt) => 60
EXTRACT(EPOCH FROM ts) => 1710506096
YEAR(dt) => 2024
DAYOFMONTH(ts) => 15
HOUR(ts) => 12
FLOOR(ts TO HOUR) => TIMESTAMP '2024-03-15 12:00:00.000'
FLOOR(ts TO DAY) => TIMESTAMP '2024-03-15 00:00:00.000'
FLOOR(ts TO MONTH) => TIMESTAMP '2024-03-01 00:00:00.000'
FLOOR(ts TO YEAR) => TIMESTAMP '2024-01-01 00:00:00.000'
FLOOR(ts TO WEEK) => TIMESTAMP '2024-03-10 00:00:00.000'
CEIL(ts TO MINUTE) => TIMESTAMP '2024-03-15 12:35:00.000'
CEIL(ts TO MONTH) => TIMESTAMP '2024-04-01 00:00:00.000'
FLOOR(dt TO MONTH) => DATE '2024-02-01'
FLOOR(dt TO HOUR) => error: cannot round a DATE to HOUR
TIMESTAMPADD(DAY, 1, ts) => TIMESTAMP '2024-03-16 12:34:56.789'
TIMESTAMPADD(MONTH, 1, DATE '2024-01-31') => DATE '2024-02-29'
TIMESTAMPADD(YEAR, 1, dt) => DATE '2025-02-28'
TIMESTAMPADD(HOUR, -13, ts) => TIMESTAMP '2024-03-14 23:34:56.789'
TIMESTAMPADD(HOUR, 1, dt) => TIMESTAMP '2024-02-29 01:00:00.000'
TIMESTAMPADD(FORTNIGHT, 1, dt) => error: not a time unit
TIMESTAMPDIFF(DAY, dt, ts) => 15 :: INT
TIMESTAMPDIFF(MONTH, DATE '2024-01-31', DATE '2024-02-29') => 0
TIMESTAMPDIFF(MONTH, DATE '2024-01-15', dt) => 1
TIMESTAMPDIFF(HOUR, ts, dt) => -372
TIMESTAMPDIFF(YEAR, DATE '2000-02-29', dt) => 24
DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm') => '2024-03-15 12:34'
DATE_FORMAT(ts, 'EEE d MMM yy, h:mm a') => 'Fri 15 Mar 24, 12:34 PM'
DATE_FORMAT('2024-01-02 03:04:05', 'dd/MM/yyyy') => '02/01/2024'
DATE_FORMAT(ts, 'yyyy Q') => error: unsupported pattern letter 'Q'
TO_DATE('2024-12-31') => DATE '2024-12-31'
TO_DATE('31.12.2024') => error: not a date
TO_TIMESTAMP('2024-12-31 23:59:59.9999') => TIMESTAMP '2024-12-31 23:59:59.999'
ts + INTERVAL '1' DAY => TIMESTAMP '2024-03-16 12:34:56.789'
ts - INTERVAL '2' HOUR => TIMESTAMP '2024-03-15 10:34:56.789'
ts + INTERVAL '1:30' MINUTE TO SECOND => TIMESTAMP '2024-03-15 12:36:26.789'
ts + INTERVAL '1 02:03:04.5' DAY TO SECOND => TIMESTAMP '2024-03-16 14:38:01.289'
dt + INTERVAL '1' MONTH => DATE '2024-03-29'
dt + INTERVAL '1-1' YEAR TO MONTH => DATE '2025-03-29'
DATE '2024-01-31' + INTERVAL '1' MONTH => DATE '2024-02-29'
INTERVAL '2' DAY * 3 => INTERVAL '+6 00:00:00.000'
INTERVAL '1' DAY + INTERVAL '1' HOUR => INTERVAL '+1 01:00:00.000'
INTERVAL '1' YEAR + INTERVAL '1' DAY => error: no operator
ts + 1 => error: no operator
INTERVAL '-3' MONTH => INTERVAL '-0-03'
INTERVAL '1.5' SECOND => INTERVAL '+0 00:00:01.500'
INTERVAL 'x' DAY => error: invalid interval
TIMESTAMP '2024-01-01 00:00:00' < ts => TRUE
DATE '2024-13-01' => error: cannot cast '2024-13-01' to DATE

# Binding errors.
nope + 1 => error: unknown column `nope` at line 1, column 1
i + => error: syntax error
1 2 => error: syntax error
FOO(i) => error: unknown function FOO
NOW() => error: not supported
SUBSTRING(i FROM 1) => error: must be a string
COUNT(i) OVER () => error: not supported
i AND t => error: expected a BOOLEAN
NULL + NULL => error: cannot infer
"#;

fn describe(result: Result<(Datum, SqlType), String>) -> String {
    match result {
        Ok((value, ty)) => format!("{value} :: {ty}"),
        Err(error) => format!("error: {error}"),
    }
}

fn run(sql: &str) -> Result<(Datum, SqlType), String> {
    let expr = bind_expression(sql, &schema()).map_err(|e| e.to_string())?;
    let value = expr.eval(&row()).map_err(|e| e.to_string())?;
    Ok((value, expr.ty()))
}

#[test]
fn expression_cases() {
    let mut failures = Vec::new();
    let mut n_cases = 0;
    for line in CASES.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (sql, expected) = line.rsplit_once(" => ").unwrap_or_else(|| panic!("no ' => ' in {line}"));
        n_cases += 1;
        let actual = describe(run(sql));
        let ok = match expected.strip_prefix("error: ") {
            Some(message) => actual.starts_with("error: ") && actual.contains(message),
            None => match expected.split_once(" :: ") {
                Some(_) => actual == expected,
                None => actual.split(" :: ").next() == Some(expected),
            },
        };
        if !ok {
            failures.push(format!("{sql}\n    expected {expected}\n    actual   {actual}"));
        }
    }
    assert!(failures.is_empty(), "{} of {n_cases} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(n_cases > 250, "only {n_cases} cases");
}

fn arbitrary_datum() -> impl Strategy<Value = Datum> {
    prop_oneof![
        Just(Datum::Null),
        any::<bool>().prop_map(Datum::Boolean),
        prop_oneof![any::<i32>(), -3..3i32, Just(i32::MIN), Just(i32::MAX)].prop_map(Datum::Int),
        prop_oneof![any::<i64>(), -3..3i64, Just(i64::MIN)].prop_map(Datum::BigInt),
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(0.0), Just(f64::INFINITY)].prop_map(Datum::double),
        (any::<i64>(), 0u8..=38)
            .prop_map(|(m, s)| Datum::Decimal(Decimal::new(m as i128 * 1_000_000, s).unwrap())),
        "[a%_!\\\\ł(\\[*+.0-9-]{0,6}".prop_map(Datum::String),
        any::<i32>().prop_map(Datum::Date),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)].prop_map(Datum::Timestamp),
        (any::<i32>(), any::<i64>())
            .prop_map(|(months, millis)| Datum::Interval(Interval { months, millis })),
    ]
}

fn arbitrary_type() -> impl Strategy<Value = SqlType> {
    prop_oneof![
        Just(SqlType::Null),
        Just(SqlType::Boolean),
        Just(SqlType::Int),
        Just(SqlType::BigInt),
        Just(SqlType::Double),
        (1u8..=38).prop_flat_map(|p| (Just(p), 0..=p)).prop_map(|(p, s)| SqlType::decimal(p, s).unwrap()),
        Just(SqlType::STRING),
        Just(SqlType::Varchar { max_length: Some(2) }),
        Just(SqlType::Date),
        (0u8..=3).prop_map(|precision| SqlType::Timestamp { precision }),
        Just(SqlType::Interval(eddy_sql::IntervalKind::DayTime)),
    ]
}

fn arbitrary_function() -> impl Strategy<Value = Function> {
    let unit = prop_oneof![
        Just(TimeUnit::Year),
        Just(TimeUnit::Month),
        Just(TimeUnit::Week),
        Just(TimeUnit::Day),
        Just(TimeUnit::Millisecond),
        Just(TimeUnit::Century),
        Just(TimeUnit::DayOfWeek),
    ];
    prop_oneof![
        prop::sample::select(vec![
            Function::CharLength,
            Function::Upper,
            Function::Substring,
            Function::TrimBoth,
            Function::Position,
            Function::Concat,
            Function::ConcatWs,
            Function::Replace,
            Function::Lpad,
            Function::Repeat,
            Function::Left,
            Function::Right,
            Function::SplitIndex,
            Function::Chr,
            Function::Regexp,
            Function::RegexpReplace,
            Function::RegexpExtract,
            Function::Abs,
            Function::Sign,
            Function::Power,
            Function::Ln,
            Function::Log,
            Function::Floor,
            Function::Ceil,
            Function::Round,
            Function::Truncate,
            Function::Greatest,
            Function::DateFormat,
            Function::ToDate,
            Function::ToTimestamp,
        ]),
        unit.clone().prop_map(Function::Extract),
        unit.clone().prop_map(Function::FloorTo),
        unit.clone().prop_map(Function::CeilTo),
        unit.clone().prop_map(Function::TimestampAdd),
        unit.prop_map(Function::TimestampDiff),
    ]
}

/// Random expression trees, mostly ill-typed: evaluation must return a value or an error.
fn arbitrary_expr() -> impl Strategy<Value = ScalarExpr> {
    let leaf = prop_oneof![
        (0usize..6, arbitrary_type()).prop_map(|(index, ty)| ScalarExpr::Column { index, ty }),
        (arbitrary_datum(), arbitrary_type()).prop_map(|(value, ty)| ScalarExpr::Literal { value, ty }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let unary =
            prop::sample::select(vec![UnaryOp::Not, UnaryOp::Negate, UnaryOp::IsNull, UnaryOp::IsTrue]);
        let binary = prop::sample::select(vec![
            BinaryOp::And,
            BinaryOp::Or,
            BinaryOp::Eq,
            BinaryOp::Lt,
            BinaryOp::IsDistinctFrom,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Mod,
            BinaryOp::Concat,
        ]);
        let boxed = |e: ScalarExpr| Box::new(e);
        prop_oneof![
            (unary, inner.clone(), arbitrary_type()).prop_map(move |(op, e, ty)| ScalarExpr::Unary {
                op,
                expr: boxed(e),
                ty
            }),
            (binary, inner.clone(), inner.clone(), arbitrary_type()).prop_map(move |(op, l, r, ty)| {
                ScalarExpr::Binary { op, left: boxed(l), right: boxed(r), ty }
            }),
            (inner.clone(), arbitrary_type(), any::<bool>())
                .prop_map(move |(e, ty, try_cast)| ScalarExpr::Cast { expr: boxed(e), ty, try_cast }),
            (prop::collection::vec((inner.clone(), inner.clone()), 0..3), inner.clone(), arbitrary_type())
                .prop_map(move |(branches, otherwise, ty)| ScalarExpr::Case {
                    branches,
                    otherwise: boxed(otherwise),
                    ty
                }),
            (prop::collection::vec(inner.clone(), 0..4), arbitrary_type())
                .prop_map(|(args, ty)| ScalarExpr::Coalesce { args, ty }),
            (inner.clone(), prop::collection::vec(inner.clone(), 0..3), any::<bool>())
                .prop_map(move |(e, list, negated)| ScalarExpr::InList { expr: boxed(e), list, negated }),
            (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(
                move |(e, low, high, negated)| {
                    ScalarExpr::Between { expr: boxed(e), low: boxed(low), high: boxed(high), negated }
                }
            ),
            (
                inner.clone(),
                inner.clone(),
                prop::option::of(prop::sample::select(vec!['!', '%', 'ł'])),
                any::<bool>()
            )
                .prop_map(move |(e, pattern, escape, negated)| ScalarExpr::Like {
                    expr: boxed(e),
                    pattern: boxed(pattern),
                    escape,
                    negated,
                    case_insensitive: false
                }),
            (arbitrary_function(), prop::collection::vec(inner, 0..4), arbitrary_type())
                .prop_map(|(function, args, ty)| ScalarExpr::Call { function, args, ty, regex: None }),
        ]
    })
}

/// Small SQL texts over the test schema, often well-typed, so the binder's output is fuzzed too.
fn arbitrary_sql() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "i",
        "n",
        "big",
        "d",
        "x",
        "s",
        "e",
        "dt",
        "ts",
        "t",
        "u",
        "imax",
        "zero",
        "ns",
        "0",
        "-1",
        "2147483647",
        "0.1",
        "1e308",
        "'a%'",
        "'2024-02-29'",
        "NULL",
        "TRUE",
        "DATE '2024-01-31'",
        "INTERVAL '1' MONTH",
        "INTERVAL '2' HOUR",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 32, 3, |inner| {
        let op = prop::sample::select(vec![
            "+",
            "-",
            "*",
            "/",
            "%",
            "=",
            "<",
            "<>",
            "AND",
            "OR",
            "||",
            "IS DISTINCT FROM",
            "LIKE",
        ]);
        let function = prop::sample::select(vec![
            "UPPER",
            "CHAR_LENGTH",
            "SUBSTRING",
            "COALESCE",
            "NULLIF",
            "ABS",
            "ROUND",
            "FLOOR",
            "POWER",
            "SQRT",
            "CONCAT",
            "LPAD",
            "REGEXP",
            "GREATEST",
            "YEAR",
            "DATE_FORMAT",
            "SPLIT_INDEX",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            (function, prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (
                inner.clone(),
                prop::sample::select(vec!["INT", "BIGINT", "DOUBLE", "DECIMAL(5, 2)", "STRING", "DATE"])
            )
                .prop_map(|(e, ty)| format!("CAST({e} AS {ty})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("CASE WHEN {c} THEN {a} ELSE {b} END")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(e, a, b)| format!("{e} BETWEEN {a} AND {b}")),
            (inner.clone(), inner).prop_map(|(e, a)| format!("{e} IN ({a}, NULL)")),
            prop::sample::select(vec![
                "EXTRACT(DOW FROM ts)",
                "FLOOR(ts TO WEEK)",
                "TIMESTAMPADD(MONTH, i, dt)"
            ])
            .prop_map(str::to_owned),
        ]
    })
}

fn arbitrary_row() -> impl Strategy<Value = Row> {
    prop::collection::vec(arbitrary_datum(), 0..8).prop_map(Row::new)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// `eval` never panics, whatever the tree and the row.
    #[test]
    fn eval_never_panics_on_random_trees(expr in arbitrary_expr(), row in arbitrary_row()) {
        let _ = expr.eval(&row);
    }

    /// Binding and evaluating random SQL never panics; a bound expression on a row of its
    /// schema's types never fails with an internal error (the binder's types hold).
    #[test]
    fn bound_expressions_never_panic(sql in arbitrary_sql()) {
        if let Ok(expr) = bind_expression(&sql, &schema()) {
            match expr.eval(&row()) {
                Err(error) => prop_assert_ne!(
                    error.class(), eddy_sql::ErrorClass::Internal, "{} on {}: {}", sql, expr, error
                ),
                Ok(value) => {
                    // The value fits the type the binder announced.
                    let fits = match (&value, expr.ty()) {
                        (Datum::Null, _) => true,
                        (Datum::Boolean(_), SqlType::Boolean) | (Datum::Int(_), SqlType::Int) => true,
                        (Datum::BigInt(_), SqlType::BigInt) | (Datum::Double(_), SqlType::Double) => true,
                        (Datum::Decimal(d), SqlType::Decimal { scale, .. }) => d.scale() == scale,
                        (Datum::String(_), SqlType::Varchar { .. }) | (Datum::Date(_), SqlType::Date) => true,
                        (Datum::Timestamp(_), SqlType::Timestamp { .. }) | (Datum::Interval(_), SqlType::Interval(_)) => true,
                        _ => false,
                    };
                    prop_assert!(fits, "{} gave {} for type {}", sql, value, expr.ty());
                }
            }
        }
    }
}
