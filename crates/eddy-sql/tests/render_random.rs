//! The renderer against the reference evaluator on random plans: random trees of every
//! decorrelated plan node (filters, projections, every join kind with equi-keys, residuals or
//! neither, aggregates, `DISTINCT`, set operations, Top-K, `VALUES`) over random update
//! batches with retractions; the result after every batch must be the oracle's, at 1 and 3
//! workers.

mod render_common;

use eddy_sql::datum::{Datum, Row};
use eddy_sql::expr::BinaryOp;
use eddy_sql::oracle;
use eddy_sql::plan::{AggregateCall, AggregateFunction, Column, JoinKind, Plan, SetOp, SortKey};
use eddy_sql::render::run_incremental;
use eddy_sql::types::SqlType;
use eddy_sql::ScalarExpr;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use render_common::{accumulate, binary, col, get, int, random_batches, sorted};

/// Random plans whose columns are all `INT` (so any two can be compared or added).
struct Generator {
    rng: SmallRng,
}

impl Generator {
    fn expr(&mut self, arity: usize) -> ScalarExpr {
        match self.rng.gen_range(0..4) {
            0 => int(self.rng.gen_range(0..4)),
            1 => binary(BinaryOp::Add, col(self.rng.gen_range(0..arity)), int(self.rng.gen_range(0..2))),
            _ => col(self.rng.gen_range(0..arity)),
        }
    }

    fn predicate(&mut self, arity: usize) -> ScalarExpr {
        let op = [BinaryOp::Eq, BinaryOp::Lt, BinaryOp::Gt, BinaryOp::NotEq][self.rng.gen_range(0..4)];
        let comparison = binary(op, col(self.rng.gen_range(0..arity)), self.expr(arity));
        if self.rng.gen_range(0..4) == 0 {
            let other = binary(BinaryOp::LtEq, col(self.rng.gen_range(0..arity)), int(2));
            let junction = if self.rng.gen_bool(0.5) { BinaryOp::And } else { BinaryOp::Or };
            binary(junction, comparison, other)
        } else {
            comparison
        }
    }

    /// A plan with exactly `arity` columns.
    fn with_arity(&mut self, depth: usize, arity: usize) -> Plan {
        let plan = self.plan(depth);
        if plan.arity() == arity {
            return plan;
        }
        let input_arity = plan.arity();
        let exprs = (0..arity).map(|_| self.expr(input_arity)).collect();
        render_common::project(plan, exprs)
    }

