//! Rendering a logical [`Plan`] as a differential dataflow: every plan node becomes operators
//! on differential collections of [`Row`]s (time `u64`, the eddy job's logical time; diff
//! [`Diff`]), so every operator handles retractions and a query's result is maintained
//! incrementally.
//!
//! # Indexed shared state
//! A [`Renderer`] renders any number of plans into one dataflow and reuses what it built:
//! * a sub-plan structurally equal to one already rendered (a CTE used twice, the same view in
//!   two queries) is rendered once and its collection reused;
//! * an arrangement (the indexed state of a join, an aggregation, a `DISTINCT`, a Top-K) is
//!   keyed by the arranged sub-plan and the key expressions: a second operator that needs the
//!   same collection indexed by the same key reads the same arrangement.
//!
//! [`Renderer::explain`] prints the operators and arrangements and how many consumers share
//! each, for `EXPLAIN`.
//!
//! # Errors
//! A runtime error of an expression on one row (division by zero, overflow, a bad cast) does
//! not panic: the row goes to the renderer's error collection ([`Renderer::errors`]) as a
//! [`RowError`] naming the operator, the row and the error. [`run_bounded`] fails the query
//! with the first one (in row order, so the same at any worker count), or returns them as dead
//! letters when asked; in a running job, [`fail_job_on_errors`] fails the job at the first.
//!
//! # State
//! Joins keep both inputs arranged by their equi-join key; aggregations, `DISTINCT` and Top-K
//! keep their input arranged by the group key (the whole row for `DISTINCT`), plus their
//! output. Aggregations of only counts and exact sums keep one accumulated sum vector per
//! group instead of the group's rows. Nothing expires (no windows yet); differential compacts the arrangements to the
//! frontier as it advances.
//!
//! # Checkpointing
//! Not yet. The plan: arrangements are snapshotted as their consolidated contents at the
//! checkpoint's time `E` (hold the traces' logical compaction below `E` through a
//! `TraceAgent` handle, read a cursor once the frontier passes `E`, write the `(key, value,
//! diff)` triples sorted by key hash), and restored by feeding the triples back at time `E`
//! into the arrangement's input, keeping the keys whose hash falls in the worker's range.
//! Arrangements derived from others (an aggregation's output) need not be written: they are
//! recomputed from the restored inputs.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::trace::implementations::ValSpine;
use differential_dataflow::{AsCollection, VecCollection};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::ToStream;
use timely::dataflow::{Scope, Stream};

use crate::datum::{Datum, Row};
use crate::error::EvalError;
use crate::expr::{truth, ScalarExpr};
use crate::plan::Plan;

mod accumulate;
mod incremental;
mod job;
mod join;
mod match_recognize;
mod reduce;
mod stream_over;
mod temporal;
mod time;

pub use incremental::{run_incremental, IncrementalRun};
pub use job::{
    fail_job_on_errors, records_to_rows, run_bounded, run_bounded_with, BoundedOptions, BoundedOutput,
};

/// The multiplicity type of SQL collections.
pub type Diff = i64;

/// The logical time of SQL collections: the eddy job's timely time.
pub type Time = u64;

/// A collection of rows.
pub type Rows<'scope> = VecCollection<'scope, Time, Row, Diff>;

/// A collection of rows that failed.
pub type RowErrors<'scope> = VecCollection<'scope, Time, RowError, Diff>;

/// Rows arranged by a key row (the value is the whole row).
pub(crate) type Arrangement<'scope> = Arranged<'scope, TraceAgent<ValSpine<Row, Row, Time, Diff>>>;

/// A runtime error of one operator on one row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RowError {
    /// The operator, as `EXPLAIN` prints its plan node.
    pub operator: String,
    /// The row it failed on (for an aggregate: the group key).
    pub row: Row,
    /// The error.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (in {} on row {})", self.message, self.operator, self.row)
    }
}

