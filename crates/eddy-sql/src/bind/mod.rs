//! Binding: a `sqlparser` expression AST plus an input schema to a typed [`ScalarExpr`].
//!
//! * Columns resolve by name; an unquoted name matches case-insensitively, a quoted one
//!   (`` `Name` ``) exactly.
//! * Every implicit conversion becomes an explicit `Cast` node. Numbers widen
//!   `INT -> BIGINT -> DECIMAL -> DOUBLE` (Calcite's `leastRestrictive`: `INT` is
//!   `DECIMAL(10, 0)`, `BIGINT` is `DECIMAL(19, 0)`); `DATE` widens to `TIMESTAMP`; a string
//!   literal compared with a date, time, number or boolean is cast to that type.
//! * `DECIMAL` results follow Flink's `LogicalTypeMerging` (SQL Server's rules): `+ -` take
//!   `max(s1, s2)` digits after the point and one more before; `*` adds precisions and scales;
//!   `/` keeps at least 6 digits after the point; past 38 digits the scale shrinks, to no
//!   less than 6.
//! * Subtrees that read no column are evaluated once (constant folding); one whose evaluation
//!   fails is kept, so `CASE WHEN FALSE THEN 1 / 0 END` is not an error.
//! * Errors carry the line and column sqlparser gives for the offending expression.

use std::fmt;

use sqlparser::ast::{
    self, BinaryOperator, CastKind, CeilFloorKind, DateTimeField, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Spanned, TrimWhereField, UnaryOperator, Value,
};
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use thiserror::Error;

mod coerce;
mod literals;

use crate::cast::can_cast;
use crate::datetime::TimeUnit;
use crate::datum::{Datum, Row};
use crate::error::EvalError;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::functions::{self, Function};
use crate::types::SqlType;
use coerce::{coerce, coerce_constant, common_type, decimal_type, fold, is_string_literal};

/// A position in the SQL text, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

/// " at line L, column C", or nothing.
fn at(location: &Option<Location>) -> String {
    location.map_or(String::new(), |l| format!(" at line {}, column {}", l.line, l.column))
}

/// Why an expression could not be bound.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BindError {
    /// The text is not a SQL expression.
    #[error("syntax error: {message}")]
    Syntax {
        /// sqlparser's message (it includes the position).
        message: String,
    },
    /// No input column has this name.
    #[error("unknown column `{name}`{}; the input has {available}", at(.location))]
    UnknownColumn {
        /// The name as written.
        name: String,
        /// The input's column names.
        available: String,
        /// Where.
        location: Option<Location>,
    },
    /// An unquoted name matches several columns that differ only in case.
    #[error("ambiguous column `{name}`{}: quote one of {candidates}", at(.location))]
    AmbiguousColumn {
        /// The name as written.
        name: String,
        /// The matching columns.
        candidates: String,
        /// Where.
        location: Option<Location>,
    },
    /// No function has this name.
    #[error("unknown function {name}{}", at(.location))]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// Where.
        location: Option<Location>,
    },
    /// Operand types that do not fit, or a constant that does not convert.
    #[error("type error{}: {message}", at(.location))]
    Type {
        /// What does not fit.
        message: String,
        /// Where.
        location: Option<Location>,
    },
    /// Valid SQL that eddy does not support (yet).
    #[error("not supported{}: {what}", at(.location))]
    Unsupported {
        /// What.
        what: String,
        /// Where.
        location: Option<Location>,
    },
}

/// A `Result` with a [`BindError`].
pub type BindResult<T> = Result<T, BindError>;

/// A small Flink-like dialect: identifiers quoted with backticks, strings with single quotes.
#[derive(Debug, Default)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`'
    }
}

/// Parses `sql` as one expression (Flink-like dialect) and binds it against `schema`.
pub fn bind_expression(sql: &str, schema: &[(String, SqlType)]) -> BindResult<ScalarExpr> {
    let syntax = |error: sqlparser::parser::ParserError| BindError::Syntax { message: error.to_string() };
    let dialect = FlinkDialect;
    let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(syntax)?;
    let expr = parser.parse_expr().map_err(syntax)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(BindError::Syntax {
            message: format!("unexpected {} after the expression at {}", next.token, next.span.start),
        });
    }
    bind(&expr, schema)
}

