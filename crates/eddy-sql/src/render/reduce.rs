//! The operators that reduce groups of rows: aggregation, `DISTINCT`, the set operations,
//! Top-K and `ROW_NUMBER` (per-partition Top-N with the number appended). A Top-K or numbering
//! with a limit first keeps the best rows of each of 64 hash buckets of a partition, so a
//! change in a large partition re-sorts one bucket and the buckets' survivors, not the whole
//! partition. Each keeps its input arranged by the group key (shared with any other consumer of the
//! same arrangement) and recomputes a group's output from the group's rows with their
//! multiplicities when the group changes; differential turns the new output into retractions
//! and insertions.
//!
//! The aggregate functions are [`crate::aggregate::aggregate`], the ones the reference
//! evaluator uses, except when every aggregate of a node is a count or an exact sum: those
//! travel as sums in the diffs (`accumulate.rs`) and arrange no rows. A group's aggregate that
//! fails (an overflowing `SUM`) becomes a [`RowError`] carrying the group key.

use differential_dataflow::trace::implementations::{ValBuilder, ValSpine};
use differential_dataflow::{Hashable, VecCollection};
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::Stream;

use super::accumulate::{accumulable, contribution, finish, Sums};
use super::{all_columns, label, Arrangement, Diff, RenderError, Renderer, RowError, Rows, Time};
use crate::aggregate::aggregate;
use crate::datum::{Datum, Row};
use crate::expr::ScalarExpr;
use crate::oracle::compare_rows;
use crate::plan::{AggregateCall, AggregateFunction, OverFunction, Plan, SetOp, SortKey};