    fn plan(&mut self, depth: usize) -> Plan {
        if depth == 0 {
            return match self.rng.gen_range(0..6) {
                0 => Plan::Values {
                    rows: (0..self.rng.gen_range(0..3))
                        .map(|_| Row::new(vec![Datum::Int(self.rng.gen_range(0..3)), Datum::Null]))
                        .collect(),
                    columns: vec![Column::new("v0", SqlType::Int), Column::new("v1", SqlType::Int)],
                },
                1 | 2 => get("u"),
                _ => get("t"),
            };
        }
        match self.rng.gen_range(0..8) {
            0 => {
                let input = self.plan(depth - 1);
                let predicate = self.predicate(input.arity());
                render_common::filter(input, predicate)
            }
            1 => {
                let input = self.plan(depth - 1);
                let arity = input.arity();
                let exprs = (0..self.rng.gen_range(1..4)).map(|_| self.expr(arity)).collect();
                render_common::project(input, exprs)
            }
            2 | 3 => {
                let left = self.plan(depth - 1);
                let right = self.plan(depth - 1);
                let (la, ra) = (left.arity(), right.arity());
                let equi =
                    binary(BinaryOp::Eq, col(self.rng.gen_range(0..la)), col(la + self.rng.gen_range(0..ra)));
                let residual =
                    binary(BinaryOp::Lt, col(self.rng.gen_range(0..la)), col(la + self.rng.gen_range(0..ra)));
                let on = match self.rng.gen_range(0..4) {
                    0 => equi,
                    1 => binary(BinaryOp::And, equi, residual),
                    2 => residual,
                    _ => ScalarExpr::literal(Datum::Boolean(true), SqlType::Boolean),
                };
                let kinds = [
                    JoinKind::Inner,
                    JoinKind::Left,
                    JoinKind::Right,
                    JoinKind::Full,
                    JoinKind::Semi,
                    JoinKind::Anti,
                ];
                let kind = kinds[self.rng.gen_range(0..kinds.len())];
                Plan::Join { left: Box::new(left), right: Box::new(right), kind, on }
            }
            4 => {
                let input = self.plan(depth - 1);
                let arity = input.arity();
                let group: Vec<ScalarExpr> =
                    (0..self.rng.gen_range(0..3)).map(|_| self.expr(arity)).collect();
                let functions = [
                    AggregateFunction::Sum,
                    AggregateFunction::Min,
                    AggregateFunction::Max,
                    AggregateFunction::Avg,
                ];
                let aggregates: Vec<AggregateCall> = (0..self.rng.gen_range(1..3))
                    .map(|_| AggregateCall {
                        function: functions[self.rng.gen_range(0..functions.len())],
                        args: vec![col(self.rng.gen_range(0..arity))],
                        distinct: self.rng.gen_range(0..4) == 0,
                        filter: None,
                        ty: SqlType::Int,
                    })
                    .collect();
                render_common::aggregate(input, group, aggregates)
            }
            5 => Plan::Distinct { input: Box::new(self.plan(depth - 1)) },
            6 => {
                let arity = self.rng.gen_range(1..3);
                let left = self.with_arity(depth - 1, arity);
                let right = self.with_arity(depth - 1, arity);
                let op = [SetOp::Union, SetOp::Except, SetOp::Intersect][self.rng.gen_range(0..3)];
                Plan::SetOp { op, all: self.rng.gen_bool(0.5), left: Box::new(left), right: Box::new(right) }
            }
            _ => {
                let input = self.plan(depth - 1);
                let arity = input.arity();
                let group = if self.rng.gen_bool(0.5) { vec![] } else { vec![self.rng.gen_range(0..arity)] };
                let order = (0..self.rng.gen_range(1..3))
                    .map(|_| SortKey {
                        column: self.rng.gen_range(0..arity),
                        descending: self.rng.gen_bool(0.5),
                        nulls_first: self.rng.gen_bool(0.5),
                    })
                    .collect();
                let limit = if self.rng.gen_range(0..4) == 0 { None } else { Some(self.rng.gen_range(0..4)) };
                if self.rng.gen_range(0..3) == 0 {
                    // The generator's expressions are over INT columns: the BIGINT number is
                    // cast to INT above the node.
                    let numbered = Plan::RowNumber {
                        input: Box::new(input),
                        partition: group,
                        order,
                        limit,
                        name: "rn".into(),
                    };
                    let mut exprs: Vec<ScalarExpr> = (0..arity).map(col).collect();
                    let number = ScalarExpr::Column { index: arity, ty: SqlType::BigInt };
                    exprs.push(ScalarExpr::Cast {
                        expr: Box::new(number),
                        ty: SqlType::Int,
                        try_cast: false,
                    });
                    render_common::project(numbered, exprs)
                } else {
                    Plan::TopK {
                        input: Box::new(input),
                        group,
                        order,
                        limit,
                        offset: self.rng.gen_range(0..3),
                    }
                }
            }
        }
    }
}

#[test]
fn random_plans_give_the_oracles_rows_after_every_batch() {
    let mut non_empty = 0;
    for seed in 0..150u64 {
        let plan = Generator { rng: SmallRng::seed_from_u64(seed) }.plan(3);
        let batches = random_batches(seed, 3, 3);
        for workers in [1, 3] {
            let run = run_incremental(&plan, &batches, workers)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", plan.explain()));
            assert!(run.errors.is_empty(), "seed {seed}: {:?}\n{}", run.errors, plan.explain());
            non_empty += usize::from(run.results.iter().any(|result| !result.is_empty()));
            for (time, result) in run.results.iter().enumerate() {
                let tables = accumulate(&batches, time);
                let expected =
                    sorted(oracle::evaluate(&plan, &tables).expect("the oracle evaluates the plan"));
                assert_eq!(
                    *result,
                    expected,
                    "seed {seed}, batch {time}, {workers} workers\n{}\ntables {tables:?}",
                    plan.explain()
                );
            }
        }
    }
    // The comparison means something only when results are not all empty (146 of 300 have
    // rows; intersections, anti joins and filters of small tables often leave none).
    assert!(non_empty > 120, "only {non_empty} of 300 runs had rows");
}
