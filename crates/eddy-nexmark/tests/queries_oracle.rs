//! The Nexmark queries against independent reference implementations.
//!
//! Each query runs over a small generated input (split round-robin over three source splits,
//! the watermark held at 0 until the input ends, so every window and auction closes over all
//! data) at 1 and 2 workers, and its final result (upsert changelogs consolidated) is compared
//! as a multiset with a plain single-threaded implementation of the query's SQL semantics
//! written here over the `Vec` of events. The references do not use the query code.
//!
//! Two inputs: `dense` (the default rate, 10 events per millisecond, starting 250 ms before
//! midnight so the daily statistics see two days; many equal timestamps) and `sparse` (20
//! events per second from 07:57:55 UTC: 300 s, so tumbling, hopping and session windows and
//! the hour classes of q14 vary). q6 (the order of ties among a seller's last closed auctions)
//! and q12 (processing-time windows) are not deterministic; for q12 only the sum of the
//! counts is checked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use eddy::prelude::*;
use eddy_nexmark::queries::{self, QueryOutput, QueryRow};
use eddy_nexmark::{Auction, Bid, Event, NexmarkConfig, NexmarkGenerator, Person, DEFAULT_BASE_TIME_MS};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Inputs

/// One generated input.
struct Input {
    name: &'static str,
    events: Vec<Event>,
}

fn generate(name: &'static str, config: NexmarkConfig, count: u64) -> Input {
    let generator = NexmarkGenerator::new(config);
    Input { name, events: (0..count).map(|n| generator.event(n)).collect() }
}

fn inputs() -> &'static [Input] {
    static INPUTS: OnceLock<Vec<Input>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        vec![
            generate("dense", NexmarkConfig::default().with_base_time_ms(DEFAULT_BASE_TIME_MS - 250), 5_000),
            generate(
                "sparse",
                NexmarkConfig::default()
                    .with_events_per_second(20)
                    .with_base_time_ms(DEFAULT_BASE_TIME_MS + ((7 * 60 + 57) * 60 + 55) * 1000),
                6_000,
            ),
        ]
    })
}

fn persons(events: &[Event]) -> Vec<&Person> {
    events.iter().filter_map(Event::as_person).collect()
}

fn auctions(events: &[Event]) -> Vec<&Auction> {
    events.iter().filter_map(Event::as_auction).collect()
}

fn bids(events: &[Event]) -> Vec<&Bid> {
    events.iter().filter_map(Event::as_bid).collect()
}

// ---------------------------------------------------------------------------------------------
// Running a query

/// Collects a query's rows as JSON objects.
struct Collect {
    rows: Arc<Mutex<Vec<Value>>>,
}

impl QueryOutput for Collect {
    fn output<T: QueryRow>(&self, rows: DataStream<'_, T>) {
        let collected = Arc::clone(&self.rows);
        rows.inspect(move |row, _| {
            let value = serde_json::to_value(row).expect("rows serialize");
            collected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(value);
        })
        .sink(CollectSink::<T>::new().0);
    }
}

/// Holds the watermark at 0 until the input ends.
struct NoWatermark;

impl WatermarkGenerator<Event> for NoWatermark {
    fn on_event(&mut self, _value: &Event, _timestamp: u64) {}
    fn current_watermark(&self) -> u64 {
        0
    }
}

/// The raw rows of query `name` over `events` (three splits, round-robin) at `workers` workers.
fn run_raw(name: &str, events: &[Event], workers: usize) -> Vec<Value> {
    let mut partitions: Vec<Vec<Event>> = vec![Vec::new(); 3];
    for (index, event) in events.iter().enumerate() {
        partitions[index % 3].push(event.clone());
    }
    let rows = Arc::new(Mutex::new(Vec::new()));
    let output = Collect { rows: Arc::clone(&rows) };
    let query = name.to_owned();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let strategy =
                WatermarkStrategy::custom(|| Box::new(NoWatermark)).with_timestamps(Event::date_time);
            let events = env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy);
            assert!(queries::build(&query, events, &output)?, "query {query} is not implemented");
            Ok(())
        })
        .unwrap_or_else(|error| panic!("{name} at {workers} workers failed: {error}"));
    let rows = rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    rows
}