/// Binds a parsed expression against `schema` (column names and types, in row order).
pub fn bind(expr: &Expr, schema: &[(String, SqlType)]) -> BindResult<ScalarExpr> {
    Binder { schema }.bind(expr)
}

struct Binder<'a> {
    schema: &'a [(String, SqlType)],
}

fn location_of(expr: &Expr) -> Option<Location> {
    let start = expr.span().start;
    (start.line > 0).then_some(Location { line: start.line, column: start.column })
}

fn type_error(expr: &Expr, message: impl Into<String>) -> BindError {
    BindError::Type { message: message.into(), location: location_of(expr) }
}

fn unsupported(expr: &Expr, what: impl fmt::Display) -> BindError {
    BindError::Unsupported { what: what.to_string(), location: location_of(expr) }
}

impl Binder<'_> {
    fn bind(&self, expr: &Expr) -> BindResult<ScalarExpr> {
        self.bind_unfolded(expr).map(fold)
    }

    fn bind_unfolded(&self, expr: &Expr) -> BindResult<ScalarExpr> {
        match expr {
            Expr::Identifier(ident) => self.column(ident, expr),
            Expr::CompoundIdentifier(_) => Err(unsupported(expr, "qualified column names")),
            Expr::Nested(inner) => self.bind(inner),
            Expr::Value(value) => literals::literal(&value.value, expr),
            Expr::TypedString(typed) => {
                let ty = literals::data_type(&typed.data_type, expr)?;
                let text = match &typed.value.value {
                    Value::SingleQuotedString(text) => text.clone(),
                    other => return Err(type_error(expr, format!("{} is not a string", other))),
                };
                coerce_constant(ScalarExpr::literal(Datum::String(text), SqlType::STRING), ty, expr)
            }
            Expr::Interval(interval) => literals::interval(interval, self.bind(&interval.value)?, expr),
            Expr::UnaryOp { op, expr: operand } => {
                let operand_expr = operand;
                let operand = self.bind(operand)?;
                match op {
                    UnaryOperator::Not => self.unary(UnaryOp::Not, operand, SqlType::Boolean, operand_expr),
                    UnaryOperator::Minus => {
                        let ty = operand.ty();
                        if !(ty.is_numeric() || matches!(ty, SqlType::Interval(_))) {
                            return Err(type_error(operand_expr, format!("cannot negate {ty}")));
                        }
                        Ok(ScalarExpr::Unary { op: UnaryOp::Negate, expr: Box::new(operand), ty })
                    }
                    UnaryOperator::Plus if operand.ty().is_numeric() => Ok(operand),
                    other => Err(unsupported(expr, format!("operator {other}"))),
                }
            }
            Expr::IsNull(inner) => self.is(UnaryOp::IsNull, inner, false),
            Expr::IsNotNull(inner) => self.is(UnaryOp::IsNotNull, inner, false),
            Expr::IsTrue(inner) => self.is(UnaryOp::IsTrue, inner, true),
            Expr::IsNotTrue(inner) => self.is(UnaryOp::IsNotTrue, inner, true),
            Expr::IsFalse(inner) => self.is(UnaryOp::IsFalse, inner, true),
            Expr::IsNotFalse(inner) => self.is(UnaryOp::IsNotFalse, inner, true),
            Expr::IsUnknown(inner) => self.is(UnaryOp::IsNull, inner, true),
            Expr::IsNotUnknown(inner) => self.is(UnaryOp::IsNotNull, inner, true),
            Expr::IsDistinctFrom(left, right) => self.binary(BinaryOp::IsDistinctFrom, left, right),
            Expr::IsNotDistinctFrom(left, right) => self.binary(BinaryOp::IsNotDistinctFrom, left, right),
            Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    BinaryOperator::Plus => BinaryOp::Add,
                    BinaryOperator::Minus => BinaryOp::Sub,
                    BinaryOperator::Multiply => BinaryOp::Mul,
                    BinaryOperator::Divide => BinaryOp::Div,
                    BinaryOperator::Modulo => BinaryOp::Mod,
                    BinaryOperator::StringConcat => BinaryOp::Concat,
                    BinaryOperator::Gt => BinaryOp::Gt,
                    BinaryOperator::Lt => BinaryOp::Lt,
                    BinaryOperator::GtEq => BinaryOp::GtEq,
                    BinaryOperator::LtEq => BinaryOp::LtEq,
                    BinaryOperator::Eq => BinaryOp::Eq,
                    BinaryOperator::NotEq => BinaryOp::NotEq,
                    BinaryOperator::And => BinaryOp::And,
                    BinaryOperator::Or => BinaryOp::Or,
                    other => return Err(unsupported(expr, format!("operator {other}"))),
                };
                self.binary(op, left, right)
            }
            Expr::In { expr: value, target: ast::InTarget::List(list), negated, .. } => {
                let mut operands = vec![self.bind(value)?];
                for item in list {
                    operands.push(self.bind(item)?);
                }
                let mut operands = self.unify(operands, expr, "IN")?.into_iter();
                let value = operands.next().unwrap_or(ScalarExpr::literal(Datum::Null, SqlType::Null));
                Ok(ScalarExpr::InList { expr: Box::new(value), list: operands.collect(), negated: *negated })
            }
            Expr::Between { expr: value, negated, low, high } => {
                let operands = vec![self.bind(value)?, self.bind(low)?, self.bind(high)?];
                let [value, low, high]: [ScalarExpr; 3] = self
                    .unify(operands, expr, "BETWEEN")?
                    .try_into()
                    .map_err(|_| unsupported(expr, "BETWEEN"))?;
                Ok(ScalarExpr::Between {
                    expr: Box::new(value),
                    low: Box::new(low),
                    high: Box::new(high),
                    negated: *negated,
                })
            }
            Expr::Like { negated, any: false, expr: value, pattern, escape_char } => {
                self.like(value, pattern, escape_char.as_deref(), *negated, false)
            }
            Expr::ILike { negated, any: false, expr: value, pattern, escape_char } => {
                self.like(value, pattern, escape_char.as_deref(), *negated, true)
            }
            Expr::RLike { negated, expr: value, pattern, .. } => {
                let call = self.call(Function::Regexp, &[value.as_ref(), pattern.as_ref()], expr)?;
                if *negated {
                    self.unary(UnaryOp::Not, call, SqlType::Boolean, expr)
                } else {
                    Ok(call)
                }
            }
            Expr::Cast { kind, expr: value, data_type, format: None } => {
                let operand = self.bind(value)?;
                let to = literals::data_type(data_type, expr)?;
                if !can_cast(operand.ty(), to) {
                    return Err(type_error(expr, format!("cannot cast {} to {to}", operand.ty())));
                }
                let try_cast = matches!(kind, CastKind::TryCast | CastKind::SafeCast);
                if operand.ty() == to {
                    return Ok(operand);
                }
                Ok(ScalarExpr::Cast { expr: Box::new(operand), ty: to, try_cast })
            }
            Expr::Extract { field, expr: value, .. } => {
                let unit = literals::time_unit(field, expr)?;
                self.call(Function::Extract(unit), &[value.as_ref()], expr)
            }
            Expr::Floor { expr: value, field } | Expr::Ceil { expr: value, field } => {
                let is_floor = matches!(expr, Expr::Floor { .. });
                match field {
                    CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => {
                        let function = if is_floor { Function::Floor } else { Function::Ceil };
                        self.call(function, &[value.as_ref()], expr)
                    }
                    CeilFloorKind::DateTimeField(field) => {
                        let unit = literals::time_unit(field, expr)?;
                        let function =
                            if is_floor { Function::FloorTo(unit) } else { Function::CeilTo(unit) };
                        self.call(function, &[value.as_ref()], expr)
                    }
                    CeilFloorKind::Scale(_) => Err(unsupported(expr, "FLOOR/CEIL with a scale")),
                }
            }
            Expr::Position { expr: needle, r#in } => {
                self.call(Function::Position, &[needle.as_ref(), r#in.as_ref()], expr)
            }
            Expr::Substring { expr: value, substring_from, substring_for, .. } => {
                let Some(from) = substring_from else {
                    return Err(type_error(expr, "SUBSTRING needs a start position"));
                };
                let mut args = vec![value.as_ref(), from.as_ref()];
                args.extend(substring_for.as_deref());
                self.call(Function::Substring, &args, expr)
            }
            Expr::Trim { trim_where, trim_what, expr: value, trim_characters: None } => {
                let function = match trim_where {
                    Some(TrimWhereField::Leading) => Function::TrimLeading,
                    Some(TrimWhereField::Trailing) => Function::TrimTrailing,
                    _ => Function::TrimBoth,
                };
                let mut args = vec![value.as_ref()];
                args.extend(trim_what.as_deref());
                self.call(function, &args, expr)
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                let operand = operand.as_deref();
                let mut conditions_bound = Vec::new();
                let mut results = Vec::new();
                for case_when in conditions {
                    let condition = match operand {
                        // CASE x WHEN v: x = v.
                        Some(operand) => self.binary(BinaryOp::Eq, operand, &case_when.condition)?,
                        None => self.boolean(&case_when.condition)?,
                    };
                    conditions_bound.push(condition);
                    results.push(self.bind(&case_when.result)?);
                }
                results.push(match else_result {
                    Some(otherwise) => self.bind(otherwise)?,
                    None => ScalarExpr::literal(Datum::Null, SqlType::Null),
                });
                let mut results = self.unify(results, expr, "CASE")?;
                let otherwise = results.pop().unwrap_or(ScalarExpr::literal(Datum::Null, SqlType::Null));
                let ty = otherwise.ty();
                Ok(ScalarExpr::Case {
                    branches: conditions_bound.into_iter().zip(results).collect(),
                    otherwise: Box::new(otherwise),
                    ty,
                })
            }
            Expr::Function(function) => self.function(function, expr),
            other => Err(unsupported(expr, format!("expression {other}"))),
        }
    }

    fn column(&self, ident: &ast::Ident, expr: &Expr) -> BindResult<ScalarExpr> {
        let matches: Vec<usize> = self
            .schema
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| match ident.quote_style {
                Some(_) => *name == ident.value,
                None => {
                    name.eq_ignore_ascii_case(&ident.value)
                        || name.to_lowercase() == ident.value.to_lowercase()
                }
            })
            .map(|(index, _)| index)
            .collect();
        let names = |indexes: &mut dyn Iterator<Item = usize>| {
            indexes.map(|i| format!("`{}`", self.schema[i].0)).collect::<Vec<_>>().join(", ")
        };
        match matches.as_slice() {
            [index] => Ok(ScalarExpr::Column { index: *index, ty: self.schema[*index].1 }),
            [] => Err(BindError::UnknownColumn {
                name: ident.value.clone(),
                available: names(&mut (0..self.schema.len())),
                location: location_of(expr),
            }),
            many => {
                // An exact match wins over case-insensitive ones.
                if let Some(&index) = many.iter().find(|&&i| self.schema[i].0 == ident.value) {
                    return Ok(ScalarExpr::Column { index, ty: self.schema[index].1 });
                }
                Err(BindError::AmbiguousColumn {
                    name: ident.value.clone(),
                    candidates: names(&mut many.iter().copied()),
                    location: location_of(expr),
                })
            }
        }
    }

    /// A boolean operand (a `NULL` literal is a boolean `NULL`).
    fn boolean(&self, expr: &Expr) -> BindResult<ScalarExpr> {
        let bound = self.bind(expr)?;
        match bound.ty() {
            SqlType::Boolean => Ok(bound),
            SqlType::Null => Ok(coerce(bound, SqlType::Boolean)),
            other => Err(type_error(expr, format!("expected a BOOLEAN, found {other}"))),
        }
    }

    fn unary(&self, op: UnaryOp, operand: ScalarExpr, ty: SqlType, source: &Expr) -> BindResult<ScalarExpr> {
        let operand = match operand.ty() {
            SqlType::Boolean => operand,
            SqlType::Null => coerce(operand, SqlType::Boolean),
            other => return Err(type_error(source, format!("NOT needs a BOOLEAN, found {other}"))),
        };
        Ok(ScalarExpr::Unary { op, expr: Box::new(operand), ty })
    }

    fn is(&self, op: UnaryOp, operand: &Expr, boolean: bool) -> BindResult<ScalarExpr> {
        let bound = if boolean { self.boolean(operand)? } else { self.bind(operand)? };
        Ok(ScalarExpr::Unary { op, expr: Box::new(bound), ty: SqlType::Boolean })
    }

    /// Converts all operands to their common type (`CASE` results, `IN` lists, `COALESCE`).
    fn unify(&self, operands: Vec<ScalarExpr>, source: &Expr, what: &str) -> BindResult<Vec<ScalarExpr>> {
        let mut ty = SqlType::Null;
        for operand in &operands {
            // A string literal among dates or numbers is converted to them below.
            if is_string_literal(operand)
                && operands.iter().any(|o| !o.ty().is_string() && o.ty() != SqlType::Null)
            {
                continue;
            }
            ty = common_type(ty, operand.ty())
                .ok_or_else(|| type_error(source, format!("{what} mixes {ty} and {}", operand.ty())))?;
        }
        operands
            .into_iter()
            .map(|operand| {
                if is_string_literal(&operand) && !ty.is_string() {
                    coerce_constant(operand, ty, source)
                } else {
                    Ok(coerce(operand, ty))
                }
            })
            .collect()
    }

    fn binary(&self, op: BinaryOp, left_expr: &Expr, right_expr: &Expr) -> BindResult<ScalarExpr> {
        let source = left_expr;
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let (left, right) = (self.boolean(left_expr)?, self.boolean(right_expr)?);
                return Ok(ScalarExpr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                    ty: SqlType::Boolean,
                });
            }
            BinaryOp::Concat => {
                let (left, right) = (self.bind(left_expr)?, self.bind(right_expr)?);
                for (side, expr) in [(&left, left_expr), (&right, right_expr)] {
                    if !side.ty().is_string() && side.ty() != SqlType::Null {
                        return Err(type_error(expr, format!("|| needs strings, found {}", side.ty())));
                    }
                }
                let (left, right) = (coerce(left, SqlType::STRING), coerce(right, SqlType::STRING));
                return Ok(ScalarExpr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                    ty: SqlType::STRING,
                });
            }
            _ => {}
        }
        let (left, right) = (self.bind(left_expr)?, self.bind(right_expr)?);
        if op.is_comparison() || matches!(op, BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom) {
            let mut operands = self.unify(vec![left, right], right_expr, op.symbol())?.into_iter();
            let (Some(left), Some(right)) = (operands.next(), operands.next()) else {
                return Err(type_error(source, "comparison needs two operands"));
            };
            // Every type has an order once both sides have one type (booleans: FALSE < TRUE).
            return Ok(ScalarExpr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                ty: SqlType::Boolean,
            });
        }
        self.arithmetic(op, left, right, left_expr)
    }

    fn arithmetic(
        &self,
        op: BinaryOp,
        left: ScalarExpr,
        right: ScalarExpr,
        source: &Expr,
    ) -> BindResult<ScalarExpr> {
        use SqlType::*;
        let (lt, rt) = (left.ty(), right.ty());
        let make = |left: ScalarExpr, right: ScalarExpr, ty| {
            Ok(ScalarExpr::Binary { op, left: Box::new(left), right: Box::new(right), ty })
        };
        // A NULL operand takes the other's type.
        if lt == Null && rt == Null {
            return Err(type_error(source, format!("cannot infer the type of NULL {} NULL", op.symbol())));
        }
        if lt == Null {
            return self.arithmetic(op, coerce(left, rt), right, source);
        }
        if rt == Null {
            return self.arithmetic(op, left, coerce(right, lt), source);
        }
        if lt.is_numeric() && rt.is_numeric() {
            if lt == Double || rt == Double {
                return make(coerce(left, Double), coerce(right, Double), Double);
            }
            if let (Some((p1, s1)), Some((p2, s2))) = (lt.as_decimal(), rt.as_decimal()) {
                if matches!(lt, Decimal { .. }) || matches!(rt, Decimal { .. }) {
                    let (p1, s1, p2, s2) = (p1 as i64, s1 as i64, p2 as i64, s2 as i64);
                    // Flink's LogicalTypeMerging.
                    let ty = match op {
                        BinaryOp::Add | BinaryOp::Sub => {
                            let scale = s1.max(s2);
                            decimal_type((p1 - s1).max(p2 - s2) + scale + 1, scale)
                        }
                        BinaryOp::Mul => decimal_type(p1 + p2 + 1, s1 + s2),
                        BinaryOp::Div => {
                            let scale = 6.max(s1 + p2 + 1);
                            decimal_type(p1 - s1 + s2 + scale, scale)
                        }
                        _ => {
                            let scale = s1.max(s2);
                            decimal_type((p1 - s1).min(p2 - s2) + scale, scale)
                        }
                    };
                    let as_decimal = |t: SqlType| {
                        t.as_decimal().map_or(t, |(p, s)| SqlType::Decimal { precision: p, scale: s })
                    };
                    return make(coerce(left, as_decimal(lt)), coerce(right, as_decimal(rt)), ty);
                }
            }
            let ty = common_type(lt, rt).unwrap_or(BigInt);
            return make(coerce(left, ty), coerce(right, ty), ty);
        }
        let ty = match (op, lt, rt) {
            (BinaryOp::Add | BinaryOp::Sub, Timestamp { .. } | Date, Interval(_)) => lt,
            (BinaryOp::Add, Interval(_), Timestamp { .. } | Date) => rt,
            (BinaryOp::Add | BinaryOp::Sub, Interval(a), Interval(b)) if a == b => lt,
            (BinaryOp::Mul, Interval(_), Int | BigInt) => lt,
            (BinaryOp::Mul, Int | BigInt, Interval(_)) => rt,
            _ => {
                return Err(type_error(source, format!("no operator {lt} {} {rt}", op.symbol())));
            }
        };
        make(left, right, ty)
    }

    fn like(
        &self,
        value: &Expr,
        pattern: &Expr,
        escape: Option<&Expr>,
        negated: bool,
        case_insensitive: bool,
    ) -> BindResult<ScalarExpr> {
        let mut sides = Vec::new();
        for side in [value, pattern] {
            let bound = self.bind(side)?;
            if !bound.ty().is_string() && bound.ty() != SqlType::Null {
                return Err(type_error(side, format!("LIKE needs strings, found {}", bound.ty())));
            }
            sides.push(coerce(bound, SqlType::STRING));
        }
        let escape = match escape {
            None => None,
            Some(escape_expr) => match self.bind(escape_expr)? {
                ScalarExpr::Literal { value: Datum::String(text), .. } if text.chars().count() == 1 => {
                    text.chars().next()
                }
                _ => return Err(type_error(escape_expr, "ESCAPE must be a string of one character")),
            },
        };
        let pattern = sides.pop().unwrap_or(ScalarExpr::literal(Datum::Null, SqlType::STRING));
        let value = sides.pop().unwrap_or(ScalarExpr::literal(Datum::Null, SqlType::STRING));
        Ok(ScalarExpr::Like {
            expr: Box::new(value),
            pattern: Box::new(pattern),
            escape,
            negated,
            case_insensitive,
        })
    }

    /// A call of a built-in function on parsed arguments.
    fn call(&self, function: Function, args: &[&Expr], source: &Expr) -> BindResult<ScalarExpr> {
        let bound = args.iter().map(|arg| self.bind(arg)).collect::<BindResult<Vec<_>>>()?;
        self.call_bound(function, bound, source)
    }

    fn call_bound(&self, function: Function, args: Vec<ScalarExpr>, source: &Expr) -> BindResult<ScalarExpr> {
        let types: Vec<SqlType> = args.iter().map(ScalarExpr::ty).collect();
        let signature =
            functions::resolve(function, &types).map_err(|message| type_error(source, message))?;
        let args: Vec<ScalarExpr> =
            args.into_iter().zip(&signature.params).map(|(arg, ty)| coerce(arg, *ty)).collect();
        let regex = match args.get(1) {
            Some(ScalarExpr::Literal { value: Datum::String(pattern), .. }) if function.takes_regex() => {
                Some(
                    functions::compile_regex(function, pattern)
                        .map_err(|e| type_error(source, e.to_string()))?,
                )
            }
            _ => None,
        };
        Ok(ScalarExpr::Call { function, args, ty: signature.result, regex })
    }

    fn function(&self, call: &ast::Function, source: &Expr) -> BindResult<ScalarExpr> {
        let name = call.name.0.last().map(|part| part.to_string()).unwrap_or_default().to_ascii_uppercase();
        if call.over.is_some() || call.filter.is_some() || !call.within_group.is_empty() {
            return Err(unsupported(source, format!("{name} as an aggregate or window function")));
        }
        let args: Vec<&Expr> = match &call.args {
            FunctionArguments::None => vec![],
            FunctionArguments::List(list)
                if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
            {
                list.args
                    .iter()
                    .map(|arg| match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Ok(expr),
                        _ => Err(unsupported(source, format!("this argument of {name}"))),
                    })
                    .collect::<BindResult<_>>()?
            }
            _ => return Err(unsupported(source, format!("these arguments of {name}"))),
        };
        match name.as_str() {
            "COALESCE" | "IFNULL" => {
                if args.is_empty() || (name == "IFNULL" && args.len() != 2) {
                    return Err(type_error(source, format!("wrong number of arguments for {name}")));
                }
                let bound = args.iter().map(|arg| self.bind(arg)).collect::<BindResult<Vec<_>>>()?;
                let args = self.unify(bound, source, &name)?;
                let ty = args[0].ty();
                Ok(ScalarExpr::Coalesce { args, ty })
            }
            "NULLIF" => {
                let [left, right] = args[..] else {
                    return Err(type_error(source, "NULLIF takes 2 arguments"));
                };
                let mut operands =
                    self.unify(vec![self.bind(left)?, self.bind(right)?], source, "NULLIF")?.into_iter();
                let (Some(left), Some(right)) = (operands.next(), operands.next()) else {
                    return Err(type_error(source, "NULLIF takes 2 arguments"));
                };
                let ty = left.ty();
                Ok(ScalarExpr::NullIf { left: Box::new(left), right: Box::new(right), ty })
            }
            "IF" => {
                let [condition, then, otherwise] = args[..] else {
                    return Err(type_error(source, "IF takes 3 arguments"));
                };
                let condition = self.boolean(condition)?;
                let mut results = self.unify(vec![self.bind(then)?, self.bind(otherwise)?], source, "IF")?;
                let otherwise = results.pop().unwrap_or(ScalarExpr::literal(Datum::Null, SqlType::Null));
                let then = results.pop().unwrap_or(ScalarExpr::literal(Datum::Null, SqlType::Null));
                let ty = otherwise.ty();
                Ok(ScalarExpr::Case { branches: vec![(condition, then)], otherwise: Box::new(otherwise), ty })
            }
            "MOD" => {
                let [left, right] = args[..] else {
                    return Err(type_error(source, "MOD takes 2 arguments"));
                };
                self.binary(BinaryOp::Mod, left, right)
            }
            "GREATEST" | "LEAST" => {
                if args.is_empty() {
                    return Err(type_error(source, format!("{name} needs arguments")));
                }
                let bound = args.iter().map(|arg| self.bind(arg)).collect::<BindResult<Vec<_>>>()?;
                let args = self.unify(bound, source, &name)?;
                let ty = args[0].ty();
                let function = if name == "GREATEST" { Function::Greatest } else { Function::Least };
                Ok(ScalarExpr::Call { function, args, ty, regex: None })
            }
            "TIMESTAMPADD" | "TIMESTAMPDIFF" => {
                let [unit, first, second] = args[..] else {
                    return Err(type_error(source, format!("{name} takes a unit and 2 arguments")));
                };
                let unit_name = match unit {
                    Expr::Identifier(ident) => ident.value.clone(),
                    other => return Err(type_error(other, "expected a time unit such as DAY")),
                };
                let unit = TimeUnit::from_name(&unit_name)
                    .filter(|u| u.months().is_some() || u.fixed_millis().is_some())
                    .ok_or_else(|| type_error(unit, format!("{unit_name} is not a time unit of {name}")))?;
                let function = if name == "TIMESTAMPADD" {
                    Function::TimestampAdd(unit)
                } else {
                    Function::TimestampDiff(unit)
                };
                self.call(function, &[first, second], source)
            }
            "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "CURRENT_TIME" | "NOW" | "LOCALTIMESTAMP" | "PROCTIME"
            | "RAND" | "RAND_INTEGER" | "UUID" => Err(unsupported(
                source,
                format!("{name}: results must not depend on when or where a row is processed"),
            )),
            _ => {
                let function = functions::lookup(&name, args.len()).ok_or_else(|| {
                    BindError::UnknownFunction { name: name.clone(), location: location_of(source) }
                })?;
                self.call(function, &args, source)
            }
        }
    }
}

