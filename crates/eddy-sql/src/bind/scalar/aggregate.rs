//! Binding in an aggregating block (`GROUP BY`, or aggregates in the select list or
//! `HAVING`): expressions equal to a group key read the key's column of the `Aggregate`
//! node, aggregate calls read their result column, and other columns are errors.
//!
//! Result types follow Flink: `COUNT` is `BIGINT`; `SUM` keeps `INT`, `BIGINT` and `DOUBLE`
//! and makes `DECIMAL(p, s)` `DECIMAL(38, s)`; `AVG`, `MIN` and `MAX` keep the argument's
//! type (so `AVG` of an `INT` column is an `INT`).

use std::cell::RefCell;

use sqlparser::ast::{self, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::Binder;
use crate::bind::coerce::coerce;
use crate::bind::scope::Scope;
use crate::bind::{type_error, unsupported, BindResult};
use crate::expr::ScalarExpr;
use crate::plan::{AggregateCall, AggregateFunction};
use crate::types::{SqlType, MAX_DECIMAL_PRECISION};

/// An aggregating block being bound.
pub(crate) struct Grouping<'a> {
    /// The scope of the rows being grouped.
    pub input: &'a Scope,
    /// The enclosing queries' scopes (for correlated references in aggregate arguments).
    pub outer: &'a [&'a Scope],
    /// The group keys, over `input`.
    pub group: Vec<ScalarExpr>,
    /// The aggregate calls met so far; call `j` is output column `group.len() + j`.
    pub calls: RefCell<Vec<AggregateCall>>,
}

/// Whether a call is one of the aggregate functions (and not a window function).
pub(crate) fn is_aggregate(call: &ast::Function) -> bool {
    let name = call.name.0.last().map(|part| part.to_string()).unwrap_or_default();
    call.over.is_none() && ["COUNT", "SUM", "MIN", "MAX", "AVG"].iter().any(|n| n.eq_ignore_ascii_case(&name))
}

/// The result type of an aggregate over an argument of type `ty`, and the type the argument
/// is converted to first.
fn result_type(function: AggregateFunction, ty: SqlType, source: &Expr) -> BindResult<(SqlType, SqlType)> {
    use AggregateFunction as F;
    Ok(match function {
        F::CountStar | F::Count => (ty, SqlType::BigInt),
        F::Min | F::Max => (ty, ty),
        F::Sum | F::Avg => match ty {
            SqlType::Null => (SqlType::Int, SqlType::Int),
            SqlType::Decimal { scale, .. } if function == F::Sum => {
                (ty, SqlType::Decimal { precision: MAX_DECIMAL_PRECISION, scale })
            }
            t if t.is_numeric() => (t, t),
            other => {
                return Err(type_error(source, format!("{} needs a number, found {other}", function.name())))
            }
        },
    })
}

impl Binder<'_> {
    /// In an aggregating block: the group key or aggregate `expr` is, if it is one.
    pub(super) fn grouped(&self, expr: &Expr) -> BindResult<Option<ScalarExpr>> {
        let Some(grouping) = self.context.and_then(|c| c.grouping) else {
            return Ok(None);
        };
        if let Expr::Function(call) = expr {
            if is_aggregate(call) {
                return self.aggregate_call(grouping, call, expr).map(Some);
            }
        }
        if grouping.group.is_empty() || matches!(expr, Expr::Value(_) | Expr::Nested(_)) {
            return Ok(None);
        }
        // A failure here (an aggregate or subquery inside) just means "not a group key".
        if let Ok(bound) = Binder::new(grouping.input, grouping.outer, None).bind(expr) {
            if let Some(index) = grouping.group.iter().position(|key| *key == bound) {
                return Ok(Some(ScalarExpr::Column { index, ty: bound.ty() }));
            }
        }
        Ok(None)
    }

    fn aggregate_call(
        &self,
        grouping: &Grouping<'_>,
        call: &ast::Function,
        source: &Expr,
    ) -> BindResult<ScalarExpr> {
        let name = crate::bind::call_name(call);
        if !call.within_group.is_empty() {
            return Err(unsupported(source, format!("{name} WITHIN GROUP")));
        }
        let FunctionArguments::List(list) = &call.args else {
            return Err(type_error(source, format!("{name} needs an argument")));
        };
        if !list.clauses.is_empty() {
            return Err(unsupported(source, format!("these arguments of {name}")));
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        // Arguments read the grouped rows; an aggregate inside one is an error there.
        let inner = Binder::new(grouping.input, grouping.outer, None);
        let (function, args) = match (name.as_str(), &list.args[..]) {
            ("COUNT", [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]) if !distinct => {
                (AggregateFunction::CountStar, vec![])
            }
            (_, [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))]) => {
                let function = match name.as_str() {
                    "COUNT" => AggregateFunction::Count,
                    "SUM" => AggregateFunction::Sum,
                    "MIN" => AggregateFunction::Min,
                    "MAX" => AggregateFunction::Max,
                    _ => AggregateFunction::Avg,
                };
                (function, vec![inner.bind(arg)?])
            }
            _ => return Err(type_error(source, format!("{name} takes one argument"))),
        };
        let (args, ty) = match args.into_iter().next() {
            None => (vec![], SqlType::BigInt),
            Some(arg) => {
                let (arg_ty, ty) = result_type(function, arg.ty(), source)?;
                (vec![coerce(arg, arg_ty)], ty)
            }
        };
        let filter = match &call.filter {
            None => None,
            Some(filter) => Some(inner.boolean(filter)?),
        };
        // DISTINCT does not change MIN and MAX.
        let distinct = distinct && !matches!(function, AggregateFunction::Min | AggregateFunction::Max);
        let bound = AggregateCall { function, args, distinct, filter, ty };
        let mut calls = grouping.calls.borrow_mut();
        let position = match calls.iter().position(|c| *c == bound) {
            Some(position) => position,
            None => {
                calls.push(bound);
                calls.len() - 1
            }
        };
        Ok(ScalarExpr::Column { index: grouping.group.len() + position, ty })
    }
}
