//! Join queries: q3 (local item suggestion), q8 (new users), q13 (bounded side input) and q20
//! (bids with their auction).

use std::sync::Arc;

use eddy_core::hash::HashMap;
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

use super::auctions::{auctions_and_bids, persons_and_auctions};
use super::stateless::bids;
use super::windowed::TUMBLE_MS;
use crate::model::{Auction, Bid, Event, Person};

/// A seller in one of three states with an auction in category 10 (q3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q3 {
    /// The seller's name.
    pub name: String,
    /// The seller's city.
    pub city: String,
    /// The seller's state.
    pub state: String,
    /// The auction.
    pub id: u64,
}

/// q3: auctions of category 10 with sellers from Oregon, Idaho or California (a regular join
/// on seller; states compared without case, since the known answers' data writes them in
/// lower case).
pub fn q3(events: DataStream<'_, Event>) -> DataStream<'_, Q3> {
    let (people, auctions) = persons_and_auctions(events);
    let people = people
        .filter(|person| ["OR", "ID", "CA"].iter().any(|state| person.state.eq_ignore_ascii_case(state)));
    auctions
        .filter(|auction| auction.category == 10)
        .join(people)
        .where_key(|auction: &Auction| auction.seller)
        .equal_to(|person: &Person| person.id)
        .apply(|auction: &Auction, person: &Person| Q3 {
            name: person.name.clone(),
            city: person.city.clone(),
            state: person.state.clone(),
            id: auction.id,
        })
        .uid("q3-join")
}

/// A person who opened an auction in the same 10-second window as they registered (q8).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Q8 {
    /// The person.
    pub id: u64,
    /// Their name.
    pub name: String,
    /// The window's start.
    pub starttime: u64,
}

/// q8: people who registered and opened an auction within the same 10-second tumbling window
/// (a window join on person id = seller, one row per person and window).
pub fn q8(events: DataStream<'_, Event>) -> DataStream<'_, Q8> {
    let (people, auctions) = persons_and_auctions(events);
    people
        .join(auctions)
        .where_key(|person: &Person| person.id)
        .equal_to(|auction: &Auction| auction.seller)
        .window(TumblingEventTimeWindows::of(TUMBLE_MS))
        .apply(|person: &Person, _auction: &Auction| Q8 {
            id: person.id,
            name: person.name.clone(),
            starttime: person.date_time - person.date_time % TUMBLE_MS,
        })
        .uid("q8-join")
        // One row per (person, window) however many auctions they opened in it; a row's
        // window has closed when it is emitted, so the state lives one window.
        .key_by(|row: &Q8| (row.id, row.starttime))
        .deduplicate_first(Some(StateTtlConfig::new(TUMBLE_MS).event_time()))
        .uid("q8-distinct")
}

/// A bid with a value from the side input (q13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q13 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price.
    pub price: u64,
    /// The bid's time.
    pub date_time: u64,
    /// The side input's value for `auction % 10000`.
    pub value: String,
}

/// The bounded side input of q13: 10,000 rows `(key, "<key>")` (the suite reads them from a
/// file).
pub fn q13_side_input() -> Arc<HashMap<u64, String>> {
    Arc::new((0..10_000u64).map(|key| (key, key.to_string())).collect())
}

/// q13: every bid joined with the side input's row for `auction % 10000` (a lookup join).
pub fn q13(events: DataStream<'_, Event>) -> DataStream<'_, Q13> {
    bids(events).lookup_join(
        q13_side_input(),
        |bid: &Bid| bid.auction % 10_000,
        |bid: Bid, value: &String| Q13 {
            auction: bid.auction,
            bidder: bid.bidder,
            price: bid.price,
            date_time: bid.date_time,
            value: value.clone(),
        },
    )
}

/// A bid with its auction (q20).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q20 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price.
    pub price: u64,
    /// The bid's channel.
    pub channel: String,
    /// The bid's URL.
    pub url: String,
    /// The bid's time.
    pub bid_date_time: u64,
    /// The bid's padding.
    pub bid_extra: String,
    /// The auction's item.
    pub item_name: String,
    /// The auction's description.
    pub description: String,
    /// The auction's initial bid.
    pub initial_bid: u64,
    /// The auction's reserve.
    pub reserve: u64,
    /// When the auction opened.
    pub auction_date_time: u64,
    /// When it closes.
    pub expires: u64,
    /// The seller.
    pub seller: u64,
    /// The category (10).
    pub category: u64,
    /// The auction's padding.
    pub auction_extra: String,
}

/// q20: bids on auctions of category 10, with the auction's columns (a regular join).
pub fn q20(events: DataStream<'_, Event>) -> DataStream<'_, Q20> {
    let (auctions, bids) = auctions_and_bids(events);
    bids.join(auctions.filter(|auction| auction.category == 10))
        .where_key(|bid: &Bid| bid.auction)
        .equal_to(|auction: &Auction| auction.id)
        .apply(|bid: &Bid, auction: &Auction| Q20 {
            auction: bid.auction,
            bidder: bid.bidder,
            price: bid.price,
            channel: bid.channel.clone(),
            url: bid.url.clone(),
            bid_date_time: bid.date_time,
            bid_extra: bid.extra.clone(),
            item_name: auction.item_name.clone(),
            description: auction.description.clone(),
            initial_bid: auction.initial_bid,
            reserve: auction.reserve,
            auction_date_time: auction.date_time,
            expires: auction.expires,
            seller: auction.seller,
            category: auction.category,
            auction_extra: auction.extra.clone(),
        })
        .uid("q20-join")
}
