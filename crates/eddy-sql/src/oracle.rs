//! The reference evaluator: a plan evaluated the naive way, on whole tables in memory, one
//! node at a time (nested loops for joins, a subquery re-evaluated for every outer row). It is
//! the oracle the tests compare the optimizer and the differential renderer with, so it stays
//! short and obviously right rather than fast; only the aggregate functions are shared with the
//! renderer ([`crate::aggregate`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use thiserror::Error;

use crate::aggregate::aggregate;
use crate::datum::{Datum, Row};
use crate::error::EvalError;
use crate::expr::{truth, ScalarExpr};
use crate::order::value_cmp;
pub use crate::order::{compare_keys, compare_rows};
use crate::plan::{ApplyKind, JoinKind, Plan, Query, SetOp, TemporalTime, TimeOp};

/// Why a plan could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OracleError {
    /// A `MATCH_RECOGNIZE` failed to compile or to match.
    #[error("{0}")]
    MatchRecognize(String),
    /// An expression failed on a row.
    #[error("{error} (in {operator} on row {row})")]
    Eval {
        /// The error.
        error: EvalError,
        /// The plan node, as `EXPLAIN` prints it.
        operator: String,
        /// The row.
        row: String,
    },
    /// A scalar subquery returned more than one row.
    #[error("a scalar subquery returned {rows} rows for the row {row}; at most one is allowed")]
    SubqueryRows {
        /// How many.
        rows: usize,
        /// The outer row.
        row: String,
    },
    /// `Get` of a table the caller did not provide.
    #[error("unknown table {0}")]
    UnknownTable(String),
}

type Result<T> = std::result::Result<T, OracleError>;

