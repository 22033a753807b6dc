//! The logical plan: a tree of relational operators over multisets of [`Row`]s, the contract
//! between the binder (which builds it from SQL), the optimizer (which rewrites it) and the
//! renderers (differential dataflow, and the reference evaluator the tests compare with).
//!
//! # Conventions
//! * Every node has an output schema ([`Plan::columns`]): names and types, in row order.
//! * Expressions in a node read the columns of the node's input by position
//!   ([`ScalarExpr::Column`]). A [`Plan::Join`]'s condition reads the left input's columns
//!   first, then the right input's (`left.arity() + j` is the right input's column `j`).
//! * A relation is a multiset (bag). Set semantics (`DISTINCT`, `UNION`) are explicit nodes.
//! * [`Plan::Apply`] is the one node with correlation: its subquery may read the columns of
//!   the row of the Apply's input through [`ScalarExpr::Outer`]. The optimizer's
//!   decorrelation turns every `Apply` into joins and aggregations; a renderer for the dataflow
//!   accepts only plans without `Apply` ([`Plan::is_decorrelated`]).
//! * Order is not a property of a relation. `ORDER BY` with `LIMIT`/`OFFSET` is [`Plan::TopK`];
//!   a bare `ORDER BY` at the top of a query is presentation ([`Query::order`]).
//!   `ROW_NUMBER() OVER (...)` is [`Plan::RowNumber`], which numbers rows in an order but
//!   keeps them a multiset.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use crate::datum::Row;
use crate::expr::ScalarExpr;
use crate::types::SqlType;

mod explain;
pub mod match_spec;
mod over;
pub mod state;
mod temporal;
mod time;

pub use over::{streaming_reach, Frame, FrameBound, FrameUnits, OverFunction, OverKind};
pub use temporal::TemporalTime;
pub use time::{session_rows, TimeOp, TimeWindow};

/// A column of a plan's output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Column {
    /// The name the query gave it (`EXPR$2` style names for unnamed expressions).
    pub name: String,
    /// Its type. Every column may hold `NULL`.
    pub ty: SqlType,
}

impl Column {
    /// A column named `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: SqlType) -> Column {
        Column { name: name.into(), ty }
    }
}

/// The kinds of join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// Pairs that satisfy the condition.
    Inner,
    /// Inner, plus each left row with no partner, padded with `NULL`s.
    Left,
    /// Inner, plus each right row with no partner, padded with `NULL`s.
    Right,
    /// Left and right together.
    Full,
    /// Each left row (as often as it occurs) that has at least one partner; left columns only.
    Semi,
    /// Each left row (as often as it occurs) that has no partner; left columns only.
    Anti,
}

impl JoinKind {
    /// Whether the output has the right input's columns.
    pub fn keeps_right(&self) -> bool {
        !matches!(self, JoinKind::Semi | JoinKind::Anti)
    }

    /// The name in plans.
    pub fn name(&self) -> &'static str {
        match self {
            JoinKind::Inner => "Inner",
            JoinKind::Left => "LeftOuter",
            JoinKind::Right => "RightOuter",
            JoinKind::Full => "FullOuter",
            JoinKind::Semi => "Semi",
            JoinKind::Anti => "Anti",
        }
    }
}

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateFunction {
    /// `COUNT(*)`: rows (no arguments).
    CountStar,
    /// `COUNT(x)`: rows where `x` is not `NULL`.
    Count,
    /// `SUM(x)`: `NULL` when no non-`NULL` input.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)`: the sum divided by the count, in the result type.
    Avg,
}

impl AggregateFunction {
    /// The SQL name.
    pub fn name(&self) -> &'static str {
        match self {
            AggregateFunction::CountStar | AggregateFunction::Count => "COUNT",
            AggregateFunction::Sum => "SUM",
            AggregateFunction::Min => "MIN",
            AggregateFunction::Max => "MAX",
            AggregateFunction::Avg => "AVG",
        }
    }
}

/// One aggregate of a [`Plan::Aggregate`].
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateCall {
    /// The function.
    pub function: AggregateFunction,
    /// Its arguments over the input's columns (none for `COUNT(*)`, one otherwise).
    pub args: Vec<ScalarExpr>,
    /// `DISTINCT`: each distinct argument value counts once.
    pub distinct: bool,
    /// `FILTER (WHERE ...)`: only rows where this is true take part.
    pub filter: Option<ScalarExpr>,
    /// The result type.
    pub ty: SqlType,
}