/// The final result of query `name`: `Change` streams applied, upsert rows reduced to the
/// latest per key.
fn run(name: &str, events: &[Event], workers: usize) -> Vec<Value> {
    let mut plain = Vec::new();
    let mut current: BTreeMap<String, Value> = BTreeMap::new();
    for row in run_raw(name, events, workers) {
        if let Value::Object(map) = &row {
            if map.len() == 1 {
                if let Some(Value::Array(pair)) = map.get("Upsert") {
                    assert_eq!(pair.len(), 2, "{name}: bad upsert {row}");
                    current.insert(pair[0].to_string(), pair[1].clone());
                    continue;
                }
                if let Some(key) = map.get("Delete") {
                    current.remove(&key.to_string());
                    continue;
                }
            }
        }
        plain.push(row);
    }
    assert!(plain.is_empty() || current.is_empty(), "{name}: mixed changelog and plain rows");
    plain.extend(current.into_values());
    match queries::upsert_key(name) {
        None => plain,
        Some(key) => {
            let mut latest: BTreeMap<Vec<String>, Value> = BTreeMap::new();
            for row in plain {
                let id = key.iter().map(|column| row[*column].to_string()).collect();
                latest.insert(id, row);
            }
            latest.into_values().collect()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing results

/// A row's canonical text (columns by name, float columns left out) and its float columns.
fn canonical(row: &Value, floats: &[&str]) -> (String, Vec<f64>) {
    let Value::Object(map) = row else { panic!("row {row} is not an object") };
    let columns: BTreeMap<&String, &Value> = map.iter().collect();
    let mut text = String::new();
    let mut numbers = Vec::new();
    for (column, value) in columns {
        if floats.contains(&column.as_str()) {
            numbers.push(value.as_f64().unwrap_or_else(|| panic!("{column} of {row} is not a number")));
            text.push_str(&format!("{column}=<f64>;"));
        } else {
            text.push_str(&format!("{column}={value};"));
        }
    }
    (text, numbers)
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Compares two results as multisets; `Err` describes the difference.
fn compare(expected: &[Value], actual: &[Value], floats: &[&str]) -> Result<(), String> {
    let sorted = |rows: &[Value]| {
        let mut rows: Vec<(String, Vec<f64>)> = rows.iter().map(|row| canonical(row, floats)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.partial_cmp(&b.1).expect("no NaN")));
        rows
    };
    let (expected, actual) = (sorted(expected), sorted(actual));
    let same = expected.len() == actual.len()
        && expected.iter().zip(&actual).all(|(e, a)| {
            e.0 == a.0 && e.1.len() == a.1.len() && e.1.iter().zip(&a.1).all(|(x, y)| close(*x, *y))
        });
    if same {
        return Ok(());
    }
    let texts = |rows: &[(String, Vec<f64>)]| -> Vec<String> {
        rows.iter().map(|(text, numbers)| format!("{text}{numbers:?}")).collect()
    };
    let (expected, actual) = (texts(&expected), texts(&actual));
    let (expected_set, actual_set): (BTreeSet<&String>, BTreeSet<&String>) =
        (expected.iter().collect(), actual.iter().collect());
    let missing: Vec<&&String> = expected_set.difference(&actual_set).take(3).collect();
    let unexpected: Vec<&&String> = actual_set.difference(&expected_set).take(3).collect();
    Err(format!(
        "{} rows expected, {} produced; missing (first 3): {missing:#?}; unexpected (first 3): \
         {unexpected:#?}",
        expected.len(),
        actual.len()
    ))
}

/// Runs query `name` on every input at 1 and 2 workers and compares it with `reference`.
fn check(name: &str, floats: &[&str], reference: fn(&[Event]) -> Vec<Value>) {
    for input in inputs() {
        let expected = reference(&input.events);
        assert!(!expected.is_empty(), "{name} on {}: the reference result is empty", input.name);
        eprintln!("{name} on {}: {} rows", input.name, expected.len());
        for workers in [1, 2] {
            let actual = run(name, &input.events, workers);
            if let Err(why) = compare(&expected, &actual, floats) {
                panic!("{name} on {} at {workers} workers: {why}", input.name);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference implementations

/// `price * 0.908` as an exact decimal with three digits.
fn euros(price: u64) -> String {
    let thousandths = u128::from(price) * 908;
    format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
}

/// `YYYY-MM-DD` (UTC) of epoch milliseconds, by counting days and months.
fn utc_day(epoch_ms: u64) -> String {
    let mut days = epoch_ms / 86_400_000;
    let mut year = 1970;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let length = if leap { 366 } else { 365 };
        if days < length {
            let months = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let mut month = 1;
            for length in months {
                if days < length {
                    break;
                }
                days -= length;
                month += 1;
            }
            return format!("{year:04}-{month:02}-{:02}", days + 1);
        }
        days -= length;
        year += 1;
    }
}

fn bid_row(bid: &Bid) -> Value {
    json!({
        "auction": bid.auction, "bidder": bid.bidder, "price": bid.price, "channel": bid.channel,
        "url": bid.url, "date_time": bid.date_time, "extra": bid.extra,
    })
}

fn ref_q0(events: &[Event]) -> Vec<Value> {
    bids(events).into_iter().map(bid_row).collect()
}

fn ref_q1(events: &[Event]) -> Vec<Value> {
    bids(events)
        .into_iter()
        .map(|bid| {
            json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": euros(bid.price),
                "date_time": bid.date_time, "extra": bid.extra,
            })
        })
        .collect()
}

fn ref_q2(events: &[Event]) -> Vec<Value> {
    bids(events)
        .into_iter()
        .filter(|bid| bid.auction % 123 == 0)
        .map(|bid| json!({"auction": bid.auction, "price": bid.price}))
        .collect()
}

fn ref_q3(events: &[Event]) -> Vec<Value> {
    let mut rows = Vec::new();
    for auction in auctions(events) {
        if auction.category != 10 {
            continue;
        }
        for person in persons(events) {
            let state = person.state.to_uppercase();
            if person.id == auction.seller && (state == "OR" || state == "ID" || state == "CA") {
                rows.push(json!({
                    "name": person.name, "city": person.city, "state": person.state, "id": auction.id,
                }));
            }
        }
    }
    rows
}

/// Per auction, its winning bid: the highest price among bids within `[date_time, expires]`,
/// then the earliest, then the smallest bidder.
fn winners(events: &[Event]) -> Vec<(&Auction, &Bid)> {
    let all_bids = bids(events);
    let mut result = Vec::new();
    for auction in auctions(events) {
        let mut best: Option<&Bid> = None;
        for &bid in &all_bids {
            if bid.auction != auction.id
                || bid.date_time < auction.date_time
                || bid.date_time > auction.expires
            {
                continue;
            }
            let wins = match best {
                None => true,
                Some(current) => {
                    bid.price > current.price
                        || (bid.price == current.price && bid.date_time < current.date_time)
                        || (bid.price == current.price
                            && bid.date_time == current.date_time
                            && bid.bidder < current.bidder)
                }
            };
            if wins {
                best = Some(bid);
            }
        }
        if let Some(bid) = best {
            result.push((auction, bid));
        }
    }
    result
}

fn ref_q4(events: &[Event]) -> Vec<Value> {
    let mut per_category: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (auction, bid) in winners(events) {
        let entry = per_category.entry(auction.category).or_default();
        entry.0 += bid.price;
        entry.1 += 1;
    }
    per_category
        .into_iter()
        .map(|(category, (sum, count))| json!({"category": category, "avg": sum as f64 / count as f64}))
        .collect()
}

fn ref_q5(events: &[Event]) -> Vec<Value> {
    // (window start, auction) -> bids.
    let mut counts: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
    for bid in bids(events) {
        let t = bid.date_time;
        let mut start = t - t % 2_000;
        while start + 10_000 > t {
            *counts.entry(start).or_default().entry(bid.auction).or_default() += 1;
            if start < 2_000 {
                break;
            }
            start -= 2_000;
        }
    }
    let mut rows = Vec::new();
    for (start, per_auction) in counts {
        let max = per_auction.values().copied().max().unwrap_or(0);
        for (auction, num) in per_auction {
            if num == max {
                rows.push(json!({"auction": auction, "num": num, "starttime": start}));
            }
        }
    }
    rows
}

fn ref_q7(events: &[Event]) -> Vec<Value> {
    let window = |t: u64| t / 10_000 * 10_000;
    let mut max: BTreeMap<u64, u64> = BTreeMap::new();
    for bid in bids(events) {
        let entry = max.entry(window(bid.date_time)).or_insert(bid.price);
        *entry = (*entry).max(bid.price);
    }
    bids(events)
        .into_iter()
        .filter(|bid| max[&window(bid.date_time)] == bid.price)
        .map(|bid| {
            json!({"auction": bid.auction, "price": bid.price, "bidder": bid.bidder, "date_time": bid.date_time})
        })
        .collect()
}

fn ref_q8(events: &[Event]) -> Vec<Value> {
    let window = |t: u64| t / 10_000 * 10_000;
    let sellers: BTreeSet<(u64, u64)> =
        auctions(events).into_iter().map(|auction| (auction.seller, window(auction.date_time))).collect();
    let mut rows = BTreeSet::new();
    for person in persons(events) {
        let start = window(person.date_time);
        if sellers.contains(&(person.id, start)) {
            rows.insert((person.id, person.name.clone(), start));
        }
    }
    rows.into_iter().map(|(id, name, start)| json!({"id": id, "name": name, "starttime": start})).collect()
}

fn ref_q9(events: &[Event]) -> Vec<Value> {
    winners(events)
        .into_iter()
        .map(|(auction, bid)| {
            json!({
                "id": auction.id, "item_name": auction.item_name, "description": auction.description,
                "initial_bid": auction.initial_bid, "reserve": auction.reserve,
                "date_time": auction.date_time, "expires": auction.expires, "seller": auction.seller,
                "category": auction.category, "auction": bid.auction, "bidder": bid.bidder,
                "price": bid.price, "bid_date_time": bid.date_time,
            })
        })
        .collect()
}

/// Bid times closer than this continue a session (see [`ref_q11`]).
const SESSION_GAP: u64 = 10_000;

fn ref_q11(events: &[Event]) -> Vec<Value> {
    let mut times: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for bid in bids(events) {
        times.entry(bid.bidder).or_default().push(bid.date_time);
    }
    let mut rows = Vec::new();
    for (bidder, mut times) in times {
        times.sort_unstable();
        // A session is [first, last + gap); the next bid starts a new one at `last + gap` or
        // later. (Flink-style merging of touching windows would also join a bid at exactly
        // `last + gap`; the test asserts that the inputs have no such gap.)
        let mut session: Option<(u64, u64, u64)> = None; // (first, last, count)
        for t in times {
            session = match session {
                Some((first, last, count)) if t < last + SESSION_GAP => Some((first, t, count + 1)),
                Some((first, last, count)) => {
                    assert_ne!(t, last + SESSION_GAP, "a gap of exactly 10 s: choose another input");
                    rows.push(json!({
                        "bidder": bidder, "bid_count": count, "starttime": first,
                        "endtime": last + SESSION_GAP,
                    }));
                    Some((t, t, 1))
                }
                None => Some((t, t, 1)),
            };
        }
        if let Some((first, last, count)) = session {
            rows.push(json!({
                "bidder": bidder, "bid_count": count, "starttime": first, "endtime": last + SESSION_GAP,
            }));
        }
    }
    rows
}

fn ref_q13(events: &[Event]) -> Vec<Value> {
    bids(events)
        .into_iter()
        .map(|bid| {
            json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": bid.price,
                "date_time": bid.date_time, "value": format!("{}", bid.auction % 10_000),
            })
        })
        .collect()
}

fn ref_q14(events: &[Event]) -> Vec<Value> {
    let mut rows = Vec::new();
    for bid in bids(events) {
        // 0.908 * price strictly between 1,000,000 and 50,000,000.
        let thousandths = u128::from(bid.price) * 908;
        if thousandths <= 1_000_000_000 || thousandths >= 50_000_000_000 {
            continue;
        }
        let hour = bid.date_time % 86_400_000 / 3_600_000;
        let class = if (8..=18).contains(&hour) {
            "dayTime"
        } else if hour <= 6 || hour >= 20 {
            "nightTime"
        } else {
            "otherTime"
        };
        rows.push(json!({
            "auction": bid.auction, "bidder": bid.bidder, "price": euros(bid.price),
            "bidtimetype": class, "date_time": bid.date_time, "extra": bid.extra,
            "c_counts": bid.extra.matches('c').count(),
        }));
    }
    rows
}

/// The price band of q15 and q17: 1 below 10,000, 2 below 1,000,000, 3 from there.
fn price_band(price: u64) -> usize {
    if price < 10_000 {
        1
    } else if price < 1_000_000 {
        2
    } else {
        3
    }
}

fn ref_q15(events: &[Event]) -> Vec<Value> {
    let mut days: BTreeMap<String, Vec<&Bid>> = BTreeMap::new();
    for bid in bids(events) {
        days.entry(utc_day(bid.date_time)).or_default().push(bid);
    }
    let mut rows = Vec::new();
    for (day, day_bids) in days {
        let mut row = serde_json::Map::new();
        row.insert("day".into(), json!(day));
        for band in 0..=3 {
            let selected: Vec<&&Bid> =
                day_bids.iter().filter(|bid| band == 0 || price_band(bid.price) == band).collect();
            let bidders: BTreeSet<u64> = selected.iter().map(|bid| bid.bidder).collect();
            let auctions: BTreeSet<u64> = selected.iter().map(|bid| bid.auction).collect();
            let prefix = if band == 0 { "total".to_owned() } else { format!("rank{band}") };
            row.insert(format!("{prefix}_bids"), json!(selected.len()));
            row.insert(format!("{prefix}_bidders"), json!(bidders.len()));
            row.insert(format!("{prefix}_auctions"), json!(auctions.len()));
        }
        rows.push(Value::Object(row));
    }
    rows
}

/// `HH:mm` (UTC, 24-hour clock).
fn utc_minute(epoch_ms: u64) -> String {
    let seconds_of_day = (epoch_ms / 1000) % 86_400;
    format!("{:02}:{:02}", seconds_of_day / 3600, (seconds_of_day % 3600) / 60)
}

fn ref_q10(events: &[Event]) -> Vec<Value> {
    bids(events)
        .into_iter()
        .map(|bid| {
            json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": bid.price,
                "date_time": bid.date_time, "extra": bid.extra,
                "dt": utc_day(bid.date_time), "hm": utc_minute(bid.date_time),
            })
        })
        .collect()
}

