//! eddy's `sql-view` benchmark (benches/src/sql_view.rs) on Feldera's engine, the `dbsp` crate,
//! through its Rust API: the same view
//!
//! ```sql
//! SELECT c.region, COUNT(*), SUM(o.amount)
//! FROM orders o JOIN customers c ON o.customer = c.id
//! GROUP BY c.region
//! ```
//!
//! maintained over the same input: the customers table loaded first (one transaction), then
//! the orders changelog (four inserts, then the delete of one of them, repeated), a thousand
//! updates per transaction (eddy's logical time). Prints the same JSON line as
//! `eddy-bench sql-view` (rows per CPU-second, user + system CPU via getrusage, generator
//! included), then checks the view's final contents against a plain-Rust reference.

use std::collections::BTreeMap;
use std::time::Instant;

use dbsp::typed_batch::IndexedZSetReader;
use dbsp::utils::{Tup2, Tup3};
use dbsp::{OrdIndexedZSet, OutputHandle, RootCircuit, Runtime, ZSetHandle, ZWeight};

/// Order updates per transaction: eddy's generator advances its logical time every thousand.
const BATCH: u64 = 1000;

struct Args {
    rows: u64,
    customers: u64,
    regions: u64,
    workers: usize,
    /// Write the same input for `eddy sql -f` (customers.csv, orders.json) here and exit.
    eddy_input: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args { rows: 1_000_000, customers: 10_000, regions: 100, workers: 1, eddy_input: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || value.parse::<u64>().unwrap_or_else(|_| panic!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--rows" => args.rows = number(),
            "--customers" => args.customers = number(),
            "--regions" => args.regions = number(),
            "--workers" => args.workers = number() as usize,
            "--eddy-input" => args.eddy_input = Some(value.clone()),
            _ => panic!("unknown flag {flag} (--rows, --customers, --regions, --workers, --eddy-input)"),
        }
    }
    assert!(args.workers >= 1 && args.customers >= 1 && args.regions >= 1);
    args
}

/// Update `n` of the orders changelog, as eddy's `order_update`: `((id, customer, amount), diff)`.
/// (The logical time, `n / 1000`, is the transaction the update goes into.)
fn order_update(n: u64, customers: u64) -> (Tup3<i64, i64, i64>, ZWeight) {
    let (group, position) = (n / 5, n % 5);
    // Position 4 deletes the order inserted at position 1 of the same group.
    let (id, diff) = if position == 4 { (group * 5 + 1, -1) } else { (n, 1) };
    let row = Tup3(id as i64, (id.wrapping_mul(7919) % customers) as i64, (id % 1000) as i64);
    (row, diff)
}

/// Customer `n`, as eddy's customers generator: `(id, region)`.
fn customer(n: u64, regions: u64) -> Tup2<i64, i64> {
    Tup2(n as i64, (n % regions) as i64)
}

/// The view's output: region -> (COUNT(*), SUM(amount)), as a stream of changes.
type View = OrdIndexedZSet<i64, Tup2<i64, i64>>;

type Handles = (ZSetHandle<Tup3<i64, i64, i64>>, ZSetHandle<Tup2<i64, i64>>, OutputHandle<View>);

/// The circuit: what Feldera's SQL compiler makes of the view, written by hand.
fn build(circuit: &mut RootCircuit) -> anyhow::Result<Handles> {
    // orders(id, customer, amount) and customers(id, region), as Z-sets of rows.
    let (orders, orders_handle) = circuit.add_input_zset::<Tup3<i64, i64, i64>>();
    let (customers, customers_handle) = circuit.add_input_zset::<Tup2<i64, i64>>();
    // Index both sides by the join key.
    let orders_by_customer = orders.map_index(|Tup3(_id, customer, amount)| (*customer, *amount));
    let customers_by_id = customers.map_index(|Tup2(id, region)| (*id, *region));
    // o JOIN c ON o.customer = c.id, indexed by the group key: region -> amount.
    let amounts_by_region = orders_by_customer
        .join_index(&customers_by_id, |_customer, amount, region| Some((*region, *amount)));
    // GROUP BY region: COUNT(*) and SUM(amount) are linear, one incremental linear aggregate.
    let view = amounts_by_region.aggregate_linear(|amount: &i64| Tup2(1i64, *amount));
    Ok((orders_handle, customers_handle, view.output()))
}

/// Applies one transaction's output changes to the materialized view.
fn apply(view: &mut BTreeMap<(i64, Tup2<i64, i64>), ZWeight>, output: &OutputHandle<View>) -> u64 {
    let mut changes = 0;
    for (region, value, weight) in output.consolidate().iter() {
        changes += 1;
        let entry = view.entry((region, value)).or_insert(0);
        *entry += weight;
        if *entry == 0 {
            view.remove(&(region, value));
        }
    }
    changes
}

