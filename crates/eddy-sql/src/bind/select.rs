//! One `SELECT` block: `FROM`, `WHERE`, `GROUP BY`, `HAVING`, the select list, `DISTINCT`, and
//! the keys of the query's `ORDER BY` (which may read columns the select list drops).
//!
//! The plan, bottom up: the `FROM` plan; `Apply` nodes for the subqueries of `WHERE`, the
//! `Filter`, and a `Project` dropping the Apply columns again; a `RowNumber` per window
//! function of the select list (`window.rs`; not in a block that groups); the `Aggregate` (when the
//! block groups or aggregates); `Apply` nodes for the subqueries of the select list, `HAVING`
//! and `ORDER BY`; the `HAVING` `Filter`; the `Project` of the select list followed by hidden
//! columns for `ORDER BY` expressions not in it; `Distinct`.
//!
//! Names: a column keeps its name, an alias names its expression, any other expression is
//! `EXPR$<i>` with `i` its position in the output (as Flink). `GROUP BY` and `ORDER BY`
//! accept output ordinals (`ORDER BY 2`) and aliases as SQLite and PostgreSQL do.

use std::cell::RefCell;

use sqlparser::ast::{
    self, Distinct, Expr, GroupByExpr, OrderByExpr, SelectItem, SelectItemQualifiedWildcardKind, Spanned,
    Value,
};

use super::from::bind_from;
use super::scalar::aggregate::Grouping;
use super::scalar::{apply_all, filter, renumber_applies, Binder, Context, PendingApply};
use super::scope::{choose, ident_matches, Queries, Resolution, Scope, ScopeColumn};
use super::window::{bind_windows, window_call};
use super::{location_of, location_of_span, sort_options, unsupported_at, BindError, BindResult};
use crate::expr::ScalarExpr;
use crate::plan::{Plan, SortKey};

/// A bound `SELECT` block.
pub(super) struct SelectOutput {
    /// The plan: the visible columns, then hidden ones the order reads.
    pub plan: Plan,
    /// The visible columns' names.
    pub names: Vec<String>,
    /// The `ORDER BY` keys, over the plan's columns.
    pub order: Vec<SortKey>,
}

/// The select list, `HAVING` and `ORDER BY` bound over the block's rows.
struct Outputs {
    exprs: Vec<ScalarExpr>,
    names: Vec<String>,
    visible: usize,
    having: Option<ScalarExpr>,
    order: Vec<SortKey>,
}

fn check_supported(select: &ast::Select) -> BindResult<()> {
    let span = select.span();
    let unsupported_clause = |what: &str| Err(unsupported_at(span, what));
    if matches!(select.distinct, Some(Distinct::On(_))) {
        return unsupported_clause("DISTINCT ON");
    }
    if select.top.is_some() {
        return unsupported_clause("TOP");
    }
    if select.into.is_some() {
        return unsupported_clause("SELECT INTO");
    }
    if select.qualify.is_some() {
        return unsupported_clause("QUALIFY");
    }
    if !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || select.exclude.is_some()
        || select.value_table_mode.is_some()
    {
        return unsupported_clause("this SELECT clause");
    }
    Ok(())
}

