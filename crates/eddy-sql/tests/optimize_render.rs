//! Optimized plans run on the differential renderer: every plan the optimizer gives for a
//! random query (correlated subqueries included) renders, and the job's result is the
//! oracle's answer for the original query.

mod optimize_support;

use eddy_sql::optimize::optimize;
use eddy_sql::oracle::evaluate;
use eddy_sql::plan::Query;
use eddy_sql::render::run_bounded;
use optimize_support::generator::Generator;
use optimize_support::{sorted, tables};

#[test]
fn optimized_random_plans_render_to_the_oracles_rows() {
    let tables = tables();
    let mut compared = 0;
    for seed in 0..150u64 {
        let plan = Generator { state: seed }.plan(4, &[]);
        let Ok(expected) = evaluate(&plan, &tables) else { continue };
        let optimized = optimize(plan.clone()).unwrap();
        let query = Query { plan: optimized.clone(), order: vec![] };
        match run_bounded(&query, &tables, 2) {
            Ok(rows) => {
                assert_eq!(sorted(rows), sorted(expected), "seed {seed}\n{plan}\noptimized:\n{optimized}");
                compared += 1;
            }
            // Only where the optimized plan fails in the oracle too (see `check_on`).
            Err(error) => assert!(
                evaluate(&optimized, &tables).is_err(),
                "seed {seed}: the renderer fails ({error})\n{plan}\noptimized:\n{optimized}"
            ),
        }
    }
    assert!(compared > 100, "only {compared} plans compared");
}
