//! The Nexmark event types: [`Person`], [`Auction`], [`Bid`] and the [`Event`] union.
//!
//! Times are epoch milliseconds; prices are cents. Field names follow the `nexmark/nexmark`
//! suite's SQL schema (`email_address`, `credit_card`, `date_time`, ...).

use serde::{Deserialize, Serialize};

/// A person who sells or bids: a new user of the auction site.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    /// The person's id, from [`FIRST_PERSON_ID`](crate::FIRST_PERSON_ID) on, one per 50 events.
    pub id: u64,
    /// First and last name, e.g. `"Vicky Noris"`.
    pub name: String,
    /// A made-up address such as `"ab cdefg@xyzab.com"`.
    pub email_address: String,
    /// Sixteen digits in four groups, e.g. `"1234 5678 9012 3456"`.
    pub credit_card: String,
    /// One of ten US cities.
    pub city: String,
    /// One of six US state codes.
    pub state: String,
    /// When the person registered (event time, epoch ms).
    pub date_time: u64,
    /// Random letters that bring the person to its configured average size.
    pub extra: String,
}

/// An item put up for auction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Auction {
    /// The auction's id, from [`FIRST_AUCTION_ID`](crate::FIRST_AUCTION_ID) on, three per 50
    /// events.
    pub id: u64,
    /// The item's name.
    pub item_name: String,
    /// The item's description.
    pub description: String,
    /// The opening price, in cents.
    pub initial_bid: u64,
    /// The price below which the item is not sold, in cents (above `initial_bid`).
    pub reserve: u64,
    /// When the auction opened (event time, epoch ms).
    pub date_time: u64,
    /// When the auction closes (epoch ms), after `date_time`.
    pub expires: u64,
    /// The id of the selling [`Person`].
    pub seller: u64,
    /// The item's category.
    pub category: u64,
    /// Random letters that bring the auction to its configured average size.
    pub extra: String,
}

/// A bid on an auction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bid {
    /// The id of the [`Auction`] bid on.
    pub auction: u64,
    /// The id of the bidding [`Person`].
    pub bidder: u64,
    /// The price offered, in cents.
    pub price: u64,
    /// Where the bid came from: `"Google"`, `"Facebook"`, `"Baidu"`, `"Apple"` or
    /// `"channel-<n>"` for `n` below 10,000.
    pub channel: String,
    /// The page the bid was placed on (one URL per channel).
    pub url: String,
    /// When the bid was placed (event time, epoch ms).
    pub date_time: u64,
    /// Random letters that bring the bid to its configured average size.
    pub extra: String,
}

/// One Nexmark event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A bid.
    Bid(Bid),
}

/// Beam's size of a string field: its length plus one.
fn text(value: &str) -> u64 {
    value.len() as u64 + 1
}

impl Person {
    /// The size in Beam's accounting (`Person.sizeInBytes`): 8 bytes per number or time, the
    /// length plus one per string.
    pub fn size_in_bytes(&self) -> u64 {
        8 + text(&self.name)
            + text(&self.email_address)
            + text(&self.credit_card)
            + text(&self.city)
            + text(&self.state)
            + 8
            + text(&self.extra)
    }
}

impl Auction {
    /// The size in Beam's accounting (`Auction.sizeInBytes`): 8 bytes per number or time, the
    /// length plus one per string.
    pub fn size_in_bytes(&self) -> u64 {
        8 + text(&self.item_name) + text(&self.description) + 6 * 8 + text(&self.extra)
    }
}

impl Bid {
    /// The size in Beam's accounting (`Bid.sizeInBytes`): 8 bytes per number or time, the
    /// length plus one for `extra`. Beam's bids have no `channel` and `url`; like the
    /// `nexmark/nexmark` suite, which added them, they are left out of the accounting.
    pub fn size_in_bytes(&self) -> u64 {
        4 * 8 + text(&self.extra)
    }
}

impl Event {
    /// The event time (`date_time`), epoch milliseconds.
    pub fn date_time(&self) -> u64 {
        match self {
            Event::Person(person) => person.date_time,
            Event::Auction(auction) => auction.date_time,
            Event::Bid(bid) => bid.date_time,
        }
    }

    /// The size in Beam's accounting (see the types' `size_in_bytes`).
    pub fn size_in_bytes(&self) -> u64 {
        match self {
            Event::Person(person) => person.size_in_bytes(),
            Event::Auction(auction) => auction.size_in_bytes(),
            Event::Bid(bid) => bid.size_in_bytes(),
        }
    }

    /// The person, if this is one.
    pub fn as_person(&self) -> Option<&Person> {
        match self {
            Event::Person(person) => Some(person),
            _ => None,
        }
    }

    /// The auction, if this is one.
    pub fn as_auction(&self) -> Option<&Auction> {
        match self {
            Event::Auction(auction) => Some(auction),
            _ => None,
        }
    }

    /// The bid, if this is one.
    pub fn as_bid(&self) -> Option<&Bid> {
        match self {
            Event::Bid(bid) => Some(bid),
            _ => None,
        }
    }
}
