//! Evaluation of the built-in functions on argument values already of their parameter types.

use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::{CompiledRegex, Function};
use crate::cast::{to_f64, truncate_millis};
use crate::compare::sql_compare;
use crate::datetime::{self, MILLIS_PER_DAY};
use crate::datum::Datum;
use crate::decimal::Decimal;
use crate::error::{show, unexpected, EvalError, EvalResult};
use crate::types::SqlType;

/// Compiles a `REGEXP*` pattern with a size limit, so a pattern from the data cannot take
/// unbounded memory.
pub(crate) fn compile_regex(function: Function, pattern: &str) -> EvalResult<CompiledRegex> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map(|regex| CompiledRegex(Arc::new(regex)))
        .map_err(|error| EvalError::InvalidArgument {
            function: function.name(),
            value: show(&Datum::string(pattern)),
            reason: format!("invalid regular expression: {error}"),
        })
}

fn text(function: Function, value: &Datum) -> EvalResult<&str> {
    match value {
        Datum::String(text) => Ok(text),
        other => Err(unexpected(function.name(), other)),
    }
}

fn int(function: Function, value: &Datum) -> EvalResult<i64> {
    match value {
        Datum::Int(i) => Ok(*i as i64),
        Datum::BigInt(i) => Ok(*i),
        other => Err(unexpected(function.name(), other)),
    }
}

fn invalid(function: Function, value: &Datum, reason: impl Into<String>) -> EvalError {
    EvalError::InvalidArgument { function: function.name(), value: show(value), reason: reason.into() }
}

/// The largest string a function builds (`REPEAT`, `LPAD`), so a row cannot ask for
/// gigabytes.
const MAX_STRING_CHARS: i64 = 1 << 20;