/// The values of `row` at `columns`, in that order: moved out of the row where a column is
/// read for the last time, cloned before.
fn pick_columns(row: Row, columns: &[usize]) -> Row {
    let mut values = row.into_values();
    let mut out = Vec::with_capacity(columns.len());
    for (at, column) in columns.iter().enumerate() {
        let value = if columns[at + 1..].contains(column) {
            values.get(*column).cloned()
        } else {
            values.get_mut(*column).map(|value| std::mem::replace(value, Datum::Null))
        };
        out.push(value.unwrap_or(Datum::Null));
    }
    Row::new(out)
}

/// Why a plan could not be rendered or run.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RenderError {
    /// The plan still has a correlated subquery ([`Plan::Apply`] or an outer reference).
    #[error("the plan has a correlated subquery left; decorrelate it before rendering")]
    NotDecorrelated,
    /// A [`Plan::Get`] of a table with no input.
    #[error("unknown table {name}")]
    UnknownTable {
        /// The table.
        name: String,
    },
    /// A row failed at run time (and no dead-letter output was asked for).
    #[error("{0}")]
    Row(RowError),
    /// The job failed.
    #[error("job failed: {0}")]
    Job(String),
    /// A plan the renderer has no operator for.
    #[error("{0}")]
    Unsupported(String),
    /// A collection held a row a negative number of times: a bug, or retractions of rows
    /// that were never inserted.
    #[error("the result holds {row} {count} times")]
    NegativeCount {
        /// The row.
        row: Row,
        /// Its multiplicity.
        count: Diff,
    },
}

/// A rendered operator, for `EXPLAIN`.
struct Node<'scope> {
    plan: Plan,
    rows: Rows<'scope>,
    /// What it is, with its inputs and arrangements.
    text: String,
    /// How many consumers read it (a reused sub-plan has more than one).
    uses: usize,
}

/// An arrangement, keyed by what it arranges.
struct ArrangementEntry<'scope> {
    plan: Plan,
    key: Vec<ScalarExpr>,
    /// The node whose rows it arranges.
    node: usize,
    arranged: Arrangement<'scope>,
    consumers: usize,
}

/// Renders plans into one timely scope, sharing sub-plans and arrangements (see the module
/// docs).
///
/// Drop it once the dataflow is built: it holds a handle on every arrangement's trace, and a
/// live handle keeps differential from compacting the trace as the frontier advances.
pub struct Renderer<'scope> {
    scope: Scope<'scope, Time>,
    inputs: BTreeMap<String, Rows<'scope>>,
    nodes: Vec<Node<'scope>>,
    arrangements: Vec<ArrangementEntry<'scope>>,
    errors: Vec<RowErrors<'scope>>,
    replay: ReplayTime,
}

/// The logical time at which a restored job's inputs replay what they had read before the
/// checkpoint (see `pipeline/state.rs`), set by the inputs as they restore; `None` without a
/// restore. Nothing else is at that time, so the event-time operators (`time.rs`) treat its
/// updates as history: none of them is late, and closed windows' results come out again so
/// that the output state's undo cancels them.
pub type ReplayTime = std::rc::Rc<std::cell::Cell<Option<Time>>>;

impl<'scope> Renderer<'scope> {
    /// The replay time the inputs of this renderer's dataflow set when they restore.
    pub fn replay_time(&self) -> ReplayTime {
        self.replay.clone()
    }

    /// A renderer building on `scope`.
    pub fn new(scope: Scope<'scope, Time>) -> Self {
        Renderer {
            scope,
            inputs: BTreeMap::new(),
            nodes: Vec::new(),
            arrangements: Vec::new(),
            errors: Vec::new(),
            replay: ReplayTime::default(),
        }
    }

    /// Registers the collection `Plan::Get { name, .. }` reads.
    pub fn add_input(&mut self, name: impl Into<String>, rows: Rows<'scope>) {
        self.inputs.insert(name.into(), rows);
    }