/// Evaluates a query: its plan's rows, sorted by the query's order when it has one.
pub fn evaluate_query(query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>> {
    let mut rows = evaluate(&query.plan, tables)?;
    if !query.order.is_empty() {
        rows.sort_by(|a, b| compare_rows(a, b, &query.order));
    }
    Ok(rows)
}

/// Evaluates a plan on the given tables (each a multiset of rows).
pub fn evaluate(plan: &Plan, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>> {
    Evaluator { tables, outer: Vec::new() }.eval(plan)
}

struct Evaluator<'a> {
    tables: &'a BTreeMap<String, Vec<Row>>,
    /// The rows of the enclosing `Apply` inputs, innermost last.
    outer: Vec<Row>,
}

fn first_line(plan: &Plan) -> String {
    plan.explain().lines().next().unwrap_or_default().trim().to_owned()
}

impl Evaluator<'_> {
    /// Evaluates `expr` on `row`, with outer references replaced by the enclosing rows.
    fn scalar(&self, expr: &ScalarExpr, row: &Row, plan: &Plan) -> Result<Datum> {
        let fail =
            |error: EvalError| OracleError::Eval { error, operator: first_line(plan), row: row.to_string() };
        let mut has_outer = false;
        expr.visit(&mut |e| has_outer |= matches!(e, ScalarExpr::Outer { .. }));
        if !has_outer {
            return expr.eval(row).map_err(fail);
        }
        let mut bound = expr.clone();
        let mut missing = None;
        bound.transform(&mut |e| {
            if let ScalarExpr::Outer { depth, index, ty } = e {
                let value = depth
                    .checked_sub(1)
                    .and_then(|d| self.outer.len().checked_sub(d + 1))
                    .and_then(|level| self.outer[level].get(*index));
                match value {
                    Some(value) => *e = ScalarExpr::Literal { value: value.clone(), ty: *ty },
                    None => missing = Some(format!("outer column {index} at depth {depth}")),
                }
            }
        });
        if let Some(missing) = missing {
            return Err(fail(EvalError::Internal(missing)));
        }
        bound.eval(row).map_err(fail)
    }

    fn predicate(&self, expr: &ScalarExpr, row: &Row, plan: &Plan) -> Result<bool> {
        let value = self.scalar(expr, row, plan)?;
        truth(&value).map(|t| t == Some(true)).map_err(|error| OracleError::Eval {
            error,
            operator: first_line(plan),
            row: row.to_string(),
        })
    }

    fn eval(&mut self, plan: &Plan) -> Result<Vec<Row>> {
        Ok(match plan {
            Plan::Get { name, .. } => {
                self.tables.get(name).cloned().ok_or_else(|| OracleError::UnknownTable(name.clone()))?
            }
            Plan::Values { rows, .. } => rows.clone(),
            // Without time, expiry and finalization change nothing.
            Plan::Time { input, op } => match op {
                TimeOp::Window { time, window } => {
                    self.eval(input)?.iter().flat_map(|row| window.rows_of(row, *time)).collect()
                }
                TimeOp::Session { time, partition, gap } => {
                    crate::plan::session_rows(self.eval(input)?, *time, partition, *gap)
                }
                TimeOp::Expire { .. } | TimeOp::Finalize { .. } | TimeOp::AppendOnly { .. } => {
                    self.eval(input)?
                }
            },
            Plan::MatchRecognize { input, spec } => {
                let matcher =
                    crate::match_recognize::Matcher::new(spec).map_err(OracleError::MatchRecognize)?;
                let mut partitions: BTreeMap<Vec<Datum>, Vec<Row>> = BTreeMap::new();
                for row in self.eval(input)? {
                    let key =
                        spec.partition.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect();
                    partitions.entry(key).or_default().push(row);
                }
                let mut out = Vec::new();
                for rows in partitions.into_values() {
                    out.extend(matcher.run(rows).map_err(OracleError::MatchRecognize)?);
                }
                out
            }
            Plan::Filter { input, predicate } => {
                let mut out = Vec::new();
                for row in self.eval(input)? {
                    if self.predicate(predicate, &row, plan)? {
                        out.push(row);
                    }
                }
                out
            }
            Plan::Project { input, exprs, .. } => {
                let mut out = Vec::new();
                for row in self.eval(input)? {
                    let values =
                        exprs.iter().map(|e| self.scalar(e, &row, plan)).collect::<Result<Vec<_>>>()?;
                    out.push(Row::new(values));
                }
                out
            }
            Plan::TemporalJoin { left, right, kind, on, time } => {
                // Without time, the right side's rows are its history: a processing-time join
                // meets all of them, an event-time one per primary key the version latest at
                // or before the left row's time.
                let (left_rows, right_rows) = (self.eval(left)?, self.eval(right)?);
                let mut out = Vec::new();
                for l in &left_rows {
                    let mut valid: BTreeMap<Vec<Datum>, (Datum, Vec<Row>)> = BTreeMap::new();
                    for r in &right_rows {
                        let TemporalTime::Event { probe, version, key } = time else {
                            valid.entry(vec![]).or_insert((Datum::Null, vec![])).1.push(r.clone());
                            continue;
                        };
                        let (at, since) = (l.get(*probe).cloned(), r.get(*version).cloned());
                        let (Some(at @ Datum::Timestamp(_)), Some(since @ Datum::Timestamp(_))) = (at, since)
                        else {
                            continue;
                        };
                        if since > at {
                            continue;
                        }
                        let pk = key.iter().map(|c| r.get(*c).cloned().unwrap_or(Datum::Null)).collect();
                        let entry = valid.entry(pk).or_insert((since.clone(), vec![]));
                        if since > entry.0 {
                            *entry = (since, vec![]);
                        }
                        if entry.0 == r.get(*version).cloned().unwrap_or(Datum::Null) {
                            entry.1.push(r.clone());
                        }
                    }
                    let mut matched = false;
                    for r in valid.into_values().flat_map(|(_, rows)| rows) {
                        let pair = concat(l, &r);
                        if self.predicate(on, &pair, plan)? {
                            matched = true;
                            out.push(pair);
                        }
                    }
                    if *kind == JoinKind::Left && !matched {
                        out.push(concat(l, &nulls(right.arity())));
                    }
                }
                out
            }
            Plan::Join { left, right, kind, on } => {
                let (left_rows, right_rows) = (self.eval(left)?, self.eval(right)?);
                let (left_arity, right_arity) = (left.arity(), right.arity());
                let mut right_matched = vec![false; right_rows.len()];
                let mut out = Vec::new();
                for l in &left_rows {
                    let mut matched = false;
                    for (j, r) in right_rows.iter().enumerate() {
                        let pair = concat(l, r);
                        if self.predicate(on, &pair, plan)? {
                            matched = true;
                            right_matched[j] = true;
                            if kind.keeps_right() {
                                out.push(pair);
                            }
                        }
                    }
                    match kind {
                        JoinKind::Left | JoinKind::Full if !matched => {
                            out.push(concat(l, &nulls(right_arity)))
                        }
                        JoinKind::Semi if matched => out.push(l.clone()),
                        JoinKind::Anti if !matched => out.push(l.clone()),
                        _ => {}
                    }
                }
                if matches!(kind, JoinKind::Right | JoinKind::Full) {
                    for (r, matched) in right_rows.iter().zip(right_matched) {
                        if !matched {
                            out.push(concat(&nulls(left_arity), r));
                        }
                    }
                }
                out
            }
            Plan::Aggregate { input, group, aggregates, .. } => {
                let rows = self.eval(input)?;
                let mut groups: BTreeMap<Vec<Datum>, Vec<Row>> = BTreeMap::new();
                for row in rows {
                    let key = group.iter().map(|e| self.scalar(e, &row, plan)).collect::<Result<Vec<_>>>()?;
                    groups.entry(key).or_default().push(row);
                }
                if group.is_empty() && groups.is_empty() {
                    groups.insert(vec![], vec![]);
                }
                let mut out = Vec::new();
                for (key, members) in groups {
                    let mut values = key;
                    for call in aggregates {
                        let value = aggregate(call, members.iter().map(|r| (r, 1))).map_err(|error| {
                            OracleError::Eval {
                                error,
                                operator: first_line(plan),
                                row: format!("group {}", values.len()),
                            }
                        })?;
                        values.push(value);
                    }
                    out.push(Row::new(values));
                }
                out
            }
            Plan::Distinct { input } => counts(self.eval(input)?).into_keys().collect(),
            Plan::SetOp { op, all, left, right } => {
                let (left, right) = (counts(self.eval(left)?), counts(self.eval(right)?));
                let mut result: BTreeMap<Row, usize> = BTreeMap::new();
                let keys: Vec<&Row> = left.keys().chain(right.keys()).collect();
                for row in keys {
                    let (l, r) = (left.get(row).copied().unwrap_or(0), right.get(row).copied().unwrap_or(0));
                    let n = match (op, all) {
                        (SetOp::Union, true) => l + r,
                        (SetOp::Union, false) => usize::from(l + r > 0),
                        (SetOp::Except, true) => l.saturating_sub(r),
                        (SetOp::Except, false) => usize::from(l > 0 && r == 0),
                        (SetOp::Intersect, true) => l.min(r),
                        (SetOp::Intersect, false) => usize::from(l > 0 && r > 0),
                    };
                    result.insert(row.clone(), n);
                }
                expand(result)
            }
            Plan::TopK { input, group, order, limit, offset } => {
                let mut partitions: BTreeMap<Vec<Datum>, Vec<Row>> = BTreeMap::new();
                for row in self.eval(input)? {
                    let key = group.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect();
                    partitions.entry(key).or_default().push(row);
                }
                let mut out = Vec::new();
                for (_, mut rows) in partitions {
                    rows.sort_by(|a, b| compare_rows(a, b, order));
                    let skip = usize::try_from(*offset).unwrap_or(usize::MAX);
                    let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
                    out.extend(rows.into_iter().skip(skip).take(take));
                }
                out
            }
            Plan::RowNumber { input, partition, order, limit, .. } => {
                // Sort each partition (ties by the whole row, as `compare_rows` breaks them)
                // and number its rows from 1.
                let mut partitions: BTreeMap<Vec<Datum>, Vec<Row>> = BTreeMap::new();
                for row in self.eval(input)? {
                    let key = partition.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect();
                    partitions.entry(key).or_default().push(row);
                }
                let mut out = Vec::new();
                for (_, mut rows) in partitions {
                    rows.sort_by(|a, b| compare_rows(a, b, order));
                    for (position, row) in (1..).zip(rows) {
                        if limit.is_some_and(|limit| position > limit) {
                            break;
                        }
                        let mut values = row.into_values();
                        values.push(Datum::BigInt(i64::try_from(position).unwrap_or(i64::MAX)));
                        out.push(Row::new(values));
                    }
                }
                out
            }
            Plan::Over { input, partition, order, functions, .. } => {
                let mut partitions: BTreeMap<Vec<Datum>, Vec<Row>> = BTreeMap::new();
                for row in self.eval(input)? {
                    let key = partition.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect();
                    partitions.entry(key).or_default().push(row);
                }
                let mut out = Vec::new();
                for (key, rows) in partitions {
                    let rows: Vec<(&Row, i64)> = rows.iter().map(|row| (row, 1)).collect();
                    let computed = crate::over::over_partition(&rows, order, functions).map_err(|error| {
                        OracleError::Eval {
                            error,
                            operator: first_line(plan),
                            row: format!("partition {key:?}"),
                        }
                    })?;
                    out.extend(computed);
                }
                out
            }
            Plan::Apply { input, subquery, kind, .. } => {
                let mut out = Vec::new();
                for row in self.eval(input)? {
                    self.outer.push(row.clone());
                    let result = self.eval(subquery);
                    self.outer.pop();
                    let sub = result?;
                    let value = match kind {
                        ApplyKind::Scalar => match sub.len() {
                            0 => Datum::Null,
                            1 => sub[0].get(0).cloned().unwrap_or(Datum::Null),
                            rows => return Err(OracleError::SubqueryRows { rows, row: row.to_string() }),
                        },
                        ApplyKind::Exists => Datum::Boolean(!sub.is_empty()),
                        ApplyKind::In { exprs } => {
                            let probe = exprs
                                .iter()
                                .map(|e| self.scalar(e, &row, plan))
                                .collect::<Result<Vec<_>>>()?;
                            in_result(&probe, &sub)
                        }
                    };
                    let mut values = row.into_values();
                    values.push(value);
                    out.push(Row::new(values));
                }
                out
            }
        })
    }
}

/// Three-valued `(probe) IN (rows)`.
fn in_result(probe: &[Datum], rows: &[Row]) -> Datum {
    let mut unknown = false;
    for row in rows {
        let mut all_equal = true;
        let mut row_unknown = false;
        for (p, v) in probe.iter().zip(row.values()) {
            if p.is_null() || v.is_null() {
                row_unknown = true;
            } else if value_cmp(p, v) != Ordering::Equal {
                all_equal = false;
            }
        }
        if all_equal && !row_unknown {
            return Datum::Boolean(true);
        }
        unknown |= all_equal && row_unknown;
    }
    if unknown {
        Datum::Null
    } else {
        Datum::Boolean(false)
    }
}

fn concat(left: &Row, right: &Row) -> Row {
    left.values().iter().chain(right.values()).cloned().collect()
}

fn nulls(arity: usize) -> Row {
    Row::new(vec![Datum::Null; arity])
}

fn counts(rows: Vec<Row>) -> BTreeMap<Row, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_insert(0) += 1;
    }
    counts
}

fn expand(counts: BTreeMap<Row, usize>) -> Vec<Row> {
    counts.into_iter().flat_map(|(row, n)| std::iter::repeat_n(row, n)).collect()
}

#[cfg(test)]
mod tests;
