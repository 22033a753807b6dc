//! Window functions of a select list, bound between the block's `FROM`/`WHERE` and its
//! select list: `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)`, Flink's way to write
//! Top-N and deduplication, as a [`Plan::RowNumber`]; `RANK()`, `DENSE_RANK()`, `LAG`/`LEAD`
//! and OVER aggregations (`SUM(x) OVER (... ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)`) as
//! [`Plan::Over`] nodes, one per run of functions with the same partition and order.
//!
//! A window function must be a whole select-list item (with or without an alias); its
//! partition and order keys are expressions over the `FROM` row. Keys that are not plain
//! columns are computed by a `Project` below the node (as hidden columns), and the function's
//! value becomes a hidden column the item reads. `OVER w` names a window of the `WINDOW`
//! clause. `GROUPS` frames and window functions in a block that groups are refused with a
//! clear error.

use std::cell::RefCell;

use sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, NamedWindowExpr, SelectItem,
    WindowFrameBound, WindowFrameUnits, WindowType,
};

use super::coerce::coerce;
use super::scalar::aggregate::Grouping;
use super::scalar::{Binder, Context};
use super::scope::{Queries, Scope, ScopeColumn};
use super::sort_options;
use super::{type_error, unsupported, BindResult};
use crate::datum::{Datum, Row};
use crate::expr::ScalarExpr;
use crate::plan::{Frame, FrameBound, FrameUnits, OverFunction, OverKind, Plan, SortKey};
use crate::types::SqlType;

/// The window function of a select-list item, if it is one (`f(...) OVER ...`).
pub(super) fn window_call(item: &SelectItem) -> Option<(&Expr, &ast::Function)> {
    match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => match expr {
            Expr::Function(call) if call.over.is_some() => Some((expr, call)),
            _ => None,
        },
        _ => None,
    }
}

/// `Over` functions bound but not yet wrapped around the plan: they share a partition and an
/// order, and their columns are already in the scope.
struct Pending {
    partition: Vec<usize>,
    order: Vec<SortKey>,
    functions: Vec<OverFunction>,
}

fn flush(plan: Plan, pending: &mut Option<Pending>) -> Plan {
    match pending.take() {
        Some(Pending { partition, order, functions }) => {
            Plan::Over { input: Box::new(plan), partition, order, functions, streaming: false }
        }
        None => plan,
    }
}

