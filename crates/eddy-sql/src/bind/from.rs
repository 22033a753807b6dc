//! `FROM`: tables, views, `WITH` queries and derived tables with their aliases, joined by
//! commas, `CROSS JOIN`, and `[INNER | LEFT | RIGHT | FULL] [OUTER] JOIN` with `ON`, `USING`
//! or `NATURAL`.
//!
//! `USING` and `NATURAL` joins output each shared column once, first (as PostgreSQL): the
//! left one, for a `RIGHT JOIN` the right one, for a `FULL JOIN` `COALESCE(left, right)`,
//! qualified by both sides' names.

use sqlparser::ast::{
    self, JoinConstraint, JoinOperator, Spanned, TableAlias, TableFactor, TableVersion, TableWithJoins,
};

use super::coerce::{coerce, common_type};
use super::scalar::{filter, Binder, Context};
use super::scope::{Queries, Resolution, Scope, ScopeColumn};
use super::{location_of_span, unsupported_at, BindError, BindResult};
use crate::datum::{Datum, Row};
use crate::expr::{BinaryOp, ScalarExpr};
use crate::plan::{conjunction, JoinKind, Plan};
use crate::types::SqlType;

/// A bound `FROM` list: its plan and scope. An empty list is one row without columns.
pub(super) fn bind_from(
    queries: &dyn Queries,
    from: &[TableWithJoins],
    outer: &[&Scope],
) -> BindResult<(Plan, Scope)> {
    let mut result: Option<(Plan, Scope)> = None;
    for item in from {
        let right = table_with_joins(queries, item, outer)?;
        result = Some(match result {
            None => right,
            Some(left) => cross(left, right),
        });
    }
    Ok(result.unwrap_or_else(|| {
        (Plan::Values { rows: vec![Row::new(vec![])], columns: vec![] }, Scope::default())
    }))
}

fn cross((left, left_scope): (Plan, Scope), (right, right_scope): (Plan, Scope)) -> (Plan, Scope) {
    let scope = left_scope.concat(&right_scope);
    let plan = Plan::Join {
        left: Box::new(left),
        right: Box::new(right),
        kind: JoinKind::Inner,
        on: ScalarExpr::literal(Datum::Boolean(true), SqlType::Boolean),
    };
    (plan, scope)
}

fn table_with_joins(
    queries: &dyn Queries,
    item: &TableWithJoins,
    outer: &[&Scope],
) -> BindResult<(Plan, Scope)> {
    if let TableFactor::Table { version: Some(_), .. } = &item.relation {
        return Err(unsupported_at(
            item.relation.span(),
            "FOR SYSTEM_TIME AS OF outside a join's right side (a temporal join: l JOIN r FOR SYSTEM_TIME AS OF l.t ON ...)",
        ));
    }
    let mut left = factor(queries, &item.relation, outer)?;
    for join in &item.joins {
        let right = factor(queries, &join.relation, outer)?;
        let span = join.relation.span();
        let as_of = match &join.relation {
            TableFactor::Table { version: Some(TableVersion::ForSystemTimeAsOf(time)), .. } => Some(time),
            TableFactor::Table { version: Some(other), .. } => {
                return Err(unsupported_at(span, format!("{other} (FOR SYSTEM_TIME AS OF is)")))
            }
            _ => None,
        };
        let (kind, constraint) = match &join.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
            JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
            JoinOperator::FullOuter(c) => (JoinKind::Full, c),
            JoinOperator::CrossJoin(JoinConstraint::None) => {
                left = cross(left, right);
                continue;
            }
            other => {
                return Err(unsupported_at(
                    span,
                    format!("join {other:?}").chars().take(60).collect::<String>(),
                ))
            }
        };
        left = match as_of {
            Some(time) => {
                super::temporal::temporal_join(queries, left, right, kind, constraint, time, outer, span)?
            }
            None => join_with(queries, left, right, kind, constraint, outer, span)?,
        };
    }
    Ok(left)
}