fn rusage() -> libc::rusage {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage
}

fn cpu_seconds() -> f64 {
    let usage = rusage();
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn peak_rss_mb() -> f64 {
    rusage().ru_maxrss as f64 / 1024.0
}

/// Writes the benchmark's input for `eddy sql -f eddy-check.sql`: the customers as CSV, the
/// orders changelog as Debezium change events (one JSON object a line), and the reference view.
fn write_eddy_input(dir: &str, rows: u64, customers: u64, regions: u64) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/customers.csv"))?);
    for n in 0..customers {
        let Tup2(id, region) = customer(n, regions);
        writeln!(out, "{id},{region}")?;
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/orders.json"))?);
    for n in 0..rows {
        let (Tup3(id, customer, amount), diff) = order_update(n, customers);
        let row = format!("{{\"id\":{id},\"customer\":{customer},\"amount\":{amount}}}");
        if diff > 0 {
            writeln!(out, "{{\"before\":null,\"after\":{row},\"op\":\"c\"}}")?;
        } else {
            writeln!(out, "{{\"before\":{row},\"after\":null,\"op\":\"d\"}}")?;
        }
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/reference.txt"))?);
    for (region, (count, sum)) in reference(rows, customers, regions) {
        writeln!(out, "{region} {count} {sum}")?;
    }
    out.flush()?;
    Ok(())
}

/// The view computed in plain Rust from the same updates: region -> (COUNT(*), SUM(amount)).
fn reference(rows: u64, customers: u64, regions: u64) -> BTreeMap<i64, (i64, i64)> {
    let mut reference: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for n in 0..rows {
        let (Tup3(_id, customer_id, amount), diff) = order_update(n, customers);
        // customers(id, region) has one row per id in 0..customers: region = id % regions.
        let Tup2(_, region) = customer(customer_id as u64, regions);
        let entry = reference.entry(region).or_insert((0, 0));
        entry.0 += diff;
        entry.1 += diff * amount;
    }
    reference.retain(|_, (count, _)| *count != 0);
    reference
}

fn main() -> anyhow::Result<()> {
    let Args { rows, customers, regions, workers, eddy_input } = parse_args();
    if let Some(dir) = eddy_input {
        return write_eddy_input(&dir, rows, customers, regions);
    }
    let cpu_before = cpu_seconds();
    let wall = Instant::now();

    // A DBSP runtime with `workers` worker threads (dbsp 0.349's traces need one: their spines
    // merge batches in the runtime's background; `RootCircuit::build` alone panics on a join).
    let (mut dbsp, (orders, customer_rows, output)) = Runtime::init_circuit(workers, build)?;

    let mut view = BTreeMap::new();
    let mut output_changes = 0u64;

    // The customers table first, in one transaction.
    let mut batch: Vec<_> = (0..customers).map(|n| Tup2(customer(n, regions), 1)).collect();
    customer_rows.append(&mut batch);
    dbsp.transaction()?;
    output_changes += apply(&mut view, &output);

    // Then the orders changelog, a thousand updates per transaction.
    let mut batch = Vec::with_capacity(BATCH as usize);
    let mut n = 0;
    while n < rows {
        let end = (n + BATCH).min(rows);
        batch.extend((n..end).map(|n| {
            let (row, diff) = order_update(n, customers);
            Tup2(row, diff)
        }));
        orders.append(&mut batch);
        dbsp.transaction()?;
        output_changes += apply(&mut view, &output);
        n = end;
    }

    let cpu_seconds = cpu_seconds() - cpu_before;
    let wall_seconds = wall.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_mb();
    println!(
        "{{\"benchmark\":\"sql-view-dbsp\",\"rows\":{rows},\"workers\":{workers},\"cpu_seconds\":{cpu_seconds},\"wall_seconds\":{wall_seconds},\"rows_per_cpu_second\":{},\"peak_rss_mb\":{peak_rss_mb}}}",
        rows as f64 / cpu_seconds.max(1e-9)
    );

    // The reference, in plain Rust, outside the measurement.
    let reference = reference(rows, customers, regions);
    let mut got: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let mut well_formed = true;
    for ((region, Tup2(count, sum)), weight) in &view {
        well_formed &= *weight == 1 && got.insert(*region, (*count, *sum)).is_none();
    }
    let (count, sum) = got.values().fold((0, 0), |(c, s), (count, sum)| (c + count, s + sum));
    eprintln!(
        "view: {} regions, COUNT(*) total {count}, SUM(amount) total {sum}, {output_changes} output changes over {} transactions",
        got.len(),
        rows.div_ceil(BATCH) + 1
    );
    if well_formed && got == reference {
        println!("check: ok");
        Ok(())
    } else {
        println!("check: FAILED (view {} regions, reference {} regions)", got.len(), reference.len());
        std::process::exit(1)
    }
}
