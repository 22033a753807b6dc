//! The expression binder: a `sqlparser` expression in a scope to a typed [`ScalarExpr`].
//!
//! Inside a query it also meets aggregates and subqueries, through a [`Context`]:
//! * A subquery (`EXISTS`, `IN (SELECT ...)`, a scalar subquery) is bound by the query binder
//!   (through [`Queries`]) with the current scope as its outer scope, and queued as a
//!   [`PendingApply`]; the expression reads the column that `Plan::Apply` will append. Apply
//!   columns are numbered from a placeholder base until the caller knows the input's width and
//!   renumbers them ([`renumber_applies`]).
//! * In an aggregating block (`aggregate.rs`) an expression that equals a group key reads the
//!   key's column, an aggregate call reads its result column, and any other column is an error.

use std::cell::{Cell, RefCell};

use sqlparser::ast::{
    self, BinaryOperator, CastKind, CeilFloorKind, DateTimeField, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, TrimWhereField, UnaryOperator, Value,
};

pub(crate) mod aggregate;
mod subquery;
pub(crate) mod window_property;

use super::coerce::{coerce, coerce_constant, common_type, decimal_type, fold, is_string_literal};
use super::literals;
use super::scope::{Queries, Resolution, Scope};
use super::{location_of, type_error, unsupported, BindError, BindResult};
use crate::cast::can_cast;
use crate::datetime::TimeUnit;
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::functions::{self, Function};
use crate::types::SqlType;
use aggregate::Grouping;
pub(crate) use subquery::{apply_all, filter, renumber_applies, PendingApply};

/// What binding inside a query may use and collect besides the scope.
pub(crate) struct Context<'a> {
    /// Binds subqueries.
    pub queries: &'a dyn Queries,
    /// The subqueries met so far, in order (read through placeholder columns, see
    /// `subquery.rs`).
    pub applies: RefCell<Vec<PendingApply>>,
    /// The clause, for errors (`WHERE`, `ON`, `SELECT`).
    pub clause: &'static str,
    /// Whether aggregates may appear (`SELECT`, `HAVING`, `ORDER BY`); `saw_aggregate` is
    /// set when one does outside an aggregating block, so the caller can switch to one.
    pub aggregates_allowed: bool,
    /// Set when an aggregate call was met.
    pub saw_aggregate: Cell<bool>,
    /// The aggregating block, when there is one.
    pub grouping: Option<&'a Grouping<'a>>,
}

impl<'a> Context<'a> {
    /// A context for one clause.
    pub fn new(queries: &'a dyn Queries, clause: &'static str, aggregates_allowed: bool) -> Context<'a> {
        Context {
            queries,
            applies: RefCell::new(vec![]),
            clause,
            aggregates_allowed,
            saw_aggregate: Cell::new(false),
            grouping: None,
        }
    }
}

/// Binds expressions over one scope, with the enclosing queries' scopes for correlation.
pub(crate) struct Binder<'a> {
    /// The columns of the row being read.
    scope: &'a Scope,
    /// Enclosing scopes: `outer[0]` is depth 1.
    outer: &'a [&'a Scope],
    /// Aggregates and subqueries, inside a query.
    context: Option<&'a Context<'a>>,
}

