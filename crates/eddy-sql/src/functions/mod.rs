//! Built-in scalar functions: their names, their signatures (checked when binding, in
//! [`resolve`]) and their evaluation ([`call`]). Names and semantics follow Flink SQL's
//! "System (Built-in) Functions"; string functions count characters, not bytes. Every function
//! returns `NULL` when an argument is `NULL`, except `CONCAT_WS` (skips `NULL` values).

mod eval;

use std::sync::Arc;

use regex::Regex;

use crate::datetime::{TimeUnit, MILLIS_PER_DAY};
use crate::types::SqlType;

pub(crate) use eval::{call, compile_regex};

/// A regular expression compiled once, when its pattern is a constant.
#[derive(Clone, Debug)]
pub struct CompiledRegex(pub(crate) Arc<Regex>);

impl PartialEq for CompiledRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// A built-in scalar function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// `CHAR_LENGTH(s)`, also `CHARACTER_LENGTH`, `LENGTH`.
    CharLength,
    /// `UPPER(s)`.
    Upper,
    /// `LOWER(s)`.
    Lower,
    /// `INITCAP(s)`.
    Initcap,
    /// `REVERSE(s)`.
    Reverse,
    /// `SUBSTRING(s FROM start [FOR length])`, also `SUBSTR(s, start[, length])`.
    Substring,
    /// `TRIM([BOTH] [chars] FROM s)`.
    TrimBoth,
    /// `TRIM(LEADING ...)`, also `LTRIM(s)`.
    TrimLeading,
    /// `TRIM(TRAILING ...)`, also `RTRIM(s)`.
    TrimTrailing,
    /// `POSITION(needle IN s)`: 1-based, 0 when absent.
    Position,
    /// `CONCAT(s, ...)`: `NULL` if any argument is.
    Concat,
    /// `CONCAT_WS(separator, s, ...)`: skips `NULL` values.
    ConcatWs,
    /// `REPLACE(s, from, to)`.
    Replace,
    /// `LPAD(s, length, pad)`.
    Lpad,
    /// `RPAD(s, length, pad)`.
    Rpad,
    /// `REPEAT(s, n)`.
    Repeat,
    /// `LEFT(s, n)`.
    Left,
    /// `RIGHT(s, n)`.
    Right,
    /// `SPLIT_INDEX(s, separator, index)`: the 0-based `index`th piece, `NULL` past the end.
    SplitIndex,
    /// `ASCII(s)`: the first character's code point, 0 for `''`.
    Ascii,
    /// `CHR(n)`: the character of a code point.
    Chr,
    /// `REGEXP(s, pattern)`: whether a match exists anywhere (also `s REGEXP p`, `RLIKE`).
    Regexp,
    /// `REGEXP_REPLACE(s, pattern, replacement)`.
    RegexpReplace,
    /// `REGEXP_EXTRACT(s, pattern[, group])`: `NULL` when there is no match.
    RegexpExtract,
    /// `ABS(x)`.
    Abs,
    /// `SIGN(x)`.
    Sign,
    /// `POWER(x, y)`.
    Power,
    /// `SQRT(x)`.
    Sqrt,
    /// `EXP(x)`.
    Exp,
    /// `LN(x)`.
    Ln,
    /// `LOG10(x)`.
    Log10,
    /// `LOG2(x)`.
    Log2,
    /// `LOG(base, x)` (`LOG(x)` is `LN`).
    Log,
    /// `FLOOR(x)` of a number.
    Floor,
    /// `CEIL(x)` of a number, also `CEILING`.
    Ceil,
    /// `ROUND(x[, digits])`, `HALF_UP`.
    Round,
    /// `TRUNCATE(x[, digits])`.
    Truncate,
    /// `PI()`.
    Pi,
    /// `PROCTIME()`: a processing-time attribute. eddy's results never depend on the wall
    /// clock, so it has no value: it may only be the time of `FOR SYSTEM_TIME AS OF` (a
    /// lookup join), and evaluating it is an error.
    Proctime,
    /// `GREATEST(x, ...)`: `NULL` if any argument is (Flink).
    Greatest,
    /// `LEAST(x, ...)`.
    Least,
    /// `EXTRACT(unit FROM t)`, also `YEAR(t)`, `MONTH(t)`, ...
    Extract(TimeUnit),
    /// `FLOOR(t TO unit)`.
    FloorTo(TimeUnit),
    /// `CEIL(t TO unit)`.
    CeilTo(TimeUnit),
    /// `TIMESTAMPADD(unit, n, t)`.
    TimestampAdd(TimeUnit),
    /// `TIMESTAMPDIFF(unit, t1, t2)`: whole units from `t1` to `t2`.
    TimestampDiff(TimeUnit),
    /// `DATE_FORMAT(t, pattern)`, Java `SimpleDateFormat` letters.
    DateFormat,
    /// `TO_DATE(s)`.
    ToDate,
    /// `TO_TIMESTAMP(s)`.
    ToTimestamp,
}