/// Binds a `SELECT` block with the `ORDER BY` of the query around it.
pub(super) fn bind_select(
    queries: &dyn Queries,
    select: &ast::Select,
    order_by: &[OrderByExpr],
    outer: &[&Scope],
) -> BindResult<SelectOutput> {
    check_supported(select)?;
    let (mut plan, mut scope) = bind_from(queries, &select.from, outer)?;
    if let Some(selection) = &select.selection {
        let context = Context::new(queries, "WHERE", false);
        let predicate = Binder::new(&scope, outer, Some(&context)).boolean(selection)?;
        plan = filter(plan, predicate, context.applies.take());
    }
    let group_exprs: &[Expr] = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs,
        _ => {
            return Err(unsupported_at(
                select.span(),
                "GROUP BY ALL and WITH ROLLUP/CUBE (write ROLLUP (...))",
            ))
        }
    };
    let (group_exprs, grouping_sets) = super::grouping_sets::expand(group_exprs)?;
    let group_exprs = &group_exprs[..];
    let (windowed_plan, windowed_scope, windowed_exprs) =
        super::group_window::bind_group_window(group_exprs, plan, scope, outer)?;
    if grouping_sets.is_some() && windowed_exprs[..] != *group_exprs {
        return Err(unsupported_at(
            select.span(),
            "GROUPING SETS, ROLLUP or CUBE with a legacy group window (use a window table function)",
        ));
    }
    let group_exprs = windowed_exprs;
    (plan, scope) = (windowed_plan, windowed_scope);
    let group_exprs = &group_exprs[..];
    let windowed = select.projection.iter().any(|item| window_call(item).is_some());
    let no_windows_here =
        || unsupported_at(select.span(), "window functions (OVER) in a SELECT that groups or aggregates");
    if windowed && (!group_exprs.is_empty() || select.having.is_some()) {
        return Err(no_windows_here());
    }
    let group = bind_group(queries, select, group_exprs, &scope, outer)?;
    if group_exprs.is_empty() && select.having.is_none() {
        let mut numbers = vec![];
        if windowed {
            (plan, scope, numbers) = bind_windows(queries, select, plan, scope, outer)?;
        }
        let context = Context::new(queries, "SELECT", true);
        match outputs(select, order_by, &scope, &scope, outer, &context, &numbers) {
            Ok(bound) => return finish(plan, bound, context.applies.take(), select),
            Err(error) if !context.saw_aggregate.get() => return Err(error),
            Err(_) if windowed => return Err(no_windows_here()),
            // An aggregate: the block aggregates its rows as one group.
            Err(_) => {}
        }
    }
    let grouping = Grouping { input: &scope, outer, group, calls: RefCell::new(vec![]) };
    let post = Scope {
        columns: grouping
            .group
            .iter()
            .map(|key| match key {
                ScalarExpr::Column { index, .. } => scope.columns[*index].clone(),
                other => ScopeColumn { qualifiers: vec![], name: None, ty: other.ty() },
            })
            .collect(),
        grouped: scope.columns.clone(),
    };
    let mut context = Context::new(queries, "SELECT", true);
    context.grouping = Some(&grouping);
    let bound = outputs(select, order_by, &post, &scope, outer, &context, &[])?;
    let group_names: Vec<String> = grouping
        .group
        .iter()
        .enumerate()
        .map(|(k, key)| match key {
            ScalarExpr::Column { index, .. } => scope.columns[*index].name.clone().unwrap_or_default(),
            _ => format!("$group{k}"),
        })
        .collect();
    let aggregates = grouping.calls.take();
    let aggregate_names: Vec<String> = (0..aggregates.len()).map(|j| format!("$agg{j}")).collect();
    let applies = context.applies.take();
    let aggregate = match grouping_sets {
        // One key may appear in several sets and bind to one group key: map the sets.
        Some(sets) => {
            let sets = sets_of_keys(&sets, group_exprs, &grouping.group, &scope, outer, queries, select)?;
            super::grouping_sets::aggregate_sets(
                plan,
                &grouping.group,
                &group_names,
                &aggregates,
                &aggregate_names,
                &sets,
            )
        }
        None => Plan::Aggregate {
            input: Box::new(plan),
            group: grouping.group.clone(),
            group_names,
            aggregates,
            aggregate_names,
        },
    };
    finish(aggregate, bound, applies, select)
}

/// Grouping sets of AST keys as sets of bound group keys (two spellings of one key are one).
fn sets_of_keys(
    sets: &[std::collections::BTreeSet<usize>],
    keys: &[Expr],
    group: &[ScalarExpr],
    scope: &Scope,
    outer: &[&Scope],
    queries: &dyn Queries,
    select: &ast::Select,
) -> BindResult<Vec<std::collections::BTreeSet<usize>>> {
    let mut bound_position = Vec::new();
    for key in keys {
        let bound = bind_group(queries, select, std::slice::from_ref(key), scope, outer)?;
        bound_position
            .push(group.iter().position(|g| Some(g) == bound.first()).expect("every key is a group key"));
    }
    Ok(sets.iter().map(|set| set.iter().map(|k| bound_position[*k]).collect()).collect())
}

fn finish(
    base: Plan,
    outputs: Outputs,
    applies: Vec<PendingApply>,
    select: &ast::Select,
) -> BindResult<SelectOutput> {
    let Outputs { mut exprs, names, visible, having, order } = outputs;
    let width = base.arity();
    let mut plan = apply_all(base, applies);
    if let Some(mut predicate) = having {
        renumber_applies(&mut predicate, width);
        plan = Plan::Filter { input: Box::new(plan), predicate };
    }
    exprs.iter_mut().for_each(|e| renumber_applies(e, width));
    let hidden = exprs.len() > visible;
    plan = Plan::Project { input: Box::new(plan), exprs, names: names.clone() };
    if matches!(select.distinct, Some(Distinct::Distinct)) {
        if hidden {
            return Err(BindError::Grouping {
                message: "for SELECT DISTINCT, ORDER BY expressions must appear in the select list".into(),
                location: location_of_span(select.span()),
            });
        }
        plan = Plan::Distinct { input: Box::new(plan) };
    }
    Ok(SelectOutput { plan, names: names[..visible].to_vec(), order })
}

