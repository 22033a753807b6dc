//! Subqueries in expressions: bound by the query binder with the current scope as their
//! outer scope, queued as [`PendingApply`]s, and read through placeholder columns that
//! [`apply_all`] and [`renumber_applies`] turn into the columns `Plan::Apply` appends.

use sqlparser::ast::{self, BinaryOperator, Expr};

use super::Binder;
use crate::bind::coerce::{coerce, common_type};
use crate::bind::scope::Scope;
use crate::bind::{type_error, unsupported, BindResult};
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::plan::{ApplyKind, Plan};
use crate::types::SqlType;

/// Apply columns are numbered from here while the input's width is not yet known.
pub(crate) const APPLY_BASE: usize = 1 << 40;

/// A subquery waiting to become a `Plan::Apply` on the input of the expressions being bound.
#[derive(Clone, Debug)]
pub(crate) struct PendingApply {
    /// The subquery's plan (its `Outer` depth-1 columns read the input row).
    pub subquery: Plan,
    /// What it appends.
    pub kind: ApplyKind,
    /// The appended column's name.
    pub name: String,
}

/// Renumbers Apply placeholder columns to follow `width` input columns.
pub(crate) fn renumber_applies(expr: &mut ScalarExpr, width: usize) {
    expr.remap_columns(&|c| if c >= APPLY_BASE { c - APPLY_BASE + width } else { c });
}

/// Wraps `plan` in the pending Apply nodes, in order, renumbering their placeholders.
pub(crate) fn apply_all(mut plan: Plan, applies: Vec<PendingApply>) -> Plan {
    let width = plan.arity();
    for pending in applies {
        let mut kind = pending.kind;
        if let ApplyKind::In { exprs } = &mut kind {
            exprs.iter_mut().for_each(|e| renumber_applies(e, width));
        }
        plan = Plan::Apply {
            input: Box::new(plan),
            subquery: Box::new(pending.subquery),
            kind,
            name: pending.name,
        };
    }
    plan
}

