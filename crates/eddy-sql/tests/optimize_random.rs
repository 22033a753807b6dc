//! The optimizer against the oracle on random plans: random trees of every plan node,
//! including correlated subqueries nested up to two levels deep (`EXISTS`, `IN`, scalar),
//! over random small tables with `NULL`s and duplicates. The optimized plan must be
//! decorrelated and give the same multiset of rows (or, where the original fails because a
//! scalar subquery returned more than one row, may fail as well).

mod optimize_support;

use std::collections::BTreeMap;

use eddy_sql::datum::{Datum, Row};
use optimize_support::check_on;
use optimize_support::generator::Generator;
use proptest::prelude::*;

fn table() -> impl Strategy<Value = Vec<Row>> {
    let value = prop_oneof![1 => Just(Datum::Null), 4 => (0i32..4).prop_map(Datum::Int)];
    proptest::collection::vec(proptest::collection::vec(value, 2).prop_map(Row::new), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn optimized_plans_give_the_oracles_rows(seed in any::<u64>(), t in table(), u in table(), v in table()) {
        let tables = BTreeMap::from([
            ("t".to_owned(), t),
            ("u".to_owned(), u),
            ("v".to_owned(), v),
            ("empty".to_owned(), vec![]),
        ]);
        let plan = Generator { state: seed }.plan(5, &[]);
        check_on(&plan, &tables);
    }
}

/// Many more plans, on the fixed tables of the other tests; about a minute in a debug build.
#[test]
#[ignore = "long run (20 000 plans): cargo test -p eddy-sql --test optimize_random -- --ignored"]
fn many_random_plans_on_fixed_tables() {
    let tables = optimize_support::tables();
    for seed in 0..20_000u64 {
        let plan = Generator { state: seed }.plan(5, &[]);
        check_on(&plan, &tables);
    }
}