/// A group's output: rows, or the error that replaced them.
pub(super) type Outcome = Result<Row, RowError>;

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
    pub(super) fn outcomes(&mut self, outcomes: VecCollection<'scope, Time, Outcome, Diff>) -> Rows<'scope> {
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
        if accumulable(aggregates) {
            let node = self.node(input)?;
            let outcomes = self.accumulated(plan, node, group, aggregates);
            let rows = self.with_empty_group(outcomes, group, aggregates);
            return Ok((rows, format!("{} <- #{node} (sums carried in the diffs)", label(plan))));
        }
        if hierarchical(aggregates) {
            return self.hierarchical_aggregate(plan, input, group, aggregates);
        }
        let (arranged, arrangement) = self.arrange(input, group)?;
        let calls = aggregates.to_vec();
        let operator = label(plan);
        let outcomes = reduce_groups(arranged, "Aggregate", aggregate_rows(calls, operator, group.len()));
        let rows = self.with_empty_group(outcomes, group, aggregates);
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }

    /// An aggregation of `MIN`, `MAX` and counts (see [`hierarchical`]) in two stages, as Top-K
    /// does: per group and hash bucket of the row (64 a group) the aggregates of the bucket's
    /// rows, then per group the `MIN` of the buckets' minima, the `MAX` of their maxima, the
    /// sum of their counts. A change re-reads its bucket and the group's 64 partial rows, not
    /// the group's rows: a `MAX` over a large window stays cheap per change.
    fn hierarchical_aggregate(
        &mut self,
        plan: &Plan,
        input: &Plan,
        group: &[ScalarExpr],
        aggregates: &[AggregateCall],
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let node = self.node(input)?;
        let operator = label(plan);
        let width = group.len();
        let exprs = group.to_vec();
        let keyed = self.fallible(node, format!("key of {operator}"), move |row| {
            let mut key: Vec<Datum> = exprs.iter().map(|expr| expr.eval(row)).collect::<Result<_, _>>()?;
            key.push(Datum::BigInt((row.hashed() % AGGREGATE_BUCKETS) as i64));
            Ok(Some((Row::new(key), row.clone())))
        });
        let calls = aggregates.to_vec();
        let partial = aggregate_rows(calls, operator.clone(), width);
        let partials =
            reduce_groups(keyed.arrange_by_key_named("Aggregate buckets"), "Aggregate bucket", partial);
        let partials = self.outcomes(partials);
        // The second stage reads the partial rows: group columns, then one column per call.
        let merged: Vec<AggregateCall> = aggregates
            .iter()
            .enumerate()
            .map(|(i, call)| AggregateCall {
                function: match call.function {
                    AggregateFunction::Count | AggregateFunction::CountStar => AggregateFunction::Sum,
                    function => function,
                },
                args: vec![ScalarExpr::Column { index: width + i, ty: call.ty }],
                distinct: false,
                filter: None,
                ty: call.ty,
            })
            .collect();
        let by_group = partials
            .map(move |row| (Row::new(row.values()[..width].to_vec()), row))
            .arrange_by_key_named("Aggregate partials");
        let outcomes = reduce_groups(by_group, "Aggregate", aggregate_rows(merged, operator, width));
        let rows = self.with_empty_group(outcomes, group, aggregates);
        let text = format!(
            "{} <- #{node} in {AGGREGATE_BUCKETS} hash buckets per group, then per group",
            label(plan)
        );
        Ok((rows, text))
    }

    /// The rows of an aggregation's outcomes; for a global aggregate (no group key) also the
    /// row of the empty input (`COUNT` 0, the others `NULL`), there exactly while no group
    /// exists (a non-empty input has one, whether it produced a row or an error).
    fn with_empty_group(
        &mut self,
        outcomes: VecCollection<'scope, Time, Outcome, Diff>,
        group: &[ScalarExpr],
        aggregates: &[AggregateCall],
    ) -> Rows<'scope> {
        let rows = self.outcomes(outcomes.clone());
        if !group.is_empty() {
            return rows;
        }
        let empty: Row = aggregates
            .iter()
            .map(|call| match call.function {
                AggregateFunction::CountStar | AggregateFunction::Count => Datum::BigInt(0),
                _ => Datum::Null,
            })
            .collect();
        let present = empty.clone();
        let default = self.values(vec![empty]);
        rows.concat(default).concat(outcomes.map(move |_| present.clone()).negate())
    }

    /// An accumulable aggregation (see `accumulate.rs`): the sums travel as diffs into a
    /// reduce that only reads them.
    fn accumulated(
        &mut self,
        plan: &Plan,
        node: usize,
        group: &[ScalarExpr],
        aggregates: &[AggregateCall],
    ) -> VecCollection<'scope, Time, Outcome, Diff> {
        let (group, calls) = (group.to_vec(), aggregates.to_vec());
        let operator = label(plan);
        let contributions = self.fallible(node, operator.clone(), move |row| {
            let key: Row = group.iter().map(|expr| expr.eval(row)).collect::<Result<_, _>>()?;
            Ok(Some((key, contribution(&calls, row)?)))
        });
        let calls = aggregates.to_vec();
        contributions
            .explode(|(key, sums): (Row, Sums)| Some(((key, ()), sums)))
            .reduce_named(
                "Aggregate",
                move |key: &Row, input: &[(&(), Sums)], output: &mut Vec<(Outcome, Diff)>| {
                    let Some((_, sums)) = input.first() else { return };
                    match finish(&calls, sums) {
                        None => {}
                        Some(Ok(values)) => {
                            let row: Row = key.values().iter().cloned().chain(values).collect();
                            output.push((Ok(row), 1));
                        }
                        Some(Err(error)) => {
                            let error = RowError {
                                operator: operator.clone(),
                                row: key.clone(),
                                message: error.to_string(),
                            };
                            output.push((Err(error), 1));
                        }
                    }
                },
            )
            .map(|(_key, outcome)| outcome)
    }

    pub(super) fn distinct(
        &mut self,
        plan: &Plan,
        input: &Plan,
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let (arranged, arrangement) = self.arrange(input, &all_columns(input))?;
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
        if let Some(limit) = limit {
            // Re-sorting a whole partition on every change would cost its size: first keep the
            // top `offset + limit` rows of each of TOP_K_BUCKETS hash buckets of the partition
            // (spread over the workers), then the final stage reads at most that many rows per
            // bucket.
            let node = self.node(input)?;
            let keep = offset.saturating_add(limit);
            let survivors = self.bucketed_top(node, group, order, keep);
            let order = order.to_vec();
            let rows = reduce_groups(
                partitioned(survivors, group).arrange_by_key_named("TopK"),
                "TopK",
                move |_, rows, output| top_rows(rows, &order, Some(limit), offset, output),
            );
            let text = if group.is_empty() {
                format!("{} <- #{node} in {TOP_K_BUCKETS} hash buckets, then one", label(plan))
            } else {
                format!(
                    "{} <- #{node} in {TOP_K_BUCKETS} hash buckets per partition, then per partition",
                    label(plan)
                )
            };
            return Ok((rows, text));
        }
        let (arranged, arrangement) = self.arrange(input, &column_key(input, group))?;
        let order = order.to_vec();
        let rows = reduce_groups(arranged, "TopK", move |_key, rows, output| {
            top_rows(rows, &order, limit, offset, output)
        });
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }

    /// `ROW_NUMBER()` per partition: the rows of each partition in order, each with its
    /// number appended. With a limit, in two stages as [`Renderer::top_k`]; the numbering
    /// stage then reads at most `limit` rows per bucket of a partition. When a numbered row
    /// leaves (or a better one arrives), the rows after it get new numbers: differential
    /// emits each as a retraction and an insertion, which the changelog pairs by the upsert
    /// key (partition, number) into `-U`/`+U`.
    pub(super) fn row_number(
        &mut self,
        plan: &Plan,
        input: &Plan,
        partition: &[usize],
        order: &[SortKey],
        limit: Option<u64>,
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let number = {
            let order = order.to_vec();
            move |_: &Row, rows: &[(&Row, Diff)], output: &mut Vec<(Row, Diff)>| {
                number_rows(rows, &order, limit, output)
            }
        };
        if let Some(limit) = limit {
            let node = self.node(input)?;
            let survivors = self.bucketed_top(node, partition, order, limit);
            let rows = reduce_groups(
                partitioned(survivors, partition).arrange_by_key_named("RowNumber"),
                "RowNumber",
                number,
            );
            let text = format!(
                "{} <- #{node} in {TOP_K_BUCKETS} hash buckets per partition, then per partition",
                label(plan)
            );
            return Ok((rows, text));
        }
        let (arranged, arrangement) = self.arrange(input, &column_key(input, partition))?;
        let rows = reduce_groups(arranged, "RowNumber", number);
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }

    /// Window functions (`Plan::Over`) per partition: a changed partition's rows are
    /// recomputed with their values (`crate::over`). A partition that fails (an overflowing
    /// `SUM`) becomes a [`RowError`] carrying the partition key.
    pub(super) fn over(
        &mut self,
        plan: &Plan,
        input: &Plan,
        partition: &[usize],
        order: &[SortKey],
        functions: &[OverFunction],
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let (arranged, arrangement) = self.arrange(input, &column_key(input, partition))?;
        let (order, functions) = (order.to_vec(), functions.to_vec());
        let operator = label(plan);
        let outcomes = reduce_groups(arranged, "Over", move |key, rows, output| {
            match crate::over::over_partition(rows, &order, &functions) {
                Ok(rows) => output.extend(rows.into_iter().map(|row| (Ok(row), 1))),
                Err(error) => {
                    let error =
                        RowError { operator: operator.clone(), row: key.clone(), message: error.to_string() };
                    output.push((Err(error), 1));
                }
            }
        });
        let rows = self.outcomes(outcomes);
        let node = self.arrangements[arrangement].node;
        Ok((rows, format!("{} <- #{node} via Arrangement#{arrangement}", label(plan))))
    }

    /// The first stage of a limited Top-K: the best `keep` rows (in `order`, ties by the whole
    /// row) of each hash bucket of each partition of node `node`'s rows.
    fn bucketed_top(
        &mut self,
        node: usize,
        partition: &[usize],
        order: &[SortKey],
        keep: u64,
    ) -> Rows<'scope> {
        let partition = partition.to_vec();
        let bucketed = self.rows(node).map(move |row| {
            let mut key: Vec<Datum> =
                partition.iter().map(|&c| row.get(c).cloned().unwrap_or(Datum::Null)).collect();
            key.push(Datum::BigInt((row.hashed() % TOP_K_BUCKETS) as i64));
            (Row::new(key), row)
        });
        let order = order.to_vec();
        reduce_groups(bucketed.arrange_by_key_named("TopK buckets"), "TopK bucket", move |_, rows, output| {
            top_rows(rows, &order, Some(keep), 0, output)
        })
    }
}