/// Binds the window functions of the select list over `plan` (whose columns `scope`
/// names): the plan with their nodes, the scope extended with their hidden columns, and for
/// each window item (by position in the select list) the column of its value.
pub(super) fn bind_windows(
    queries: &dyn Queries,
    select: &ast::Select,
    mut plan: Plan,
    mut scope: Scope,
    outer: &[&Scope],
) -> BindResult<(Plan, Scope, Vec<(usize, usize)>)> {
    let mut numbers = Vec::new();
    let mut pending: Option<Pending> = None;
    for (position, item) in select.projection.iter().enumerate() {
        let Some((expr, call)) = window_call(item) else { continue };
        let spec = window_spec(select, expr, call)?;
        let function = crate::bind::call_name(call);
        let context = Context::new(queries, "OVER", false);
        let binder = Binder::new(&scope, outer, Some(&context));
        let partition_exprs =
            spec.partition_by.iter().map(|e| binder.bind(e)).collect::<BindResult<Vec<_>>>()?;
        let mut order_exprs = Vec::new();
        for key in &spec.order_by {
            let (descending, nulls_first) = sort_options(key)?;
            order_exprs.push((binder.bind(&key.expr)?, descending, nulls_first));
        }
        if !context.applies.borrow().is_empty() {
            return Err(unsupported(expr, "a subquery in OVER (...)"));
        }
        // Keys that are not plain columns become hidden columns of a projection below.
        let width = scope.len();
        let mut computed: Vec<ScalarExpr> = Vec::new();
        let mut column_of = |bound: ScalarExpr| match bound {
            ScalarExpr::Column { index, .. } => index,
            other => {
                let at = computed.iter().position(|e| *e == other).unwrap_or_else(|| {
                    computed.push(other);
                    computed.len() - 1
                });
                width + at
            }
        };
        let partition: Vec<usize> = partition_exprs.into_iter().map(&mut column_of).collect();
        let order: Vec<SortKey> = order_exprs
            .into_iter()
            .map(|(bound, descending, nulls_first)| SortKey {
                column: column_of(bound),
                descending,
                nulls_first,
            })
            .collect();
        if !computed.is_empty() {
            plan = flush(plan, &mut pending);
            let mut exprs: Vec<ScalarExpr> = scope
                .columns
                .iter()
                .enumerate()
                .map(|(index, column)| ScalarExpr::Column { index, ty: column.ty })
                .collect();
            let mut names: Vec<String> = scope
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| c.name.clone().unwrap_or(format!("$f{i}")))
                .collect();
            for (k, expr) in computed.into_iter().enumerate() {
                scope.columns.push(ScopeColumn { qualifiers: vec![], name: None, ty: expr.ty() });
                names.push(format!("$window{k}"));
                exprs.push(expr);
            }
            plan = Plan::Project { input: Box::new(plan), exprs, names };
        }
        let name = match item {
            SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
            _ => format!("EXPR${position}"),
        };
        if function == "ROW_NUMBER" {
            check_no_arguments(expr, call, &function)?;
            if spec.window_frame.is_some() {
                return Err(unsupported(expr, "a window frame (ROWS/RANGE ...) for ROW_NUMBER"));
            }
            plan = flush(plan, &mut pending);
            numbers.push((position, scope.len()));
            scope.columns.push(ScopeColumn { qualifiers: vec![], name: None, ty: SqlType::BigInt });
            plan = Plan::RowNumber { input: Box::new(plan), partition, order, limit: None, name };
            continue;
        }
        let kind = over_kind(queries, expr, call, &function, &scope, outer, &order)?;
        let frame = frame(expr, spec, &order, &scope)?;
        let over = OverFunction { kind, frame, name };
        numbers.push((position, scope.len()));
        scope.columns.push(ScopeColumn { qualifiers: vec![], name: None, ty: over.ty() });
        match &mut pending {
            Some(p) if p.partition == partition && p.order == order => p.functions.push(over),
            _ => {
                plan = flush(plan, &mut pending);
                pending = Some(Pending { partition, order, functions: vec![over] });
            }
        }
    }
    Ok((flush(plan, &mut pending), scope, numbers))
}

/// The window specification of a call: its own, or the `WINDOW` clause's it names.
fn window_spec<'a>(
    select: &'a ast::Select,
    expr: &Expr,
    call: &'a ast::Function,
) -> BindResult<&'a ast::WindowSpec> {
    let mut name = match &call.over {
        Some(WindowType::WindowSpec(spec)) if spec.window_name.is_none() => return Ok(spec),
        Some(WindowType::WindowSpec(spec)) => spec.window_name.clone(),
        Some(WindowType::NamedWindow(name)) => Some(name.clone()),
        None => None,
    };
    // Follow `WINDOW w AS v` chains (at most as many steps as there are definitions).
    for _ in 0..=select.named_window.len() {
        let Some(wanted) = name.take() else { break };
        let Some(definition) =
            select.named_window.iter().find(|d| d.0.value.eq_ignore_ascii_case(&wanted.value))
        else {
            return Err(type_error(expr, format!("no window named {wanted} in the WINDOW clause")));
        };
        match &definition.1 {
            NamedWindowExpr::NamedWindow(next) => name = Some(next.clone()),
            NamedWindowExpr::WindowSpec(spec) if spec.window_name.is_none() => return Ok(spec),
            NamedWindowExpr::WindowSpec(_) => {
                return Err(unsupported(expr, "a window defined on another window (WINDOW w AS (v ...))"))
            }
        }
    }
    Err(type_error(expr, "the WINDOW clause's definitions name each other in a circle"))
}

