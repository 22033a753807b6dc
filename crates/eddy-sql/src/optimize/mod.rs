//! The logical optimizer: rewrites a bound [`Plan`] into an equivalent one the dataflow
//! renderer accepts (no correlated subqueries) and that does less work.
//!
//! The passes, in order ([`optimize`]):
//! 1. decorrelation (`decorrelate`): every [`Plan::Apply`] becomes joins and aggregations;
//! 2. simplification (`simplify`): constant folding, `Filter TRUE` removed, `Filter FALSE`
//!    and joins with an empty side simplified, adjacent `Project`s merged;
//! 3. predicate push-down (`pushdown`), which also turns outer joins whose padded side a
//!    filter rejects into inner ones;
//! 4. join ordering (`join_order`): trees of inner joins rebuilt left-deep so that each
//!    relation joins on an equality, with cross products only where the query has one;
//! 5. push-down and simplification again, then projection pruning (`prune`);
//! 6. window operators (`windows`): aggregations, Top-N, joins over window columns expire
//!    their input as windows close;
//! 7. `OVER` ordered by an append-only table's rowtime made streaming (`rowtime_over`);
//! 8. distinct aggregates split in two stages (`distinct`).
//!
//! Every rewrite keeps the result as a multiset: a rewrite that cannot be shown correct for
//! a shape is skipped. (Errors may differ: a filter moved below a projection can spare the
//! projection's expressions a row that would have failed.)

use thiserror::Error;

use crate::plan::{Plan, Query};

mod decorrelate;
mod dependent;
mod distinct;
mod in_subquery;
mod join_order;
mod prune;
mod pushdown;
mod rowtime_over;
mod simplify;
mod util;
mod windows;

pub use decorrelate::MORE_THAN_ONE_ROW;
pub(crate) use util::exprs as node_exprs;

/// Why a plan could not be optimized; every case is a plan the binder should not have built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OptimizeError {
    /// A construct the optimizer cannot handle where it is.
    #[error("{0}")]
    Unsupported(String),
    /// A scalar subquery without columns.
    #[error("the subquery {name} has no columns")]
    SubqueryWithoutColumns {
        /// The Apply's column name.
        name: String,
    },
    /// An `IN` whose left-hand side and subquery have different numbers of columns.
    #[error("{name}: IN compares {expected} values with a subquery of {found} columns")]
    InArity {
        /// The Apply's column name.
        name: String,
        /// Expressions on the left.
        expected: usize,
        /// Columns of the subquery.
        found: usize,
    },
    /// An outer column reference past the end of the row it reads.
    #[error("an outer column reference to column {index} of a row of {arity} columns")]
    OuterColumnOutOfRange {
        /// The column.
        index: usize,
        /// The outer row's arity.
        arity: usize,
    },
    /// An outer column reference outside any subquery that could bind it.
    #[error("an outer column reference (depth {depth}) outside any correlated subquery")]
    DanglingOuterReference {
        /// Its depth.
        depth: usize,
    },
}

/// The optimizer's result type.
pub type OptimizeResult<T> = Result<T, OptimizeError>;

/// What the session tells the optimizer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptimizeOptions {
    /// How long after a window closes late rows still correct its results, in ms (`SET
    /// 'table.exec.emit.allow-lateness'`); 0 drops them, as Flink's window operators do.
    pub allowed_lateness_ms: u64,
    /// The append-only tables read at event time, each with its rowtime column: an `OVER`
    /// ordered by one of them becomes a streaming `OVER` (see `Plan::Over`'s `streaming`).
    pub rowtimes: Vec<(String, usize)>,
}

/// Optimizes a plan: decorrelation, then the rewrites in the module docs. The result has
/// the same columns (names and types) and, as a multiset, the same rows.
pub fn optimize(plan: Plan) -> OptimizeResult<Plan> {
    optimize_with(plan, OptimizeOptions::default())
}

/// [`optimize`] with the session's options.
pub fn optimize_with(plan: Plan, options: OptimizeOptions) -> OptimizeResult<Plan> {
    let plan = decorrelate::decorrelate(plan)?;
    let plan = simplify::simplify(plan);
    let plan = pushdown::pushdown(plan);
    let plan = join_order::order_joins(plan);
    let plan = pushdown::pushdown(plan);
    let plan = simplify::simplify(plan);
    let plan = prune::prune(plan);
    let plan = simplify::simplify(plan);
    let plan = windows::windows(plan, options.allowed_lateness_ms);
    let plan = rowtime_over::rowtime_over(plan, &options.rowtimes);
    Ok(distinct::split_distinct(plan))
}

/// [`optimize`] on a query's plan; the presentation order is kept.
pub fn optimize_query(query: Query) -> OptimizeResult<Query> {
    optimize_query_with(query, OptimizeOptions::default())
}

/// [`optimize_query`] with the session's options.
pub fn optimize_query_with(query: Query, options: OptimizeOptions) -> OptimizeResult<Query> {
    Ok(Query { plan: optimize_with(query.plan, options)?, order: query.order })
}

/// Only decorrelation, for tests and `EXPLAIN` of the intermediate plan.
pub fn decorrelate(plan: Plan) -> OptimizeResult<Plan> {
    decorrelate::decorrelate(plan)
}