impl Function {
    /// The function's SQL name.
    pub fn name(&self) -> &'static str {
        use Function::*;
        match self {
            CharLength => "CHAR_LENGTH",
            Upper => "UPPER",
            Lower => "LOWER",
            Initcap => "INITCAP",
            Reverse => "REVERSE",
            Substring => "SUBSTRING",
            TrimBoth => "TRIM",
            TrimLeading => "LTRIM",
            TrimTrailing => "RTRIM",
            Position => "POSITION",
            Concat => "CONCAT",
            ConcatWs => "CONCAT_WS",
            Replace => "REPLACE",
            Lpad => "LPAD",
            Rpad => "RPAD",
            Repeat => "REPEAT",
            Left => "LEFT",
            Right => "RIGHT",
            SplitIndex => "SPLIT_INDEX",
            Ascii => "ASCII",
            Chr => "CHR",
            Regexp => "REGEXP",
            RegexpReplace => "REGEXP_REPLACE",
            RegexpExtract => "REGEXP_EXTRACT",
            Abs => "ABS",
            Sign => "SIGN",
            Power => "POWER",
            Sqrt => "SQRT",
            Exp => "EXP",
            Ln => "LN",
            Log10 => "LOG10",
            Log2 => "LOG2",
            Log => "LOG",
            Floor => "FLOOR",
            Ceil => "CEIL",
            Round => "ROUND",
            Truncate => "TRUNCATE",
            Pi => "PI",
            Proctime => "PROCTIME",
            Greatest => "GREATEST",
            Least => "LEAST",
            Extract(_) => "EXTRACT",
            FloorTo(_) => "FLOOR",
            CeilTo(_) => "CEIL",
            TimestampAdd(_) => "TIMESTAMPADD",
            TimestampDiff(_) => "TIMESTAMPDIFF",
            DateFormat => "DATE_FORMAT",
            ToDate => "TO_DATE",
            ToTimestamp => "TO_TIMESTAMP",
        }
    }

    /// The least and most arguments the function takes.
    pub fn arity(&self) -> (usize, usize) {
        use Function::*;
        match self {
            Pi | Proctime => (0, 0),
            CharLength | Ascii | Upper | Lower | Initcap | Reverse | Chr | Abs | Floor | Ceil | Sign
            | Sqrt | Exp | Ln | Log10 | Log2 | Extract(_) | FloorTo(_) | CeilTo(_) | ToDate | ToTimestamp => {
                (1, 1)
            }
            TrimBoth | TrimLeading | TrimTrailing | Round | Truncate => (1, 2),
            Concat | Greatest | Least => (1, usize::MAX),
            ConcatWs => (2, usize::MAX),
            Substring | RegexpExtract => (2, 3),
            Position | Repeat | Left | Right | Regexp | Power | Log | TimestampAdd(_) | TimestampDiff(_)
            | DateFormat => (2, 2),
            Replace | Lpad | Rpad | SplitIndex | RegexpReplace => (3, 3),
        }
    }

    /// Whether the function's second argument is a regular expression.
    pub(crate) fn takes_regex(&self) -> bool {
        matches!(self, Function::Regexp | Function::RegexpReplace | Function::RegexpExtract)
    }
}

