//! The operators that reduce groups of rows: aggregation, `DISTINCT`, the set operations and
//! Top-K. Each keeps its input arranged by the group key (shared with any other consumer of the
//! same arrangement) and recomputes a group's output from the group's rows with their
//! multiplicities when the group changes; differential turns the new output into retractions
//! and insertions.
//!
//! The aggregate functions are [`crate::aggregate::aggregate`], the ones the reference
//! evaluator uses. A group's aggregate that fails (an overflowing `SUM`) becomes a
//! [`RowError`] carrying the group key.

use differential_dataflow::trace::implementations::{ValBuilder, ValSpine};
use differential_dataflow::VecCollection;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::Stream;

use super::{all_columns, label, Arrangement, Diff, RenderError, Renderer, RowError, Rows, Time};
use crate::aggregate::aggregate;
use crate::datum::{Datum, Row};
use crate::expr::ScalarExpr;
use crate::oracle::compare_rows;
use crate::plan::{AggregateCall, AggregateFunction, Plan, SetOp, SortKey};

/// A group's output: rows, or the error that replaced them.
type Outcome = Result<Row, RowError>;

/// Reduces every group of `arranged` with `logic`, which maps the group key and its rows (with
/// positive multiplicities) to output values with multiplicities.
fn reduce_groups<'scope, V, L>(
    arranged: Arrangement<'scope>,
    name: &str,
    mut logic: L,
) -> VecCollection<'scope, Time, V, Diff>
where
    V: differential_dataflow::Data,
    L: FnMut(&Row, &[(&Row, Diff)], &mut Vec<(V, Diff)>) + 'static,
{
    arranged
        .reduce_abelian::<_, ValBuilder<Row, V, Time, Diff>, ValSpine<Row, V, Time, Diff>, _, _>(
            name,
            move |key: &Row, input: &[(&Row, Diff)], output: &mut Vec<(V, Diff)>| logic(key, input, output),
            |buffer, key: &Row, updates: &mut Vec<(V, Time, Diff)>| {
                buffer.clear();
                buffer
                    .extend(updates.drain(..).map(|(value, time, diff)| ((key.clone(), value), time, diff)));
            },
        )
        .as_collection(|_key: &Row, value: &V| value.clone())
}

