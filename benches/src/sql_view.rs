//! `eddy-bench sql-view`: the cost of maintaining a SQL view incrementally. The view joins a
//! stream of orders with a customers table and aggregates per region:
//!
//! ```sql
//! SELECT c.region, COUNT(*), SUM(o.amount)
//! FROM orders o JOIN customers c ON o.customer = c.id
//! GROUP BY c.region
//! ```
//!
//! Orders arrive as a changelog: four inserts, then the delete of one of them, repeated, so a
//! fifth of the updates retract. A thousand updates share one logical time (the generator's
//! event time advances one millisecond per thousand), so the view is maintained incrementally
//! batch after batch rather than computed once. Prints one JSON line: updates per CPU-second
//! (user + system, generator included), wall time and peak memory.

use std::time::SystemTime;

use eddy::prelude::*;
use eddy_sql::bind::{bind_query, FlinkDialect};
use eddy_sql::catalog::{Catalog, Table};
use eddy_sql::connect::sink::Collect;
use eddy_sql::datum::{Datum, Row};
use eddy_sql::optimize::optimize_query;
use eddy_sql::pipeline::PipelineBuilder;
use eddy_sql::plan::Column;
use eddy_sql::SqlType;
use serde::Serialize;
use sqlparser::parser::Parser;

/// Options of the SQL view benchmark.
#[derive(clap::Args, Debug)]
pub struct SqlViewArgs {
    /// Order updates (inserts and deletes) in total.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Customers (the joined table).
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Regions (the view's groups).
    #[arg(long, default_value_t = 100)]
    regions: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// What one run measured.
#[derive(Debug, Serialize)]
pub struct SqlViewReport {
    benchmark: &'static str,
    rows: u64,
    workers: usize,
    cpu_seconds: f64,
    wall_seconds: f64,
    rows_per_cpu_second: f64,
    peak_rss_mb: f64,
}

const VIEW: &str = "SELECT c.region, COUNT(*), SUM(o.amount) FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.region";

/// Update `n` of the orders changelog: `(row, diff, logical time)`.
fn order_update(n: u64, customers: u64) -> (Row, i64, u64) {
    let (group, position) = (n / 5, n % 5);
    // Position 4 deletes the order inserted at position 1 of the same group.
    let (id, diff) = if position == 4 { (group * 5 + 1, -1) } else { (n, 1) };
    let row = Row::new(vec![
        Datum::BigInt(id as i64),
        Datum::BigInt((id.wrapping_mul(7919) % customers) as i64),
        Datum::BigInt((id % 1000) as i64),
    ]);
    (row, diff, n / 1000)
}

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    let table = |name: &str, columns: &[&str]| Table {
        name: name.into(),
        columns: columns.iter().map(|c| Column::new(*c, SqlType::BigInt)).collect(),
        primary_key: None,
        options: Default::default(),
        time: Default::default(),
    };
    catalog.add_table(table("orders", &["id", "customer", "amount"]));
    catalog.add_table(table("customers", &["id", "region"]));
    catalog
}

/// Runs the benchmark.
pub fn run(args: &SqlViewArgs) -> anyhow::Result<SqlViewReport> {
    let statements = Parser::parse_sql(&FlinkDialect, VIEW)?;
    let sqlparser::ast::Statement::Query(query) = &statements[0] else { anyhow::bail!("not a query") };
    let query = optimize_query(bind_query(query, &catalog())?)?;
    let read = query.plan.table_columns_read();
    let (rows, customers, regions) = (args.rows, args.customers, args.regions);
    let cpu_before = crate::cpu_seconds();
    let wall = SystemTime::now();
    Job::new(JobConfig::with_workers(args.workers)).run(move |env| {
        let orders = env
            .from_source(
                GeneratorSource::new(1, move |_, n| order_update(n, customers)).with_count(rows),
                WatermarkStrategy::monotonous_timestamps().with_timestamps(|(_, _, time)| *time),
            )
            .map(|(row, diff, _)| (row, diff));
        let customer_rows = env.from_source(
            GeneratorSource::new(1, move |_, n| {
                (Row::new(vec![Datum::BigInt(n as i64), Datum::BigInt((n % regions) as i64)]), 1i64)
            })
            .with_count(customers),
            WatermarkStrategy::monotonous_timestamps(),
        );
        // As `SqlPipeline::build` does: each table keeps only the columns the view reads.
        let mut builder = PipelineBuilder::new(env);
        for (name, stream, arity) in [("orders", orders, 3), ("customers", customer_rows, 2)] {
            match read.get(name) {
                Some(columns) if columns.len() < arity => {
                    builder.add_table_reading(name, stream, columns.iter().copied().collect())
                }
                _ => builder.add_table(name, stream),
            }
        }
        builder.query(env, "view", &query)?.sink(Collect::default());
        Ok(())
    })?;
    let cpu_seconds = crate::cpu_seconds() - cpu_before;
    Ok(SqlViewReport {
        benchmark: "sql-view",
        rows,
        workers: args.workers,
        cpu_seconds,
        wall_seconds: wall.elapsed().map_or(0.0, |d| d.as_secs_f64()),
        rows_per_cpu_second: rows as f64 / cpu_seconds.max(1e-9),
        peak_rss_mb: crate::peak_rss_mb(),
    })
}
