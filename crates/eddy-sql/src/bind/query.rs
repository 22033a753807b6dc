//! Query binding: `WITH` (non-recursive, inlined), the body (`SELECT`, set operations,
//! `VALUES`, parenthesized queries), `ORDER BY` and `LIMIT`/`OFFSET`, and the catalog and
//! `WITH` lookups of `FROM`.
//!
//! * `ORDER BY` with `LIMIT` or `OFFSET` is a `TopK`; at the top of a query the order is also
//!   the presentation order ([`Query::order`]). Without a limit, an order inside a subquery
//!   is dropped (a relation has no order).
//! * Set operations and `VALUES` unify their columns' types (the least restrictive type of
//!   each column); `UNION` without `ALL` is a set union.
//! * A top-level `ORDER BY` may read expressions the select list drops; the plan then has
//!   hidden columns after the visible ones ([`BoundQuery::visible`]).

use sqlparser::ast::{
    self, Expr, LimitClause, OrderByExpr, OrderByKind, SetExpr, SetOperator, SetQuantifier, Spanned,
};
use sqlparser::tokenizer::Span;

use super::coerce::{coerce, common_type};
use super::scalar::{apply_all, filter, renumber_applies, Binder, Context};
use super::scope::{ident_matches, Queries, Scope};
use super::select::{bind_select, output_position};
use super::sort_options;
use super::{location_of, location_of_span, type_error, unsupported, unsupported_at, BindError, BindResult};
use crate::catalog::{Catalog, LookupError, Relation, Table};
use crate::datum::{Datum, Row};
use crate::expr::ScalarExpr;
use crate::plan::{Column, Plan, Query, SetOp, SortKey};
use crate::types::SqlType;

/// A bound query whose plan may end in hidden columns that only its order reads.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundQuery {
    /// The plan and the presentation order (which may read hidden columns).
    pub query: Query,
    /// How many leading columns of the plan are the query's result; the rest are hidden.
    pub visible: usize,
}

impl BoundQuery {
    /// The query without hidden columns: a `Project` of the visible ones. The presentation
    /// order is kept only when it reads no hidden column.
    pub fn without_hidden(self) -> Query {
        let columns = self.query.plan.columns();
        if self.visible >= columns.len() {
            return self.query;
        }
        let order =
            if self.query.order.iter().all(|k| k.column < self.visible) { self.query.order } else { vec![] };
        let plan = Plan::Project {
            input: Box::new(self.query.plan),
            exprs: columns[..self.visible]
                .iter()
                .enumerate()
                .map(|(index, c)| ScalarExpr::Column { index, ty: c.ty })
                .collect(),
            names: columns[..self.visible].iter().map(|c| c.name.clone()).collect(),
        };
        Query { plan, order }
    }
}

/// Binds a query against the catalog. A presentation order over columns the select list
/// drops is lost here; [`bind_query_with_hidden`] keeps it.
pub fn bind_query(query: &ast::Query, catalog: &Catalog) -> BindResult<Query> {
    bind_query_with_hidden(query, catalog).map(BoundQuery::without_hidden)
}

/// Binds a query against the catalog, keeping the hidden columns its order reads.
pub fn bind_query_with_hidden(query: &ast::Query, catalog: &Catalog) -> BindResult<BoundQuery> {
    let binder = QueryBinder { catalog, ctes: vec![] };
    let bound = binder.query(query, &[])?;
    Ok(BoundQuery { query: Query { plan: bound.plan, order: bound.order }, visible: bound.visible })
}

