//! `GROUPING SETS`, `ROLLUP` and `CUBE` in `GROUP BY`: the block is bound as if it grouped by
//! every key named anywhere, and its aggregation becomes a `UNION ALL` of one aggregation per
//! grouping set, each grouped by its own keys, with `NULL` in the columns of the keys it does
//! not group by. Plain keys beside them are in every set (`GROUP BY a, ROLLUP (b, c)` is the
//! sets `(a, b, c)`, `(a, b)`, `(a)`). Over a window table function every set must keep
//! `window_start` and `window_end` for its aggregation to be a window aggregation, as Flink
//! requires. `GROUPING()` and `GROUPING_ID()` are not supported.

use std::collections::BTreeSet;

use sqlparser::ast::Expr;

use super::{unsupported, BindResult};
use crate::expr::ScalarExpr;
use crate::plan::{AggregateCall, Plan, SetOp};

/// The flattened group keys (each AST expression once, in order of appearance) and, when the
/// `GROUP BY` has grouping sets, each set as positions in the keys.
pub(super) fn expand(group: &[Expr]) -> BindResult<(Vec<Expr>, Option<Vec<BTreeSet<usize>>>)> {
    let mut keys: Vec<Expr> = Vec::new();
    let mut position = |expr: &Expr| match keys.iter().position(|k| k == expr) {
        Some(at) => at,
        None => {
            keys.push(expr.clone());
            keys.len() - 1
        }
    };
    let mut sets: Vec<BTreeSet<usize>> = vec![BTreeSet::new()];
    let mut any = false;
    for item in group {
        // The sets this item contributes; the result is the cross product with the others.
        let item_sets: Vec<BTreeSet<usize>> = match item {
            Expr::GroupingSets(lists) => {
                any = true;
                lists.iter().map(|list| list.iter().map(&mut position).collect()).collect()
            }
            Expr::Rollup(elements) | Expr::Cube(elements) => {
                any = true;
                let elements: Vec<BTreeSet<usize>> =
                    elements.iter().map(|element| element.iter().map(&mut position).collect()).collect();
                if matches!(item, Expr::Rollup(_)) {
                    (0..=elements.len())
                        .rev()
                        .map(|n| elements[..n].iter().flatten().copied().collect())
                        .collect()
                } else {
                    if elements.len() > 12 {
                        return Err(unsupported(item, "CUBE of more than 12 elements"));
                    }
                    (0..1u32 << elements.len())
                        .rev()
                        .map(|mask| {
                            elements
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| mask & (1 << i) != 0)
                                .flat_map(|(_, e)| e.iter().copied())
                                .collect()
                        })
                        .collect()
                }
            }
            plain => vec![BTreeSet::from([position(plain)])],
        };
        sets = sets
            .iter()
            .flat_map(|set| item_sets.iter().map(move |extra| set.union(extra).copied().collect()))
            .collect();
    }
    Ok((keys, any.then_some(sets)))
}

/// The aggregation of `input` for each grouping set (positions in `group`), padded with
/// `NULL`s to the columns of the aggregation grouped by all of `group`, in a `UNION ALL`.
pub(super) fn aggregate_sets(
    input: Plan,
    group: &[ScalarExpr],
    group_names: &[String],
    aggregates: &[AggregateCall],
    aggregate_names: &[String],
    sets: &[BTreeSet<usize>],
) -> Plan {
    let branches = sets.iter().map(|set| {
        let keys: Vec<usize> = set.iter().copied().collect();
        let aggregate = Plan::Aggregate {
            input: Box::new(input.clone()),
            group: keys.iter().map(|k| group[*k].clone()).collect(),
            group_names: keys.iter().map(|k| group_names[*k].clone()).collect(),
            aggregates: aggregates.to_vec(),
            aggregate_names: aggregate_names.to_vec(),
        };
        let mut exprs: Vec<ScalarExpr> = group
            .iter()
            .enumerate()
            .map(|(k, key)| match keys.iter().position(|x| *x == k) {
                Some(at) => ScalarExpr::Column { index: at, ty: key.ty() },
                None => ScalarExpr::literal(crate::datum::Datum::Null, key.ty()),
            })
            .collect();
        exprs.extend(
            aggregates
                .iter()
                .enumerate()
                .map(|(j, call)| ScalarExpr::Column { index: keys.len() + j, ty: call.ty }),
        );
        let names = group_names.iter().chain(aggregate_names).cloned().collect();
        Plan::Project { input: Box::new(aggregate), exprs, names }
    });
    branches
        .reduce(|left, right| Plan::SetOp {
            op: SetOp::Union,
            all: true,
            left: Box::new(left),
            right: Box::new(right),
        })
        .expect("at least one grouping set")
}