/// `f()` takes no arguments, FILTER or WITHIN GROUP.
fn check_no_arguments(expr: &Expr, call: &ast::Function, function: &str) -> BindResult<()> {
    let no_args = match &call.args {
        FunctionArguments::None => true,
        FunctionArguments::List(list) => list.args.is_empty() && list.clauses.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    if !no_args || call.filter.is_some() || !call.within_group.is_empty() || call.null_treatment.is_some() {
        return Err(unsupported(expr, format!("{function} with arguments, FILTER or WITHIN GROUP")));
    }
    Ok(())
}

/// What a window function other than `ROW_NUMBER` computes.
fn over_kind(
    queries: &dyn Queries,
    expr: &Expr,
    call: &ast::Function,
    function: &str,
    scope: &Scope,
    outer: &[&Scope],
    order: &[SortKey],
) -> BindResult<OverKind> {
    match function {
        "RANK" | "DENSE_RANK" => {
            check_no_arguments(expr, call, function)?;
            if order.is_empty() {
                return Err(type_error(expr, format!("{function}() needs an ORDER BY in its window")));
            }
            Ok(if function == "RANK" { OverKind::Rank } else { OverKind::DenseRank })
        }
        "LAG" | "LEAD" => {
            let args = match &call.args {
                FunctionArguments::List(list) if list.clauses.is_empty() && call.filter.is_none() => {
                    &list.args
                }
                _ => return Err(unsupported(expr, format!("these arguments of {function}"))),
            };
            let args: Vec<&Expr> = args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                    _ => Err(unsupported(expr, format!("these arguments of {function}"))),
                })
                .collect::<BindResult<_>>()?;
            if args.is_empty() || args.len() > 3 {
                return Err(type_error(
                    expr,
                    format!("{function} takes 1 to 3 arguments (value, offset, default)"),
                ));
            }
            let context = Context::new(queries, "OVER", false);
            let binder = Binder::new(scope, outer, Some(&context));
            let value = binder.bind(args[0])?;
            let offset = match args.get(1) {
                None => 1,
                Some(e) => match constant(e)? {
                    Datum::Int(n) if n >= 0 => i64::from(n),
                    Datum::BigInt(n) if n >= 0 => n,
                    _ => {
                        return Err(type_error(
                            e,
                            format!("{function}'s offset must be a constant integer >= 0"),
                        ))
                    }
                },
            };
            let ty = value.ty();
            let default = match args.get(2) {
                None => ScalarExpr::Literal { value: Datum::Null, ty },
                Some(e) => {
                    let default = binder.bind(e)?;
                    if crate::bind::coerce::common_type(default.ty(), ty) != Some(ty) {
                        return Err(type_error(
                            e,
                            format!("{function}'s default must be of the value's type {ty}"),
                        ));
                    }
                    coerce(default, ty)
                }
            };
            if !context.applies.borrow().is_empty() {
                return Err(unsupported(expr, "a subquery in a window function's arguments"));
            }
            let offset = if function == "LAG" { offset } else { -offset };
            Ok(OverKind::Offset { offset, value, default })
        }
        "COUNT" | "SUM" | "MIN" | "MAX" | "AVG" => {
            // Bound as the aggregate of a block without group keys over the window's rows.
            let grouping = Grouping { input: scope, outer, group: vec![], calls: RefCell::new(vec![]) };
            let mut context = Context::new(queries, "OVER", true);
            context.grouping = Some(&grouping);
            let mut plain = call.clone();
            plain.over = None;
            Binder::new(scope, outer, Some(&context)).bind(&Expr::Function(plain))?;
            if !context.applies.borrow().is_empty() {
                return Err(unsupported(expr, "a subquery in a window function's arguments"));
            }
            let call = grouping.calls.into_inner().pop().expect("the aggregate call just bound");
            Ok(OverKind::Aggregate(call))
        }
        _ => Err(unsupported(
            expr,
            format!(
                "the window function {function} (window functions: ROW_NUMBER, RANK, DENSE_RANK, LAG, LEAD, \
                 COUNT, SUM, MIN, MAX, AVG)"
            ),
        )),
    }
}