fn ref_q16(events: &[Event]) -> Vec<Value> {
    let mut groups: BTreeMap<(String, String), Vec<&Bid>> = BTreeMap::new();
    for bid in bids(events) {
        groups.entry((bid.channel.clone(), utc_day(bid.date_time))).or_default().push(bid);
    }
    let mut rows = Vec::new();
    for ((channel, day), group) in groups {
        let mut row = serde_json::Map::new();
        row.insert("channel".into(), json!(channel));
        row.insert("day".into(), json!(day));
        let minute = group.iter().map(|bid| utc_minute(bid.date_time)).max().unwrap_or_default();
        row.insert("minute".into(), json!(minute));
        for band in 0..=3 {
            let selected: Vec<&&Bid> =
                group.iter().filter(|bid| band == 0 || price_band(bid.price) == band).collect();
            let bidders: BTreeSet<u64> = selected.iter().map(|bid| bid.bidder).collect();
            let auctions: BTreeSet<u64> = selected.iter().map(|bid| bid.auction).collect();
            let prefix = if band == 0 { "total".to_owned() } else { format!("rank{band}") };
            row.insert(format!("{prefix}_bids"), json!(selected.len()));
            row.insert(format!("{prefix}_bidders"), json!(bidders.len()));
            row.insert(format!("{prefix}_auctions"), json!(auctions.len()));
        }
        rows.push(Value::Object(row));
    }
    rows
}