/// Evaluates a call on argument values already of the parameter types.
pub(crate) fn call(
    function: Function,
    args: &[Datum],
    ty: SqlType,
    regex: Option<&CompiledRegex>,
) -> EvalResult<Datum> {
    use Function::*;
    let (min_args, max_args) = function.arity();
    if args.len() < min_args || args.len() > max_args {
        return Err(EvalError::Internal(format!("{} called with {} arguments", function.name(), args.len())));
    }
    if function == ConcatWs {
        let Some(separator) = args.first().filter(|s| !s.is_null()) else { return Ok(Datum::Null) };
        let separator = text(function, separator)?;
        let parts = args[1..]
            .iter()
            .filter(|a| !a.is_null())
            .map(|a| text(function, a))
            .collect::<EvalResult<Vec<_>>>()?;
        return Ok(Datum::String(parts.join(separator)));
    }
    if args.iter().any(Datum::is_null) {
        return Ok(Datum::Null);
    }
    let string = |s: String| Ok(Datum::String(s));
    match function {
        CharLength => {
            Ok(Datum::Int(text(function, &args[0])?.chars().count().try_into().unwrap_or(i32::MAX)))
        }
        Upper => string(text(function, &args[0])?.to_uppercase()),
        Lower => string(text(function, &args[0])?.to_lowercase()),
        Initcap => {
            let mut out = String::new();
            let mut start_of_word = true;
            for c in text(function, &args[0])?.chars() {
                if start_of_word {
                    out.extend(c.to_uppercase());
                } else {
                    out.extend(c.to_lowercase());
                }
                start_of_word = !c.is_alphanumeric();
            }
            string(out)
        }
        Reverse => string(text(function, &args[0])?.chars().rev().collect()),
        Substring => {
            let s = text(function, &args[0])?;
            let start = int(function, &args[1])?;
            // SQL standard: characters [start, start + length) of the 1-based string.
            let end = match args.get(2) {
                Some(length) => {
                    let length = int(function, length)?;
                    if length < 0 {
                        return Err(invalid(function, &args[2], "negative substring length"));
                    }
                    start.saturating_add(length)
                }
                None => i64::MAX,
            };
            let (from, to) = (start.max(1), end);
            if to <= from {
                return string(String::new());
            }
            string(
                s.chars()
                    .skip((from - 1) as usize)
                    .take(usize::try_from(to - from).unwrap_or(usize::MAX))
                    .collect(),
            )
        }
        TrimBoth | TrimLeading | TrimTrailing => {
            let s = text(function, &args[0])?;
            let characters: Vec<char> = match args.get(1) {
                Some(chars) => text(function, chars)?.chars().collect(),
                None => vec![' '],
            };
            let is_trimmed = |c: char| characters.contains(&c);
            string(
                match function {
                    TrimBoth => s.trim_matches(is_trimmed),
                    TrimLeading => s.trim_start_matches(is_trimmed),
                    _ => s.trim_end_matches(is_trimmed),
                }
                .to_owned(),
            )
        }
        Position => {
            let (needle, haystack) = (text(function, &args[0])?, text(function, &args[1])?);
            Ok(Datum::Int(match haystack.find(needle) {
                Some(byte) => haystack[..byte].chars().count() as i32 + 1,
                None => 0,
            }))
        }
        Concat => string(args.iter().map(|a| text(function, a)).collect::<EvalResult<String>>()?),
        ConcatWs => Err(EvalError::Internal("CONCAT_WS handled above".to_owned())),
        Replace => {
            let (s, from, to) =
                (text(function, &args[0])?, text(function, &args[1])?, text(function, &args[2])?);
            string(if from.is_empty() { s.to_owned() } else { s.replace(from, to) })
        }
        Lpad | Rpad => {
            let s = text(function, &args[0])?;
            let length = int(function, &args[1])?;
            let pad: Vec<char> = text(function, &args[2])?.chars().collect();
            if !(0..=MAX_STRING_CHARS).contains(&length) {
                return Err(invalid(function, &args[1], format!("length must be 0 to {MAX_STRING_CHARS}")));
            }
            let chars: Vec<char> = s.chars().collect();
            let length = length as usize;
            if chars.len() >= length || pad.is_empty() {
                // Flink: a longer string is cut to the length; an empty pad cannot fill.
                return string(chars.iter().take(length).collect());
            }
            let filling: String = pad.iter().cycle().take(length - chars.len()).collect();
            let s: String = chars.into_iter().collect();
            string(if function == Lpad { filling + &s } else { s + &filling })
        }
        Repeat => {
            let s = text(function, &args[0])?;
            let times = int(function, &args[1])?.max(0);
            if (s.chars().count() as i64).saturating_mul(times) > MAX_STRING_CHARS {
                return Err(invalid(function, &args[1], "result too long"));
            }
            string(s.repeat(times as usize))
        }
        Left | Right => {
            let s = text(function, &args[0])?;
            let n = int(function, &args[1])?.max(0) as usize;
            let count = s.chars().count();
            string(if function == Left {
                s.chars().take(n).collect()
            } else {
                s.chars().skip(count.saturating_sub(n)).collect()
            })
        }
        SplitIndex => {
            let (s, separator) = (text(function, &args[0])?, text(function, &args[1])?);
            let index = int(function, &args[2])?;
            if index < 0 || separator.is_empty() {
                return Ok(Datum::Null);
            }
            Ok(s.split(separator).nth(index as usize).map_or(Datum::Null, Datum::string))
        }
        Ascii => Ok(Datum::Int(text(function, &args[0])?.chars().next().map_or(0, |c| c as i32))),
        Chr => {
            let code = int(function, &args[0])?;
            let c = u32::try_from(code).ok().and_then(char::from_u32);
            c.map(|c| Datum::String(c.to_string()))
                .ok_or_else(|| invalid(function, &args[0], "not a code point"))
        }
        Regexp | RegexpReplace | RegexpExtract => {
            let s = text(function, &args[0])?;
            let compiled;
            let regex: &Regex = match regex {
                Some(CompiledRegex(regex)) => regex,
                None => {
                    compiled = compile_regex(function, text(function, &args[1])?)?;
                    &compiled.0
                }
            };
            match function {
                Regexp => Ok(Datum::Boolean(regex.is_match(s))),
                RegexpReplace => string(regex.replace_all(s, text(function, &args[2])?).into_owned()),
                _ => {
                    let group = match args.get(2) {
                        Some(g) => usize::try_from(int(function, g)?)
                            .map_err(|_| invalid(function, g, "negative group index"))?,
                        None => 0,
                    };
                    if group >= regex.captures_len() {
                        return Err(invalid(function, &args[2], "no such group in the pattern"));
                    }
                    Ok(regex
                        .captures(s)
                        .and_then(|captures| captures.get(group))
                        .map_or(Datum::Null, |m| Datum::string(m.as_str())))
                }
            }
        }
        Abs => match &args[0] {
            Datum::Int(i) => i.checked_abs().map(Datum::Int).ok_or_else(|| overflow(function, &args[0], ty)),
            Datum::BigInt(i) => {
                i.checked_abs().map(Datum::BigInt).ok_or_else(|| overflow(function, &args[0], ty))
            }
            Datum::Double(d) => Ok(Datum::double(d.get().abs())),
            Datum::Decimal(d) => Ok(Datum::Decimal(d.abs())),
            other => Err(unexpected("ABS", other)),
        },
        Sign => match &args[0] {
            Datum::Int(i) => Ok(Datum::Int(i.signum())),
            Datum::BigInt(i) => Ok(Datum::BigInt(i.signum())),
            Datum::Double(d) if d.get().is_nan() => Ok(args[0].clone()),
            Datum::Double(d) => Ok(Datum::double(if d.get() == 0.0 { 0.0 } else { d.get().signum() })),
            Datum::Decimal(d) => {
                let SqlType::Decimal { scale, .. } = ty else { return Err(unexpected("SIGN", &args[0])) };
                Decimal::from_i64(d.signum() as i64)
                    .rescale(scale)
                    .map(Datum::Decimal)
                    .ok_or_else(|| overflow(function, &args[0], ty))
            }
            other => Err(unexpected("SIGN", other)),
        },
        Floor | Ceil => {
            let ceil = function == Ceil;
            match &args[0] {
                Datum::Int(_) | Datum::BigInt(_) => Ok(args[0].clone()),
                Datum::Double(d) => Ok(Datum::double(if ceil { d.get().ceil() } else { d.get().floor() })),
                Datum::Decimal(d) => {
                    d.floor_or_ceil(ceil).map(Datum::Decimal).ok_or_else(|| overflow(function, &args[0], ty))
                }
                other => Err(unexpected(function.name(), other)),
            }
        }
        Round | Truncate => {
            let digits = match args.get(1) {
                Some(d) => int(function, d)?.clamp(-64, 64) as i32,
                None => 0,
            };
            round(function, &args[0], digits, ty)
        }
        Power | Sqrt | Exp | Ln | Log10 | Log2 | Log => {
            let x = to_f64(&args[0])?;
            let domain =
                |ok: bool, reason: &str| if ok { Ok(()) } else { Err(invalid(function, &args[0], reason)) };
            let result = match function {
                Power => x.powf(to_f64(&args[1])?),
                Sqrt => {
                    domain(x >= 0.0, "negative")?;
                    x.sqrt()
                }
                Exp => x.exp(),
                Ln | Log10 | Log2 => {
                    domain(x > 0.0, "not positive")?;
                    match function {
                        Ln => x.ln(),
                        Log10 => x.log10(),
                        _ => x.log2(),
                    }
                }
                _ => {
                    let y = to_f64(&args[1])?;
                    domain(
                        x > 0.0 && x != 1.0 && y > 0.0,
                        "base must be positive and not 1, value positive",
                    )?;
                    y.ln() / x.ln()
                }
            };
            if result.is_infinite() {
                return Err(overflow(function, &args[0], ty));
            }
            Ok(Datum::double(result))
        }
        Pi => Ok(Datum::double(std::f64::consts::PI)),
        Proctime => Err(EvalError::Internal(
            "PROCTIME() has no value: use it only as the time of FOR SYSTEM_TIME AS OF".into(),
        )),
        Greatest | Least => {
            let mut best = &args[0];
            for candidate in &args[1..] {
                let order = sql_compare(candidate, best)?;
                if (function == Greatest && order == Some(std::cmp::Ordering::Greater))
                    || (function == Least && order == Some(std::cmp::Ordering::Less))
                {
                    best = candidate;
                }
            }
            Ok(best.clone())
        }
        Extract(unit) => Ok(Datum::BigInt(datetime::extract(unit, millis_of(function, &args[0])?))),
        FloorTo(unit) | CeilTo(unit) => {
            let millis = millis_of(function, &args[0])?;
            let rounded = if matches!(function, FloorTo(_)) {
                datetime::floor(unit, millis)
            } else {
                datetime::ceil(unit, millis)
            };
            let rounded = rounded.ok_or_else(|| overflow(function, &args[0], ty))?;
            same_kind(&args[0], rounded, function, ty)
        }
        TimestampAdd(unit) => {
            let count = int(function, &args[0])?;
            let millis = millis_of(function, &args[1])?;
            let moved = match (unit.months(), unit.fixed_millis()) {
                (Some(months), _) => count.checked_mul(months).and_then(|m| datetime::add_months(millis, m)),
                (None, Some(length)) => count.checked_mul(length).and_then(|m| millis.checked_add(m)),
                _ => {
                    return Err(invalid(
                        function,
                        &args[0],
                        format!("{} is not a unit of TIMESTAMPADD", unit.name()),
                    ))
                }
            };
            let moved = moved.ok_or_else(|| overflow(function, &args[1], ty))?;
            match ty {
                SqlType::Date => same_kind(&args[1], moved, function, ty),
                _ => Ok(Datum::Timestamp(moved)),
            }
        }
        TimestampDiff(unit) => {
            let (start, end) = (millis_of(function, &args[0])?, millis_of(function, &args[1])?);
            let difference: i128 = match (unit.months(), unit.fixed_millis()) {
                (Some(months), _) => (datetime::months_between(start, end) / months) as i128,
                // Truncated toward zero, as Calcite.
                (None, Some(length)) => (end as i128 - start as i128) / length as i128,
                _ => {
                    return Err(invalid(
                        function,
                        &args[0],
                        format!("{} is not a unit of TIMESTAMPDIFF", unit.name()),
                    ))
                }
            };
            i32::try_from(difference).map(Datum::Int).map_err(|_| overflow(function, &args[1], ty))
        }
        DateFormat => {
            let millis = match &args[0] {
                Datum::String(s) => datetime::parse_timestamp(s)
                    .ok_or_else(|| invalid(function, &args[0], "not a timestamp (YYYY-MM-DD HH:MM:SS)"))?,
                other => millis_of(function, other)?,
            };
            datetime::date_format(millis, text(function, &args[1])?)
                .map(Datum::String)
                .map_err(|reason| invalid(function, &args[1], reason))
        }
        ToDate => {
            let days = datetime::parse_date(text(function, &args[0])?)
                .ok_or_else(|| invalid(function, &args[0], "not a date (YYYY-MM-DD)"))?;
            i32::try_from(days).map(Datum::Date).map_err(|_| invalid(function, &args[0], "out of range"))
        }
        ToTimestamp => datetime::parse_timestamp(text(function, &args[0])?)
            .and_then(|millis| truncate_millis(millis, 3))
            .map(Datum::Timestamp)
            .ok_or_else(|| invalid(function, &args[0], "not a timestamp (YYYY-MM-DD HH:MM:SS.fff)")),
    }
}