/// For tests and the shell: a bound expression evaluated on one row.
pub fn eval_sql(sql: &str, schema: &[(String, SqlType)], row: &Row) -> Result<Datum, String> {
    let expr = bind_expression(sql, schema).map_err(|e| e.to_string())?;
    expr.eval(row).map_err(|e: EvalError| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<(String, SqlType)> {
        vec![
            ("a".to_owned(), SqlType::Int),
            ("Price".to_owned(), SqlType::decimal(10, 2).unwrap()),
            ("name".to_owned(), SqlType::STRING),
            ("NAME".to_owned(), SqlType::STRING),
        ]
    }

    #[test]
    fn columns_resolve_case_insensitively_unless_quoted_or_ambiguous() {
        let bound = bind_expression("PRICE + a", &schema()).unwrap();
        assert_eq!(bound.ty(), SqlType::decimal(13, 2).unwrap(), "DECIMAL(10,2) + DECIMAL(10,0)");
        assert!(matches!(bind_expression("`price`", &schema()), Err(BindError::UnknownColumn { .. })));
        assert!(matches!(bind_expression("Name", &schema()), Err(BindError::AmbiguousColumn { .. })));
        assert!(matches!(bind_expression("name", &schema()), Ok(ScalarExpr::Column { index: 2, .. })));
        assert!(matches!(bind_expression("`NAME`", &schema()), Ok(ScalarExpr::Column { index: 3, .. })));
    }

    #[test]
    fn errors_say_where() {
        let error = bind_expression("a +\n  missing", &schema()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown column `missing` at line 2, column 3; the input has `a`, `Price`, `name`, `NAME`"
        );
        let error = bind_expression("a + 'x' || name", &schema()).unwrap_err();
        assert!(
            matches!(error, BindError::Type { location: Some(Location { line: 1, column: 1 }), .. }),
            "{error}"
        );
        assert!(matches!(bind_expression("a +", &schema()), Err(BindError::Syntax { .. })));
        assert!(matches!(bind_expression("a b", &schema()), Err(BindError::Syntax { .. })));
        assert!(matches!(
            bind_expression("frobnicate(a)", &schema()),
            Err(BindError::UnknownFunction { .. })
        ));
        assert!(matches!(bind_expression("NOW()", &schema()), Err(BindError::Unsupported { .. })));
    }

    #[test]
    fn constants_fold_but_failures_stay_lazy() {
        assert_eq!(
            bind_expression("1 + 2 * 3", &schema()).unwrap(),
            ScalarExpr::literal(Datum::Int(7), SqlType::Int)
        );
        let lazy = bind_expression("CASE WHEN a > 0 THEN 1 / 0 ELSE 2 END", &schema()).unwrap();
        assert!(lazy.to_string().contains("(1 / 0)"), "{lazy}");
        assert!(matches!(bind_expression("DATE '2024-02-30'", &schema()), Err(BindError::Type { .. })));
    }

    #[test]
    fn decimal_result_types_follow_flink() {
        let ty = |sql: &str| bind_expression(sql, &schema()).unwrap().ty().to_string();
        assert_eq!(ty("price * price"), "DECIMAL(21, 4)");
        assert_eq!(ty("price / price"), "DECIMAL(23, 13)");
        assert_eq!(ty("price % a"), "DECIMAL(10, 2)");
        assert_eq!(ty("price + 1.5e0"), "DOUBLE");
        assert_eq!(ty("a + 10000000000"), "BIGINT");
        assert_eq!(ty("CAST(1 AS DECIMAL(38, 10)) * CAST(1 AS DECIMAL(38, 10))"), "DECIMAL(38, 6)");
    }
}
