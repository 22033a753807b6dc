//! Which operators of a plan keep state, and whether that state stays bounded: `EXPLAIN`'s
//! `== State ==` section and the warning a job over unbounded input prints.
//!
//! An operator's state is bounded when its rows expire ([`TimeOp::Expire`] under each of its
//! inputs: window operators and interval joins, or operators over their results), when it is a
//! session window (which forgets a session when it closes) or a streaming `OVER` (which keeps
//! what its frames reach). Joins, aggregations, `DISTINCT`, set operations other than
//! `UNION ALL`, Top-K and `ROW_NUMBER` over rows that do not expire keep every input row's
//! contribution for as long as the job runs (there is no state TTL yet). Over a bounded
//! input that is fine; over an unbounded one (Kafka, an unbounded generator) it grows.

use super::{Plan, SetOp, TimeOp};

/// One stateful operator: its plan line and whether its state is bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatefulOperator {
    /// The operator as `EXPLAIN` prints its node.
    pub operator: String,
    /// Whether its state is retired as the watermark passes.
    pub bounded: bool,
}

/// Whether every row of `plan` is retracted once the watermark passes some time: an
/// [`TimeOp::Expire`], or an operator all of whose inputs' rows do (an aggregation's groups
/// vanish with their rows, so do its results). A `Finalize` or `AppendOnly` output keeps its
/// rows; an aggregation without a group key has a row even over nothing, but that one row is
/// all it keeps.
fn expires(plan: &Plan) -> bool {
    match plan {
        Plan::Time { op: TimeOp::Expire { .. }, .. } => true,
        Plan::Time { op: TimeOp::Window { .. }, input } => expires(input),
        Plan::Time { .. } | Plan::Get { .. } | Plan::MatchRecognize { .. } => false,
        Plan::Values { .. } => true,
        _ => plan.inputs().iter().all(|input| expires(input)),
    }
}

/// The stateful operators of `plan`, outermost first.
pub fn stateful_operators(plan: &Plan) -> Vec<StatefulOperator> {
    fn walk(plan: &Plan, out: &mut Vec<StatefulOperator>) {
        let stateful = match plan {
            Plan::Join { .. }
            | Plan::Aggregate { .. }
            | Plan::Distinct { .. }
            | Plan::TopK { .. }
            | Plan::RowNumber { .. }
            | Plan::Over { .. } => true,
            Plan::SetOp { op, all, .. } => !(*op == SetOp::Union && *all),
            Plan::Time { op: TimeOp::Session { .. }, .. } | Plan::MatchRecognize { .. } => true,
            _ => false,
        };
        if stateful {
            // A streaming OVER keeps the rows its frames reach (see `Plan::Over`).
            let bounded = matches!(plan, Plan::Time { .. } | Plan::Over { streaming: true, .. })
                || plan.inputs().iter().all(|input| expires(input));
            let operator = plan.explain().lines().next().unwrap_or_default().trim().to_owned();
            out.push(StatefulOperator { operator, bounded });
        }
        for input in plan.inputs() {
            walk(input, out);
        }
    }
    let mut out = Vec::new();
    walk(plan, &mut out);
    out
}

/// `EXPLAIN`'s state section: one line per stateful operator.
pub fn explain_state(plan: &Plan) -> String {
    let operators = stateful_operators(plan);
    if operators.is_empty() {
        return "no operator keeps state\n".into();
    }
    operators
        .iter()
        .map(|op| {
            let what = if op.bounded {
                "bounded: retired as the watermark passes"
            } else {
                "UNBOUNDED: kept for as long as the job runs"
            };
            format!("{what} | {}\n", op.operator)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Column;
    use crate::types::SqlType;

    #[test]
    fn expired_inputs_bound_an_operator() {
        let get = Plan::Get { name: "t".into(), columns: vec![Column::new("ts", SqlType::TIMESTAMP)] };
        let distinct = Plan::Distinct { input: Box::new(get.clone()) };
        assert_eq!(
            stateful_operators(&distinct),
            vec![StatefulOperator { operator: "Distinct".into(), bounded: false }]
        );
        let expired = Plan::Distinct {
            input: Box::new(Plan::Time { input: Box::new(get), op: TimeOp::Expire { end: 0, delay: 0 } }),
        };
        assert!(stateful_operators(&expired)[0].bounded);
        assert!(explain_state(&distinct).starts_with("UNBOUNDED"));
    }
}