/// One key of an order: a column of the node's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The column.
    pub column: usize,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS FIRST`. The binder's default is Flink's: `NULL`s sort as the smallest value
    /// (first for `ASC`, last for `DESC`).
    pub nulls_first: bool,
}

/// The set operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetOp {
    /// `UNION`: rows in either.
    Union,
    /// `EXCEPT`: rows of the left not in the right.
    Except,
    /// `INTERSECT`: rows in both.
    Intersect,
}

/// What a [`Plan::Apply`] computes for each row of its input, appended as one column.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyKind {
    /// A scalar subquery: its one column, `NULL` when it returns no row, an error when it
    /// returns more than one.
    Scalar,
    /// `EXISTS (subquery)`: a `BOOLEAN`, never `NULL`.
    Exists,
    /// `(exprs) IN (subquery)`, the expressions over the Apply's input, one per subquery
    /// column: `TRUE` when a subquery row equals them, else `NULL` when some comparison was
    /// `NULL`, else `FALSE` (`NOT IN` is `NOT` around it).
    In {
        /// The left-hand side.
        exprs: Vec<ScalarExpr>,
    },
}

/// A logical plan node. See the module docs for the conventions.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// A table or view of the catalog, by its (resolved) name.
    Get {
        /// The catalog name.
        name: String,
        /// Its columns.
        columns: Vec<Column>,
    },
    /// Constant rows (`VALUES`, and the one empty row of a `SELECT` without `FROM`).
    Values {
        /// The rows, each of `columns.len()` values of the columns' types.
        rows: Vec<Row>,
        /// The columns.
        columns: Vec<Column>,
    },
    /// The input's rows for which `predicate` is `TRUE`.
    Filter {
        /// The input.
        input: Box<Plan>,
        /// A `BOOLEAN` expression over the input.
        predicate: ScalarExpr,
    },
    /// One output row per input row, of the given expressions.
    Project {
        /// The input.
        input: Box<Plan>,
        /// The output columns' expressions over the input.
        exprs: Vec<ScalarExpr>,
        /// The output columns' names, one per expression.
        names: Vec<String>,
    },
    /// A join; see [`JoinKind`] for what each kind outputs.
    Join {
        /// The left input.
        left: Box<Plan>,
        /// The right input.
        right: Box<Plan>,
        /// The kind.
        kind: JoinKind,
        /// The condition over the left columns then the right columns (`TRUE` for a cross
        /// product). [`split_conjuncts`] and [`equi_keys`] take it apart.
        on: ScalarExpr,
    },
    /// A temporal join (`JOIN r FOR SYSTEM_TIME AS OF l.t ON ...`): each left row with the
    /// right rows valid at its time (see [`TemporalTime`]) for which `on` holds; `Left` keeps
    /// a left row without any, padded with `NULL`s. Output: the left columns, then the right
    /// ones. `on` must equate at least one left column with a right one (the rows are
    /// exchanged by those keys). Changes of the right side never retract results: a left row
    /// is joined once, when its time comes.
    TemporalJoin {
        /// The probing side.
        left: Box<Plan>,
        /// The versioned (or looked-up) side.
        right: Box<Plan>,
        /// `Inner` or `Left`.
        kind: JoinKind,
        /// The condition, over the left columns then the right ones.
        on: ScalarExpr,
        /// Which versions a left row meets.
        time: TemporalTime,
    },
    /// Grouping and aggregation: one row per group, the group's key values then the
    /// aggregates. Without keys the input is one group, and an empty input still gives one
    /// row (`COUNT(*)` is 0, the other aggregates `NULL`).
    Aggregate {
        /// The input.
        input: Box<Plan>,
        /// The group key expressions over the input.
        group: Vec<ScalarExpr>,
        /// The group key columns' names.
        group_names: Vec<String>,
        /// The aggregates.
        aggregates: Vec<AggregateCall>,
        /// The aggregates' names.
        aggregate_names: Vec<String>,
    },
    /// Each distinct row once.
    Distinct {
        /// The input.
        input: Box<Plan>,
    },
    /// `UNION`, `EXCEPT`, `INTERSECT`: with `all`, bag semantics (`EXCEPT ALL` subtracts
    /// counts, `INTERSECT ALL` keeps the smaller count), else each resulting row once. The
    /// output takes the left input's column names; both inputs have the same types.
    SetOp {
        /// The operation.
        op: SetOp,
        /// Bag semantics.
        all: bool,
        /// The left input.
        left: Box<Plan>,
        /// The right input.
        right: Box<Plan>,
    },
    /// `ORDER BY ... LIMIT n OFFSET m`: within each group of equal `group` values, the rows at
    /// positions `offset .. offset + limit` of the order. Rows that tie on `order` are ordered
    /// by their whole value, so the choice is deterministic.
    TopK {
        /// The input.
        input: Box<Plan>,
        /// Partition columns (empty for a query's `ORDER BY ... LIMIT`).
        group: Vec<usize>,
        /// The order.
        order: Vec<SortKey>,
        /// How many rows to keep; `None` keeps all after `offset`.
        limit: Option<u64>,
        /// How many rows to skip.
        offset: u64,
    },
    /// `ROW_NUMBER() OVER (PARTITION BY partition ORDER BY order)`, Flink's Top-N and
    /// deduplication: the input's rows, each with its position in its partition (1, 2, ...)
    /// appended as a `BIGINT` column. Rows that tie on `order` are numbered in the order of
    /// their whole value (the storage order of [`Row`]), as [`Plan::TopK`] breaks ties, so the
    /// numbering is the same at any worker count. With `limit`, only the rows numbered up to
    /// `limit` are kept: the optimizer folds a filter `rn <= n` (or `rn < n`, `rn = 1`) above
    /// the node into it, and turns the node into a partitioned `TopK` when nothing reads the
    /// number. (OVER aggregations, when they come, are a node of their own with the same
    /// partition and order.)
    RowNumber {
        /// The input.
        input: Box<Plan>,
        /// Partition columns (empty: the whole input is one partition).
        partition: Vec<usize>,
        /// The order within a partition.
        order: Vec<SortKey>,
        /// Keep only the rows numbered `1..=limit`; `None` keeps all.
        limit: Option<u64>,
        /// The number column's name.
        name: String,
    },
    /// Window functions other than `ROW_NUMBER` (`RANK`, `DENSE_RANK`, `LAG`/`LEAD`, and
    /// aggregates over a frame), all with one `PARTITION BY` and `ORDER BY`: the input's rows,
    /// each with one column per function appended, computed over the row's partition in
    /// `order` (ties broken by the whole row, as [`Plan::RowNumber`] does, so `ROWS` frames
    /// are the same at any worker count). A relation in, a relation out: a change to a
    /// partition's rows recomputes the values of its rows, so the input may be updating.
    Over {
        /// The input.
        input: Box<Plan>,
        /// Partition columns (empty: the whole input is one partition).
        partition: Vec<usize>,
        /// The order within a partition.
        order: Vec<SortKey>,
        /// The functions, one appended column each.
        functions: Vec<OverFunction>,
        /// A streaming `OVER` (Flink's): the input is append-only and `order` is its rowtime
        /// alone, every frame ends at the current row and starts a bounded distance before it,
        /// so each row's values are final once the watermark passes its rowtime; they come out
        /// then, at the rowtime, and the node keeps only the rows later frames can still
        /// reach. Rows later than the watermark are dropped, as in Flink. Set by the
        /// optimizer (`optimize::rowtime_over`); the result is the relational one over the
        /// rows that were not late.
        streaming: bool,
    },
    /// An event-time operator: a window table function, or the retirement and finalization
    /// that bound a windowed operator's state; see [`TimeOp`].
    Time {
        /// The input.
        input: Box<Plan>,
        /// What it does.
        op: TimeOp,
    },
    /// SQL `MATCH_RECOGNIZE` over an append-only input: each partition's rows in the order of
    /// its time column (then the further `ORDER BY` keys) run through an eddy-cep NFA; one
    /// row per match, the partition columns then the measures. See
    /// [`match_spec::MatchSpec`].
    MatchRecognize {
        /// The input.
        input: Box<Plan>,
        /// The clause.
        spec: Box<match_spec::MatchSpec>,
    },
    /// A correlated (or uncorrelated) subquery evaluated for each input row; see
    /// [`ApplyKind`]. Output: the input's columns, then one more.
    Apply {
        /// The outer input.
        input: Box<Plan>,
        /// The subquery; may read the input row through [`ScalarExpr::Outer`] with depth 1.
        subquery: Box<Plan>,
        /// What is appended.
        kind: ApplyKind,
        /// The appended column's name.
        name: String,
    },
}

impl Plan {
    /// The output columns.
    pub fn columns(&self) -> Vec<Column> {
        match self {
            Plan::Get { columns, .. } | Plan::Values { columns, .. } => columns.clone(),
            Plan::Filter { input, .. } | Plan::Distinct { input } | Plan::TopK { input, .. } => {
                input.columns()
            }
            Plan::Project { exprs, names, .. } => {
                exprs.iter().zip(names).map(|(expr, name)| Column::new(name.clone(), expr.ty())).collect()
            }
            Plan::Join { left, right, kind, .. } => {
                let mut columns = left.columns();
                if kind.keeps_right() {
                    columns.extend(right.columns());
                }
                columns
            }
            Plan::TemporalJoin { left, right, .. } => {
                let mut columns = left.columns();
                columns.extend(right.columns());
                columns
            }
            Plan::Aggregate { group, group_names, aggregates, aggregate_names, .. } => group
                .iter()
                .zip(group_names)
                .map(|(expr, name)| Column::new(name.clone(), expr.ty()))
                .chain(
                    aggregates
                        .iter()
                        .zip(aggregate_names)
                        .map(|(call, name)| Column::new(name.clone(), call.ty)),
                )
                .collect(),
            Plan::SetOp { left, .. } => left.columns(),
            Plan::RowNumber { input, name, .. } => {
                let mut columns = input.columns();
                columns.push(Column::new(name.clone(), SqlType::BigInt));
                columns
            }
            Plan::Time { input, op } => {
                let mut columns = input.columns();
                columns.extend(op.appended());
                columns
            }
            Plan::Over { input, functions, .. } => {
                let mut columns = input.columns();
                columns.extend(functions.iter().map(|f| Column::new(f.name.clone(), f.ty())));
                columns
            }
            Plan::MatchRecognize { spec, .. } => spec.columns.clone(),
            Plan::Apply { input, subquery, kind, name } => {
                let mut columns = input.columns();
                let ty = match kind {
                    ApplyKind::Scalar => subquery.columns().first().map_or(SqlType::Boolean, |c| c.ty),
                    ApplyKind::Exists | ApplyKind::In { .. } => SqlType::Boolean,
                };
                columns.push(Column::new(name.clone(), ty));
                columns
            }
        }
    }

    /// The number of output columns.
    pub fn arity(&self) -> usize {
        match self {
            Plan::Get { columns, .. } | Plan::Values { columns, .. } => columns.len(),
            Plan::Filter { input, .. } | Plan::Distinct { input } | Plan::TopK { input, .. } => input.arity(),
            Plan::Project { exprs, .. } => exprs.len(),
            Plan::Join { left, right, kind, .. } => {
                left.arity() + if kind.keeps_right() { right.arity() } else { 0 }
            }
            Plan::Aggregate { group, aggregates, .. } => group.len() + aggregates.len(),
            Plan::TemporalJoin { left, right, .. } => left.arity() + right.arity(),
            Plan::SetOp { left, .. } => left.arity(),
            Plan::Apply { input, .. } | Plan::RowNumber { input, .. } => input.arity() + 1,
            Plan::Time { input, op } => input.arity() + op.appended().len(),
            Plan::Over { input, functions, .. } => input.arity() + functions.len(),
            Plan::MatchRecognize { spec, .. } => spec.columns.len(),
        }
    }

    /// The direct inputs (for `Apply`: the input, then the subquery).
    pub fn inputs(&self) -> Vec<&Plan> {
        match self {
            Plan::Get { .. } | Plan::Values { .. } => vec![],
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Distinct { input }
            | Plan::TopK { input, .. }
            | Plan::RowNumber { input, .. }
            | Plan::Over { input, .. }
            | Plan::Time { input, .. }
            | Plan::MatchRecognize { input, .. } => vec![input],
            Plan::Join { left, right, .. }
            | Plan::TemporalJoin { left, right, .. }
            | Plan::SetOp { left, right, .. } => vec![left, right],
            Plan::Apply { input, subquery, .. } => vec![input, subquery],
        }
    }

    /// The direct inputs, mutable.
    pub fn inputs_mut(&mut self) -> Vec<&mut Plan> {
        match self {
            Plan::Get { .. } | Plan::Values { .. } => vec![],
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Distinct { input }
            | Plan::TopK { input, .. }
            | Plan::RowNumber { input, .. }
            | Plan::Over { input, .. }
            | Plan::Time { input, .. }
            | Plan::MatchRecognize { input, .. } => vec![input],
            Plan::Join { left, right, .. }
            | Plan::TemporalJoin { left, right, .. }
            | Plan::SetOp { left, right, .. } => vec![left, right],
            Plan::Apply { input, subquery, .. } => vec![input, subquery],
        }
    }

    /// The node's own expressions (not its inputs'), mutable.
    pub fn exprs_mut(&mut self) -> Vec<&mut ScalarExpr> {
        match self {
            Plan::Get { .. }
            | Plan::Values { .. }
            | Plan::Distinct { .. }
            | Plan::SetOp { .. }
            | Plan::TopK { .. }
            | Plan::RowNumber { .. }
            | Plan::Time { .. }
            | Plan::MatchRecognize { .. } => {
                vec![]
            }
            Plan::Filter { predicate, .. } => vec![predicate],
            Plan::Project { exprs, .. } => exprs.iter_mut().collect(),
            Plan::Join { on, .. } | Plan::TemporalJoin { on, .. } => vec![on],
            Plan::Aggregate { group, aggregates, .. } => group
                .iter_mut()
                .chain(
                    aggregates.iter_mut().flat_map(|call| call.args.iter_mut().chain(call.filter.as_mut())),
                )
                .collect(),
            Plan::Over { functions, .. } => functions.iter_mut().flat_map(OverFunction::exprs_mut).collect(),
            Plan::Apply { kind: ApplyKind::In { exprs }, .. } => exprs.iter_mut().collect(),
            Plan::Apply { .. } => vec![],
        }
    }

    /// Whether no [`Plan::Apply`] and no [`ScalarExpr::Outer`] is left, as the dataflow
    /// renderer requires.
    pub fn is_decorrelated(&self) -> bool {
        let mut plan = self.clone();
        let mut outer = false;
        for expr in plan.exprs_mut() {
            expr.visit(&mut |e| outer |= matches!(e, ScalarExpr::Outer { .. }));
        }
        !outer
            && !matches!(self, Plan::Apply { .. })
            && self.inputs().iter().all(|input| input.is_decorrelated())
    }

    /// The tables the plan reads (`Get` nodes), each once, in the order met, with their
    /// columns.
    pub fn tables_read(&self) -> Vec<(String, Vec<Column>)> {
        fn walk(plan: &Plan, out: &mut Vec<(String, Vec<Column>)>) {
            if let Plan::Get { name, columns } = plan {
                if !out.iter().any(|(known, _)| known == name) {
                    out.push((name.clone(), columns.clone()));
                }
            }
            for input in plan.inputs() {
                walk(input, out);
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The columns of each table the plan reads, by table name: a table scanned right under a
    /// `Project` (as projection pruning leaves every scan whose columns are not all read) reads
    /// the columns the projection's expressions name; scanned anywhere else, all its columns.
    pub fn table_columns_read(&self) -> BTreeMap<String, BTreeSet<usize>> {
        fn walk(plan: &Plan, out: &mut BTreeMap<String, BTreeSet<usize>>) {
            match plan {
                Plan::Project { input, exprs, .. } if matches!(**input, Plan::Get { .. }) => {
                    let Plan::Get { name, .. } = &**input else { return };
                    let read = out.entry(name.clone()).or_default();
                    read.extend(exprs.iter().flat_map(ScalarExpr::columns));
                }
                Plan::Get { name, columns } => {
                    out.entry(name.clone()).or_default().extend(0..columns.len());
                }
                _ => {
                    for input in plan.inputs() {
                        walk(input, out);
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self, &mut out);
        out
    }

    /// The plan as an indented tree, one node per line, for `EXPLAIN` and snapshot tests.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        explain::write_plan(&mut out, self, 0).expect("writing to a String");
        out
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}

/// A bound query: its plan, and the presentation order of its result.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The relation.
    pub plan: Plan,
    /// `ORDER BY` without `LIMIT` at the top: how to sort a bounded result for display.
    /// Empty when the order is unspecified.
    pub order: Vec<SortKey>,
}

impl Query {
    /// The plan and the order, as `EXPLAIN` prints them.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        if !self.order.is_empty() {
            let keys: Vec<String> = self.order.iter().map(explain::sort_key).collect();
            let _ = writeln!(out, "Order by {}", keys.join(", "));
        }
        out.push_str(&self.plan.explain());
        out
    }
}

/// The conjuncts of a predicate: `a AND (b AND c)` gives `[a, b, c]`; `TRUE` gives none.
pub fn split_conjuncts(predicate: &ScalarExpr) -> Vec<ScalarExpr> {
    use crate::datum::Datum;
    use crate::expr::BinaryOp;
    match predicate {
        ScalarExpr::Binary { op: BinaryOp::And, left, right, .. } => {
            let mut conjuncts = split_conjuncts(left);
            conjuncts.extend(split_conjuncts(right));
            conjuncts
        }
        ScalarExpr::Literal { value: Datum::Boolean(true), .. } => vec![],
        other => vec![other.clone()],
    }
}

/// `a AND b AND ...` of the conjuncts; `TRUE` when there are none.
pub fn conjunction(conjuncts: Vec<ScalarExpr>) -> ScalarExpr {
    use crate::datum::Datum;
    use crate::expr::BinaryOp;
    conjuncts
        .into_iter()
        .reduce(|left, right| ScalarExpr::Binary {
            op: BinaryOp::And,
            left: Box::new(left),
            right: Box::new(right),
            ty: SqlType::Boolean,
        })
        .unwrap_or(ScalarExpr::literal(Datum::Boolean(true), SqlType::Boolean))
}

/// A join condition taken apart: equalities between a left and a right expression (the keys
/// an equi-join indexes its inputs by), and the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct EquiKeys {
    /// Key expressions over the left input's columns.
    pub left: Vec<ScalarExpr>,
    /// Key expressions over the right input's columns (renumbered from 0).
    pub right: Vec<ScalarExpr>,
    /// Conjuncts that are not such equalities, over the left then the right columns.
    pub residual: Vec<ScalarExpr>,
}

/// Splits a join condition into equi-join keys and a residual. An equality `l = r` is a key
/// when `l` reads only left columns and `r` only right columns (or the other way round), both
/// read at least one column, and they have the same type. `NULL` keys never match, as `=`
/// requires.
pub fn equi_keys(on: &ScalarExpr, left_arity: usize) -> EquiKeys {
    use crate::expr::BinaryOp;
    let side = |expr: &ScalarExpr| {
        let columns = expr.columns();
        let mut outer = false;
        expr.visit(&mut |e| outer |= matches!(e, ScalarExpr::Outer { .. }));
        if columns.is_empty() || outer {
            None
        } else if columns.iter().all(|c| *c < left_arity) {
            Some(true)
        } else if columns.iter().all(|c| *c >= left_arity) {
            Some(false)
        } else {
            None
        }
    };
    let mut keys = EquiKeys { left: vec![], right: vec![], residual: vec![] };
    for conjunct in split_conjuncts(on) {
        if let ScalarExpr::Binary { op: BinaryOp::Eq, left, right, .. } = &conjunct {
            if left.ty() == right.ty() {
                let pair = match (side(left), side(right)) {
                    (Some(true), Some(false)) => Some((left, right)),
                    (Some(false), Some(true)) => Some((right, left)),
                    _ => None,
                };
                if let Some((l, r)) = pair {
                    let mut r = (**r).clone();
                    r.remap_columns(&|c| c - left_arity);
                    keys.left.push((**l).clone());
                    keys.right.push(r);
                    continue;
                }
            }
        }
        keys.residual.push(conjunct);
    }
    keys
}

#[cfg(test)]
mod tests;
