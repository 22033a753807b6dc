//! `EXPLAIN`: a query's bound plan, its optimized plan, and the differential dataflow the
//! optimized plan renders to, with the arrangements it builds and how many operators share
//! each (the "indexed shared state"). The dataflow is rendered for real, in a throwaway
//! timely worker with empty inputs, so what `EXPLAIN` shows is what a job would build.

use std::collections::BTreeMap;

use differential_dataflow::input::Input;

use crate::datum::Row;
use crate::optimize::optimize_query;
use crate::plan::{Plan, Query};
use crate::render::{Diff, Renderer, Time};

fn tables(plan: &Plan, out: &mut BTreeMap<String, ()>) {
    if let Plan::Get { name, .. } = plan {
        out.insert(name.clone(), ());
    }
    for input in plan.inputs() {
        tables(input, out);
    }
}

/// The dataflow that rendering `plans` together (as one job's statements) builds.
pub fn dataflow(plans: &[Plan]) -> Result<String, String> {
    let mut names = BTreeMap::new();
    for plan in plans {
        tables(plan, &mut names);
    }
    let plans = plans.to_vec();
    timely::execute_directly(move |worker| {
        worker.dataflow::<Time, _, _>(|scope| {
            let mut renderer = Renderer::new(scope);
            for name in names.keys() {
                let (_input, rows) = scope.new_collection::<Row, Diff>();
                renderer.add_input(name.clone(), rows);
            }
            for plan in &plans {
                renderer.render(plan).map_err(|error| error.to_string())?;
            }
            Ok(renderer.explain())
        })
    })
}

/// `EXPLAIN`'s text for a bound query: the plan as bound, as optimized, and its dataflow.
pub fn explain(query: &Query) -> Result<String, String> {
    let optimized = optimize_query(query.clone()).map_err(|error| error.to_string())?;
    let dataflow = dataflow(std::slice::from_ref(&optimized.plan))?;
    Ok(format!(
        "== Logical plan ==\n{}\n== Optimized plan ==\n{}\n== Dataflow ==\n{}",
        query.explain(),
        optimized.explain(),
        dataflow
    ))
}