/// The group keys: expressions over the `FROM` scope, or output ordinals and aliases.
fn bind_group(
    queries: &dyn Queries,
    select: &ast::Select,
    group_exprs: &[Expr],
    scope: &Scope,
    outer: &[&Scope],
) -> BindResult<Vec<ScalarExpr>> {
    let context = Context::new(queries, "GROUP BY", false);
    let binder = Binder::new(scope, outer, Some(&context));
    let mut group: Vec<ScalarExpr> = Vec::new();
    for expr in group_exprs {
        let target = match expr {
            Expr::Value(value) => match &value.value {
                Value::Number(text, _) => {
                    let item = text
                        .parse::<usize>()
                        .ok()
                        .and_then(|k| k.checked_sub(1))
                        .and_then(|k| select.projection.get(k));
                    match item {
                        Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => e,
                        _ => {
                            return Err(BindError::Grouping {
                                message: format!(
                                    "GROUP BY position {text} is not an expression of the select list"
                                ),
                                location: location_of(expr),
                            })
                        }
                    }
                }
                _ => expr,
            },
            Expr::Identifier(ident) if matches!(scope.resolve(None, ident), Resolution::Missing) => select
                .projection
                .iter()
                .find_map(|item| match item {
                    SelectItem::ExprWithAlias { expr, alias } if ident_matches(&alias.value, ident) => {
                        Some(expr)
                    }
                    _ => None,
                })
                .unwrap_or(expr),
            _ => expr,
        };
        let bound = binder.bind(target)?;
        if !group.contains(&bound) {
            group.push(bound);
        }
    }
    if !context.applies.borrow().is_empty() {
        return Err(unsupported_at(select.span(), "a subquery in GROUP BY"));
    }
    Ok(group)
}

/// An `ORDER BY` item that names an output column: an ordinal, or an output name.
pub(super) fn output_position(expr: &Expr, names: &[String]) -> BindResult<Option<usize>> {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(text, _) => match text.parse::<usize>() {
                Ok(k) if (1..=names.len()).contains(&k) => Ok(Some(k - 1)),
                _ if text.contains(['.', 'e', 'E']) => Ok(None),
                _ => Err(BindError::Grouping {
                    message: format!(
                        "ORDER BY position {text} is not in the select list (1 to {})",
                        names.len()
                    ),
                    location: location_of(expr),
                }),
            },
            _ => Ok(None),
        },
        Expr::Identifier(ident) => {
            let candidates: Vec<(usize, &String)> =
                names.iter().enumerate().filter(|(_, n)| ident_matches(n, ident)).collect();
            match choose(candidates, ident, |n| n) {
                Resolution::Found(index) => Ok(Some(index)),
                Resolution::Missing => Ok(None),
                // `SELECT a, a ... ORDER BY a`: the first.
                Resolution::Ambiguous(many) => Ok(many.first().copied()),
            }
        }
        _ => Ok(None),
    }
}