impl Binder<'_> {
    /// The scopes a subquery here sees: this one, then the enclosing ones.
    fn subquery_scopes(&self) -> Vec<&Scope> {
        std::iter::once(self.scope).chain(self.outer.iter().copied()).collect()
    }

    fn queue(&self, subquery: Plan, kind: ApplyKind, ty: SqlType, source: &Expr) -> BindResult<ScalarExpr> {
        let Some(context) = self.context else {
            return Err(unsupported(source, "a subquery here"));
        };
        let mut applies = context.applies.borrow_mut();
        let position = applies.len();
        applies.push(PendingApply { subquery, kind, name: format!("$subquery{position}") });
        let index = APPLY_BASE + position;
        Ok(ScalarExpr::Column { index, ty })
    }

    fn bound_subquery(&self, query: &ast::Query, source: &Expr) -> BindResult<(Plan, Vec<String>)> {
        let Some(context) = self.context else {
            return Err(unsupported(source, "a subquery here"));
        };
        let scopes = self.subquery_scopes();
        context.queries.subquery(query, &scopes)
    }

    pub(super) fn scalar_subquery(&self, query: &ast::Query, source: &Expr) -> BindResult<ScalarExpr> {
        let (plan, _) = self.bound_subquery(query, source)?;
        let columns = plan.columns();
        let [column] = &columns[..] else {
            return Err(type_error(
                source,
                format!("a scalar subquery must return one column, not {}", columns.len()),
            ));
        };
        self.queue(plan, ApplyKind::Scalar, column.ty, source)
    }

    pub(super) fn exists(&self, query: &ast::Query, negated: bool, source: &Expr) -> BindResult<ScalarExpr> {
        let (plan, _) = self.bound_subquery(query, source)?;
        let exists = self.queue(plan, ApplyKind::Exists, SqlType::Boolean, source)?;
        Ok(if negated {
            ScalarExpr::Unary { op: UnaryOp::Not, expr: Box::new(exists), ty: SqlType::Boolean }
        } else {
            exists
        })
    }

    /// `x op ANY (subquery)` (`SOME` alike) and `x op ALL (subquery)`, three-valued:
    /// `ANY` is `TRUE` when some row compares `TRUE`, else `NULL` when some comparison is
    /// `NULL`, else `FALSE`; `x op ALL (s)` is `NOT (x op' ANY (s))` with `op'` the opposite
    /// comparison. `= ANY` is `IN`, `<> ALL` is `NOT IN`; the others are two `EXISTS`: one
    /// for a `TRUE` comparison, one for a `NULL` one.
    pub(super) fn quantified(
        &self,
        value: &Expr,
        op: &BinaryOperator,
        query: &ast::Query,
        all: bool,
        source: &Expr,
    ) -> BindResult<ScalarExpr> {
        let op = match op {
            BinaryOperator::Eq => BinaryOp::Eq,
            BinaryOperator::NotEq => BinaryOp::NotEq,
            BinaryOperator::Lt => BinaryOp::Lt,
            BinaryOperator::LtEq => BinaryOp::LtEq,
            BinaryOperator::Gt => BinaryOp::Gt,
            BinaryOperator::GtEq => BinaryOp::GtEq,
            other => return Err(unsupported(source, format!("{other} with ANY or ALL"))),
        };
        // ALL is NOT ANY of the opposite comparison.
        let (op, negate) = if all {
            let opposite = match op {
                BinaryOp::Eq => BinaryOp::NotEq,
                BinaryOp::NotEq => BinaryOp::Eq,
                BinaryOp::Lt => BinaryOp::GtEq,
                BinaryOp::LtEq => BinaryOp::Gt,
                BinaryOp::Gt => BinaryOp::LtEq,
                _ => BinaryOp::Lt,
            };
            (opposite, true)
        } else {
            (op, false)
        };
        let not =
            |e: ScalarExpr| ScalarExpr::Unary { op: UnaryOp::Not, expr: Box::new(e), ty: SqlType::Boolean };
        if op == BinaryOp::Eq {
            let found = self.in_subquery(value, query, false, source)?;
            return Ok(if negate { not(found) } else { found });
        }
        let bound = self.bind(value)?;
        if bound.columns().iter().any(|c| *c >= APPLY_BASE) {
            return Err(unsupported(source, "a subquery on the left of ANY or ALL"));
        }
        let (plan, _) = self.bound_subquery(query, source)?;
        let columns = plan.columns();
        let [column] = &columns[..] else {
            return Err(type_error(
                source,
                format!("ANY and ALL need a subquery of one column, not {}", columns.len()),
            ));
        };
        let ty = common_type(bound.ty(), column.ty).ok_or_else(|| {
            type_error(source, format!("ANY and ALL compare {} with {}", bound.ty(), column.ty))
        })?;
        // The value as the subquery sees it: the Apply's input row is one level out.
        let mut outer_value = coerce(bound, ty);
        outer_value.transform(&mut |e| match e {
            ScalarExpr::Column { index, ty } => *e = ScalarExpr::Outer { depth: 1, index: *index, ty: *ty },
            ScalarExpr::Outer { depth, .. } => *depth += 1,
            _ => {}
        });
        let compare = ScalarExpr::Binary {
            op,
            left: Box::new(outer_value),
            right: Box::new(coerce(ScalarExpr::Column { index: 0, ty: column.ty }, ty)),
            ty: SqlType::Boolean,
        };
        let unknown =
            ScalarExpr::Unary { op: UnaryOp::IsNull, expr: Box::new(compare.clone()), ty: SqlType::Boolean };
        let some_true = Plan::Filter { input: Box::new(plan.clone()), predicate: compare };
        let some_null = Plan::Filter { input: Box::new(plan), predicate: unknown };
        let some_true = self.queue(some_true, ApplyKind::Exists, SqlType::Boolean, source)?;
        let some_null = self.queue(some_null, ApplyKind::Exists, SqlType::Boolean, source)?;
        let boolean = |value| ScalarExpr::literal(value, SqlType::Boolean);
        let any = ScalarExpr::Case {
            branches: vec![(some_true, boolean(Datum::Boolean(true))), (some_null, boolean(Datum::Null))],
            otherwise: Box::new(boolean(Datum::Boolean(false))),
            ty: SqlType::Boolean,
        };
        Ok(if negate { not(any) } else { any })
    }

    pub(super) fn in_subquery(
        &self,
        value: &Expr,
        query: &ast::Query,
        negated: bool,
        source: &Expr,
    ) -> BindResult<ScalarExpr> {
        let values: Vec<&Expr> = match value {
            Expr::Tuple(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut bound = values.iter().map(|v| self.bind(v)).collect::<BindResult<Vec<_>>>()?;
        let (mut plan, names) = self.bound_subquery(query, source)?;
        let columns = plan.columns();
        if columns.len() != bound.len() {
            return Err(type_error(
                source,
                format!("IN compares {} values with a subquery of {} columns", bound.len(), columns.len()),
            ));
        }
        let mut casts = Vec::new();
        let mut needs_cast = false;
        for (i, (expr, column)) in bound.iter_mut().zip(&columns).enumerate() {
            let ty = common_type(expr.ty(), column.ty)
                .ok_or_else(|| type_error(source, format!("IN compares {} with {}", expr.ty(), column.ty)))?;
            *expr = coerce(expr.clone(), ty);
            needs_cast |= ty != column.ty;
            casts.push(coerce(ScalarExpr::Column { index: i, ty: column.ty }, ty));
        }
        if needs_cast {
            plan = Plan::Project { input: Box::new(plan), exprs: casts, names };
        }
        let found = self.queue(plan, ApplyKind::In { exprs: bound }, SqlType::Boolean, source)?;
        Ok(if negated {
            ScalarExpr::Unary { op: UnaryOp::Not, expr: Box::new(found), ty: SqlType::Boolean }
        } else {
            found
        })
    }
}

/// `Filter` on `plan`, with Apply nodes for the predicate's subqueries below it and a
/// `Project` dropping their columns above it.
pub(crate) fn filter(plan: Plan, mut predicate: ScalarExpr, applies: Vec<PendingApply>) -> Plan {
    if applies.is_empty() {
        return Plan::Filter { input: Box::new(plan), predicate };
    }
    let columns = plan.columns();
    let width = columns.len();
    let input = apply_all(plan, applies);
    renumber_applies(&mut predicate, width);
    let filtered = Plan::Filter { input: Box::new(input), predicate };
    Plan::Project {
        input: Box::new(filtered),
        exprs: columns.iter().enumerate().map(|(index, c)| ScalarExpr::Column { index, ty: c.ty }).collect(),
        names: columns.into_iter().map(|c| c.name).collect(),
    }
}