/// The function of a name called with `n_args` arguments, for plain calls `NAME(args)`; the
/// special forms (`EXTRACT`, `TRIM`, `FLOOR ... TO`, `TIMESTAMPADD`) are bound in `bind.rs`.
pub(crate) fn lookup(name: &str, n_args: usize) -> Option<Function> {
    use Function::*;
    Some(match name.to_ascii_uppercase().as_str() {
        "CHAR_LENGTH" | "CHARACTER_LENGTH" | "LENGTH" => CharLength,
        "UPPER" | "UCASE" => Upper,
        "LOWER" | "LCASE" => Lower,
        "INITCAP" => Initcap,
        "PROCTIME" => Proctime,
        "REVERSE" => Reverse,
        "SUBSTRING" | "SUBSTR" => Substring,
        "LTRIM" => TrimLeading,
        "RTRIM" => TrimTrailing,
        "BTRIM" => TrimBoth,
        "CONCAT" => Concat,
        "CONCAT_WS" => ConcatWs,
        "REPLACE" => Replace,
        "LPAD" => Lpad,
        "RPAD" => Rpad,
        "REPEAT" => Repeat,
        "LEFT" => Left,
        "RIGHT" => Right,
        "SPLIT_INDEX" => SplitIndex,
        "ASCII" => Ascii,
        "CHR" => Chr,
        "REGEXP" => Regexp,
        "REGEXP_REPLACE" => RegexpReplace,
        "REGEXP_EXTRACT" => RegexpExtract,
        "ABS" => Abs,
        "SIGN" => Sign,
        "POWER" | "POW" => Power,
        "SQRT" => Sqrt,
        "EXP" => Exp,
        "LN" => Ln,
        "LOG10" => Log10,
        "LOG2" => Log2,
        "LOG" if n_args == 1 => Ln,
        "LOG" => Log,
        "FLOOR" => Floor,
        "CEIL" | "CEILING" => Ceil,
        "ROUND" => Round,
        "TRUNCATE" | "TRUNC" => Truncate,
        "PI" => Pi,
        "GREATEST" => Greatest,
        "LEAST" => Least,
        "YEAR" => Extract(TimeUnit::Year),
        "QUARTER" => Extract(TimeUnit::Quarter),
        "MONTH" => Extract(TimeUnit::Month),
        "WEEK" => Extract(TimeUnit::Week),
        "DAYOFYEAR" => Extract(TimeUnit::DayOfYear),
        "DAYOFMONTH" => Extract(TimeUnit::Day),
        "DAYOFWEEK" => Extract(TimeUnit::DayOfWeek),
        "HOUR" => Extract(TimeUnit::Hour),
        "MINUTE" => Extract(TimeUnit::Minute),
        "SECOND" => Extract(TimeUnit::Second),
        "DATE_FORMAT" => DateFormat,
        "TO_DATE" => ToDate,
        "TO_TIMESTAMP" => ToTimestamp,
        _ => return None,
    })
}

/// What the binder needs to know of a call: the type each argument is cast to, and the result
/// type. `Err` says why the argument types do not fit.
pub(crate) struct Signature {
    pub(crate) params: Vec<SqlType>,
    pub(crate) result: SqlType,
}