/// The hash buckets of a hierarchical aggregation's first stage (per group). A third stage
/// (4096 buckets, then 64, then the group) was measured on Nexmark q7 and q16 and cost more in
/// arrangements (memory and merging) than its smaller re-reads saved.
const AGGREGATE_BUCKETS: u64 = 64;

/// Whether an aggregation runs in two stages ([`Renderer::hierarchical_aggregate`]): some
/// `MIN` or `MAX` and otherwise counts, none `DISTINCT` (a bucket's distinct values are not
/// the group's). Sums and averages stay in one stage (a partial sum could overflow where the
/// group's does not).
fn hierarchical(calls: &[AggregateCall]) -> bool {
    use AggregateFunction as F;
    calls.iter().any(|call| matches!(call.function, F::Min | F::Max))
        && calls.iter().all(|call| match call.function {
            F::Min | F::Max => true,
            F::Count | F::CountStar => !call.distinct,
            F::Sum | F::Avg => false,
        })
}

/// A reduce's logic for an aggregation whose key's first `width` values are the group's: the
/// group values then `calls` over the rows; a failing call makes the key's outcome an error.
fn aggregate_rows(
    calls: Vec<AggregateCall>,
    operator: String,
    width: usize,
) -> impl FnMut(&Row, &[(&Row, Diff)], &mut Vec<(Outcome, Diff)>) + 'static {
    move |key, rows, output| {
        let mut values = key.values()[..width].to_vec();
        for call in &calls {
            match aggregate(call, rows.iter().map(|(row, count)| (*row, *count))) {
                Ok(value) => values.push(value),
                Err(error) => {
                    let error =
                        RowError { operator: operator.clone(), row: key.clone(), message: error.to_string() };
                    output.push((Err(error), 1));
                    return;
                }
            }
        }
        output.push((Ok(Row::new(values)), 1));
    }
}

