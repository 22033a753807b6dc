//! Revenue per customer region, kept up to date from PostgreSQL: the `orders` and `customers`
//! tables arrive through the CDC source (snapshot, then every insert, update and delete), a
//! keyed join and aggregate computes `SELECT c.region, sum(o.amount), count(*) FROM orders o
//! JOIN customers c ON c.id = o.customer_id GROUP BY c.region`, and the exactly-once upsert
//! sink writes it into `region_revenue`, which then equals PostgreSQL's own answer whenever
//! the job has caught up.
//!
//! ```text
//! cargo run -p eddy-postgres --example region_revenue -- postgresql://postgres@127.0.0.1:15432/postgres [--setup] [--bounded]
//! ```
//!
//! `--setup` creates the three tables with a few rows; `--bounded` stops after the changes
//! committed before the job started (without it, the job runs until stopped with Ctrl-C, or
//! until `SELECT pg_logical_emit_message(true, 'eddy-stop:region_revenue', '')`).
//!
//! The join and aggregate run in three keyed stages, so that every state is keyed and spread
//! over the workers:
//! 1. by order id: the order's customer and amount, so an update or delete retracts what the
//!    order contributed before (the replication stream sends no old row by default);
//! 2. by customer id: the customer's region and the sum and count of its orders; a move to
//!    another region moves the whole sum;
//! 3. by region: the sums, written as upserts (a region without orders is deleted).
//!
//! Amounts are summed in cents (integers), so the result is exact. Stages 1 and 2 keep the
//! `sequence` of the change they applied last and ignore older ones: eddy's keyed operators
//! apply records of equal event time in tag order, not arrival order, so two changes of one
//! row in the same millisecond (or a snapshot row and a change committed just before the
//! snapshot's time) may come in either order. Stage 2 and 3 only add and move sums, which
//! commute.

use std::time::Duration;

use eddy_core::prelude::*;
use eddy_postgres::{CdcEvent, Delivery, Op, PostgresCdcSource, PostgresSink, Row};
use serde::{Deserialize, Serialize};

/// What the customer stage receives.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum ToCustomer {
    /// An order's contribution changed by `cents` (and `orders` orders).
    Delta { customer: i64, cents: i64, orders: i64 },
    /// The customer's region is now this (`None`: the customer was deleted), as of change
    /// `sequence`.
    Region { customer: i64, region: Option<String>, sequence: u64 },
}

impl ToCustomer {
    fn customer(&self) -> i64 {
        match self {
            ToCustomer::Delta { customer, .. } | ToCustomer::Region { customer, .. } => *customer,
        }
    }
}

/// A change of a region's sums.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RegionDelta {
    region: String,
    cents: i64,
    orders: i64,
}

/// A row of `region_revenue` (besides its key, the region).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Revenue {
    /// The sum of the region's order amounts.
    revenue: f64,
    /// How many orders.
    orders: i64,
}

fn cents(row: &Row) -> i64 {
    (row["amount"].as_f64().unwrap_or(0.0) * 100.0).round() as i64
}

/// Stage 1, by order id: what the order contributes now; emits retractions and additions.
#[derive(Default)]
struct Orders {
    /// The sequence of the last change applied plus one, and the order's (customer, cents) unless
    /// deleted (a tombstone, so that an older change arriving late is still ignored).
    current: Option<ValueState<(u64, Option<(i64, i64)>)>>,
}

impl KeyedProcessFunction<i64, CdcEvent<Row>, ToCustomer> for Orders {
    fn open(&mut self, ctx: &mut OpenContext<'_, i64>) {
        self.current = Some(ctx.value_state("order"));
    }

    fn process_element(&mut self, event: CdcEvent<Row>, ctx: &mut Context<'_, i64, ToCustomer>) {
        let current = self.current.clone().expect("opened");
        let (applied, order) = current.value(ctx).unwrap_or((0, None));
        // `applied` is the last applied sequence plus one (0: none yet).
        if event.sequence < applied {
            return;
        }
        if let Some((customer, cents)) = order {
            ctx.emit(ToCustomer::Delta { customer, cents: -cents, orders: -1 });
        }
        let order = match (&event.op, &event.after) {
            (Op::Delete, _) | (_, None) => None,
            (_, Some(after)) => Some((after["customer_id"].as_i64().unwrap_or(0), cents(after))),
        };
        if let Some((customer, cents)) = order {
            ctx.emit(ToCustomer::Delta { customer, cents, orders: 1 });
        }
        current.update(ctx, (event.sequence + 1, order));
    }
}

/// Stage 2, by customer id: the region and the customer's sums.
#[derive(Default)]
struct Customers {
    /// The sequence of the last region change applied plus one, and the region (`None`: deleted).
    region: Option<ValueState<(u64, Option<String>)>>,
    /// (cents, orders) of the customer's orders.
    sums: Option<ValueState<(i64, i64)>>,
}

impl KeyedProcessFunction<i64, ToCustomer, RegionDelta> for Customers {
    fn open(&mut self, ctx: &mut OpenContext<'_, i64>) {
        self.region = Some(ctx.value_state("region"));
        self.sums = Some(ctx.value_state("sums"));
    }

