//! Queries over closed auctions: q9 (winning bids), q4 (average winning price per category)
//! and q6 (average selling price per seller).
//!
//! An auction *closes* when the watermark passes its `expires`. Its winning bid is the highest
//! bid placed within `[date_time, expires]` (both inclusive), ties going to the earliest bid
//! (then the smallest bidder). Bids may arrive before their auction; they wait in keyed state.
//! Nexmark's SQL versions keep updating their results as late bids arrive; here a result is
//! final when the auction closes, as in Beam's Nexmark (`WinningBids`), and the known answers
//! (all data, then the end of input) are the same.

use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Auction, Bid, Event, Person};

/// An auction with its winning bid (q9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q9 {
    /// The auction's id.
    pub id: u64,
    /// Its item.
    pub item_name: String,
    /// Its description.
    pub description: String,
    /// Its initial bid.
    pub initial_bid: u64,
    /// Its reserve.
    pub reserve: u64,
    /// When it opened.
    pub date_time: u64,
    /// When it closes.
    pub expires: u64,
    /// The seller.
    pub seller: u64,
    /// The category.
    pub category: u64,
    /// The winning bid's auction (the same as `id`).
    pub auction: u64,
    /// The winner.
    pub bidder: u64,
    /// The winning price.
    pub price: u64,
    /// When the winning bid was placed.
    pub bid_date_time: u64,
}

/// Whether `candidate` beats `best` (higher price, then earlier, then smaller bidder).
fn better(candidate: &Bid, best: &Bid) -> bool {
    (candidate.price, std::cmp::Reverse(candidate.date_time), std::cmp::Reverse(candidate.bidder))
        > (best.price, std::cmp::Reverse(best.date_time), std::cmp::Reverse(best.bidder))
}

/// Per auction: the auction, the best in-time bid so far, and bids that came before the
/// auction.
#[derive(Default)]
struct WinningBid {
    auction: Option<ValueState<Auction>>,
    best: Option<ValueState<Bid>>,
    early: Option<ListState<Bid>>,
}

impl WinningBid {
    fn offer(&self, auction: &Auction, bid: Bid, ctx: &mut Context<'_, u64, Q9>) {
        if bid.date_time < auction.date_time || bid.date_time > auction.expires {
            return;
        }
        let best = self.best.as_ref().expect("opened");
        if best.value(ctx).is_none_or(|current| better(&bid, &current)) {
            best.update(ctx, bid);
        }
    }
}

impl KeyedCoProcessFunction<u64, Auction, Bid, Q9> for WinningBid {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.auction = Some(ctx.value_state("auction"));
        self.best = Some(ctx.value_state("best"));
        self.early = Some(ctx.list_state("early-bids"));
    }
    fn process_element1(&mut self, auction: Auction, ctx: &mut Context<'_, u64, Q9>) {
        ctx.register_event_time_timer(auction.expires);
        let early = self.early.as_ref().expect("opened");
        for bid in early.get(ctx) {
            self.offer(&auction, bid, ctx);
        }
        early.clear(ctx);
        self.auction.as_ref().expect("opened").update(ctx, auction);
    }
    fn process_element2(&mut self, bid: Bid, ctx: &mut Context<'_, u64, Q9>) {
        match self.auction.as_ref().expect("opened").value(ctx) {
            Some(auction) => self.offer(&auction, bid, ctx),
            None => self.early.as_ref().expect("opened").add(ctx, bid),
        }
    }
    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, u64, Q9>) {
        let Some(auction) = self.auction.as_ref().expect("opened").take(ctx) else { return };
        let winner = self.best.as_ref().expect("opened").take(ctx);
        if let Some(bid) = winner {
            ctx.emit_with_timestamp(
                Q9 {
                    id: auction.id,
                    item_name: auction.item_name,
                    description: auction.description,
                    initial_bid: auction.initial_bid,
                    reserve: auction.reserve,
                    date_time: auction.date_time,
                    expires: auction.expires,
                    seller: auction.seller,
                    category: auction.category,
                    auction: bid.auction,
                    bidder: bid.bidder,
                    price: bid.price,
                    bid_date_time: bid.date_time,
                },
                auction.expires,
            );
        }
    }
}

