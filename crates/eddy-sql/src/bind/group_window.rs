//! Flink's legacy group windows: `GROUP BY TUMBLE(ts, size)`, `HOP(ts, slide, size)` and
//! `SESSION(ts, gap)` among the group keys, with `TUMBLE_START(...)`, `TUMBLE_END(...)` and
//! `TUMBLE_ROWTIME(...)` (and the `HOP_` and `SESSION_` ones) in the select list and `HAVING`.
//!
//! They are the window table functions in another spelling: the `FROM` plan gets the window
//! operator ([`TimeOp::Window`], or [`TimeOp::Session`] partitioned by the other group keys),
//! whose three window columns are hidden columns named `$window_start`, `$window_end` and
//! `$window_time` (names a user cannot write unquoted); the window call in `GROUP BY` becomes
//! `$window_start, $window_end`, and `TUMBLE_START(...)` reads `$window_start`. The optimizer
//! then makes the aggregation a window aggregation, as for the table functions.

use sqlparser::ast::{self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident};

use super::scalar::Binder;
use super::scope::{Scope, ScopeColumn};
use super::{call_name, unsupported, BindError, BindResult};
use crate::datum::{Datum, Interval, Row};
use crate::expr::ScalarExpr;
use crate::plan::{Plan, TimeOp, TimeWindow};
use crate::types::SqlType;

use super::scalar::window_property::{END, START, TIME};

fn positional_args(call: &ast::Function) -> Option<Vec<&Expr>> {
    match &call.args {
        FunctionArguments::List(list) if list.clauses.is_empty() && list.duplicate_treatment.is_none() => {
            list.args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

/// The group window call among the group keys, if any: its position and call.
fn window_call(group: &[Expr]) -> BindResult<Option<(usize, &ast::Function)>> {
    let mut found = None;
    for (position, expr) in group.iter().enumerate() {
        if let Expr::Function(call) = expr {
            if matches!(call_name(call).as_str(), "TUMBLE" | "HOP" | "SESSION") {
                if found.is_some() {
                    return Err(unsupported(expr, "more than one group window in GROUP BY"));
                }
                found = Some((position, call));
            }
        }
    }
    Ok(found)
}

/// A constant positive day-time interval in milliseconds.
fn interval_ms(expr: &Expr, function: &str) -> BindResult<u64> {
    let scope = Scope::default();
    let bound = Binder::new(&scope, &[], None).bind(expr)?;
    match bound.eval(&Row::new(vec![])) {
        Ok(Datum::Interval(Interval { months: 0, millis })) if millis > 0 => Ok(millis as u64),
        _ => Err(BindError::Type {
            message: format!("{function}: {expr} must be a constant positive day-time interval"),
            location: super::location_of(expr),
        }),
    }
}

/// Binds the group window of `GROUP BY`, if there is one: the `FROM` plan with the window
/// operator, its scope with the hidden window columns, and the group keys with the window
/// call replaced by the window's start and end. Without one, all three unchanged.
pub(super) fn bind_group_window(
    group: &[Expr],
    plan: Plan,
    mut scope: Scope,
    outer: &[&Scope],
) -> BindResult<(Plan, Scope, Vec<Expr>)> {
    let Some((position, call)) = window_call(group)? else {
        return Ok((plan, scope, group.to_vec()));
    };
    let source = &group[position];
    let function = call_name(call);
    let args =
        positional_args(call).ok_or_else(|| unsupported(source, format!("these arguments of {function}")))?;
    let expected = if function == "HOP" { 3 } else { 2 };
    if args.len() != expected {
        return Err(unsupported(
            source,
            format!(
                "{function} with {} arguments (it takes the time column and {} intervals)",
                args.len(),
                expected - 1
            ),
        ));
    }
    let binder = Binder::new(&scope, outer, None);
    let time = match binder.bind(args[0])? {
        ScalarExpr::Column { index, ty: SqlType::Timestamp { .. } } => index,
        other => {
            return Err(BindError::Type {
                message: format!(
                    "{function}: the time argument {} must be a TIMESTAMP column, not {}",
                    args[0],
                    other.ty()
                ),
                location: super::location_of(args[0]),
            })
        }
    };
    let op = match function.as_str() {
        "TUMBLE" => TimeOp::Window {
            time,
            window: TimeWindow::Tumble { size: interval_ms(args[1], &function)?, offset: 0 },
        },
        "HOP" => {
            let (slide, size) = (interval_ms(args[1], &function)?, interval_ms(args[2], &function)?);
            TimeOp::Window { time, window: TimeWindow::Hop { size, slide, offset: 0 } }
        }
        _ => {
            // Sessions are per value of the other group keys.
            let mut partition = Vec::new();
            for (k, expr) in group.iter().enumerate() {
                if k == position {
                    continue;
                }
                match binder.bind(expr)? {
                    ScalarExpr::Column { index, .. } => partition.push(index),
                    _ => {
                        return Err(unsupported(expr, "a group key that is not a column beside SESSION(...)"))
                    }
                }
            }
            TimeOp::Session { time, partition, gap: interval_ms(args[1], &function)? }
        }
    };
    let plan = Plan::Time { input: Box::new(plan), op };
    for name in [START, END, TIME] {
        scope.columns.push(ScopeColumn {
            qualifiers: vec![],
            name: Some(name.into()),
            ty: SqlType::TIMESTAMP,
        });
    }
    let mut keys = group.to_vec();
    keys.splice(
        position..=position,
        [Expr::Identifier(Ident::new(START)), Expr::Identifier(Ident::new(END))],
    );
    Ok((plan, scope, keys))
}
