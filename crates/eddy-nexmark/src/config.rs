//! Generator parameters: [`NexmarkConfig`] with Beam's `NexmarkConfiguration` defaults, and the
//! model's fixed constants.

use serde::{Deserialize, Serialize};

/// Id of the first person (Beam's `GeneratorConfig.FIRST_PERSON_ID`).
pub const FIRST_PERSON_ID: u64 = 1000;
/// Id of the first auction (Beam's `GeneratorConfig.FIRST_AUCTION_ID`).
pub const FIRST_AUCTION_ID: u64 = 1000;
/// Id of the first category (Beam's `GeneratorConfig.FIRST_CATEGORY_ID`).
pub const FIRST_CATEGORY_ID: u64 = 10;

/// People per [`PROPORTION_DENOMINATOR`] consecutive events.
pub const PERSON_PROPORTION: u64 = 1;
/// Auctions per [`PROPORTION_DENOMINATOR`] consecutive events.
pub const AUCTION_PROPORTION: u64 = 3;
/// Bids per [`PROPORTION_DENOMINATOR`] consecutive events.
pub const BID_PROPORTION: u64 = 46;
/// Length of the repeating person/auction/bid pattern of event ids: event `n` is a person when
/// `n % 50 == 0`, an auction when it is 1 to 3, and a bid otherwise.
pub const PROPORTION_DENOMINATOR: u64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;

/// Hot sellers are the first person of each batch of this many (Beam's `HOT_SELLER_RATIO`).
pub const HOT_SELLER_BATCH: u64 = 100;
/// Hot auctions are the first auction of each batch of this many (Beam's `HOT_AUCTION_RATIO`).
pub const HOT_AUCTION_BATCH: u64 = 100;
/// Hot bidders are the second person of each batch of this many (Beam's `HOT_BIDDER_RATIO`).
pub const HOT_BIDDER_BATCH: u64 = 100;
/// How many person ids beyond the last created one a random choice may pick (Beam's
/// `PERSON_ID_LEAD`).
pub const PERSON_ID_LEAD: u64 = 10;
/// How many auction ids beyond the last created one a random choice may pick (Beam's
/// `AUCTION_ID_LEAD`).
pub const AUCTION_ID_LEAD: u64 = 10;

/// 2015-07-15 00:00:00 UTC in epoch milliseconds, the default time of event 0.
pub const DEFAULT_BASE_TIME_MS: u64 = 1_436_918_400_000;
/// The default base seed.
pub const DEFAULT_SEED: u64 = 0x6E65_786D_6172_6B21; // "nexmark!"

/// Parameters of the generator. The defaults are those of Beam's `NexmarkConfiguration` (and
/// of the `nexmark/nexmark` suite), plus a fixed base time and seed.
///
/// Every field takes its default when missing from a serialized config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NexmarkConfig {
    /// Base seed: with the event id it determines every random choice of an event.
    pub seed: u64,
    /// Event time of event 0, in epoch milliseconds.
    pub base_time_ms: u64,
    /// Events per second of event time (Beam's `firstEventRate` = `nextEventRate`, 10,000):
    /// event `n` happens `n / events_per_second` seconds after `base_time_ms`.
    pub events_per_second: u64,
    /// People considered active for new auctions and bids (Beam's `numActivePeople`, 1,000).
    pub num_active_people: u64,
    /// Auctions that bids choose from (Beam's `numInFlightAuctions`, 100). Also sets auction
    /// lengths: on average an auction lasts as long as it takes to create this many auctions.
    pub num_in_flight_auctions: u64,
    /// A bid goes to the hot auction with probability `1 - 1/ratio` (Beam's `hotAuctionRatio`, 2).
    pub hot_auction_ratio: u64,
    /// An auction has the hot seller with probability `1 - 1/ratio` (Beam's `hotSellersRatio`, 4).
    pub hot_sellers_ratio: u64,
    /// A bid comes from the hot bidder with probability `1 - 1/ratio` (Beam's `hotBiddersRatio`,
    /// 4).
    pub hot_bidders_ratio: u64,
    /// A bid comes through one of the four hot channels with probability `1 - 1/ratio`
    /// (`nexmark/nexmark`'s `HOT_CHANNELS_RATIO`, 2).
    pub hot_channels_ratio: u64,
    /// Number of auction categories, starting at [`FIRST_CATEGORY_ID`]: 10, the standard
    /// Nexmark model's count (Beam's `NUM_CATEGORIES` is 5).
    pub num_categories: u64,
    /// Average size of a person in Beam's byte accounting (`avgPersonByteSize`, 200).
    pub avg_person_byte_size: u64,
    /// Average size of an auction in Beam's byte accounting (`avgAuctionByteSize`, 500).
    pub avg_auction_byte_size: u64,
    /// Average size of a bid in Beam's byte accounting (`avgBidByteSize`, 100).
    pub avg_bid_byte_size: u64,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            seed: DEFAULT_SEED,
            base_time_ms: DEFAULT_BASE_TIME_MS,
            events_per_second: 10_000,
            num_active_people: 1_000,
            num_in_flight_auctions: 100,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            hot_channels_ratio: 2,
            num_categories: 10,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
        }
    }
}

impl NexmarkConfig {
    /// The configuration with another base seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The configuration with another event rate (events per second of event time, at least 1).
    pub fn with_events_per_second(mut self, events_per_second: u64) -> Self {
        self.events_per_second = events_per_second.max(1);
        self
    }

    /// The configuration with another time for event 0 (epoch milliseconds).
    pub fn with_base_time_ms(mut self, base_time_ms: u64) -> Self {
        self.base_time_ms = base_time_ms;
        self
    }
}