/// Rows keyed by their partition columns.
fn partitioned<'scope>(
    rows: Rows<'scope>,
    partition: &[usize],
) -> VecCollection<'scope, Time, (Row, Row), Diff> {
    let partition = partition.to_vec();
    rows.map(move |row| (partition_key(&row, &partition), row))
}

/// The values of a row's `partition` columns.
pub(super) fn partition_key(row: &Row, partition: &[usize]) -> Row {
    partition.iter().map(|&c| row.get(c).cloned().unwrap_or(Datum::Null)).collect()
}

/// The hash buckets of a Top-K's first stage (per partition).
const TOP_K_BUCKETS: u64 = 64;

/// The rows at positions `offset .. offset + limit` of `rows` in `order` (ties broken by the
/// whole row), each row counting as often as it occurs.
fn top_rows(
    rows: &[(&Row, Diff)],
    order: &[SortKey],
    limit: Option<u64>,
    offset: u64,
    output: &mut Vec<(Row, Diff)>,
) {
    let mut sorted: Vec<(&Row, Diff)> = rows.to_vec();
    sorted.sort_by(|a, b| compare_rows(a.0, b.0, order));
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
}

/// `rows` in `order` (ties broken by the whole row), each copy of a row numbered from 1, up to
/// `limit`.
fn number_rows(rows: &[(&Row, Diff)], order: &[SortKey], limit: Option<u64>, output: &mut Vec<(Row, Diff)>) {
    let mut sorted: Vec<(&Row, Diff)> = rows.to_vec();
    sorted.sort_by(|a, b| compare_rows(a.0, b.0, order));
    let end = limit.unwrap_or(u64::MAX);
    let mut number: u64 = 0;
    for (row, n) in sorted {
        for _ in 0..n.max(0) {
            if number >= end {
                return;
            }
            number += 1;
            let mut values = row.values().to_vec();
            values.push(Datum::BigInt(i64::try_from(number).unwrap_or(i64::MAX)));
            output.push((Row::new(values), 1));
        }
    }
}

/// The key expressions of the `columns` of `input` (a partition or group by columns).
fn column_key(input: &Plan, columns: &[usize]) -> Vec<ScalarExpr> {
    let types = input.columns();
    columns
        .iter()
        .map(|&index| ScalarExpr::Column {
            index,
            ty: types.get(index).map_or(crate::types::SqlType::Boolean, |c| c.ty),
        })
        .collect()
}