fn outputs(
    select: &ast::Select,
    order_by: &[OrderByExpr],
    scope: &Scope,
    from_scope: &Scope,
    outer: &[&Scope],
    context: &Context<'_>,
    numbers: &[(usize, usize)],
) -> BindResult<Outputs> {
    let binder = Binder::new(scope, outer, Some(context));
    let mut exprs = Vec::new();
    let mut names = Vec::new();
    for (position, item) in select.projection.iter().enumerate() {
        if let Some(&(_, column)) = numbers.iter().find(|(p, _)| *p == position) {
            // A window function: the column `bind_windows` added.
            exprs.push(ScalarExpr::Column { index: column, ty: scope.columns[column].ty });
            names.push(match item {
                SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                _ => format!("EXPR${}", names.len()),
            });
            continue;
        }
        match item {
            SelectItem::UnnamedExpr(expr) => {
                exprs.push(binder.bind(expr)?);
                names.push(match expr {
                    Expr::Identifier(ident) => ident.value.clone(),
                    Expr::CompoundIdentifier(parts) if parts.len() == 2 => parts[1].value.clone(),
                    _ => format!("EXPR${}", names.len()),
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                exprs.push(binder.bind(expr)?);
                names.push(alias.value.clone());
            }
            SelectItem::Wildcard(options) => {
                if options.opt_exclude.is_some()
                    || options.opt_except.is_some()
                    || options.opt_replace.is_some()
                    || options.opt_rename.is_some()
                    || options.opt_ilike.is_some()
                {
                    return Err(unsupported_at(item.span(), "options of *"));
                }
                let all: Vec<usize> = (0..from_scope.len()).collect();
                star(from_scope, &all, context, item, &mut exprs, &mut names)?;
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _) => {
                let table =
                    name.0.last().and_then(|p| p.as_ident()).cloned().unwrap_or_else(|| ast::Ident::new(""));
                let columns: Vec<usize> = (0..from_scope.len())
                    .filter(|&i| from_scope.columns[i].qualifiers.iter().any(|q| ident_matches(q, &table)))
                    .collect();
                if columns.is_empty() {
                    return Err(BindError::UnknownTable {
                        name: table.value.clone(),
                        location: location_of_span(item.span()),
                    });
                }
                star(from_scope, &columns, context, item, &mut exprs, &mut names)?;
            }
            other => return Err(unsupported_at(other.span(), format!("select item {other}"))),
        }
    }
    let visible = exprs.len();
    let having = select.having.as_ref().map(|having| binder.boolean(having)).transpose()?;
    let mut order = Vec::new();
    for item in order_by {
        let (descending, nulls_first) = sort_options(item)?;
        let column = match output_position(&item.expr, &names[..visible])? {
            Some(column) => column,
            None => {
                let bound = match binder.bind(&item.expr) {
                    Err(BindError::UnknownColumn { .. }) => order_over_aliases(
                        &item.expr,
                        scope,
                        outer,
                        context,
                        &exprs[..visible],
                        &names[..visible],
                    )?,
                    other => other?,
                };
                match exprs.iter().position(|e| *e == bound) {
                    Some(column) => column,
                    None => {
                        exprs.push(bound);
                        names.push(format!("$order{}", exprs.len() - visible - 1));
                        exprs.len() - 1
                    }
                }
            }
        };
        order.push(SortKey { column, descending, nulls_first });
    }
    Ok(Outputs { exprs, names, visible, having, order })
}

/// An `ORDER BY` expression that reads output aliases (`SELECT a + 1 AS x ... ORDER BY -x`,
/// as SQLite allows): bound with the aliases as extra columns, which are then replaced by
/// the expressions they name.
fn order_over_aliases(
    expr: &Expr,
    scope: &Scope,
    outer: &[&Scope],
    context: &Context<'_>,
    outputs: &[ScalarExpr],
    names: &[String],
) -> BindResult<ScalarExpr> {
    let width = scope.len();
    let mut extended = scope.clone();
    extended.columns.extend(outputs.iter().zip(names).map(|(e, name)| ScopeColumn {
        qualifiers: vec![],
        name: Some(name.clone()),
        ty: e.ty(),
    }));
    let mut bound = Binder::new(&extended, outer, Some(context)).bind(expr)?;
    bound.transform(&mut |e| {
        if let ScalarExpr::Column { index, .. } = e {
            if (width..width + outputs.len()).contains(index) {
                *e = outputs[*index - width].clone();
            }
        }
    });
    Ok(bound)
}

/// The columns of `*` or `t.*`; in an aggregating block each must be a group key.
fn star(
    from_scope: &Scope,
    columns: &[usize],
    context: &Context<'_>,
    item: &SelectItem,
    exprs: &mut Vec<ScalarExpr>,
    names: &mut Vec<String>,
) -> BindResult<()> {
    for &index in columns {
        let column = &from_scope.columns[index];
        let Some(name) = &column.name else { continue };
        let mut expr = ScalarExpr::Column { index, ty: column.ty };
        if let Some(grouping) = context.grouping {
            let key =
                grouping.group.iter().position(|key| *key == expr).ok_or_else(|| BindError::Grouping {
                    message: format!(
                        "column {name} of * must appear in GROUP BY or be used in an aggregate function"
                    ),
                    location: location_of_span(item.span()),
                })?;
            expr = ScalarExpr::Column { index: key, ty: column.ty };
        }
        exprs.push(expr);
        names.push(name.clone());
    }
    Ok(())
}