    /// Renders `plan` (which must be decorrelated) and returns its collection.
    pub fn render(&mut self, plan: &Plan) -> Result<Rows<'scope>, RenderError> {
        if !plan.is_decorrelated() {
            return Err(RenderError::NotDecorrelated);
        }
        let node = self.node(plan)?;
        Ok(self.nodes[node].rows.clone())
    }

    /// Every row error of every operator rendered so far (call it after rendering the plans).
    pub fn errors(&self) -> RowErrors<'scope> {
        self.concatenate_errors(self.errors.clone())
    }

    /// The row errors of the operators rendered since the last call (so that each error stream
    /// is consumed once when plans are rendered one after the other).
    pub fn take_errors(&mut self) -> RowErrors<'scope> {
        let taken = std::mem::take(&mut self.errors);
        self.concatenate_errors(taken)
    }

    fn concatenate_errors(&self, errors: Vec<RowErrors<'scope>>) -> RowErrors<'scope> {
        let empty: Stream<'scope, Time, Vec<(RowError, Time, Diff)>> =
            Vec::<(RowError, Time, Diff)>::new().into_iter().to_stream(self.scope);
        differential_dataflow::collection::concatenate(
            self.scope,
            std::iter::once(empty.as_collection()).chain(errors),
        )
    }

    /// The dataflow built so far: operators with their inputs, and arrangements with how many
    /// consumers share each.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Dataflow: {} operators, {} arrangements",
            self.nodes.len(),
            self.arrangements.len()
        );
        for (index, node) in self.nodes.iter().enumerate() {
            let _ = write!(out, "  #{index} {}", node.text);
            if node.uses > 1 {
                let _ = write!(out, " — used by {}", node.uses);
            }
            out.push('\n');
        }
        for (index, entry) in self.arrangements.iter().enumerate() {
            let keys: Vec<String> = entry.key.iter().map(|key| key.to_string()).collect();
            let _ = writeln!(
                out,
                "  Arrangement#{index} of #{} {} by [{}] — shared by {}",
                entry.node,
                label(&entry.plan),
                keys.join(", "),
                entry.consumers
            );
        }
        out
    }

    /// Renders `plan` once (reusing an equal sub-plan's node) and returns its node index.
    fn node(&mut self, plan: &Plan) -> Result<usize, RenderError> {
        if let Some(index) = self.nodes.iter().position(|node| node.plan == *plan) {
            self.nodes[index].uses += 1;
            return Ok(index);
        }
        let mut proctime = false;
        for expr in crate::optimize::node_exprs(plan) {
            expr.visit(&mut |e| {
                proctime |=
                    matches!(e, ScalarExpr::Call { function: crate::functions::Function::Proctime, .. })
            });
        }
        if proctime {
            return Err(RenderError::Unsupported(format!(
                "{}: PROCTIME() has no value in eddy (results never depend on the wall clock); use it only as the \
                 time of FOR SYSTEM_TIME AS OF",
                label(plan)
            )));
        }
        let (rows, text) = match plan {
            Plan::Get { name, .. } => {
                let rows = self
                    .inputs
                    .get(name)
                    .cloned()
                    .ok_or_else(|| RenderError::UnknownTable { name: name.clone() })?;
                (rows, label(plan))
            }
            Plan::Values { rows, .. } => (self.values(rows.clone()), label(plan)),
            Plan::Filter { input, predicate } => {
                let index = self.node(input)?;
                let predicate = predicate.clone();
                let rows = self.fallible(index, label(plan), move |row| {
                    Ok((truth(&predicate.eval(row)?)? == Some(true)).then(|| row.clone()))
                });
                (rows, format!("{} <- #{index}", label(plan)))
            }
            Plan::Project { input, exprs, .. } => {
                let index = self.node(input)?;
                let columns: Option<Vec<usize>> = exprs
                    .iter()
                    .map(|expr| match expr {
                        ScalarExpr::Column { index, .. } => Some(*index),
                        _ => None,
                    })
                    .collect();
                if let Some(columns) = columns {
                    // Only columns: the values move from the input row (a column read twice
                    // is cloned for its earlier reads).
                    let rows = self.rows(index).map(move |row| pick_columns(row, &columns));
                    return Ok(self.push_node(plan, rows, format!("{} <- #{index}", label(plan))));
                }
                let exprs = exprs.clone();
                let rows = self.fallible(index, label(plan), move |row| {
                    exprs.iter().map(|expr| expr.eval(row)).collect::<Result<Row, _>>().map(Some)
                });
                (rows, format!("{} <- #{index}", label(plan)))
            }
            Plan::Join { left, right, kind, on } => self.join(plan, left, right, *kind, on)?,
            Plan::Aggregate { input, group, aggregates, .. } => {
                self.aggregate(plan, input, group, aggregates)?
            }
            Plan::Distinct { input } => self.distinct(plan, input)?,
            Plan::SetOp { op, all, left, right } => self.set_op(plan, *op, *all, left, right)?,
            Plan::TopK { input, group, order, limit, offset } => {
                self.top_k(plan, input, group, order, *limit, *offset)?
            }
            Plan::RowNumber { input, partition, order, limit, .. } => {
                self.row_number(plan, input, partition, order, *limit)?
            }
            Plan::Over { input, partition, order, functions, streaming: false } => {
                self.over(plan, input, partition, order, functions)?
            }
            Plan::Over { input, partition, order, functions, streaming: true } => {
                let index = self.node(input)?;
                let node = stream_over::StreamingOver {
                    partition: partition.clone(),
                    order: order.clone(),
                    functions: functions.clone(),
                    operator: label(plan),
                };
                let outcomes = stream_over::render(self.rows(index), node, self.replay.clone());
                (self.outcomes(outcomes), format!("{} <- #{index}", label(plan)))
            }
            Plan::TemporalJoin { left, right, kind, on, time } => {
                if crate::plan::equi_keys(on, left.arity()).left.is_empty() {
                    return Err(RenderError::Unsupported(
                        "a temporal join without an equality between the two sides".into(),
                    ));
                }
                let (l, r) = (self.node(left)?, self.node(right)?);
                let rows = temporal::render(
                    self.rows(l),
                    self.rows(r),
                    (left.arity(), right.arity()),
                    *kind,
                    on,
                    time.clone(),
                    &label(plan),
                );
                (rows, format!("{} <- #{l}, #{r}", label(plan)))
            }
            Plan::Time { input, op } => {
                let index = self.node(input)?;
                let rows = time::render(self.rows(index), op.clone(), &label(plan), self.replay.clone());
                (rows, format!("{} <- #{index}", label(plan)))
            }
            Plan::MatchRecognize { input, spec } => {
                let index = self.node(input)?;
                let rows = match_recognize::render(
                    self.rows(index),
                    input,
                    spec,
                    &label(plan),
                    self.replay.clone(),
                )?;
                (rows, format!("{} <- #{index}", label(plan)))
            }
            Plan::Apply { .. } => return Err(RenderError::NotDecorrelated),
        };
        Ok(self.push_node(plan, rows, text))
    }

    /// Records a rendered node; returns its index.
    fn push_node(&mut self, plan: &Plan, rows: Rows<'scope>, text: String) -> usize {
        self.nodes.push(Node { plan: plan.clone(), rows, text, uses: 1 });
        self.nodes.len() - 1
    }

    fn rows(&self, node: usize) -> Rows<'scope> {
        self.nodes[node].rows.clone()
    }

    /// Constant rows, emitted once (by worker 0) at time 0.
    fn values(&self, rows: Vec<Row>) -> Rows<'scope> {
        let rows = if self.scope.index() == 0 { rows } else { Vec::new() };
        let stream: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
            rows.into_iter().map(|row| (row, 0, 1)).to_stream(self.scope);
        stream.as_collection()
    }

    /// Applies `logic` to every row of node `input`: `Ok(Some(d))` passes `d` on, `Ok(None)`
    /// drops the row, `Err` sends it to the error collection as a failure of `operator`.
    fn fallible<D, L>(
        &mut self,
        input: usize,
        operator: String,
        logic: L,
    ) -> VecCollection<'scope, Time, D, Diff>
    where
        D: differential_dataflow::Data,
        L: FnMut(&Row) -> Result<Option<D>, EvalError> + 'static,
    {
        let rows = self.rows(input);
        self.fallible_on(rows, operator, logic)
    }

    /// As [`Renderer::fallible`], on any collection of rows.
    fn fallible_on<D, L>(
        &mut self,
        rows: Rows<'scope>,
        operator: String,
        mut logic: L,
    ) -> VecCollection<'scope, Time, D, Diff>
    where
        D: differential_dataflow::Data,
        L: FnMut(&Row) -> Result<Option<D>, EvalError> + 'static,
    {
        let (ok, errors): (
            Stream<'scope, Time, Vec<(Option<D>, Time, Diff)>>,
            Stream<'scope, Time, Vec<(RowError, Time, Diff)>>,
        ) = rows.inner.ok_err(move |(row, time, diff)| match logic(&row) {
            Ok(value) => Ok((value, time, diff)),
            Err(error) => {
                Err((RowError { operator: operator.clone(), row, message: error.to_string() }, time, diff))
            }
        });
        self.errors.push(errors.as_collection());
        ok.as_collection().flat_map(|value| value)
    }

    /// Node `plan`'s rows arranged by `key` (expressions over its columns), shared with every
    /// other consumer of the same arrangement. Rows with `NULL` keys are kept (a `GROUP BY`
    /// has a `NULL` group); a join skips them when it matches, so that a join and an
    /// aggregation on the same key share one arrangement.
    fn arrange(
        &mut self,
        plan: &Plan,
        key: &[ScalarExpr],
    ) -> Result<(Arrangement<'scope>, usize), RenderError> {
        let found =
            self.arrangements.iter().position(|entry| entry.key.as_slice() == key && entry.plan == *plan);
        if let Some(index) = found {
            self.arrangements[index].consumers += 1;
            return Ok((self.arrangements[index].arranged.clone(), index));
        }
        let node = self.node(plan)?;
        let exprs = key.to_vec();
        let operator = format!("key of {}", label(plan));
        let keyed = self.fallible(node, operator, move |row| {
            let key: Row = exprs.iter().map(|expr| expr.eval(row)).collect::<Result<_, _>>()?;
            Ok(Some((key, row.clone())))
        });
        let arranged = keyed.arrange_by_key_named(&format!("Arrange #{node}"));
        self.arrangements.push(ArrangementEntry {
            plan: plan.clone(),
            key: key.to_vec(),
            node,
            arranged: arranged.clone(),
            consumers: 1,
        });
        Ok((arranged, self.arrangements.len() - 1))
    }
}

