//! `EXPLAIN`: a query's bound plan, its optimized plan, and the differential dataflow the
//! optimized plan renders to, with the arrangements it builds and how many operators share
//! each (the "indexed shared state"). The dataflow is rendered for real, in a throwaway
//! timely worker with empty inputs, so what `EXPLAIN` shows is what a job would build.

use crate::optimize::{optimize_query_with, OptimizeOptions};
use crate::plan::Query;
use crate::render::explain_dataflow;

/// `EXPLAIN`'s text for a bound query: the plan as bound, as optimized, and its dataflow.
pub fn explain(query: &Query, options: OptimizeOptions) -> Result<String, String> {
    let optimized = optimize_query_with(query.clone(), options).map_err(|error| error.to_string())?;
    let dataflow =
        explain_dataflow(std::slice::from_ref(&optimized.plan)).map_err(|error| error.to_string())?;
    Ok(format!(
        "== Logical plan ==\n{}\n== Optimized plan ==\n{}\n== Dataflow ==\n{}",
        query.explain(),
        optimized.explain(),
        dataflow
    ))
}
