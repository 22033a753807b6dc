//! Window functions of a select list: `ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)`,
//! Flink's way to write Top-N and deduplication, bound as a [`Plan::RowNumber`] between the
//! block's `FROM`/`WHERE` and its select list.
//!
//! A window function must be a whole select-list item (with or without an alias); its
//! partition and order keys are expressions over the `FROM` row. Keys that are not plain
//! columns are computed by a `Project` below the node (as hidden columns), and the number
//! becomes a hidden column the item reads. `RANK`, `DENSE_RANK`, OVER aggregations
//! (`SUM(x) OVER (...)`), frames and named windows are refused with a clear error, as are
//! window functions in a block that groups.

use sqlparser::ast::{self, Expr, FunctionArguments, SelectItem, WindowType};

use super::scalar::{Binder, Context};
use super::scope::{Queries, Scope, ScopeColumn};
use super::sort_options;
use super::{unsupported, BindResult};
use crate::expr::ScalarExpr;
use crate::plan::{Plan, SortKey};
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

/// Binds the window functions of the select list over `plan` (whose columns `scope`
/// names): the plan with a `RowNumber` per window function, the scope extended with their
/// hidden columns, and for each window item (by position in the select list) the column of
/// its number.
pub(super) fn bind_windows(
    queries: &dyn Queries,
    select: &ast::Select,
    mut plan: Plan,
    mut scope: Scope,
    outer: &[&Scope],
) -> BindResult<(Plan, Scope, Vec<(usize, usize)>)> {
    let mut numbers = Vec::new();
    for (position, item) in select.projection.iter().enumerate() {
        let Some((expr, call)) = window_call(item) else { continue };
        let spec = check_row_number(expr, call)?;
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
        numbers.push((position, scope.len()));
        scope.columns.push(ScopeColumn { qualifiers: vec![], name: None, ty: SqlType::BigInt });
        plan = Plan::RowNumber { input: Box::new(plan), partition, order, limit: None, name };
    }
    Ok((plan, scope, numbers))
}

/// The window specification of a `ROW_NUMBER()` call; any other window function is refused.
fn check_row_number<'a>(expr: &Expr, call: &'a ast::Function) -> BindResult<&'a ast::WindowSpec> {
    let name = crate::bind::call_name(call);
    match name.as_str() {
        "ROW_NUMBER" => {}
        "RANK" | "DENSE_RANK" | "PERCENT_RANK" | "CUME_DIST" | "NTILE" | "LAG" | "LEAD" | "FIRST_VALUE"
        | "LAST_VALUE" | "NTH_VALUE" => {
            return Err(unsupported(expr, format!("the window function {name} (only ROW_NUMBER() is)")))
        }
        _ => {
            return Err(unsupported(
                expr,
                format!("{name}(...) OVER (...): OVER aggregations (only ROW_NUMBER() OVER (...) is)"),
            ))
        }
    }
    let no_args = match &call.args {
        FunctionArguments::None => true,
        FunctionArguments::List(list) => list.args.is_empty() && list.clauses.is_empty(),
        FunctionArguments::Subquery(_) => false,
    };
    if !no_args || call.filter.is_some() || !call.within_group.is_empty() || call.null_treatment.is_some() {
        return Err(unsupported(expr, "ROW_NUMBER with arguments, FILTER or WITHIN GROUP"));
    }
    match &call.over {
        Some(WindowType::WindowSpec(spec)) if spec.window_name.is_none() => {
            if spec.window_frame.is_some() {
                return Err(unsupported(expr, "a window frame (ROWS/RANGE ...) for ROW_NUMBER"));
            }
            Ok(spec)
        }
        _ => Err(unsupported(expr, "named windows (OVER w, WINDOW w AS ...)")),
    }
}
