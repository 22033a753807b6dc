//! Projection pruning: columns nobody above reads are dropped as low as possible, so joins
//! and aggregations carry (and arrange) narrower rows. Scanned tables get a projection of the
//! columns read; unread aggregates and projected expressions disappear, and `UNION ALL`
//! passes the pruning to both inputs. `Distinct`, the other set operations and `TopK` need
//! every input column (they compare whole rows; `TopK` breaks ties by the whole row), so
//! nothing is pruned below them; the same for `RowNumber`, which becomes a `TopK` (or
//! disappears, without a limit) when nothing reads its number.

use std::collections::BTreeSet;

use super::util::{column, map_inputs, project};
use crate::expr::ScalarExpr;
use crate::plan::{Plan, SetOp};

/// Prunes unread columns; the plan's own output is unchanged.
pub(super) fn prune(plan: Plan) -> Plan {
    let all: BTreeSet<usize> = (0..plan.arity()).collect();
    let (plan, kept) = prune_node(plan, &all);
    restrict(plan, &kept, &all)
}

/// `expr` over the kept columns: old column `c` becomes its position in `kept`.
fn remap(expr: &ScalarExpr, kept: &[usize]) -> ScalarExpr {
    let mut out = expr.clone();
    out.remap_columns(&|c| kept.binary_search(&c).unwrap_or(c));
    out
}

/// A plan whose output is the old columns `kept` down to exactly the columns `need`
/// (a subset of `kept`).
fn restrict(plan: Plan, kept: &[usize], need: &BTreeSet<usize>) -> Plan {
    if kept.len() == need.len() {
        return plan;
    }
    let columns = plan.columns();
    let (exprs, names) = need
        .iter()
        .filter_map(|c| kept.binary_search(c).ok())
        .map(|position| (column(position, columns[position].ty), columns[position].name.clone()))
        .unzip();
    project(plan, exprs, names)
}

fn all_of(plan: Plan) -> Plan {
    let all: BTreeSet<usize> = (0..plan.arity()).collect();
    let (plan, kept) = prune_node(plan, &all);
    restrict(plan, &kept, &all)
}