/// Per seller, the winning prices of closed auctions in closing (`expires`) order; sellers whose
/// last ten are ambiguous (a tie in `expires` across the boundary of the last ten) are left out,
/// with the set of their names, since the query may pick either.
fn q6_last_ten(events: &[Event]) -> (BTreeMap<u64, f64>, BTreeSet<u64>) {
    let mut by_seller: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for (auction, bid) in winners(events) {
        by_seller.entry(auction.seller).or_default().push((auction.expires, bid.price));
    }
    let (mut averages, mut ambiguous) = (BTreeMap::new(), BTreeSet::new());
    for (seller, mut closed) in by_seller {
        closed.sort_by_key(|&(expires, _)| expires);
        let start = closed.len().saturating_sub(10);
        if start > 0 && closed[start - 1].0 == closed[start].0 {
            ambiguous.insert(seller);
            continue;
        }
        let last = &closed[start..];
        averages.insert(seller, last.iter().map(|&(_, price)| price).sum::<u64>() as f64 / last.len() as f64);
    }
    (averages, ambiguous)
}

fn ref_q17(events: &[Event]) -> Vec<Value> {
    let mut groups: BTreeMap<(u64, String), Vec<u64>> = BTreeMap::new();
    for bid in bids(events) {
        groups.entry((bid.auction, utc_day(bid.date_time))).or_default().push(bid.price);
    }
    groups
        .into_iter()
        .map(|((auction, day), prices)| {
            let band = |b: usize| prices.iter().filter(|&&price| price_band(price) == b).count();
            let sum: u64 = prices.iter().sum();
            json!({
                "auction": auction, "day": day, "total_bids": prices.len(),
                "rank1_bids": band(1), "rank2_bids": band(2), "rank3_bids": band(3),
                "min_price": prices.iter().min(), "max_price": prices.iter().max(),
                "avg_price": sum as f64 / prices.len() as f64, "sum_price": sum,
            })
        })
        .collect()
}