/// The rows an `UPDATE` or `DELETE` changes: the rows of `table` (its columns qualified by
/// `alias`, else by its name) where `selection` holds, each followed by the values of `exprs`
/// over it (an `UPDATE`'s new values). Subqueries may appear in both.
pub fn bind_dml(
    catalog: &Catalog,
    table: &Table,
    alias: Option<&str>,
    selection: Option<&Expr>,
    exprs: &[&Expr],
) -> BindResult<Plan> {
    let binder = QueryBinder { catalog, ctes: vec![] };
    let mut plan = Plan::Get { name: table.name.clone(), columns: table.columns.clone() };
    let scope = Scope::of_plan(&plan, Some(alias.unwrap_or(&table.name)));
    if let Some(selection) = selection {
        let context = Context::new(&binder, "WHERE", false);
        let predicate = Binder::new(&scope, &[], Some(&context)).boolean(selection)?;
        plan = filter(plan, predicate, context.applies.take());
    }
    if exprs.is_empty() {
        return Ok(plan);
    }
    let context = Context::new(&binder, "SET", false);
    let scalar = Binder::new(&scope, &[], Some(&context));
    let mut outputs: Vec<ScalarExpr> =
        scope.columns.iter().enumerate().map(|(index, c)| ScalarExpr::Column { index, ty: c.ty }).collect();
    for expr in exprs {
        outputs.push(scalar.bind(expr)?);
    }
    let width = plan.arity();
    outputs.iter_mut().for_each(|e| renumber_applies(e, width));
    let names = (0..outputs.len()).map(|i| format!("${i}")).collect();
    Ok(Plan::Project { input: Box::new(apply_all(plan, context.applies.take())), exprs: outputs, names })
}

/// A query's plan before its use decides about the order and hidden columns.
struct Bound {
    plan: Plan,
    names: Vec<String>,
    order: Vec<SortKey>,
    visible: usize,
}

struct QueryBinder<'a> {
    catalog: &'a Catalog,
    /// `WITH` queries in scope, innermost last: name and plan (columns named).
    ctes: Vec<(String, Plan)>,
}

/// `plan` with its columns cast to `types` and named `names`, if that changes anything.
fn cast_columns(plan: Plan, types: &[SqlType], names: Vec<String>) -> Plan {
    let columns = plan.columns();
    let same_names = columns.iter().zip(&names).all(|(c, n)| c.name == *n);
    if columns.iter().zip(types).all(|(c, t)| c.ty == *t) && same_names {
        return plan;
    }
    let exprs = columns
        .iter()
        .zip(types)
        .enumerate()
        .map(|(index, (c, ty))| coerce(ScalarExpr::Column { index, ty: c.ty }, *ty))
        .collect();
    Plan::Project { input: Box::new(plan), exprs, names }
}

/// `LIMIT`/`OFFSET` values: non-negative integer constants (`LIMIT NULL` is no limit).
fn count(expr: &Expr, what: &str) -> BindResult<Option<u64>> {
    let scope = Scope::default();
    match Binder::new(&scope, &[], None).bind(expr)? {
        ScalarExpr::Literal { value: Datum::Null, .. } => Ok(None),
        ScalarExpr::Literal { value: Datum::Int(n), .. } if n >= 0 => Ok(Some(n as u64)),
        ScalarExpr::Literal { value: Datum::BigInt(n), .. } if n >= 0 => Ok(Some(n as u64)),
        _ => Err(type_error(expr, format!("{what} needs a non-negative integer constant"))),
    }
}