impl<'scope> Renderer<'scope> {
    /// Splits outcomes into rows and errors.
    fn outcomes(&mut self, outcomes: VecCollection<'scope, Time, Outcome, Diff>) -> Rows<'scope> {
        let (ok, errors): (
            Stream<'scope, Time, Vec<(Row, Time, Diff)>>,
            Stream<'scope, Time, Vec<(RowError, Time, Diff)>>,
        ) = outcomes.inner.ok_err(|(outcome, time, diff)| match outcome {
            Ok(row) => Ok((row, time, diff)),
            Err(error) => Err((error, time, diff)),
        });
        self.errors.push(differential_dataflow::AsCollection::as_collection(errors));
        differential_dataflow::AsCollection::as_collection(ok)
    }

    pub(super) fn aggregate(
        &mut self,
        plan: &Plan,
        input: &Plan,
        group: &[ScalarExpr],
        aggregates: &[AggregateCall],
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let (arranged, arrangement) = self.arrange(input, group, false)?;
        let calls = aggregates.to_vec();
        let operator = label(plan);
        let outcomes = reduce_groups(arranged, "Aggregate", move |key, rows, output| {
            let mut values = key.values().to_vec();
            for call in &calls {
                match aggregate(call, rows.iter().map(|(row, count)| (*row, *count))) {
                    Ok(value) => values.push(value),
                    Err(error) => {
                        let error = RowError {
                            operator: operator.clone(),
                            row: key.clone(),
                            message: error.to_string(),
                        };
                        output.push((Err(error), 1));
                        return;
                    }
                }
            }
            output.push((Ok(Row::new(values)), 1));
        });
        let mut rows = self.outcomes(outcomes.clone());
        if group.is_empty() {
            // A global aggregate over an empty input is one row: COUNT 0, the others NULL. It is
            // there exactly while the reduce has no group (which it has for a non-empty input,
            // whether it produced a row or an error).
            let empty: Row = aggregates
                .iter()
                .map(|call| match call.function {
                    AggregateFunction::CountStar | AggregateFunction::Count => Datum::BigInt(0),
                    _ => Datum::Null,
                })
                .collect();
            let present = empty.clone();
            let default = self.values(vec![empty]);
            rows = rows.concat(default).concat(outcomes.map(move |_| present.clone()).negate());
        }
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }

    pub(super) fn distinct(
        &mut self,
        plan: &Plan,
        input: &Plan,
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let (arranged, arrangement) = self.arrange(input, &all_columns(input), false)?;
        let rows = reduce_groups(arranged, "Distinct", |key, _rows, output| output.push((key.clone(), 1)));
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }

    pub(super) fn set_op(
        &mut self,
        plan: &Plan,
        op: SetOp,
        all: bool,
        left: &Plan,
        right: &Plan,
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let left_node = self.node(left)?;
        let right_node = self.node(right)?;
        let text = format!("{} <- #{left_node}, #{right_node}", label(plan));
        let (left_rows, right_rows) = (self.rows(left_node), self.rows(right_node));
        if op == SetOp::Union && all {
            return Ok((left_rows.concat(right_rows), text));
        }
        let tagged = left_rows.map(|row| (row, false)).concat(right_rows.map(|row| (row, true)));
        let rows = tagged
            .reduce_named(
                "SetOp",
                move |_row: &Row, sides: &[(&bool, Diff)], output: &mut Vec<((), Diff)>| {
                    let count =
                        |side: bool| sides.iter().filter(|(s, _)| **s == side).map(|(_, n)| *n).sum::<Diff>();
                    let (left, right) = (count(false), count(true));
                    let n = match (op, all) {
                        (SetOp::Union, _) => Diff::from(left + right > 0),
                        (SetOp::Except, true) => (left - right).max(0),
                        (SetOp::Except, false) => Diff::from(left > 0 && right <= 0),
                        (SetOp::Intersect, true) => left.min(right).max(0),
                        (SetOp::Intersect, false) => Diff::from(left > 0 && right > 0),
                    };
                    if n > 0 {
                        output.push(((), n));
                    }
                },
            )
            .map(|(row, ())| row);
        Ok((rows, text))
    }

    pub(super) fn top_k(
        &mut self,
        plan: &Plan,
        input: &Plan,
        group: &[usize],
        order: &[SortKey],
        limit: Option<u64>,
        offset: u64,
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let columns = input.columns();
        let key: Vec<ScalarExpr> = group
            .iter()
            .map(|&index| ScalarExpr::Column {
                index,
                ty: columns.get(index).map_or(crate::types::SqlType::Boolean, |c| c.ty),
            })
            .collect();
        let (arranged, arrangement) = self.arrange(input, &key, false)?;
        let order = order.to_vec();
        let rows = reduce_groups(arranged, "TopK", move |_key, rows, output| {
            let mut sorted: Vec<(&Row, Diff)> = rows.iter().map(|(row, n)| (*row, *n)).collect();
            sorted.sort_by(|a, b| compare_rows(a.0, b.0, &order));
            // Positions `offset .. offset + limit`, counting each row as often as it occurs.
            let end = limit.map_or(u64::MAX, |limit| offset.saturating_add(limit));
            let mut position: u64 = 0;
            for (row, n) in sorted {
                let n = u64::try_from(n).unwrap_or(0);
                let (start, stop) = (position.max(offset), position.saturating_add(n).min(end));
                if stop > start {
                    output.push((row.clone(), Diff::try_from(stop - start).unwrap_or(Diff::MAX)));
                }
                position = position.saturating_add(n);
                if position >= end {
                    break;
                }
            }
        });
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }
}
