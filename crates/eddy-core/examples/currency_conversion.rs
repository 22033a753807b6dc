//! The event-time temporal join, Flink's currency-conversion example: every order is priced
//! with the exchange rate that was valid when the order was placed
//! (`JOIN rates FOR SYSTEM_TIME AS OF orders.order_time ON orders.currency = rates.currency`).
//!
//! ```text
//! cargo run -p eddy-core --example currency_conversion
//! ```
//!
//! The rates are an upsert changelog: each `Change::Upsert(currency, rate)` is a new version,
//! valid from its event time; `Change::Delete` ends a currency's rate. Orders placed before the
//! first rate of their currency get `None` (a left outer join).

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;

fn main() -> eddy_core::Result<()> {
    // (time ms, currency, amount in cents)
    let orders: Vec<(u64, String, u64)> =
        [(2, "EUR", 200), (5, "EUR", 100), (9, "JPY", 5_000), (11, "EUR", 300), (14, "GBP", 40)]
            .map(|(time, currency, amount)| (time, currency.to_owned(), amount))
            .to_vec();
    // (time ms, currency, rate in thousandths, or None: no longer traded)
    let rates: Vec<(u64, String, Option<u64>)> = [
        (1, "EUR", Some(1_140)),
        (4, "JPY", Some(9)),
        (10, "EUR", Some(1_160)),
        (12, "GBP", Some(1_330)),
        (13, "GBP", None),
    ]
    .map(|(time, currency, rate)| (time, currency.to_owned(), rate))
    .to_vec();
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(2)).run(move |env| {
        let orders = env.from_source(
            CollectionSource::new(orders.clone()),
            WatermarkStrategy::monotonous_timestamps().with_timestamps(|order: &(u64, String, u64)| order.0),
        );
        let rates = env
            .from_source(
                CollectionSource::new(rates.clone()),
                WatermarkStrategy::monotonous_timestamps()
                    .with_timestamps(|rate: &(u64, String, Option<u64>)| rate.0),
            )
            .map(|(_, currency, rate)| match rate {
                Some(rate) => Change::Upsert(currency, rate),
                None => Change::Delete(currency),
            });
        orders
            .temporal_join(rates, |(_, currency, _)| currency.clone())
            .left_outer(|(time, currency, amount), rate| {
                let converted = rate.map(|rate| amount * rate / 1_000);
                format!("t={time:>2} {amount:>5} {currency} -> {converted:?} USD cents (rate {rate:?})")
            })
            .uid("priced-orders")
            .sink(sink.clone());
        Ok(())
    })?;
    let mut lines = handle.values();
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