/// The dataflow [`Renderer::explain`] prints for `plans` rendered together (as `EXPLAIN`
/// shows it), built in a throwaway single-worker dataflow with an empty input per table.
pub fn explain_dataflow(plans: &[Plan]) -> Result<String, RenderError> {
    use differential_dataflow::input::Input;
    let plans = plans.to_vec();
    timely::execute_directly(move |worker| {
        worker.dataflow::<Time, _, _>(|scope| {
            let mut renderer = Renderer::new(scope);
            let mut names = Vec::new();
            for plan in &plans {
                table_names(plan, &mut names);
            }
            for name in names {
                let (_input, rows) = scope.new_collection::<Row, Diff>();
                renderer.add_input(name, rows);
            }
            for plan in &plans {
                renderer.render(plan)?;
            }
            Ok(renderer.explain())
        })
    })
}

/// The tables a plan reads, each once, in the order met (appended to `out`).
pub(crate) fn table_names(plan: &Plan, out: &mut Vec<String>) {
    for (name, _) in plan.tables_read() {
        if !out.contains(&name) {
            out.push(name);
        }
    }
}

/// The first line of a node's `EXPLAIN` text: the node itself, without its inputs.
fn label(plan: &Plan) -> String {
    let text = match plan {
        // Avoid printing a whole tree to label one node.
        Plan::Get { name, .. } => return format!("Get {name}"),
        other => other.explain(),
    };
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// Column expressions `#0 .. #n-1` of a plan's columns.
fn all_columns(plan: &Plan) -> Vec<ScalarExpr> {
    plan.columns()
        .into_iter()
        .enumerate()
        .map(|(index, column)| ScalarExpr::Column { index, ty: column.ty })
        .collect()
}

#[cfg(test)]
mod tests;