/// Checks a call's argument types and picks the parameter and result types.
pub(crate) fn resolve(function: Function, args: &[SqlType]) -> Result<Signature, String> {
    use Function::*;
    use SqlType::{BigInt, Boolean, Double, Int, Null};
    const STRING: SqlType = SqlType::STRING;
    let n = args.len();
    let arity = |range: std::ops::RangeInclusive<usize>| {
        if range.contains(&n) {
            Ok(())
        } else if range.start() == range.end() {
            Err(format!("{} takes {} arguments, not {n}", function.name(), range.start()))
        } else {
            Err(format!("{} takes {} to {} arguments, not {n}", function.name(), range.start(), range.end()))
        }
    };
    let integer = |index: usize| match args[index] {
        Int | Null => Ok(Int),
        BigInt => Ok(BigInt),
        other => {
            Err(format!("argument {} of {} must be an integer, not {other}", index + 1, function.name()))
        }
    };
    let string = |index: usize| match args[index] {
        SqlType::Varchar { .. } | Null => Ok(STRING),
        other => Err(format!("argument {} of {} must be a string, not {other}", index + 1, function.name())),
    };
    let number = |index: usize| match args[index] {
        t if t.is_numeric() => Ok(t),
        Null => Ok(Int),
        other => Err(format!("argument {} of {} must be a number, not {other}", index + 1, function.name())),
    };
    let datetime = |index: usize| match args[index] {
        t if t.is_datetime() => Ok(t),
        Null => Ok(SqlType::TIMESTAMP),
        other => Err(format!(
            "argument {} of {} must be a DATE or TIMESTAMP, not {other}",
            index + 1,
            function.name()
        )),
    };
    let signature = |params: Vec<SqlType>, result| Ok(Signature { params, result });
    match function {
        CharLength | Ascii => {
            arity(1..=1)?;
            signature(vec![string(0)?], Int)
        }
        Upper | Lower | Initcap | Reverse => {
            arity(1..=1)?;
            signature(vec![string(0)?], STRING)
        }
        TrimBoth | TrimLeading | TrimTrailing => {
            arity(1..=2)?;
            signature((0..n).map(string).collect::<Result<_, _>>()?, STRING)
        }
        Substring => {
            arity(2..=3)?;
            let mut params = vec![string(0)?, Int];
            integer(1)?;
            if n == 3 {
                integer(2)?;
                params.push(Int);
            }
            signature(params, STRING)
        }
        Position => {
            arity(2..=2)?;
            signature(vec![string(0)?, string(1)?], Int)
        }
        Concat | ConcatWs => {
            arity(if function == Concat { 1..=usize::MAX } else { 2..=usize::MAX })?;
            signature((0..n).map(string).collect::<Result<_, _>>()?, STRING)
        }
        Replace => {
            arity(3..=3)?;
            signature(vec![string(0)?, string(1)?, string(2)?], STRING)
        }
        Lpad | Rpad => {
            arity(3..=3)?;
            integer(1)?;
            signature(vec![string(0)?, Int, string(2)?], STRING)
        }
        Repeat | Left | Right => {
            arity(2..=2)?;
            integer(1)?;
            signature(vec![string(0)?, Int], STRING)
        }
        SplitIndex => {
            arity(3..=3)?;
            integer(2)?;
            signature(vec![string(0)?, string(1)?, Int], STRING)
        }
        Chr => {
            arity(1..=1)?;
            integer(0)?;
            signature(vec![Int], STRING)
        }
        Regexp => {
            arity(2..=2)?;
            signature(vec![string(0)?, string(1)?], Boolean)
        }
        RegexpReplace => {
            arity(3..=3)?;
            signature(vec![string(0)?, string(1)?, string(2)?], STRING)
        }
        RegexpExtract => {
            arity(2..=3)?;
            let mut params = vec![string(0)?, string(1)?];
            if n == 3 {
                integer(2)?;
                params.push(Int);
            }
            signature(params, STRING)
        }
        Abs | Floor | Ceil => {
            arity(1..=1)?;
            let ty = number(0)?;
            let result = match (function, ty) {
                (Floor | Ceil, SqlType::Decimal { precision, scale }) => {
                    // The integer part, one more digit for a carry (Flink).
                    SqlType::decimal((precision - scale + 1).min(38), 0).unwrap_or(ty)
                }
                _ => ty,
            };
            signature(vec![ty], result)
        }
        Sign => {
            arity(1..=1)?;
            let ty = number(0)?;
            signature(vec![ty], ty)
        }
        Round | Truncate => {
            arity(1..=2)?;
            let ty = number(0)?;
            let mut params = vec![ty];
            if n == 2 {
                integer(1)?;
                params.push(Int);
            }
            signature(params, ty)
        }
        Power | Log => {
            arity(2..=2)?;
            number(0)?;
            number(1)?;
            signature(vec![Double, Double], Double)
        }
        Sqrt | Exp | Ln | Log10 | Log2 => {
            arity(1..=1)?;
            number(0)?;
            signature(vec![Double], Double)
        }
        Pi => {
            arity(0..=0)?;
            signature(vec![], Double)
        }
        Proctime => {
            arity(0..=0)?;
            signature(vec![], SqlType::TIMESTAMP)
        }
        Greatest | Least => Err("GREATEST and LEAST are bound by the binder".to_owned()),
        Extract(_) => {
            arity(1..=1)?;
            let ty = datetime(0)?;
            signature(vec![ty], BigInt)
        }
        FloorTo(unit) | CeilTo(unit) => {
            arity(1..=1)?;
            let ty = datetime(0)?;
            if ty == SqlType::Date
                && unit.months().is_none()
                && unit != TimeUnit::Week
                && unit != TimeUnit::Day
            {
                return Err(format!("cannot round a DATE to {}", unit.name()));
            }
            signature(vec![ty], ty)
        }
        TimestampAdd(unit) => {
            arity(2..=2)?;
            let count = integer(0)?;
            let ty = datetime(1)?;
            // A DATE stays a DATE for whole days and longer (Calcite).
            let result = match (ty, unit.fixed_millis()) {
                (SqlType::Date, Some(length)) if length < MILLIS_PER_DAY => SqlType::TIMESTAMP,
                _ => ty,
            };
            signature(vec![count, ty], result)
        }
        TimestampDiff(_) => {
            arity(2..=2)?;
            datetime(0)?;
            datetime(1)?;
            signature(vec![SqlType::TIMESTAMP, SqlType::TIMESTAMP], Int)
        }
        DateFormat => {
            arity(2..=2)?;
            let ty = match args[0] {
                t if t.is_string() => SqlType::TIMESTAMP,
                _ => datetime(0)?,
            };
            signature(vec![if ty == SqlType::Date { SqlType::TIMESTAMP } else { ty }, string(1)?], STRING)
        }
        ToDate => {
            arity(1..=1)?;
            signature(vec![string(0)?], SqlType::Date)
        }
        ToTimestamp => {
            arity(1..=1)?;
            signature(vec![string(0)?], SqlType::TIMESTAMP)
        }
    }
}
