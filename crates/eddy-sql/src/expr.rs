//! Bound, typed scalar expressions ([`ScalarExpr`]) and their evaluation on a row with SQL
//! semantics: three-valued logic, `NULL` propagation, overflow and division by zero as errors.
//!
//! The binder (`bind.rs`) has already checked types and made every implicit conversion an
//! explicit `Cast`, so the operands of an arithmetic operator have one type (decimals may
//! differ in precision and scale; the node's type says the result's). `eval` still checks
//! each value's variant and reports a mismatch as [`EvalError::Internal`]: it never panics.

use std::cmp::Ordering;
use std::fmt;

use crate::cast;
use crate::compare::sql_compare;
use crate::datetime::{self, MILLIS_PER_DAY};
use crate::datum::{Datum, Interval, Row};
use crate::error::{show, unexpected, EvalError, EvalResult};
use crate::functions::{self, CompiledRegex, Function};
use crate::types::SqlType;

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `NOT`, three-valued.
    Not,
    /// Arithmetic `-`.
    Negate,
    /// `IS NULL`.
    IsNull,
    /// `IS NOT NULL`.
    IsNotNull,
    /// `IS TRUE`.
    IsTrue,
    /// `IS NOT TRUE`.
    IsNotTrue,
    /// `IS FALSE`.
    IsFalse,
    /// `IS NOT FALSE`.
    IsNotFalse,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `AND`, three-valued.
    And,
    /// `OR`, three-valued.
    Or,
    /// `=`.
    Eq,
    /// `<>`.
    NotEq,
    /// `<`.
    Lt,
    /// `<=`.
    LtEq,
    /// `>`.
    Gt,
    /// `>=`.
    GtEq,
    /// `IS DISTINCT FROM`: `NULL`-safe `<>`.
    IsDistinctFrom,
    /// `IS NOT DISTINCT FROM`: `NULL`-safe `=`.
    IsNotDistinctFrom,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%` and `MOD`.
    Mod,
    /// `||`.
    Concat,
}

impl BinaryOp {
    /// The operator as SQL writes it.
    pub fn symbol(&self) -> &'static str {
        match self {
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::IsDistinctFrom => "IS DISTINCT FROM",
            BinaryOp::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "||",
        }
    }

    /// Whether the operator compares its operands.
    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
        )
    }
}

/// A bound, typed scalar expression over the columns of one input row.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalarExpr {
    /// The input column at `index`.
    Column {
        /// Position in the input row.
        index: usize,
        /// The column's type.
        ty: SqlType,
    },
    /// A column of the row of an enclosing query, inside a correlated subquery: `depth` 1 is
    /// the row of the nearest enclosing `Plan::Apply`'s input, 2 the one around that. Only the
    /// binder creates it and decorrelation removes it; `eval` reports it as an internal error.
    Outer {
        /// How many `Apply` nodes out.
        depth: usize,
        /// Position in that row.
        index: usize,
        /// The column's type.
        ty: SqlType,
    },
    /// A constant.
    Literal {
        /// The value.
        value: Datum,
        /// Its type.
        ty: SqlType,
    },
    /// A unary operator.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<ScalarExpr>,
        /// The result type.
        ty: SqlType,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<ScalarExpr>,
        /// Right operand.
        right: Box<ScalarExpr>,
        /// The result type.
        ty: SqlType,
    },
    /// Searched `CASE WHEN c THEN r ... ELSE e END` (a simple `CASE x WHEN v` is bound to
    /// `x = v` conditions).
    Case {
        /// `(condition, result)` pairs, tried in order.
        branches: Vec<(ScalarExpr, ScalarExpr)>,
        /// The `ELSE` result (`NULL` when absent).
        otherwise: Box<ScalarExpr>,
        /// The result type.
        ty: SqlType,
    },
    /// `CAST(expr AS ty)`, or `TRY_CAST` (`NULL` instead of an error) when `try_cast`.
    Cast {
        /// The operand.
        expr: Box<ScalarExpr>,
        /// The target type.
        ty: SqlType,
        /// `TRY_CAST`: a failed conversion gives `NULL`.
        try_cast: bool,
    },
    /// `COALESCE(a, b, ...)`: the first non-`NULL` argument, evaluated lazily.
    Coalesce {
        /// The arguments, each of type `ty`.
        args: Vec<ScalarExpr>,
        /// The result type.
        ty: SqlType,
    },
    /// `NULLIF(a, b)`: `NULL` when `a = b`, else `a`.
    NullIf {
        /// The value.
        left: Box<ScalarExpr>,
        /// What it is compared with.
        right: Box<ScalarExpr>,
        /// The result type (`left`'s).
        ty: SqlType,
    },
    /// `expr [NOT] IN (list)`.
    InList {
        /// The value.
        expr: Box<ScalarExpr>,
        /// The candidates.
        list: Vec<ScalarExpr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        /// The value.
        expr: Box<ScalarExpr>,
        /// Lower bound, inclusive.
        low: Box<ScalarExpr>,
        /// Upper bound, inclusive.
        high: Box<ScalarExpr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `expr [NOT] LIKE pattern [ESCAPE 'c']` (`ILIKE` when `case_insensitive`).
    Like {
        /// The string.
        expr: Box<ScalarExpr>,
        /// The pattern: `%` any run of characters, `_` one character.
        pattern: Box<ScalarExpr>,
        /// The escape character.
        escape: Option<char>,
        /// `NOT LIKE`.
        negated: bool,
        /// `ILIKE`.
        case_insensitive: bool,
    },
    /// A built-in function.
    Call {
        /// The function.
        function: Function,
        /// Its arguments, already cast to the function's parameter types.
        args: Vec<ScalarExpr>,
        /// The result type.
        ty: SqlType,
        /// The compiled pattern of a `REGEXP*` function whose pattern is a constant.
        regex: Option<CompiledRegex>,
    },
}

impl ScalarExpr {
    /// A literal of the given type.
    pub fn literal(value: Datum, ty: SqlType) -> ScalarExpr {
        ScalarExpr::Literal { value, ty }
    }

    /// The type of the expression's result.
    pub fn ty(&self) -> SqlType {
        match self {
            ScalarExpr::Column { ty, .. }
            | ScalarExpr::Outer { ty, .. }
            | ScalarExpr::Literal { ty, .. }
            | ScalarExpr::Unary { ty, .. }
            | ScalarExpr::Binary { ty, .. }
            | ScalarExpr::Case { ty, .. }
            | ScalarExpr::Cast { ty, .. }
            | ScalarExpr::Coalesce { ty, .. }
            | ScalarExpr::NullIf { ty, .. }
            | ScalarExpr::Call { ty, .. } => *ty,
            ScalarExpr::InList { .. } | ScalarExpr::Between { .. } | ScalarExpr::Like { .. } => {
                SqlType::Boolean
            }
        }
    }

    /// The direct children.
    pub fn children(&self) -> Vec<&ScalarExpr> {
        match self {
            ScalarExpr::Column { .. } | ScalarExpr::Outer { .. } | ScalarExpr::Literal { .. } => vec![],
            ScalarExpr::Unary { expr, .. } | ScalarExpr::Cast { expr, .. } => vec![expr],
            ScalarExpr::Binary { left, right, .. } | ScalarExpr::NullIf { left, right, .. } => {
                vec![left, right]
            }
            ScalarExpr::Case { branches, otherwise, .. } => {
                branches.iter().flat_map(|(c, r)| [c, r]).chain([&**otherwise]).collect()
            }
            ScalarExpr::Coalesce { args, .. } | ScalarExpr::Call { args, .. } => args.iter().collect(),
            ScalarExpr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            ScalarExpr::Between { expr, low, high, .. } => vec![expr, low, high],
            ScalarExpr::Like { expr, pattern, .. } => vec![expr, pattern],
        }
    }

    /// The direct children, mutable (for rewrites such as renumbering columns).
    pub fn children_mut(&mut self) -> Vec<&mut ScalarExpr> {
        match self {
            ScalarExpr::Column { .. } | ScalarExpr::Outer { .. } | ScalarExpr::Literal { .. } => vec![],
            ScalarExpr::Unary { expr, .. } | ScalarExpr::Cast { expr, .. } => vec![expr],
            ScalarExpr::Binary { left, right, .. } | ScalarExpr::NullIf { left, right, .. } => {
                vec![left, right]
            }
            ScalarExpr::Case { branches, otherwise, .. } => {
                let mut children: Vec<&mut ScalarExpr> =
                    branches.iter_mut().flat_map(|(c, r)| [c, r]).collect();
                children.push(otherwise);
                children
            }
            ScalarExpr::Coalesce { args, .. } | ScalarExpr::Call { args, .. } => args.iter_mut().collect(),
            ScalarExpr::InList { expr, list, .. } => {
                std::iter::once(&mut **expr).chain(list.iter_mut()).collect()
            }
            ScalarExpr::Between { expr, low, high, .. } => vec![expr, low, high],
            ScalarExpr::Like { expr, pattern, .. } => vec![expr, pattern],
        }
    }

    /// Calls `f` on this expression and every descendant, parents first.
    pub fn visit(&self, f: &mut impl FnMut(&ScalarExpr)) {
        f(self);
        for child in self.children() {
            child.visit(f);
        }
    }

    /// Rewrites the tree bottom-up: children first, then `f` on the node itself.
    pub fn transform(&mut self, f: &mut impl FnMut(&mut ScalarExpr)) {
        for child in self.children_mut() {
            child.transform(f);
        }
        f(self);
    }

    /// The input columns the expression reads, ascending and without repeats.
    pub fn columns(&self) -> Vec<usize> {
        let mut columns = Vec::new();
        self.visit(&mut |e| {
            if let ScalarExpr::Column { index, .. } = e {
                columns.push(*index);
            }
        });
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// Renumbers input columns: column `i` becomes `map(i)`.
    pub fn remap_columns(&mut self, map: &impl Fn(usize) -> usize) {
        self.transform(&mut |e| {
            if let ScalarExpr::Column { index, .. } = e {
                *index = map(*index);
            }
        });
    }

    /// Whether the expression reads no column (so it can be folded to a constant).
    pub fn is_constant(&self) -> bool {
        !matches!(self, ScalarExpr::Column { .. } | ScalarExpr::Outer { .. })
            && self.children().iter().all(|c| c.is_constant())
    }

    /// Evaluates the expression on `row`.
    pub fn eval(&self, row: &Row) -> EvalResult<Datum> {
        match self {
            ScalarExpr::Column { index, .. } => row.get(*index).cloned().ok_or_else(|| {
                EvalError::Internal(format!("column {index} of a row of {} columns", row.len()))
            }),
            ScalarExpr::Outer { depth, index, .. } => Err(EvalError::Internal(format!(
                "outer column {index} at depth {depth} outside its subquery"
            ))),
            ScalarExpr::Literal { value, .. } => Ok(value.clone()),
            ScalarExpr::Unary { op, expr, .. } => eval_unary(*op, expr.eval(row)?),
            ScalarExpr::Binary { op: BinaryOp::And, left, right, .. } => {
                let left = truth(&left.eval(row)?)?;
                if left == Some(false) {
                    return Ok(Datum::Boolean(false));
                }
                Ok(match (left, truth(&right.eval(row)?)?) {
                    (_, Some(false)) => Datum::Boolean(false),
                    (Some(true), Some(true)) => Datum::Boolean(true),
                    _ => Datum::Null,
                })
            }
            ScalarExpr::Binary { op: BinaryOp::Or, left, right, .. } => {
                let left = truth(&left.eval(row)?)?;
                if left == Some(true) {
                    return Ok(Datum::Boolean(true));
                }
                Ok(match (left, truth(&right.eval(row)?)?) {
                    (_, Some(true)) => Datum::Boolean(true),
                    (Some(false), Some(false)) => Datum::Boolean(false),
                    _ => Datum::Null,
                })
            }
            ScalarExpr::Binary { op, left, right, ty } => {
                eval_binary(*op, left.eval(row)?, right.eval(row)?, *ty)
            }
            ScalarExpr::Case { branches, otherwise, .. } => {
                for (condition, result) in branches {
                    if truth(&condition.eval(row)?)? == Some(true) {
                        return result.eval(row);
                    }
                }
                otherwise.eval(row)
            }
            ScalarExpr::Cast { expr, ty, try_cast } => {
                let value = expr.eval(row)?;
                match cast::cast(&value, expr.ty(), *ty) {
                    Err(EvalError::InvalidCast { .. }) if *try_cast => Ok(Datum::Null),
                    result => result,
                }
            }
            ScalarExpr::Coalesce { args, .. } => {
                for arg in args {
                    let value = arg.eval(row)?;
                    if !value.is_null() {
                        return Ok(value);
                    }
                }
                Ok(Datum::Null)
            }
            ScalarExpr::NullIf { left, right, .. } => {
                let value = left.eval(row)?;
                match sql_compare(&value, &right.eval(row)?)? {
                    Some(Ordering::Equal) => Ok(Datum::Null),
                    _ => Ok(value),
                }
            }
            ScalarExpr::InList { expr, list, negated } => {
                let value = expr.eval(row)?;
                let mut saw_null = value.is_null();
                if !saw_null {
                    for candidate in list {
                        match sql_compare(&value, &candidate.eval(row)?)? {
                            Some(Ordering::Equal) => return Ok(Datum::Boolean(!negated)),
                            None => saw_null = true,
                            Some(_) => {}
                        }
                    }
                }
                Ok(if saw_null { Datum::Null } else { Datum::Boolean(*negated) })
            }
            ScalarExpr::Between { expr, low, high, negated } => {
                let value = expr.eval(row)?;
                let above = sql_compare(&value, &low.eval(row)?)?.map(|o| o != Ordering::Less);
                let below = sql_compare(&value, &high.eval(row)?)?.map(|o| o != Ordering::Greater);
                // low <= value AND value <= high, three-valued.
                let inside = match (above, below) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                Ok(inside.map_or(Datum::Null, |b| Datum::Boolean(b != *negated)))
            }
            ScalarExpr::Like { expr, pattern, escape, negated, case_insensitive } => {
                let (value, pattern) = (expr.eval(row)?, pattern.eval(row)?);
                match (&value, &pattern) {
                    (Datum::Null, _) | (_, Datum::Null) => Ok(Datum::Null),
                    (Datum::String(text), Datum::String(pattern)) => {
                        let matched = if *case_insensitive {
                            like(&text.to_lowercase(), &pattern.to_lowercase(), *escape)?
                        } else {
                            like(text, pattern, *escape)?
                        };
                        Ok(Datum::Boolean(matched != *negated))
                    }
                    _ => Err(unexpected("LIKE", &value)),
                }
            }
            ScalarExpr::Call { function, args, ty, regex } => {
                let values = args.iter().map(|arg| arg.eval(row)).collect::<EvalResult<Vec<_>>>()?;
                functions::call(*function, &values, *ty, regex.as_ref())
            }
        }
    }
}

/// A boolean operand: `Some(b)`, or `None` for `NULL`.
pub(crate) fn truth(value: &Datum) -> EvalResult<Option<bool>> {
    match value {
        Datum::Boolean(b) => Ok(Some(*b)),
        Datum::Null => Ok(None),
        other => Err(unexpected("a boolean operand", other)),
    }
}

fn eval_unary(op: UnaryOp, value: Datum) -> EvalResult<Datum> {
    Ok(match op {
        UnaryOp::IsNull => Datum::Boolean(value.is_null()),
        UnaryOp::IsNotNull => Datum::Boolean(!value.is_null()),
        UnaryOp::IsTrue => Datum::Boolean(truth(&value)? == Some(true)),
        UnaryOp::IsNotTrue => Datum::Boolean(truth(&value)? != Some(true)),
        UnaryOp::IsFalse => Datum::Boolean(truth(&value)? == Some(false)),
        UnaryOp::IsNotFalse => Datum::Boolean(truth(&value)? != Some(false)),
        UnaryOp::Not => truth(&value)?.map_or(Datum::Null, |b| Datum::Boolean(!b)),
        UnaryOp::Negate => {
            let overflow = |ty| EvalError::Overflow { operation: format!("-{}", show(&value)), ty };
            match &value {
                Datum::Null => Datum::Null,
                Datum::Int(i) => Datum::Int(i.checked_neg().ok_or_else(|| overflow(SqlType::Int))?),
                Datum::BigInt(i) => Datum::BigInt(i.checked_neg().ok_or_else(|| overflow(SqlType::BigInt))?),
                Datum::Double(d) => Datum::double(-d.get()),
                Datum::Decimal(d) => Datum::Decimal(d.neg()),
                Datum::Interval(i) => Datum::Interval(Interval {
                    months: i.months.checked_neg().ok_or_else(|| overflow(SqlType::Int))?,
                    millis: i.millis.checked_neg().ok_or_else(|| overflow(SqlType::BigInt))?,
                }),
                other => return Err(unexpected("unary -", other)),
            }
        }
    })
}

fn eval_binary(op: BinaryOp, left: Datum, right: Datum, ty: SqlType) -> EvalResult<Datum> {
    match op {
        BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom => {
            let same = match (left.is_null(), right.is_null()) {
                (true, true) => true,
                (false, false) => sql_compare(&left, &right)? == Some(Ordering::Equal),
                _ => false,
            };
            return Ok(Datum::Boolean(same == (op == BinaryOp::IsNotDistinctFrom)));
        }
        _ if left.is_null() || right.is_null() => return Ok(Datum::Null),
        _ => {}
    }
    if op.is_comparison() {
        let Some(order) = sql_compare(&left, &right)? else { return Ok(Datum::Null) };
        return Ok(Datum::Boolean(match op {
            BinaryOp::Eq => order == Ordering::Equal,
            BinaryOp::NotEq => order != Ordering::Equal,
            BinaryOp::Lt => order == Ordering::Less,
            BinaryOp::LtEq => order != Ordering::Greater,
            BinaryOp::Gt => order == Ordering::Greater,
            _ => order != Ordering::Less,
        }));
    }
    if op == BinaryOp::Concat {
        return match (left, right) {
            (Datum::String(mut a), Datum::String(b)) => {
                a.push_str(&b);
                Ok(Datum::String(a))
            }
            (a, _) => Err(unexpected("||", &a)),
        };
    }
    arithmetic(op, &left, &right, ty)
}

/// `+ - * / %` on two integers of one type, checked: `None` on overflow, and a division-by-zero
/// error from `by_zero`. (`MIN % -1` is 0 mathematically; `checked_rem` calls it an overflow.)
macro_rules! checked_integer {
    ($op:expr, $a:expr, $b:expr, $by_zero:expr) => {{
        let (a, b) = ($a, $b);
        if matches!($op, BinaryOp::Div | BinaryOp::Mod) && b == 0 {
            return Err($by_zero());
        }
        match $op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            BinaryOp::Div => a.checked_div(b),
            _ => Some(a.checked_rem(b).unwrap_or(0)),
        }
    }};
}

/// `+ - * / %` on non-`NULL` operands, with the result type `ty`.
pub(crate) fn arithmetic(op: BinaryOp, left: &Datum, right: &Datum, ty: SqlType) -> EvalResult<Datum> {
    let operation = || format!("{} {} {}", show(left), op.symbol(), show(right));
    let overflow = || EvalError::Overflow { operation: operation(), ty };
    let by_zero = || EvalError::DivisionByZero { operation: operation() };
    match (left, right) {
        (Datum::Int(a), Datum::Int(b)) => {
            checked_integer!(op, *a, *b, by_zero).map(Datum::Int).ok_or_else(overflow)
        }
        (Datum::BigInt(a), Datum::BigInt(b)) => {
            checked_integer!(op, *a, *b, by_zero).map(Datum::BigInt).ok_or_else(overflow)
        }
        (Datum::Double(a), Datum::Double(b)) => {
            let (a, b) = (a.get(), b.get());
            if matches!(op, BinaryOp::Div | BinaryOp::Mod) && b == 0.0 {
                return Err(by_zero());
            }
            let result = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                _ => a % b,
            };
            // As PostgreSQL: finite operands giving an infinite result is an overflow.
            if result.is_infinite() && a.is_finite() && b.is_finite() {
                return Err(overflow());
            }
            Ok(Datum::double(result))
        }
        (Datum::Decimal(a), Datum::Decimal(b)) => {
            let SqlType::Decimal { precision, scale } = ty else {
                return Err(EvalError::Internal(format!("decimal {} typed {ty}", operation())));
            };
            if matches!(op, BinaryOp::Div | BinaryOp::Mod) && b.signum() == 0 {
                return Err(by_zero());
            }
            let exact = match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                BinaryOp::Div => a.checked_div(b, scale),
                _ => a.checked_rem(b),
            };
            exact.and_then(|d| d.fit(precision, scale)).map(Datum::Decimal).ok_or_else(overflow)
        }
        _ => datetime_arithmetic(op, left, right).ok_or_else(|| match (left, right) {
            (Datum::Date(_) | Datum::Timestamp(_) | Datum::Interval(_), _)
            | (_, Datum::Date(_) | Datum::Timestamp(_) | Datum::Interval(_))
                if matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) =>
            {
                overflow()
            }
            _ => EvalError::Internal(format!("no arithmetic for {}", operation())),
        }),
    }
}

/// Date, timestamp and interval arithmetic; `None` on overflow or an unsupported pair.
fn datetime_arithmetic(op: BinaryOp, left: &Datum, right: &Datum) -> Option<Datum> {
    let sign = match op {
        BinaryOp::Add => 1,
        BinaryOp::Sub => -1,
        BinaryOp::Mul => {
            // interval * integer, either order.
            let (interval, factor) = match (left, right) {
                (Datum::Interval(i), Datum::Int(n)) | (Datum::Int(n), Datum::Interval(i)) => (i, *n as i64),
                (Datum::Interval(i), Datum::BigInt(n)) | (Datum::BigInt(n), Datum::Interval(i)) => (i, *n),
                _ => return None,
            };
            return Some(Datum::Interval(Interval {
                months: i32::try_from((interval.months as i64).checked_mul(factor)?).ok()?,
                millis: interval.millis.checked_mul(factor)?,
            }));
        }
        _ => return None,
    };
    let shift = |millis: i64, interval: &Interval| -> Option<i64> {
        let moved = datetime::add_months(millis, interval.months as i64 * sign)?;
        moved.checked_add(interval.millis.checked_mul(sign)?)
    };
    match (left, right) {
        (Datum::Timestamp(t), Datum::Interval(i)) => Some(Datum::Timestamp(shift(*t, i)?)),
        (Datum::Interval(i), Datum::Timestamp(t)) if sign == 1 => Some(Datum::Timestamp(shift(*t, i)?)),
        (Datum::Date(d), Datum::Interval(i)) => {
            // As Calcite: the result is a DATE; a part of a day is dropped.
            let millis = shift(*d as i64 * MILLIS_PER_DAY, i)?;
            Some(Datum::Date(i32::try_from(millis.div_euclid(MILLIS_PER_DAY)).ok()?))
        }
        (Datum::Interval(i), Datum::Date(_)) if sign == 1 => {
            datetime_arithmetic(op, right, &Datum::Interval(*i))
        }
        (Datum::Interval(a), Datum::Interval(b)) => Some(Datum::Interval(Interval {
            months: a.months.checked_add(b.months.checked_mul(sign as i32)?)?,
            millis: a.millis.checked_add(b.millis.checked_mul(sign)?)?,
        })),
        _ => None,
    }
}

/// SQL `LIKE`: `%` matches any run of characters, `_` one character, `escape` makes the next
/// pattern character literal. Characters, not bytes. Iterative with one backtrack point, so
/// linear in practice and never recursive.
pub(crate) fn like(text: &str, pattern: &str, escape: Option<char>) -> EvalResult<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(if Some(c) == escape {
            match chars.next() {
                Some(next) => Token::Char(next),
                None => {
                    return Err(EvalError::InvalidArgument {
                        function: "LIKE",
                        value: show(&Datum::string(pattern)),
                        reason: "the pattern ends with the escape character".to_owned(),
                    })
                }
            }
        } else if c == '%' {
            Token::Any
        } else if c == '_' {
            Token::One
        } else {
            Token::Char(c)
        });
    }
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut p) = (0, 0);
    // The last `%` seen and the text position it currently swallows up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Any) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                t += 1;
                p += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match backtrack {
                Some((any, start)) => {
                    backtrack = Some((any, start + 1));
                    p = any + 1;
                    t = start + 1;
                }
                None => return Ok(false),
            },
        }
    }
    Ok(tokens[p..].iter().all(|token| *token == Token::Any))
}

impl fmt::Display for ScalarExpr {
    /// The expression as SQL, with columns as `#index` (for plans and error messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Column { index, .. } => write!(f, "#{index}"),
            ScalarExpr::Outer { depth, index, .. } => write!(f, "outer{depth}#{index}"),
            ScalarExpr::Literal { value, .. } => write!(f, "{value}"),
            ScalarExpr::Unary { op, expr, .. } => match op {
                UnaryOp::Not => write!(f, "(NOT {expr})"),
                UnaryOp::Negate => write!(f, "(- {expr})"),
                UnaryOp::IsNull => write!(f, "({expr} IS NULL)"),
                UnaryOp::IsNotNull => write!(f, "({expr} IS NOT NULL)"),
                UnaryOp::IsTrue => write!(f, "({expr} IS TRUE)"),
                UnaryOp::IsNotTrue => write!(f, "({expr} IS NOT TRUE)"),
                UnaryOp::IsFalse => write!(f, "({expr} IS FALSE)"),
                UnaryOp::IsNotFalse => write!(f, "({expr} IS NOT FALSE)"),
            },
            ScalarExpr::Binary { op, left, right, .. } => write!(f, "({left} {} {right})", op.symbol()),
            ScalarExpr::Case { branches, otherwise, .. } => {
                f.write_str("CASE")?;
                for (condition, result) in branches {
                    write!(f, " WHEN {condition} THEN {result}")?;
                }
                write!(f, " ELSE {otherwise} END")
            }
            ScalarExpr::Cast { expr, ty, try_cast } => {
                write!(f, "{}({expr} AS {ty})", if *try_cast { "TRY_CAST" } else { "CAST" })
            }
            ScalarExpr::Coalesce { args, .. } => write!(f, "COALESCE({})", list(args)),
            ScalarExpr::NullIf { left, right, .. } => write!(f, "NULLIF({left}, {right})"),
            ScalarExpr::InList { expr, list: items, negated } => {
                write!(f, "({expr} {}IN ({}))", if *negated { "NOT " } else { "" }, list(items))
            }
            ScalarExpr::Between { expr, low, high, negated } => {
                write!(f, "({expr} {}BETWEEN {low} AND {high})", if *negated { "NOT " } else { "" })
            }
            ScalarExpr::Like { expr, pattern, escape, negated, case_insensitive } => {
                let not = if *negated { "NOT " } else { "" };
                let like = if *case_insensitive { "ILIKE" } else { "LIKE" };
                write!(f, "({expr} {not}{like} {pattern}")?;
                if let Some(escape) = escape {
                    write!(f, " ESCAPE '{escape}'")?;
                }
                f.write_str(")")
            }
            ScalarExpr::Call { function, args, .. } => write!(f, "{}({})", function.name(), list(args)),
        }
    }
}