fn ref_q18(events: &[Event]) -> Vec<Value> {
    let mut latest: BTreeMap<(u64, u64), &Bid> = BTreeMap::new();
    for bid in bids(events) {
        match latest.get(&(bid.bidder, bid.auction)) {
            Some(current) => {
                assert!(
                    bid.date_time != current.date_time || bid.extra != current.extra,
                    "two bids of a bidder on an auction at the same time with the same extra"
                );
                if bid.date_time > current.date_time
                    || (bid.date_time == current.date_time && bid.extra < current.extra)
                {
                    latest.insert((bid.bidder, bid.auction), bid);
                }
            }
            None => {
                latest.insert((bid.bidder, bid.auction), bid);
            }
        }
    }
    latest.into_values().map(bid_row).collect()
}

/// The bids of each auction, highest price first.
fn bids_by_price(events: &[Event]) -> BTreeMap<u64, Vec<&Bid>> {
    let mut per_auction: BTreeMap<u64, Vec<&Bid>> = BTreeMap::new();
    for bid in bids(events) {
        per_auction.entry(bid.auction).or_default().push(bid);
    }
    for auction_bids in per_auction.values_mut() {
        auction_bids.sort_by_key(|bid| std::cmp::Reverse(bid.price));
    }
    per_auction
}

