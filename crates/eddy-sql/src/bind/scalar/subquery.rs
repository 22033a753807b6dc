//! Subqueries in expressions: bound by the query binder with the current scope as their
//! outer scope, queued as [`PendingApply`]s, and read through placeholder columns that
//! [`apply_all`] and [`renumber_applies`] turn into the columns `Plan::Apply` appends.

use sqlparser::ast::{self, Expr};

use super::Binder;
use crate::bind::coerce::{coerce, common_type};
use crate::bind::scope::Scope;
use crate::bind::{type_error, unsupported, BindResult};
use crate::expr::{ScalarExpr, UnaryOp};
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