    fn process_element(&mut self, message: ToCustomer, ctx: &mut Context<'_, i64, RegionDelta>) {
        let (region_state, sums_state) =
            (self.region.clone().expect("opened"), self.sums.clone().expect("opened"));
        let (applied, region) = region_state.value(ctx).unwrap_or((0, None));
        let (total, count) = sums_state.value(ctx).unwrap_or((0, 0));
        match message {
            ToCustomer::Delta { cents, orders, .. } => {
                if let Some(region) = region {
                    ctx.emit(RegionDelta { region, cents, orders });
                }
                sums_state.update(ctx, (total + cents, count + orders));
            }
            ToCustomer::Region { region: new, sequence, .. } => {
                // `applied` is the last applied sequence plus one (0: none yet).
                if sequence < applied {
                    return;
                }
                if region != new {
                    if let Some(old) = region {
                        ctx.emit(RegionDelta { region: old, cents: -total, orders: -count });
                    }
                    if let Some(new) = &new {
                        ctx.emit(RegionDelta { region: new.clone(), cents: total, orders: count });
                    }
                }
                region_state.update(ctx, (sequence + 1, new));
            }
        }
    }
}

/// Stage 3, by region: the sums as upserts.
#[derive(Default)]
struct Regions {
    sums: Option<ValueState<(i64, i64)>>,
}

impl KeyedProcessFunction<String, RegionDelta, Change<String, Revenue>> for Regions {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.sums = Some(ctx.value_state("sums"));
    }

    fn process_element(
        &mut self,
        delta: RegionDelta,
        ctx: &mut Context<'_, String, Change<String, Revenue>>,
    ) {
        let sums = self.sums.clone().expect("opened");
        let (cents, orders) = sums.value(ctx).unwrap_or((0, 0));
        let (cents, orders) = (cents + delta.cents, orders + delta.orders);
        if orders == 0 {
            sums.clear(ctx);
            ctx.emit(Change::Delete(delta.region));
        } else {
            sums.update(ctx, (cents, orders));
            ctx.emit(Change::Upsert(delta.region, Revenue { revenue: cents as f64 / 100.0, orders }));
        }
    }
}

/// Builds the job on `env`: CDC of `schema.orders` and `schema.customers` through `slot`, the
/// result upserted into `schema.region_revenue`.
pub fn build(env: &mut Env<'_>, url: &str, schema: &str, slot: &str, bounded: bool) -> Result<()> {
    let (orders_table, customers_table) = (format!("{schema}.orders"), format!("{schema}.customers"));
    let mut source = PostgresCdcSource::rows(url, &[&orders_table, &customers_table], slot)?;
    if bounded {
        source = source.bounded();
    }
    let sink = PostgresSink::<Change<String, Revenue>>::upsert(
        url,
        &format!("{schema}.region_revenue"),
        Delivery::ExactlyOnce,
    )?;
    let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
        .with_timestamps(|event: &CdcEvent<Row>| event.commit_time.max(0) as u64)
        .with_emit_every(64)
        .with_idleness(1_000);
    let events = env.from_source(source, strategy).uid("cdc");
    let orders = events
        .clone()
        .filter(move |event: &CdcEvent<Row>| event.table == orders_table)
        .key_by(|event: &CdcEvent<Row>| event.key["id"].as_i64().unwrap_or(0))
        .process(Orders::default())
        .uid("orders");
    let customers = events.filter(move |event: &CdcEvent<Row>| event.table == customers_table).map(
        |event: CdcEvent<Row>| ToCustomer::Region {
            customer: event.key["id"].as_i64().unwrap_or(0),
            region: event.after.and_then(|row| row["region"].as_str().map(str::to_owned)),
            sequence: event.sequence,
        },
    );
    orders
        .union([customers])
        .key_by(ToCustomer::customer)
        .process(Customers::default())
        .uid("customers")
        .key_by(|delta: &RegionDelta| delta.region.clone())
        .process(Regions::default())
        .uid("regions")
        .sink(sink)
        .uid("region_revenue");
    Ok(())
}

/// The tables, for `--setup` and the tests.
pub const SETUP: &str = "
    CREATE TABLE IF NOT EXISTS customers (id bigint PRIMARY KEY, name text NOT NULL, region text NOT NULL);
    CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(10,2) NOT NULL);
    CREATE TABLE IF NOT EXISTS region_revenue (region text PRIMARY KEY, revenue numeric(14,2) NOT NULL, orders bigint NOT NULL);
    INSERT INTO customers VALUES (1, 'Ann', 'EU'), (2, 'Bob', 'US'), (3, 'Chen', 'APAC') ON CONFLICT DO NOTHING;
    INSERT INTO orders VALUES (10, 1, 25.50), (11, 1, 4.50), (12, 2, 100.00), (13, 3, 7.25) ON CONFLICT DO NOTHING;";

/// PostgreSQL's own answer, in the shape of `region_revenue`.
pub const REFERENCE: &str = "SELECT c.region, sum(o.amount)::numeric(14,2), count(*) \
    FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.region";

#[allow(dead_code)]
fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let url = arguments
        .iter()
        .find(|argument| !argument.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:5432/postgres".to_owned());
    let bounded = arguments.iter().any(|argument| argument == "--bounded");
    if arguments.iter().any(|argument| argument == "--setup") {
        let mut connection =
            eddy_postgres::client::Connection::connect(&eddy_postgres::ConnectConfig::parse(&url)?, false)
                .map_err(|error| error.into_error("setting up the example's tables"))?;
        connection.execute(SETUP).map_err(|error| error.into_error("setting up the example's tables"))?;
    }
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new("target/region_revenue-checkpoints", Duration::from_secs(1))),
        ..JobConfig::with_workers(2)
    };
    let job_url = url.clone();
    Job::new(config).run(move |env| build(env, &job_url, "public", "region_revenue", bounded))?;
    eprintln!("region_revenue is up to date; compare with: {REFERENCE}");
    Ok(())
}