/// The auctions whose ten highest bids (or the tenth and eleventh) include equal prices: there
/// `ROW_NUMBER` may order the tied bids either way.
fn q19_tied_auctions(events: &[Event]) -> BTreeSet<u64> {
    bids_by_price(events)
        .into_iter()
        .filter(|(_, auction_bids)| {
            auction_bids.windows(2).take(10).any(|pair| pair[0].price == pair[1].price)
        })
        .map(|(auction, _)| auction)
        .collect()
}

fn ref_q19(events: &[Event]) -> Vec<Value> {
    let mut rows = Vec::new();
    for auction_bids in bids_by_price(events).into_values() {
        for (rank, bid) in auction_bids.into_iter().take(10).enumerate() {
            rows.push(json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": bid.price,
                "channel": bid.channel, "url": bid.url, "date_time": bid.date_time,
                "extra": bid.extra, "rank_number": rank + 1,
            }));
        }
    }
    rows
}

fn ref_q20(events: &[Event]) -> Vec<Value> {
    let category_10: BTreeMap<u64, &Auction> = auctions(events)
        .into_iter()
        .filter(|auction| auction.category == 10)
        .map(|auction| (auction.id, auction))
        .collect();
    let mut rows = Vec::new();
    for bid in bids(events) {
        if let Some(auction) = category_10.get(&bid.auction) {
            rows.push(json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": bid.price,
                "channel": bid.channel, "url": bid.url, "bid_date_time": bid.date_time,
                "bid_extra": bid.extra, "item_name": auction.item_name,
                "description": auction.description, "initial_bid": auction.initial_bid,
                "reserve": auction.reserve, "auction_date_time": auction.date_time,
                "expires": auction.expires, "seller": auction.seller, "category": auction.category,
                "auction_extra": auction.extra,
            }));
        }
    }
    rows
}

fn ref_q21(events: &[Event]) -> Vec<Value> {
    let mut rows = Vec::new();
    for bid in bids(events) {
        let channel_id = match bid.channel.to_lowercase().as_str() {
            "apple" => Some("0".to_owned()),
            "google" => Some("1".to_owned()),
            "facebook" => Some("2".to_owned()),
            "baidu" => Some("3".to_owned()),
            // `(&|^)channel_id=([^&]*)`: the first `&`-separated piece that starts with the
            // parameter (the first piece is the URL's start).
            _ => bid.url.split('&').find_map(|piece| piece.strip_prefix("channel_id=").map(str::to_owned)),
        };
        if let Some(channel_id) = channel_id {
            rows.push(json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": bid.price,
                "channel": bid.channel, "channel_id": channel_id,
            }));
        }
    }
    rows
}

