//! Join ordering: a tree of inner joins is flattened into its relations and the conjuncts of
//! its conditions, then rebuilt left-deep, greedily: after the first relation, the next is
//! the first (in the query's order) that an equality connects to those already joined, so
//! the dataflow never builds a cross product the query does not have. Without such a
//! relation, the first remaining one is taken (the query's own cross product). Each conjunct
//! goes to the lowest join that has all its columns; a projection restores the column order.

use std::collections::BTreeSet;

use super::util::{column, map_inputs, names, project, shifted};
use crate::expr::{BinaryOp, ScalarExpr};
use crate::plan::{conjunction, split_conjuncts, JoinKind, Plan};

/// Reorders every tree of inner joins in the plan.
pub(super) fn order_joins(plan: Plan) -> Plan {
    match plan {
        join @ Plan::Join { kind: JoinKind::Inner, .. } => {
            let output_names = names(&join);
            let mut relations = vec![];
            let mut conjuncts = vec![];
            flatten(join, 0, &mut relations, &mut conjuncts);
            let relations = relations.into_iter().map(order_joins).collect();
            rebuild(relations, conjuncts, output_names)
        }
        other => {
            let Ok(plan) = map_inputs::<std::convert::Infallible>(other, &mut |p| Ok(order_joins(p)));
            plan
        }
    }
}

/// The relations under a tree of inner joins, and its conjuncts over all their columns
/// (relation after relation, in the tree's order).
fn flatten(plan: Plan, offset: usize, relations: &mut Vec<Plan>, conjuncts: &mut Vec<ScalarExpr>) {
    match plan {
        Plan::Join { left, right, kind: JoinKind::Inner, on } => {
            let left_arity = left.arity();
            flatten(*left, offset, relations, conjuncts);
            flatten(*right, offset + left_arity, relations, conjuncts);
            conjuncts.extend(split_conjuncts(&on).iter().map(|c| shifted(c, offset)));
        }
        other => relations.push(other),
    }
}

fn rebuild(relations: Vec<Plan>, conjuncts: Vec<ScalarExpr>, output_names: Vec<String>) -> Plan {
    let arities: Vec<usize> = relations.iter().map(Plan::arity).collect();
    let starts: Vec<usize> =
        arities.iter().scan(0, |start, a| Some(std::mem::replace(start, *start + a))).collect();
    let relation_of = |c: usize| starts.iter().rposition(|s| *s <= c).unwrap_or(0);
    let relations_of =
        |e: &ScalarExpr| -> BTreeSet<usize> { e.columns().into_iter().map(relation_of).collect() };
    let count = relations.len();
    // The order.
    let mut order = vec![0];
    let mut joined: BTreeSet<usize> = [0].into();
    while order.len() < count {
        let connected = (0..count).filter(|r| !joined.contains(r)).find(|&r| {
            conjuncts.iter().any(|c| match c {
                ScalarExpr::Binary { op: BinaryOp::Eq, left, right, .. } => {
                    let (l, r_set) = (relations_of(left), relations_of(right));
                    let only = |set: &BTreeSet<usize>| set.len() == 1 && set.contains(&r);
                    let within = |set: &BTreeSet<usize>| !set.is_empty() && set.is_subset(&joined);
                    (within(&l) && only(&r_set)) || (only(&l) && within(&r_set))
                }
                _ => false,
            })
        });
        let next = connected.or_else(|| (0..count).find(|r| !joined.contains(r))).unwrap_or(0);
        order.push(next);
        joined.insert(next);
    }
    // Left-deep joins in that order; `position[c]` is where global column `c` is now.
    let mut position = vec![0; starts.last().map_or(0, |s| s + arities[count - 1])];
    let mut slots: Vec<Option<Plan>> = relations.into_iter().map(Some).collect();
    let mut used = vec![false; conjuncts.len()];
    let mut joined: BTreeSet<usize> = BTreeSet::new();
    let mut width = 0;
    let mut current: Option<Plan> = None;
    for &r in &order {
        for c in 0..arities[r] {
            position[starts[r] + c] = width + c;
        }
        width += arities[r];
        joined.insert(r);
        let Some(relation) = slots[r].take() else { continue };
        current = Some(match current {
            None => relation,
            Some(left) => {
                let mut on = vec![];
                for (i, conjunct) in conjuncts.iter().enumerate() {
                    if !used[i] && relations_of(conjunct).is_subset(&joined) {
                        used[i] = true;
                        let mut c = conjunct.clone();
                        c.remap_columns(&|g| position[g]);
                        on.push(c);
                    }
                }
                Plan::Join {
                    left: Box::new(left),
                    right: Box::new(relation),
                    kind: JoinKind::Inner,
                    on: conjunction(on),
                }
            }
        });
    }
    let Some(joined_plan) = current else { return Plan::Values { rows: vec![], columns: vec![] } };
    let columns = joined_plan.columns();
    let exprs = position.iter().map(|&p| column(p, columns[p].ty)).collect();
    project(joined_plan, exprs, output_names)
}
