//! Temporal joins: `left [LEFT] JOIN right FOR SYSTEM_TIME AS OF left.t ON ...`, bound as a
//! [`Plan::TemporalJoin`].
//!
//! The kind follows Flink: `AS OF` a processing-time attribute (a `pt AS PROCTIME()` column
//! of a table, or `PROCTIME()` in a subquery's select list) is a lookup join against the
//! right side's current rows; `AS OF` any other `TIMESTAMP` column is an event-time join
//! against a versioned table (a table with a `PRIMARY KEY` and a `WATERMARK`), whose key the
//! condition must equate with the left side.

use sqlparser::ast::{Expr, JoinConstraint};

use super::scalar::{Binder, Context};
use super::scope::{Queries, Scope};
use super::{location_of_span, unsupported_at, BindError, BindResult};
use crate::expr::ScalarExpr;
use crate::functions::Function;
use crate::plan::{equi_keys, JoinKind, Plan, TemporalTime};

/// Binds a join whose right side has `FOR SYSTEM_TIME AS OF as_of`.
#[allow(clippy::too_many_arguments)]
pub(super) fn temporal_join(
    queries: &dyn Queries,
    (left, left_scope): (Plan, Scope),
    (right, right_scope): (Plan, Scope),
    kind: JoinKind,
    constraint: &JoinConstraint,
    as_of: &Expr,
    outer: &[&Scope],
    span: sqlparser::tokenizer::Span,
) -> BindResult<(Plan, Scope)> {
    let error = |message: String| BindError::Type { message, location: location_of_span(span) };
    if !matches!(kind, JoinKind::Inner | JoinKind::Left) {
        return Err(unsupported_at(span, "a temporal join other than [INNER] JOIN or LEFT JOIN"));
    }
    let JoinConstraint::On(on) = constraint else {
        return Err(unsupported_at(span, "a temporal join without ON"));
    };
    let context = Context::new(queries, "FOR SYSTEM_TIME AS OF", false);
    let ScalarExpr::Column { index: probe, ty } =
        Binder::new(&left_scope, outer, Some(&context)).bind(as_of)?
    else {
        return Err(error(format!(
            "FOR SYSTEM_TIME AS OF {as_of}: the time must be a time attribute column of the join's left side"
        )));
    };
    let scope = left_scope.concat(&right_scope);
    let context = Context::new(queries, "ON", false);
    let on = Binder::new(&scope, outer, Some(&context)).boolean(on)?;
    if !context.applies.borrow().is_empty() {
        return Err(unsupported_at(span, "a subquery in a temporal join's condition"));
    }
    let width = left_scope.len();
    let keys = equi_keys(&on, width);
    if keys.left.is_empty() {
        return Err(error(
            "a temporal join needs an equality between a left column and a right one in ON".into(),
        ));
    }
    let time = if is_proctime(queries, &left, probe) {
        TemporalTime::Processing
    } else {
        if !matches!(ty, crate::types::SqlType::Timestamp { .. }) {
            return Err(error(format!("FOR SYSTEM_TIME AS OF {as_of}: a TIMESTAMP is needed, found {ty}")));
        }
        let Some((key, version)) = versioned(queries, &right) else {
            return Err(error(format!(
                "FOR SYSTEM_TIME AS OF {as_of} (an event-time attribute) needs a versioned table on the right: a \
                 table with a PRIMARY KEY and a WATERMARK (a processing-time attribute, PROCTIME(), makes a lookup \
                 join against any table)"
            )));
        };
        for column in &key {
            let equated =
                keys.right.iter().any(|k| matches!(k, ScalarExpr::Column { index, .. } if index == column));
            if !equated {
                let name = right_scope.columns[*column].name.clone().unwrap_or_default();
                return Err(error(format!(
                    "a temporal join's ON must equate the versioned table's primary key column {name} with the left side"
                )));
            }
        }
        TemporalTime::Event { probe, version, key }
    };
    let plan = Plan::TemporalJoin { left: Box::new(left), right: Box::new(right), kind, on, time };
    Ok((plan, scope))
}

/// Whether column `column` of `plan` is a processing-time attribute.
fn is_proctime(queries: &dyn Queries, plan: &Plan, column: usize) -> bool {
    match plan {
        Plan::Get { name, .. } => queries.table(name).is_some_and(|t| t.time.proctime == Some(column)),
        Plan::Project { input, exprs, .. } => match exprs.get(column) {
            Some(ScalarExpr::Column { index, .. }) => is_proctime(queries, input, *index),
            Some(ScalarExpr::Call { function: Function::Proctime, .. }) => true,
            _ => false,
        },
        Plan::Filter { input, .. } => is_proctime(queries, input, column),
        _ => false,
    }
}

/// The primary key and rowtime columns of a versioned table read whole.
fn versioned(queries: &dyn Queries, plan: &Plan) -> Option<(Vec<usize>, usize)> {
    let Plan::Get { name, .. } = plan else { return None };
    let table = queries.table(name)?;
    Some((table.primary_key?, table.time.rowtime?.column))
}