impl<'a> Binder<'a> {
    /// A binder over `scope`.
    pub fn new(scope: &'a Scope, outer: &'a [&'a Scope], context: Option<&'a Context<'a>>) -> Binder<'a> {
        Binder { scope, outer, context }
    }

    /// Resolves `[qualifier.]name`: the scope, then (in an aggregating block) the error for an
    /// ungrouped column, then the enclosing scopes.
    fn column(
        &self,
        qualifier: Option<&ast::Ident>,
        ident: &ast::Ident,
        expr: &Expr,
    ) -> BindResult<ScalarExpr> {
        let ambiguous = |scope: &Scope, many: Vec<usize>| {
            let names: Vec<String> = many
                .iter()
                .map(|&i| {
                    let c = &scope.columns[i];
                    match c.qualifiers.first() {
                        Some(q) => format!("`{q}.{}`", c.name.as_deref().unwrap_or("")),
                        None => format!("`{}`", c.name.as_deref().unwrap_or("")),
                    }
                })
                .collect();
            BindError::AmbiguousColumn {
                name: expr.to_string(),
                candidates: names.join(", "),
                location: location_of(expr),
            }
        };
        match self.scope.resolve(qualifier, ident) {
            Resolution::Found(index) => {
                return Ok(ScalarExpr::Column { index, ty: self.scope.columns[index].ty })
            }
            Resolution::Ambiguous(many) => return Err(ambiguous(self.scope, many)),
            Resolution::Missing => {}
        }
        if let Some(grouping) = self.context.and_then(|c| c.grouping) {
            if !matches!(grouping.input.resolve(qualifier, ident), Resolution::Missing) {
                return Err(BindError::Grouping {
                    message: format!(
                        "column {expr} must appear in GROUP BY or be used in an aggregate function"
                    ),
                    location: location_of(expr),
                });
            }
        }
        for (depth, scope) in self.outer.iter().enumerate() {
            match scope.resolve(qualifier, ident) {
                Resolution::Found(index) => {
                    return Ok(ScalarExpr::Outer { depth: depth + 1, index, ty: scope.columns[index].ty })
                }
                Resolution::Ambiguous(many) => return Err(ambiguous(scope, many)),
                Resolution::Missing => {}
            }
        }
        if let Some(depth) = self.outer.iter().position(|s| s.is_grouped_away(qualifier, ident)) {
            return Err(BindError::Grouping {
                message: format!(
                    "column {expr} of the query {} level{} out must appear in its GROUP BY or be used in an aggregate function",
                    depth + 1,
                    if depth == 0 { "" } else { "s" }
                ),
                location: location_of(expr),
            });
        }
        if let Some(table) = qualifier {
            let known = self.scope.has_qualifier(table)
                || self.context.and_then(|c| c.grouping).is_some_and(|g| g.input.has_qualifier(table))
                || self.outer.iter().any(|s| s.has_qualifier(table));
            if !known {
                return Err(BindError::UnknownTable {
                    name: table.value.clone(),
                    location: location_of(expr),
                });
            }
        }
        let available = match self.context.and_then(|c| c.grouping) {
            Some(grouping) => grouping.input.describe(),
            None => self.scope.describe(),
        };
        Err(BindError::UnknownColumn { name: expr.to_string(), available, location: location_of(expr) })
    }

    /// An aggregate call outside an aggregating block: noted (so a `SELECT` can become one)
    /// and an error.
    fn misplaced_aggregate(&self, name: &str, source: &Expr) -> BindResult<ScalarExpr> {
        match self.context {
            Some(context) if context.aggregates_allowed => {
                context.saw_aggregate.set(true);
                Err(BindError::Grouping {
                    message: format!("{name} needs an aggregating query"),
                    location: location_of(source),
                })
            }
            Some(context) => Err(BindError::Grouping {
                message: format!("aggregate functions are not allowed in {}", context.clause),
                location: location_of(source),
            }),
            None => Err(BindError::Grouping {
                message: format!("aggregate function {name} is not allowed here"),
                location: location_of(source),
            }),
        }
    }

    /// Binds `expr`, folding constant subtrees.
    pub(crate) fn bind(&self, expr: &Expr) -> BindResult<ScalarExpr> {
        if let Some(bound) = self.grouped(expr)? {
            return Ok(bound);
        }
        self.bind_unfolded(expr).map(fold)
    }

    fn bind_unfolded(&self, expr: &Expr) -> BindResult<ScalarExpr> {
        match expr {
            Expr::Identifier(ident) => self.column(None, ident, expr),
            Expr::CompoundIdentifier(parts) => match &parts[..] {
                [table, column] => self.column(Some(table), column, expr),
                _ => Err(unsupported(expr, format!("the name {expr} (only `table.column` is)"))),
            },
            Expr::Subquery(query) => self.scalar_subquery(query, expr),
            Expr::Exists { subquery, negated } => self.exists(subquery, *negated, expr),
            Expr::In { expr: value, target: ast::InTarget::Subquery(query), negated, .. } => {
                self.in_subquery(value, query, *negated, expr)
            }
            // `x op ANY (subquery)`, `x op SOME (...)`, `x op ALL (...)`.
            Expr::AnyOp { left, compare_op, right, .. } | Expr::AllOp { left, compare_op, right } => {
                let all = matches!(expr, Expr::AllOp { .. });
                match right.as_ref() {
                    Expr::Subquery(query) => self.quantified(left, compare_op, query, all, expr),
                    _ => Err(unsupported(expr, "ANY or ALL of something other than a subquery")),
                }
            }
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

    /// A boolean operand (a `NULL` literal is a boolean `NULL`).
    pub(crate) fn boolean(&self, expr: &Expr) -> BindResult<ScalarExpr> {
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
    pub(crate) fn unify(
        &self,
        operands: Vec<ScalarExpr>,
        source: &Expr,
        what: &str,
    ) -> BindResult<Vec<ScalarExpr>> {
        let mut ty = SqlType::Null;
        // Computed once: `VALUES` unifies a column of every row (linear, not quadratic).
        let has_other = operands.iter().any(|o| !o.ty().is_string() && o.ty() != SqlType::Null);
        for operand in &operands {
            // A string literal among dates or numbers is converted to them below.
            if is_string_literal(operand) && has_other {
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
        let name = crate::bind::call_name(call);
        if aggregate::is_aggregate(call) {
            return self.misplaced_aggregate(&name, source);
        }
        if call.over.is_some() || call.filter.is_some() || !call.within_group.is_empty() {
            return Err(unsupported(source, format!("{name} as an aggregate or window function (a window function must be a whole select-list item)")));
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
        if let Some(bound) = window_property::window_property(self, &name, source) {
            return bound;
        }
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
            "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "CURRENT_TIME" | "NOW" | "LOCALTIMESTAMP" | "RAND"
            | "RAND_INTEGER" | "UUID" => Err(unsupported(
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