/// The frame of a window: the given one, or the default (to the current row's last peer
/// with `ORDER BY`, the whole partition without).
fn frame(expr: &Expr, spec: &ast::WindowSpec, order: &[SortKey], scope: &Scope) -> BindResult<Frame> {
    let Some(frame) = &spec.window_frame else {
        return Ok(if order.is_empty() { Frame::WHOLE } else { Frame::TO_CURRENT });
    };
    let units = match frame.units {
        WindowFrameUnits::Rows => FrameUnits::Rows,
        WindowFrameUnits::Range => FrameUnits::Range,
        WindowFrameUnits::Groups => return Err(unsupported(expr, "GROUPS frames (ROWS and RANGE are)")),
    };
    let bound = |bound: &WindowFrameBound| -> BindResult<FrameBound> {
        Ok(match bound {
            WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
            WindowFrameBound::Preceding(Some(e)) => {
                FrameBound::Preceding(frame_offset(e, units, order, scope)?)
            }
            WindowFrameBound::Following(Some(e)) => {
                FrameBound::Following(frame_offset(e, units, order, scope)?)
            }
        })
    };
    let start = bound(&frame.start_bound)?;
    let end = frame.end_bound.as_ref().map_or(Ok(FrameBound::CurrentRow), bound)?;
    if start == FrameBound::UnboundedFollowing || end == FrameBound::UnboundedPreceding {
        return Err(type_error(
            expr,
            "a frame cannot start at UNBOUNDED FOLLOWING or end at UNBOUNDED PRECEDING",
        ));
    }
    Ok(Frame { units, start, end })
}

/// A frame bound's offset: a count of rows, or a distance in the single order key's unit
/// (milliseconds of a `TIMESTAMP` from a day-time interval, days of a `DATE`, an integer).
fn frame_offset(e: &Expr, units: FrameUnits, order: &[SortKey], scope: &Scope) -> BindResult<i64> {
    let value = constant(e)?;
    let negative = || type_error(e, "a frame offset must not be negative");
    if units == FrameUnits::Rows {
        return match value {
            Datum::Int(n) => u32::try_from(n).map(i64::from).map_err(|_| negative()),
            Datum::BigInt(n) if n >= 0 => Ok(n),
            Datum::BigInt(_) => Err(negative()),
            _ => Err(type_error(e, "a ROWS frame offset must be a constant integer")),
        };
    }
    let [key] = order else {
        return Err(type_error(e, "a RANGE frame with an offset needs exactly one ORDER BY key"));
    };
    let key_type = scope.columns.get(key.column).map_or(SqlType::Null, |c| c.ty);
    let offset = match (key_type, value) {
        (SqlType::Int | SqlType::BigInt, Datum::Int(n)) => i64::from(n),
        (SqlType::Int | SqlType::BigInt, Datum::BigInt(n)) => n,
        (SqlType::Timestamp { .. }, Datum::Interval(i)) if i.months == 0 => i.millis,
        (SqlType::Date, Datum::Interval(i)) if i.months == 0 && i.millis % 86_400_000 == 0 => {
            i.millis / 86_400_000
        }
        (ty, value) => {
            return Err(type_error(
                e,
                format!(
                    "a RANGE offset over an ORDER BY key of type {ty} must be {}, found {value}",
                    match ty {
                        SqlType::Timestamp { .. } => "a constant day-time INTERVAL",
                        SqlType::Date => "a constant INTERVAL of whole days",
                        SqlType::Int | SqlType::BigInt => "a constant integer",
                        _ => "(nothing: RANGE offsets need an integer, DATE or TIMESTAMP key)",
                    }
                ),
            ))
        }
    };
    if offset < 0 {
        return Err(negative());
    }
    Ok(offset)
}

/// The value of a constant expression.
fn constant(e: &Expr) -> BindResult<Datum> {
    let scope = Scope::default();
    let bound = Binder::new(&scope, &[], None).bind(e)?;
    bound.eval(&Row::new(vec![])).map_err(|error| type_error(e, format!("not a constant: {error}")))
}