fn join_with(
    queries: &dyn Queries,
    (left, left_scope): (Plan, Scope),
    (right, right_scope): (Plan, Scope),
    kind: JoinKind,
    constraint: &JoinConstraint,
    outer: &[&Scope],
    span: sqlparser::tokenizer::Span,
) -> BindResult<(Plan, Scope)> {
    let names: Vec<ast::Ident> = match constraint {
        JoinConstraint::On(on) => {
            let scope = left_scope.concat(&right_scope);
            let context = Context::new(queries, "ON", false);
            let on = Binder::new(&scope, outer, Some(&context)).boolean(on)?;
            let applies = context.applies.take();
            if applies.is_empty() {
                let plan = Plan::Join { left: Box::new(left), right: Box::new(right), kind, on };
                return Ok((plan, scope));
            }
            if kind != JoinKind::Inner {
                return Err(unsupported_at(span, "a subquery in the condition of an outer join"));
            }
            // An inner join's condition may as well filter the cross product.
            let (product, _) = cross((left, left_scope), (right, right_scope));
            let plan = filter(product, on, applies);
            return Ok((plan, scope));
        }
        JoinConstraint::Using(names) => names
            .iter()
            .map(|n| n.0.last().and_then(|p| p.as_ident()).cloned().unwrap_or_else(|| ast::Ident::new("")))
            .collect(),
        JoinConstraint::Natural => {
            let mut shared = Vec::new();
            for column in &left_scope.columns {
                let Some(name) = &column.name else { continue };
                let ident = ast::Ident::with_quote('"', name.clone());
                if matches!(right_scope.resolve(None, &ident), Resolution::Found(_))
                    && !shared.iter().any(|s: &ast::Ident| s.value == *name)
                {
                    shared.push(ident);
                }
            }
            shared
        }
        JoinConstraint::None | JoinConstraint::UsingAlias(..) => {
            return Err(unsupported_at(span, "a join without ON, USING or NATURAL"));
        }
    };
    let find = |scope: &Scope, name: &ast::Ident, side: &str| match scope.resolve(None, name) {
        Resolution::Found(index) => Ok(index),
        _ => Err(BindError::UnknownColumn {
            name: name.value.clone(),
            available: format!("{} on the {side} side of the join", scope.describe()),
            location: location_of_span(name.span).or(location_of_span(span)),
        }),
    };
    let width = left_scope.len();
    let mut equalities = Vec::new();
    let mut using = Vec::new();
    for name in &names {
        let (l, r) = (find(&left_scope, name, "left")?, find(&right_scope, name, "right")?);
        let (lt, rt) = (left_scope.columns[l].ty, right_scope.columns[r].ty);
        let ty = common_type(lt, rt).ok_or_else(|| BindError::Type {
            message: format!("USING column {} is {lt} on the left and {rt} on the right", name.value),
            location: location_of_span(span),
        })?;
        let left_column = coerce(ScalarExpr::Column { index: l, ty: lt }, ty);
        let right_column = coerce(ScalarExpr::Column { index: width + r, ty: rt }, ty);
        equalities.push(ScalarExpr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(left_column.clone()),
            right: Box::new(right_column.clone()),
            ty: SqlType::Boolean,
        });
        let output = match kind {
            JoinKind::Right => right_column,
            JoinKind::Full => ScalarExpr::Coalesce { args: vec![left_column, right_column], ty },
            _ => left_column,
        };
        let mut qualifiers = left_scope.columns[l].qualifiers.clone();
        qualifiers.extend(right_scope.columns[r].qualifiers.iter().cloned());
        using.push((l, r, output, ScopeColumn { qualifiers, name: left_scope.columns[l].name.clone(), ty }));
    }
    let plan = Plan::Join { left: Box::new(left), right: Box::new(right), kind, on: conjunction(equalities) };
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for (_, _, expr, column) in &using {
        exprs.push(expr.clone());
        columns.push(column.clone());
    }
    for (i, column) in left_scope.columns.iter().enumerate() {
        if !using.iter().any(|(l, ..)| *l == i) {
            exprs.push(ScalarExpr::Column { index: i, ty: column.ty });
            columns.push(column.clone());
        }
    }
    for (i, column) in right_scope.columns.iter().enumerate() {
        if !using.iter().any(|(_, r, ..)| *r == i) {
            exprs.push(ScalarExpr::Column { index: width + i, ty: column.ty });
            columns.push(column.clone());
        }
    }
    let names = columns.iter().map(|c| c.name.clone().unwrap_or_default()).collect();
    Ok((Plan::Project { input: Box::new(plan), exprs, names }, Scope { columns, grouped: vec![] }))
}

fn factor(queries: &dyn Queries, factor: &TableFactor, outer: &[&Scope]) -> BindResult<(Plan, Scope)> {
    match factor {
        TableFactor::Table { name, alias, args: None, .. } => {
            let (plan, qualifier) = queries.relation(name)?;
            let scope = Scope::of_plan(&plan, Some(&qualifier));
            with_alias(plan, scope, alias.as_ref(), factor)
        }
        TableFactor::Derived { lateral: false, subquery, alias, .. } => {
            let (plan, names) = queries.subquery(subquery, outer)?;
            let mut scope = Scope::of_plan(&plan, None);
            for (column, name) in scope.columns.iter_mut().zip(names) {
                column.name = Some(name);
            }
            with_alias(plan, scope, alias.as_ref(), factor)
        }
        TableFactor::TableFunction { alias, .. } => {
            let (plan, scope) = super::tvf::table_function(queries, factor)?;
            with_alias(plan, scope, alias.as_ref(), factor)
        }
        TableFactor::NestedJoin { table_with_joins: nested, alias } => {
            let (plan, scope) = table_with_joins(queries, nested, outer)?;
            with_alias(plan, scope, alias.as_ref(), factor)
        }
        TableFactor::MatchRecognize { table, alias, .. } => {
            let (input, scope) = self::factor(queries, table, outer)?;
            let (plan, scope) = super::match_recognize::bind(input, scope, factor)?;
            with_alias(plan, scope, alias.as_ref(), factor)
        }
        other => Err(unsupported_at(other.span(), format!("FROM item {other}"))),
    }
}

/// `AS alias [(c1, c2, ...)]`: the columns are qualified by the alias only, and renamed.
fn with_alias(
    plan: Plan,
    mut scope: Scope,
    alias: Option<&TableAlias>,
    source: &TableFactor,
) -> BindResult<(Plan, Scope)> {
    let Some(alias) = alias else {
        return Ok((plan, scope));
    };
    if alias.columns.len() > scope.len() {
        return Err(BindError::Type {
            message: format!(
                "{} has {} columns but {} names are given",
                alias.name,
                scope.len(),
                alias.columns.len()
            ),
            location: location_of_span(source.span()),
        });
    }
    for (i, column) in scope.columns.iter_mut().enumerate() {
        column.qualifiers = vec![alias.name.value.clone()];
        if let Some(name) = alias.columns.get(i) {
            column.name = Some(name.name.value.clone());
        }
    }
    Ok((plan, scope))
}