/// Prunes `plan` to (at least) the `required` columns of its output. Returns the new plan
/// and which old columns its output holds, ascending.
fn prune_node(plan: Plan, required: &BTreeSet<usize>) -> (Plan, Vec<usize>) {
    let arity = plan.arity();
    match plan {
        Plan::Get { .. } => {
            let all: Vec<usize> = (0..arity).collect();
            if required.len() == arity {
                (plan, all)
            } else {
                let kept: Vec<usize> = required.iter().copied().collect();
                (restrict(plan, &all, required), kept)
            }
        }
        Plan::Values { rows, columns } => {
            let kept: Vec<usize> = required.iter().copied().collect();
            let rows = rows
                .into_iter()
                .map(|row| {
                    kept.iter().map(|&c| row.get(c).cloned().unwrap_or(crate::datum::Datum::Null)).collect()
                })
                .collect();
            let columns = kept.iter().map(|&c| columns[c].clone()).collect();
            (Plan::Values { rows, columns }, kept)
        }
        Plan::Filter { input, predicate } => {
            let mut need = required.clone();
            need.extend(predicate.columns());
            let (input, kept) = prune_node(*input, &need);
            (Plan::Filter { input: Box::new(input), predicate: remap(&predicate, &kept) }, kept)
        }
        Plan::Project { input, exprs, names } => {
            let kept: Vec<usize> = required.iter().copied().collect();
            let need: BTreeSet<usize> = kept.iter().flat_map(|&c| exprs[c].columns()).collect();
            let (input, input_kept) = prune_node(*input, &need);
            let exprs = kept.iter().map(|&c| remap(&exprs[c], &input_kept)).collect();
            let names = kept.iter().map(|&c| names[c].clone()).collect();
            (project(input, exprs, names), kept)
        }
        Plan::Join { left, right, kind, on } => {
            let left_arity = left.arity();
            let on_columns = on.columns();
            let need_left: BTreeSet<usize> =
                required.iter().chain(&on_columns).copied().filter(|c| *c < left_arity).collect();
            let need_right: BTreeSet<usize> = required
                .iter()
                .filter(|_| kind.keeps_right())
                .chain(&on_columns)
                .filter(|c| **c >= left_arity)
                .map(|c| c - left_arity)
                .collect();
            let (left, kept_left) = prune_node(*left, &need_left);
            let left = restrict(left, &kept_left, &need_left);
            let (right, kept_right) = prune_node(*right, &need_right);
            let right = restrict(right, &kept_right, &need_right);
            let kept_left: Vec<usize> = need_left.into_iter().collect();
            let kept_right: Vec<usize> = need_right.into_iter().collect();
            let mut on = on;
            on.remap_columns(&|c| {
                if c < left_arity {
                    kept_left.binary_search(&c).unwrap_or(c)
                } else {
                    kept_left.len() + kept_right.binary_search(&(c - left_arity)).unwrap_or(c)
                }
            });
            let mut kept = kept_left;
            if kind.keeps_right() {
                kept.extend(kept_right.iter().map(|c| c + left_arity));
            }
            (Plan::Join { left: Box::new(left), right: Box::new(right), kind, on }, kept)
        }
        Plan::TemporalJoin { left, right, kind, on, time } => {
            // The left side keeps the columns read above, by the condition and as the time;
            // the right side's rows are versions and stay whole.
            let left_arity = left.arity();
            let mut need_left: BTreeSet<usize> =
                required.iter().chain(&on.columns()).copied().filter(|c| *c < left_arity).collect();
            if let crate::plan::TemporalTime::Event { probe, .. } = &time {
                need_left.insert(*probe);
            }
            let (left, kept_left) = prune_node(*left, &need_left);
            let left = restrict(left, &kept_left, &need_left);
            let kept_left: Vec<usize> = need_left.into_iter().collect();
            let width = kept_left.len();
            let position = |c: usize| kept_left.binary_search(&c).unwrap_or(c);
            let mut on = on;
            on.remap_columns(&|c| if c < left_arity { position(c) } else { c - left_arity + width });
            let time = time.remapped(position, |c| c);
            let right = all_of(*right);
            let mut kept = kept_left.clone();
            kept.extend(left_arity..arity);
            (Plan::TemporalJoin { left: Box::new(left), right: Box::new(right), kind, on, time }, kept)
        }
        Plan::Aggregate { input, group, group_names, aggregates, aggregate_names } => {
            let keys = group.len();
            let chosen: Vec<usize> =
                (0..aggregates.len()).filter(|a| required.contains(&(keys + a))).collect();
            let mut need: BTreeSet<usize> = group.iter().flat_map(|e| e.columns()).collect();
            for &a in &chosen {
                let call = &aggregates[a];
                need.extend(call.args.iter().chain(call.filter.as_ref()).flat_map(|e| e.columns()));
            }
            let (input, input_kept) = prune_node(*input, &need);
            let group = group.iter().map(|e| remap(e, &input_kept)).collect();
            let calls = chosen
                .iter()
                .map(|&a| {
                    let mut call = aggregates[a].clone();
                    call.args = call.args.iter().map(|e| remap(e, &input_kept)).collect();
                    call.filter = call.filter.as_ref().map(|e| remap(e, &input_kept));
                    call
                })
                .collect();
            let names = chosen.iter().map(|&a| aggregate_names[a].clone()).collect();
            let kept = (0..keys).chain(chosen.iter().map(|a| keys + a)).collect();
            let aggregate = Plan::Aggregate {
                input: Box::new(input),
                group,
                group_names,
                aggregates: calls,
                aggregate_names: names,
            };
            (aggregate, kept)
        }
        Plan::SetOp { op: SetOp::Union, all: true, left, right } => {
            // UNION ALL is row by row: both inputs keep the same columns.
            let (left, kept_left) = prune_node(*left, required);
            let (right, kept_right) = prune_node(*right, required);
            let union = Plan::SetOp {
                op: SetOp::Union,
                all: true,
                left: Box::new(restrict(left, &kept_left, required)),
                right: Box::new(restrict(right, &kept_right, required)),
            };
            (union, required.iter().copied().collect())
        }
        Plan::RowNumber { input, partition, order, limit, name } => {
            // Ties are broken by the whole input row, so every input column stays. When nothing
            // reads the number, a limited numbering is a partitioned TopK (which breaks ties
            // the same way) and an unlimited one is just its input.
            let number = arity - 1;
            let input = all_of(*input);
            if required.contains(&number) {
                let numbered = Plan::RowNumber { input: Box::new(input), partition, order, limit, name };
                (numbered, (0..arity).collect())
            } else if limit.is_some() {
                (
                    Plan::TopK { input: Box::new(input), group: partition, order, limit, offset: 0 },
                    (0..number).collect(),
                )
            } else {
                (input, (0..number).collect())
            }
        }
        Plan::Over { input, partition, order, functions, streaming } => {
            // Ties are broken by the whole input row, so every input column stays; when
            // nothing reads the functions' columns the node goes.
            let width = input.arity();
            if required.iter().all(|c| *c < width) {
                return prune_node(*input, required);
            }
            let over = Plan::Over { input: Box::new(all_of(*input)), partition, order, functions, streaming };
            (over, (0..arity).collect())
        }
        Plan::Time { input, op } => {
            // Row by row: the input keeps the columns read above and the one the operator
            // reads; a window's appended columns stay (they are three timestamps).
            let input_arity = input.arity();
            let mut need: BTreeSet<usize> = required.iter().copied().filter(|c| *c < input_arity).collect();
            need.extend(op.reads());
            let (input, input_kept) = prune_node(*input, &need);
            let op = op.remapped(|c| input_kept.binary_search(&c).unwrap_or(c));
            let mut kept = input_kept;
            kept.extend(input_arity..arity);
            (Plan::Time { input: Box::new(input), op }, kept)
        }
        other => {
            // Whole rows matter (Distinct, set operations, TopK) or correlation (Apply).
            let pruned = if matches!(other, Plan::Apply { .. }) {
                other
            } else {
                let Ok(pruned) = map_inputs::<std::convert::Infallible>(other, &mut |p| Ok(all_of(p)));
                pruned
            };
            (pruned, (0..arity).collect())
        }
    }
}