fn overflow(function: Function, value: &Datum, ty: SqlType) -> EvalError {
    EvalError::Overflow { operation: format!("{}({})", function.name(), show(value)), ty }
}

/// A `DATE` or `TIMESTAMP` in milliseconds.
fn millis_of(function: Function, value: &Datum) -> EvalResult<i64> {
    match value {
        Datum::Timestamp(millis) => Ok(*millis),
        Datum::Date(days) => Ok(*days as i64 * MILLIS_PER_DAY),
        other => Err(unexpected(function.name(), other)),
    }
}

/// Milliseconds back as the argument's kind (a `DATE` stays a `DATE`).
fn same_kind(original: &Datum, millis: i64, function: Function, ty: SqlType) -> EvalResult<Datum> {
    match original {
        Datum::Date(_) => i32::try_from(millis.div_euclid(MILLIS_PER_DAY))
            .map(Datum::Date)
            .map_err(|_| overflow(function, original, ty)),
        _ => Ok(Datum::Timestamp(millis)),
    }
}

/// `ROUND`/`TRUNCATE(x, digits)`, keeping `x`'s type.
fn round(function: Function, value: &Datum, digits: i32, ty: SqlType) -> EvalResult<Datum> {
    let truncate = function == Function::Truncate;
    let as_decimal = |d: Decimal| d.round_to(digits, truncate).ok_or_else(|| overflow(function, value, ty));
    match value {
        Datum::Int(i) => {
            let rounded = as_decimal(Decimal::from_i64(*i as i64))?;
            rounded
                .trunc_to_i64()
                .and_then(|r| i32::try_from(r).ok())
                .map(Datum::Int)
                .ok_or_else(|| overflow(function, value, ty))
        }
        Datum::BigInt(i) => as_decimal(Decimal::from_i64(*i))?
            .trunc_to_i64()
            .map(Datum::BigInt)
            .ok_or_else(|| overflow(function, value, ty)),
        Datum::Decimal(d) => {
            let rounded = as_decimal(*d)?;
            match ty {
                SqlType::Decimal { precision, scale } => rounded
                    .fit(precision, scale)
                    .map(Datum::Decimal)
                    .ok_or_else(|| overflow(function, value, ty)),
                _ => Err(unexpected(function.name(), value)),
            }
        }
        Datum::Double(d) => {
            let x = d.get();
            if !x.is_finite() {
                return Ok(value.clone());
            }
            // Through the shortest decimal text, so ROUND(2.675, 2) is 2.68 as the literal
            // reads, not 2.67 as its binary value would give.
            match Decimal::from_f64(x, 30.min(digits.max(0) as u8 + 17)) {
                Some(exact) => Ok(Datum::double(as_decimal(exact)?.to_f64())),
                None => {
                    let factor = 10f64.powi(digits);
                    let scaled = if truncate { (x * factor).trunc() } else { (x * factor).round() };
                    Ok(Datum::double(scaled / factor))
                }
            }
        }
        other => Err(unexpected(function.name(), other)),
    }
}