/// The auctions and the bids of an event stream (moved, not copied, into two streams).
pub fn auctions_and_bids(events: DataStream<'_, Event>) -> (DataStream<'_, Auction>, DataStream<'_, Bid>) {
    events.split(|event| match event {
        Event::Auction(auction) => Route::Left(auction),
        Event::Bid(bid) => Route::Right(bid),
        Event::Person(_) => Route::Drop,
    })
}

/// The people and the auctions of an event stream (moved, not copied, into two streams).
pub fn persons_and_auctions(
    events: DataStream<'_, Event>,
) -> (DataStream<'_, Person>, DataStream<'_, Auction>) {
    events.split(|event| match event {
        Event::Person(person) => Route::Left(person),
        Event::Auction(auction) => Route::Right(auction),
        Event::Bid(_) => Route::Drop,
    })
}

/// q9: every auction with its winning bid, when it closes (auctions without an in-time bid
/// are not reported).
pub fn q9(events: DataStream<'_, Event>) -> DataStream<'_, Q9> {
    let (auctions, bids) = auctions_and_bids(events);
    auctions
        .connect(bids)
        .key_by(|auction: &Auction| auction.id, |bid: &Bid| bid.auction)
        .process(WinningBid::default())
        .uid("winning-bids")
}

/// The average winning price of a category so far (q4), an upsert row keyed by `category`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q4 {
    /// The category.
    pub category: u64,
    /// Average winning price of the category's closed auctions so far.
    pub avg: f64,
}

/// Per category: running sum and count of winning prices.
#[derive(Default)]
struct CategoryAverage {
    totals: Option<ValueState<(u64, u64)>>,
}

impl KeyedProcessFunction<u64, Q9, Q4> for CategoryAverage {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.totals = Some(ctx.value_state("totals"));
    }
    fn process_element(&mut self, winner: Q9, ctx: &mut Context<'_, u64, Q4>) {
        let totals = self.totals.as_ref().expect("opened");
        let (sum, count) = totals.value(ctx).unwrap_or((0, 0));
        let (sum, count) = (sum + winner.price, count + 1);
        totals.update(ctx, (sum, count));
        ctx.emit(Q4 { category: winner.category, avg: sum as f64 / count as f64 });
    }
}

/// q4: the average winning price per category, updated as auctions close (an upsert stream
/// keyed by `category`: the latest row per category is the result).
pub fn q4(events: DataStream<'_, Event>) -> DataStream<'_, Q4> {
    q9(events).key_by(|winner: &Q9| winner.category).process(CategoryAverage::default()).uid("q4-average")
}

/// The average selling price of a seller's last ten closed auctions (q6), an upsert row keyed
/// by `seller`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q6 {
    /// The seller.
    pub seller: u64,
    /// Average winning price of the seller's last (up to) ten closed auctions.
    pub avg: f64,
}

/// Per seller: the winning prices of the last ten closed auctions.
#[derive(Default)]
struct LastTen {
    prices: Option<ValueState<Vec<u64>>>,
}

impl KeyedProcessFunction<u64, Q9, Q6> for LastTen {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.prices = Some(ctx.value_state("last-prices"));
    }
    fn process_element(&mut self, winner: Q9, ctx: &mut Context<'_, u64, Q6>) {
        let prices = self.prices.as_ref().expect("opened");
        let mut last = prices.value(ctx).unwrap_or_default();
        last.push(winner.price);
        if last.len() > 10 {
            last.remove(0);
        }
        let avg = last.iter().sum::<u64>() as f64 / last.len() as f64;
        prices.update(ctx, last);
        ctx.emit(Q6 { seller: winner.seller, avg });
    }
}

/// q6: per seller, the average winning price of their last ten closed auctions, updated as
/// auctions close (an upsert stream keyed by `seller`).
pub fn q6(events: DataStream<'_, Event>) -> DataStream<'_, Q6> {
    q9(events).key_by(|winner: &Q9| winner.seller).process(LastTen::default()).uid("q6-last-ten")
}