impl QueryBinder<'_> {
    fn query(&self, query: &ast::Query, outer: &[&Scope]) -> BindResult<Bound> {
        let span = query.span();
        if !query.locks.is_empty() || query.for_clause.is_some() || !query.pipe_operators.is_empty() {
            return Err(unsupported_at(span, "FOR, locking and pipe clauses"));
        }
        if let Some(fetch) = &query.fetch {
            if fetch.with_ties || fetch.percent {
                return Err(unsupported_at(span, "FETCH WITH TIES and FETCH PERCENT"));
            }
        }
        let Some(with) = &query.with else {
            return self.body(query, outer);
        };
        if with.recursive {
            return Err(unsupported_at(span, "WITH RECURSIVE"));
        }
        let mut inner = QueryBinder { catalog: self.catalog, ctes: self.ctes.clone() };
        for cte in &with.cte_tables {
            let (plan, mut names) = inner.nested(&cte.query, outer)?;
            if cte.alias.columns.len() > names.len() {
                return Err(BindError::Type {
                    message: format!(
                        "{} has {} columns but {} names are given",
                        cte.alias.name,
                        names.len(),
                        cte.alias.columns.len()
                    ),
                    location: location_of_span(cte.alias.name.span),
                });
            }
            for (name, alias) in names.iter_mut().zip(&cte.alias.columns) {
                *name = alias.name.value.clone();
            }
            let types: Vec<SqlType> = plan.columns().iter().map(|c| c.ty).collect();
            let plan = cast_columns(plan, &types, names);
            inner.ctes.push((cte.alias.name.value.clone(), plan));
        }
        inner.body(query, outer)
    }

    fn body(&self, query: &ast::Query, outer: &[&Scope]) -> BindResult<Bound> {
        let items: &[OrderByExpr] = match &query.order_by {
            None => &[],
            Some(order_by) => match &order_by.kind {
                OrderByKind::Expressions(items) => items,
                OrderByKind::All(_) => return Err(unsupported_at(query.span(), "ORDER BY ALL")),
            },
        };
        let (plan, names, order) = match query.body.as_ref() {
            SetExpr::Select(select) => {
                let bound = bind_select(self, select, items, outer)?;
                (bound.plan, bound.names, bound.order)
            }
            body => {
                let (plan, names) = self.set_expr(body, outer)?;
                let mut order = Vec::new();
                for item in items {
                    let (descending, nulls_first) = sort_options(item)?;
                    let column = output_position(&item.expr, &names)?.ok_or_else(|| {
                        unsupported(&item.expr, "ORDER BY an expression of a set operation or VALUES (name a column or its position)")
                    })?;
                    order.push(SortKey { column, descending, nulls_first });
                }
                (plan, names, order)
            }
        };
        let (limit, offset) = match &query.limit_clause {
            None => (None, 0),
            Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
                if !limit_by.is_empty() {
                    return Err(unsupported_at(query.span(), "LIMIT BY"));
                }
                let limit = match limit {
                    Some(limit) => count(limit, "LIMIT")?,
                    None => None,
                };
                let offset = match offset {
                    Some(offset) => count(&offset.value, "OFFSET")?.unwrap_or(0),
                    None => 0,
                };
                (limit, offset)
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                (count(limit, "LIMIT")?, count(offset, "OFFSET")?.unwrap_or(0))
            }
        };
        // `FETCH FIRST n ROWS ONLY` is `LIMIT n` (`FETCH FIRST ROW ONLY`: 1).
        let limit = match (&query.fetch, limit) {
            (None, limit) => limit,
            (Some(_), Some(_)) => return Err(unsupported_at(query.span(), "both LIMIT and FETCH")),
            (Some(fetch), None) => match &fetch.quantity {
                None => Some(1),
                Some(quantity) => count(quantity, "FETCH")?,
            },
        };
        let visible = names.len();
        let plan = if limit.is_some() || offset > 0 {
            Plan::TopK { input: Box::new(plan), group: vec![], order: order.clone(), limit, offset }
        } else {
            plan
        };
        Ok(Bound { plan, names, order, visible })
    }

    /// A query used as a relation: no order, no hidden columns.
    fn nested(&self, query: &ast::Query, outer: &[&Scope]) -> BindResult<(Plan, Vec<String>)> {
        let bound = self.query(query, outer)?;
        let Bound { plan, names, visible, .. } = bound;
        if plan.arity() == visible {
            return Ok((plan, names));
        }
        let columns = plan.columns();
        let exprs = columns[..visible]
            .iter()
            .enumerate()
            .map(|(index, c)| ScalarExpr::Column { index, ty: c.ty })
            .collect();
        Ok((Plan::Project { input: Box::new(plan), exprs, names: names.clone() }, names))
    }

    fn set_expr(&self, body: &SetExpr, outer: &[&Scope]) -> BindResult<(Plan, Vec<String>)> {
        match body {
            SetExpr::Select(select) => {
                let bound = bind_select(self, select, &[], outer)?;
                Ok((bound.plan, bound.names))
            }
            SetExpr::Query(query) => self.nested(query, outer),
            SetExpr::Values(values) => self.values(values),
            SetExpr::SetOperation { left, op, set_quantifier, right } => {
                let (left_plan, names) = self.set_expr(left, outer)?;
                let (right_plan, right_names) = self.set_expr(right, outer)?;
                let all = match set_quantifier {
                    SetQuantifier::All => true,
                    SetQuantifier::Distinct | SetQuantifier::None => false,
                    other => return Err(unsupported_at(body.span(), format!("{op} {other}"))),
                };
                let set_op = match op {
                    SetOperator::Union => SetOp::Union,
                    SetOperator::Except | SetOperator::Minus => SetOp::Except,
                    SetOperator::Intersect => SetOp::Intersect,
                };
                let (left_columns, right_columns) = (left_plan.columns(), right_plan.columns());
                let location = location_of_span(right.span()).or(location_of_span(body.span()));
                if left_columns.len() != right_columns.len() {
                    return Err(BindError::Type {
                        message: format!(
                            "{op} of {} and {} columns",
                            left_columns.len(),
                            right_columns.len()
                        ),
                        location,
                    });
                }
                let mut types = Vec::new();
                for (i, (l, r)) in left_columns.iter().zip(&right_columns).enumerate() {
                    types.push(common_type(l.ty, r.ty).ok_or_else(|| BindError::Type {
                        message: format!("{op} column {} mixes {} and {}", i + 1, l.ty, r.ty),
                        location,
                    })?);
                }
                let left_plan = cast_columns(left_plan, &types, names.clone());
                let right_plan = cast_columns(right_plan, &types, right_names);
                Ok((
                    Plan::SetOp { op: set_op, all, left: Box::new(left_plan), right: Box::new(right_plan) },
                    names,
                ))
            }
            other => Err(unsupported_at(other.span(), "this query form")),
        }
    }

    /// `VALUES (...), (...)`: constant rows, each column converted to the columns' common type.
    fn values(&self, values: &ast::Values) -> BindResult<(Plan, Vec<String>)> {
        let scope = Scope::default();
        let binder = Binder::new(&scope, &[], None);
        let width = values.rows.first().map_or(0, |row| row.content.len());
        let mut columns: Vec<Vec<ScalarExpr>> = vec![vec![]; width];
        for row in &values.rows {
            if row.content.len() != width {
                return Err(BindError::Type {
                    message: format!("VALUES rows of {} and {} values", width, row.content.len()),
                    location: row.content.first().and_then(location_of),
                });
            }
            for (j, expr) in row.content.iter().enumerate() {
                columns[j].push(binder.bind(expr)?);
            }
        }
        let mut types = Vec::new();
        for (j, column) in columns.iter_mut().enumerate() {
            let source = &values.rows[0].content[j];
            *column = binder.unify(std::mem::take(column), source, "VALUES")?;
            types.push(column.first().map_or(SqlType::Null, ScalarExpr::ty));
        }
        let mut rows = Vec::new();
        for (i, row) in values.rows.iter().enumerate() {
            let mut datums = Vec::new();
            for (j, column) in columns.iter().enumerate() {
                datums.push(column[i].eval(&Row::default()).map_err(|e| BindError::Type {
                    message: format!("VALUES: {e}"),
                    location: location_of(&row.content[j]),
                })?);
            }
            rows.push(Row::new(datums));
        }
        let names: Vec<String> = (0..width).map(|j| format!("EXPR${j}")).collect();
        let columns = names.iter().zip(&types).map(|(n, t)| Column::new(n.clone(), *t)).collect();
        Ok((Plan::Values { rows, columns }, names))
    }
}