fn ref_q22(events: &[Event]) -> Vec<Value> {
    bids(events)
        .into_iter()
        .map(|bid| {
            let parts: Vec<&str> = bid.url.split('/').collect();
            let part = |index: usize| parts.get(index).copied().unwrap_or("");
            json!({
                "auction": bid.auction, "bidder": bid.bidder, "price": bid.price,
                "channel": bid.channel, "dir1": part(3), "dir2": part(4), "dir3": part(5),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn q0_matches_reference() {
    check("q0", &[], ref_q0);
}

#[test]
fn q1_matches_reference() {
    check("q1", &[], ref_q1);
}

#[test]
fn q2_matches_reference() {
    check("q2", &[], ref_q2);
}

#[test]
fn q3_matches_reference() {
    check("q3", &[], ref_q3);
}

#[test]
fn q4_matches_reference() {
    check("q4", &["avg"], ref_q4);
}

#[test]
fn q5_matches_reference() {
    check("q5", &[], ref_q5);
}

#[test]
fn q7_matches_reference() {
    check("q7", &[], ref_q7);
}

#[test]
fn q8_matches_reference() {
    check("q8", &[], ref_q8);
}

#[test]
fn q9_matches_reference() {
    check("q9", &[], ref_q9);
}

#[test]
fn q11_matches_reference() {
    check("q11", &[], ref_q11);
}

#[test]
fn q12_counts_every_bid() {
    for input in inputs() {
        let bid_count = bids(&input.events).len() as u64;
        for workers in [1, 2] {
            let rows = run("q12", &input.events, workers);
            let total: u64 = rows.iter().map(|row| row["count"].as_u64().expect("a count")).sum();
            assert_eq!(total, bid_count, "q12 on {} at {workers} workers", input.name);
        }
    }
}

#[test]
fn q13_matches_reference() {
    check("q13", &[], ref_q13);
}

#[test]
fn q14_matches_reference() {
    check("q14", &[], ref_q14);
}

#[test]
fn q15_matches_reference() {
    check("q15", &[], ref_q15);
}

/// q6's result is the latest row per seller; compared seller by seller, except for sellers
/// whose last ten closed auctions are ambiguous (equal closing times), which must be rare.
#[test]
fn q6_matches_reference_where_unambiguous() {
    for input in inputs() {
        let (expected, ambiguous) = q6_last_ten(&input.events);
        assert!(
            !expected.is_empty() && ambiguous.len() * 10 <= expected.len(),
            "{}: {ambiguous:?}",
            input.name
        );
        for workers in [1, 2] {
            let mut latest: BTreeMap<u64, f64> = BTreeMap::new();
            for row in run_raw("q6", &input.events, workers) {
                latest.insert(row["seller"].as_u64().unwrap(), row["avg"].as_f64().unwrap());
            }
            for seller in &ambiguous {
                latest.remove(seller);
            }
            assert_eq!(latest.len(), expected.len(), "{} at {workers} workers: sellers", input.name);
            for (seller, average) in &expected {
                let actual = latest[seller];
                assert!(
                    (actual - average).abs() <= 1e-9 * average.abs().max(1.0),
                    "{}: seller {seller}: {actual} vs {average}",
                    input.name
                );
            }
        }
    }
}

#[test]
fn q10_matches_reference() {
    check("q10", &[], ref_q10);
}

#[test]
fn q16_matches_reference() {
    check("q16", &[], ref_q16);
}

#[test]
fn q17_matches_reference() {
    check("q17", &["avg_price"], ref_q17);
}

#[test]
fn q18_matches_reference() {
    check("q18", &[], ref_q18);
}

/// q19: rows of auctions without tied prices in their top ten compare whole; for the others
/// only (auction, rank, price) compare, and every row must be a distinct bid of the auction.
#[test]
fn q19_matches_reference() {
    for input in inputs() {
        let tied = q19_tied_auctions(&input.events);
        let project = |rows: &[Value]| -> Vec<Value> {
            rows.iter()
                .map(|row| match row["auction"].as_u64() {
                    Some(auction) if tied.contains(&auction) => json!({
                        "auction": row["auction"], "rank_number": row["rank_number"], "price": row["price"],
                    }),
                    _ => row.clone(),
                })
                .collect()
        };
        let expected = ref_q19(&input.events);
        assert!(!expected.is_empty());
        eprintln!(
            "q19 on {}: {} rows, {} auctions with ties in their top ten",
            input.name,
            expected.len(),
            tied.len()
        );
        let all_bids: BTreeSet<String> =
            bids(&input.events).into_iter().map(|bid| bid_row(bid).to_string()).collect();
        for workers in [1, 2] {
            let actual = run("q19", &input.events, workers);
            if let Err(why) = compare(&project(&expected), &project(&actual), &[]) {
                panic!("q19 on {} at {workers} workers: {why}", input.name);
            }
            let mut seen = BTreeSet::new();
            for row in &actual {
                let mut bid = row.clone();
                bid.as_object_mut().expect("an object").remove("rank_number");
                let bid = bid.to_string();
                assert!(all_bids.contains(&bid), "q19 row {row} is not a bid");
                assert!(seen.insert(bid), "q19 reports a bid twice: {row}");
            }
        }
    }
}

#[test]
fn q20_matches_reference() {
    check("q20", &[], ref_q20);
}

#[test]
fn q21_matches_reference() {
    check("q21", &[], ref_q21);
}

#[test]
fn q22_matches_reference() {
    check("q22", &[], ref_q22);
}

/// The inputs exercise what the queries distinguish: two days, every hour class, several
/// windows and sessions, equal timestamps.
#[test]
fn inputs_are_varied() {
    let [dense, sparse] = inputs() else { panic!("two inputs") };
    let days: BTreeSet<String> = bids(&dense.events).iter().map(|bid| utc_day(bid.date_time)).collect();
    assert_eq!(days.len(), 2, "dense crosses midnight");
    let classes: BTreeSet<String> = [dense, sparse]
        .iter()
        .flat_map(|input| ref_q14(&input.events))
        .map(|row| row["bidtimetype"].to_string())
        .collect();
    assert_eq!(classes.len(), 3, "every hour class: {classes:?}");
    let windows: BTreeSet<u64> = bids(&sparse.events).iter().map(|bid| bid.date_time / 10_000).collect();
    assert!(windows.len() >= 20, "sparse spans many tumbling windows");
    let sessions = ref_q11(&sparse.events);
    assert!(sessions.iter().any(|row| row["bid_count"].as_u64() > Some(1)));
    assert!(
        sessions.len() > bids(&sparse.events).iter().map(|bid| bid.bidder).collect::<BTreeSet<_>>().len()
    );
    // q18's tie-break on `extra`: a bidder's latest bids on an auction at the same millisecond.
    let mut latest: BTreeMap<(u64, u64), (u64, usize)> = BTreeMap::new();
    for bid in bids(&dense.events) {
        let entry = latest.entry((bid.bidder, bid.auction)).or_insert((bid.date_time, 0));
        if bid.date_time > entry.0 {
            *entry = (bid.date_time, 0);
        }
        if bid.date_time == entry.0 {
            entry.1 += 1;
        }
    }
    assert!(latest.values().any(|&(_, count)| count > 1), "q18 ties on date_time");
    assert_eq!(utc_day(DEFAULT_BASE_TIME_MS), "2015-07-15");
    assert_eq!(utc_day(DEFAULT_BASE_TIME_MS - 1), "2015-07-14");
    assert_eq!(utc_day(951_782_400_000), "2000-02-29");
}

/// The comparison tells results apart: a changed cell, a missing row, a far float.
#[test]
fn compare_detects_differences() {
    let rows = vec![json!({"a": 1, "b": "x", "avg": 1.5}), json!({"a": 2, "b": "y", "avg": 2.0})];
    let reordered = vec![rows[1].clone(), rows[0].clone()];
    assert!(compare(&rows, &reordered, &["avg"]).is_ok());
    let nearly = vec![json!({"a": 1, "b": "x", "avg": 1.5 * (1.0 + 1e-12)}), rows[1].clone()];
    assert!(compare(&rows, &nearly, &["avg"]).is_ok());
    let far = vec![json!({"a": 1, "b": "x", "avg": 1.5001}), rows[1].clone()];
    assert!(compare(&rows, &far, &["avg"]).is_err());
    let changed = vec![json!({"a": 1, "b": "z", "avg": 1.5}), rows[1].clone()];
    assert!(compare(&rows, &changed, &["avg"]).is_err());
    assert!(compare(&rows, &rows[..1], &["avg"]).is_err());
    let doubled = vec![rows[0].clone(), rows[0].clone()];
    assert!(compare(&rows, &doubled, &["avg"]).is_err());
    assert_eq!(euros(73_134_520), "66406144.160");
    assert_eq!(euros(1), "0.908");
}
