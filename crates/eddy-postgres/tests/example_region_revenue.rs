//! The README's example against the real server: orders and customers change (inserts,
//! amount updates, deletes, customers moving region or leaving) during and after the snapshot;
//! once the job has read up to the stop marker, `region_revenue` equals PostgreSQL's own
//! answer to the query.

mod common;

#[allow(dead_code)]
#[path = "../examples/region_revenue.rs"]
mod region_revenue;

use std::time::Duration;

use common::{connect, execute, rows, server_or_skip, unique};
use eddy_core::checkpoint::CheckpointConfig;
use eddy_core::job::{Job, JobConfig};

fn changes(url: &str, schema: &str, transactions: u64, seed: u64) {
    let mut connection = connect(url);
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let regions = ["EU", "US", "APAC", "LATAM", "MEA"];
    for _ in 0..transactions {
        let mut sql = vec![format!("BEGIN; SET LOCAL search_path TO {schema}")];
        for _ in 0..1 + next() % 3 {
            let (order, customer) = (next() % 3000, next() % 220);
            sql.push(match next() % 6 {
                0 | 1 => format!(
                    "INSERT INTO orders VALUES ({order}, {customer}, {}.{:02}) ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount",
                    next() % 500,
                    next() % 100
                ),
                2 => format!("UPDATE orders SET amount = amount + 1.10, customer_id = {customer} WHERE id = {order}"),
                3 => format!("DELETE FROM orders WHERE id = {order}"),
                4 => format!("UPDATE customers SET region = '{}' WHERE id = {customer}", regions[(next() % 5) as usize]),
                _ => {
                    if next() % 2 == 0 {
                        format!("DELETE FROM customers WHERE id = {customer}")
                    } else {
                        format!(
                            "INSERT INTO customers VALUES ({customer}, 'c{customer}', '{}') ON CONFLICT DO NOTHING",
                            regions[(next() % 5) as usize]
                        )
                    }
                }
            });
        }
        sql.push("COMMIT".to_owned());
        connection.execute(&sql.join("; ")).unwrap();
    }
}

#[test]
fn region_revenue_equals_postgres_own_answer() {
    let Some(url) = server_or_skip() else { return };
    let schema = unique("shop");
    let slot = unique("slot");
    execute(&url, &format!("CREATE SCHEMA {schema}; SET search_path TO {schema}; {}", region_revenue::SETUP));
    execute(
        &url,
        &format!(
            "SET search_path TO {schema}; \
             INSERT INTO customers SELECT g, 'c' || g, (ARRAY['EU','US','APAC','LATAM','MEA'])[1 + g % 5] \
             FROM generate_series(4, 199) g; \
             INSERT INTO orders SELECT g, g % 210, (g % 997) / 4.0 FROM generate_series(100, 2099) g"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(dir.path().join("chk"), Duration::from_millis(50))),
        ..JobConfig::with_workers(2)
    };
    let job = {
        let (url, schema, slot) = (url.clone(), schema.clone(), slot.clone());
        std::thread::spawn(move || {
            Job::new(config).run(move |env| region_revenue::build(env, &url, &schema, &slot, false))
        })
    };
    for _ in 0..600 {
        if !rows(&url, &format!("SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}'")).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    changes(&url, &schema, 500, 3);
    execute(
        &url,
        &format!("SELECT pg_logical_emit_message(true, '{}', '')", eddy_postgres::stop_prefix(&slot)),
    );
    job.join().unwrap().unwrap();
    let ours = rows(&url, &format!("SELECT region, revenue, orders FROM {schema}.region_revenue"));
    let theirs = rows(&url, &format!("SET search_path TO {schema}; {}", region_revenue::REFERENCE));
    assert_eq!(ours, theirs);
    assert!(theirs.len() >= 4, "most regions have orders: {theirs:?}");
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}