fn list(items: &[ScalarExpr]) -> String {
    items.iter().map(|item| item.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        let cases = [
            ("abc", "abc", None, true),
            ("abc", "a%", None, true),
            ("abc", "%c", None, true),
            ("abc", "a_c", None, true),
            ("abc", "a_", None, false),
            ("", "%", None, true),
            ("", "_", None, false),
            ("mississippi", "%iss%ppi", None, true),
            ("mississippi", "%iss%ssx%", None, false),
            ("żółw", "_ół_", None, true),
            ("50%", "50!%", Some('!'), true),
            ("500", "50!%", Some('!'), false),
            ("a_b", "a\\_b", Some('\\'), true),
            ("axb", "a\\_b", Some('\\'), false),
        ];
        for (text, pattern, escape, expected) in cases {
            assert_eq!(like(text, pattern, escape).unwrap(), expected, "{text} LIKE {pattern}");
        }
        assert!(like("a", "a!", Some('!')).is_err());
    }

    #[test]
    fn three_valued_and_or() {
        let b =
            |v: Option<bool>| ScalarExpr::literal(v.map_or(Datum::Null, Datum::Boolean), SqlType::Boolean);
        let values = [Some(true), Some(false), None];
        for x in values {
            for y in values {
                let and = ScalarExpr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(b(x)),
                    right: Box::new(b(y)),
                    ty: SqlType::Boolean,
                };
                let expected = match (x, y) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                assert_eq!(truth(&and.eval(&Row::default()).unwrap()).unwrap(), expected);
            }
        }
    }

    #[test]
    fn a_wrong_type_is_an_internal_error_not_a_panic() {
        let expr = ScalarExpr::Binary {
            op: BinaryOp::Add,
            left: Box::new(ScalarExpr::literal(Datum::Int(1), SqlType::Int)),
            right: Box::new(ScalarExpr::literal(Datum::string("x"), SqlType::STRING)),
            ty: SqlType::Int,
        };
        assert!(matches!(expr.eval(&Row::default()), Err(EvalError::Internal(_))));
        let missing = ScalarExpr::Column { index: 3, ty: SqlType::Int };
        assert!(matches!(missing.eval(&Row::default()), Err(EvalError::Internal(_))));
    }
}