impl Queries for QueryBinder<'_> {
    fn table(&self, name: &str) -> Option<crate::catalog::Table> {
        self.catalog.table_by_name(name).cloned()
    }

    fn subquery(&self, query: &ast::Query, outer: &[&Scope]) -> BindResult<(Plan, Vec<String>)> {
        self.nested(query, outer)
    }

    fn relation(&self, name: &ast::ObjectName) -> BindResult<(Plan, String)> {
        let span: Span = name.span();
        let [part] = &name.0[..] else {
            return Err(unsupported_at(span, format!("the qualified table name {name}")));
        };
        let Some(ident) = part.as_ident() else {
            return Err(unsupported_at(span, format!("the table name {name}")));
        };
        if let Some((_, plan)) = self.ctes.iter().rev().find(|(cte, _)| ident_matches(cte, ident)) {
            return Ok((plan.clone(), ident.value.clone()));
        }
        match self.catalog.resolve(ident) {
            Ok(Relation::Table(table)) => Ok((
                Plan::Get { name: table.name.clone(), columns: table.columns.clone() },
                ident.value.clone(),
            )),
            Ok(Relation::View(view)) => Ok((view.query.plan.clone(), ident.value.clone())),
            Err(LookupError::Missing) => Err(BindError::UnknownTable {
                name: ident.value.clone(),
                location: location_of_span(ident.span),
            }),
            Err(LookupError::Ambiguous(names)) => Err(BindError::UnknownTable {
                name: format!("{} (ambiguous: quote one of {})", ident.value, names.join(", ")),
                location: location_of_span(ident.span),
            }),
        }
    }
}
