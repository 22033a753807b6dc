//! Window queries: q5 (hot items on a hopping window), q7 (highest bid per window), q11 (user
//! sessions) and q12 (processing-time windows).

use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

use super::stateless::bids;
use crate::model::{Bid, Event};

/// Counts elements (the accumulator of the window counts below).
#[derive(Clone, Copy, Debug, Default)]
pub struct CountAll;

impl<T> AggregateFunction<T> for CountAll {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, accumulator: &mut u64, _value: T) {
        *accumulator += 1;
    }
    fn merge(&self, left: u64, right: u64) -> u64 {
        left + right
    }
    fn get_result(&self, accumulator: &u64) -> u64 {
        *accumulator
    }
}

/// A count of one key in one window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCount<K> {
    /// The key.
    pub key: K,
    /// The window's start.
    pub start: i64,
    /// The window's end (exclusive).
    pub end: u64,
    /// Elements of the key in the window.
    pub count: u64,
}

/// Emits a window's count with its bounds.
struct EmitCount;

impl<K: Clone> ProcessWindowFunction<K, u64, WindowCount<K>> for EmitCount {
    fn process(
        &mut self,
        key: &K,
        window: &Window,
        counts: &[u64],
        ctx: &mut WindowContext<'_, WindowCount<K>>,
    ) {
        for &count in counts {
            ctx.emit(WindowCount { key: key.clone(), start: window.start, end: window.end, count });
        }
    }
}

/// A hot auction of a window (q5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q5 {
    /// The auction.
    pub auction: u64,
    /// Its bids in the window.
    pub num: u64,
    /// The window's start.
    pub starttime: i64,
}

/// Per window: the auctions whose count is the window's maximum.
#[derive(Default)]
struct HottestOfWindow {
    counts: Option<ListState<(u64, u64)>>,
}

impl KeyedProcessFunction<i64, WindowCount<u64>, Q5> for HottestOfWindow {
    fn open(&mut self, ctx: &mut OpenContext<'_, i64>) {
        self.counts = Some(ctx.list_state("counts"));
    }
    fn process_element(&mut self, count: WindowCount<u64>, ctx: &mut Context<'_, i64, Q5>) {
        let counts = self.counts.as_ref().expect("opened");
        counts.add(ctx, (count.key, count.count));
        // Every count of a window carries the window's last millisecond: once the watermark
        // passes it, all counts of the window are in.
        let at = ctx.timestamp();
        ctx.register_event_time_timer(at);
    }
    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, i64, Q5>) {
        let counts = self.counts.as_ref().expect("opened");
        let all = counts.get(ctx);
        counts.clear(ctx);
        let max = all.iter().map(|&(_, num)| num).max().unwrap_or(0);
        let starttime = *ctx.key();
        for (auction, num) in all.into_iter().filter(|&(_, num)| num >= max) {
            ctx.emit(Q5 { auction, num, starttime });
        }
    }
}

/// q5: the auctions with the most bids in each 10-second window sliding by 2 seconds (ties
/// all reported).
pub fn q5(events: DataStream<'_, Event>) -> DataStream<'_, Q5> {
    bids(events)
        .key_by(|bid: &Bid| bid.auction)
        .window(SlidingEventTimeWindows::of(10_000, 2_000))
        .aggregate_with_process(CountAll, EmitCount)
        .uid("q5-counts")
        .key_by(|count: &WindowCount<u64>| count.start)
        .process(HottestOfWindow::default())
        .uid("q5-hottest")
}

/// The highest bid of a window (q7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q7 {
    /// The auction.
    pub auction: u64,
    /// The price, the window's highest.
    pub price: u64,
    /// The bidder.
    pub bidder: u64,
    /// The bid's time.
    pub date_time: u64,
}

/// The window length of q7 and q8.
pub const TUMBLE_MS: u64 = 10_000;

/// Per window: the bids at the window's highest price so far.
#[derive(Default)]
struct HighestOfWindow {
    best: Option<ValueState<(u64, Vec<Q7>)>>,
}

impl KeyedProcessFunction<u64, Bid, Q7> for HighestOfWindow {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.best = Some(ctx.value_state("best"));
    }
    fn process_element(&mut self, bid: Bid, ctx: &mut Context<'_, u64, Q7>) {
        let best = self.best.as_ref().expect("opened");
        let row = Q7 { auction: bid.auction, price: bid.price, bidder: bid.bidder, date_time: bid.date_time };
        let next = match best.value(ctx) {
            None => {
                let end = *ctx.key() + TUMBLE_MS - 1;
                ctx.register_event_time_timer(end);
                (bid.price, vec![row])
            }
            Some((price, rows)) if bid.price < price => (price, rows),
            Some((price, mut rows)) if bid.price == price => {
                rows.push(row);
                (price, rows)
            }
            Some(_) => (bid.price, vec![row]),
        };
        best.update(ctx, next);
    }
    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, u64, Q7>) {
        let best = self.best.as_ref().expect("opened");
        if let Some((_, rows)) = best.take(ctx) {
            for row in rows {
                ctx.emit(row);
            }
        }
    }
}

/// q7: the bids with the highest price of each 10-second tumbling window. (The SQL's join
/// condition `date_time BETWEEN window_end - 10 s AND window_end` also admits a bid exactly at
/// the next window's first millisecond; here a bid belongs to its own window only.)
pub fn q7(events: DataStream<'_, Event>) -> DataStream<'_, Q7> {
    bids(events)
        .key_by(|bid: &Bid| bid.date_time - bid.date_time % TUMBLE_MS)
        .process(HighestOfWindow::default())
        .uid("q7-highest")
}

/// A bidder's session (q11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q11 {
    /// The bidder.
    pub bidder: u64,
    /// Bids in the session.
    pub bid_count: u64,
    /// The session's first bid time.
    pub starttime: i64,
    /// The session's end: last bid time plus the gap.
    pub endtime: u64,
}

/// q11: bids per bidder per session (sessions close after 10 seconds without a bid).
pub fn q11(events: DataStream<'_, Event>) -> DataStream<'_, Q11> {
    bids(events)
        .key_by(|bid: &Bid| bid.bidder)
        .window(EventTimeSessionWindows::with_gap(10_000))
        .aggregate_with_process(CountAll, EmitCount)
        .uid("q11-sessions")
        .map(|count: WindowCount<u64>| Q11 {
            bidder: count.key,
            bid_count: count.count,
            starttime: count.start,
            endtime: count.end,
        })
}

/// q12: bids per bidder in 10-second tumbling windows of processing time.
pub fn q12(events: DataStream<'_, Event>) -> DataStream<'_, WindowCount<u64>> {
    bids(events)
        .key_by(|bid: &Bid| bid.bidder)
        .window(TumblingProcessingTimeWindows::of(10_000))
        .aggregate_with_process(CountAll, EmitCount)
        .uid("q12-windows")
}
