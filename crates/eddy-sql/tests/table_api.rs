//! The Table API mixed with the DataStream API in one job: streams registered as tables (schema
//! from their serde type), two queries sharing one arrangement, a changelog stream and an
//! append-only stream back out.

use std::sync::{Arc, Mutex};

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;
use eddy_sql::changelog::RowKind;
use eddy_sql::table::{schema_of, TableEnvironment, TableError};
use eddy_sql::SqlType;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    amount: Option<i32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Customer {
    name: String,
    city: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Shipment {
    id: i64,
    city: String,
}

fn orders() -> Vec<Order> {
    (0..20)
        .map(|id| Order {
            id,
            customer: format!("c{}", id % 4),
            amount: (id % 5 != 0).then_some(id as i32 * 10),
        })
        .collect()
}

#[test]
fn schemas_come_from_serde_types() {
    let columns = schema_of::<Order>().unwrap();
    let shown: Vec<(String, SqlType)> = columns.into_iter().map(|c| (c.name, c.ty)).collect();
    assert_eq!(
        shown,
        [
            ("id".into(), SqlType::BigInt),
            ("customer".into(), SqlType::STRING),
            ("amount".into(), SqlType::Int)
        ]
    );
    assert!(matches!(schema_of::<Vec<u8>>(), Err(TableError::Schema { .. })));
}

#[test]
fn sql_and_datastreams_in_one_job() {
    let (shipments, shipped) = CollectSink::new();
    let (totals, changes) = CollectSink::new();
    let explained = Arc::new(Mutex::new(String::new()));
    let explain = Arc::clone(&explained);
    Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let orders = env.from_source(CollectionSource::new(orders()), WatermarkStrategy::monotonous_timestamps());
            let customers = env.from_source(
                CollectionSource::new((0..3).map(|i| Customer { name: format!("c{i}"), city: format!("city{i}") }).collect::<Vec<_>>()),
                WatermarkStrategy::monotonous_timestamps(),
            );
            let mut tables = TableEnvironment::new(env);
            tables.create_temporary_view("orders", orders).unwrap();
            tables.create_temporary_view("customers", customers).unwrap();
            let shipments_table = tables
                .sql_query("SELECT o.id, c.city FROM orders o JOIN customers c ON o.customer = c.name WHERE o.amount > 100")
                .unwrap();
            let totals_table = tables
                .sql_query("SELECT c.city, SUM(o.amount) FROM orders o JOIN customers c ON o.customer = c.name GROUP BY c.city")
                .unwrap();
            *explain.lock().unwrap() = tables.explain();
            shipments_table.to_data_stream::<Shipment>().unwrap().sink(shipments.clone());
            let updating = tables.sql_query("SELECT customer, COUNT(*) FROM orders GROUP BY customer").unwrap();
            assert!(matches!(updating.to_data_stream::<Shipment>(), Err(TableError::Updating)));
            totals_table.to_changelog_stream().sink(totals.clone());
            Ok(())
        })
        .unwrap();
    let mut got = shipped.values();
    got.sort_by_key(|s| s.id);
    let expected: Vec<Shipment> = orders()
        .into_iter()
        .filter(|o| o.amount.is_some_and(|a| a > 100) && o.customer != "c3")
        .map(|o| Shipment { id: o.id as i64, city: format!("city{}", &o.customer[1..]) })
        .collect();
    assert_eq!(got, expected);
    let changes = changes.values();
    assert!(changes.iter().all(|c| c.kind == RowKind::Insert), "bounded input: one final result");
    assert_eq!(changes.len(), 3);
    let explained = explained.lock().unwrap().clone();
    assert!(explained.contains("shared by 2"), "the two joins share their arrangements:\n{explained}");
}
