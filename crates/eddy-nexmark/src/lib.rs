//! The Nexmark benchmark for eddy: a deterministic event generator ([`NexmarkGenerator`]) and
//! an eddy source over it ([`NexmarkSource`], [`nexmark_watermarks`]), and the queries as
//! DataStream programs ([`queries`]).
//!
//! Nexmark models an online auction site with three event types: [`Person`]s register,
//! [`Auction`]s open, and [`Bid`]s are placed. The model and its parameters are those of the
//! reference generators: Apache Beam's `org.apache.beam.sdk.nexmark.sources.generator`
//! (`Generator`, `GeneratorConfig`, `model/*Generator`) with `NexmarkConfiguration`'s
//! defaults, the `nexmark/nexmark` suite (Flink), which added bid channels and URLs, and
//! RisingWave's `nexmark-rs`. Where they differ, this crate follows Beam.
//!
//! # The model
//! * Event `n` is a person when `n % 50 == 0`, an auction when `n % 50` is 1 to 3, and a bid
//!   otherwise: exactly 1 : 3 : 46 per 50 consecutive ids. Person and auction ids count up from
//!   [`FIRST_PERSON_ID`] and [`FIRST_AUCTION_ID`] (both 1000) in creation order.
//! * Event time: event `n` happens at `base_time_ms + n / events_per_second` (10,000 events per
//!   second by default, so `n / 10` ms), from a fixed base time (default 2015-07-15 00:00:00
//!   UTC): timestamps never decrease with the id.
//! * Sellers and bidders are either the *hot* person (the first, respectively second, person of
//!   the latest batch of 100; probability `1 - 1/4`) or a random one of the 1,000 most recent
//!   people, plus up to 10 ids not created yet (Beam's "leads"). Bids go to the hot auction (the
//!   first of the latest batch of 100; probability `1 - 1/2`) or to one of the 100 most recent
//!   ("in-flight") auctions plus 10 leads.
//! * Auctions last between 1 ms and twice the time needed to create 100 more auctions (about
//!   333 ms at the default rate), so about 100 are open at any time. Categories are 10 to 19.
//! * Prices are log-uniform: `round(10^(6u) * 100)` cents for uniform `u`, $1 to $1,000,000;
//!   a reserve is the initial bid plus another such price.
//! * Names, cities, states, e-mail addresses, credit cards, item names and descriptions come
//!   from Beam's lists and string rules. Bids come through one of four hot channels
//!   (`Google`, `Facebook`, `Baidu`, `Apple`; probability 1/2) or `channel-0` to
//!   `channel-9999`, each with a fixed `https://www.nexmark.com/...` URL, nine in ten of those
//!   ending in `&channel_id=<bit-reversed channel>` (as in `nexmark/nexmark`).
//! * `extra` is padding of random letters so that a record's size in Beam's accounting (8
//!   bytes per number, the length of each string) averages `avg_person_byte_size` (200),
//!   `avg_auction_byte_size` (500) or `avg_bid_byte_size` (100): its length is uniform within
//!   ±20% of what the other fields leave to fill.
//!
//! # Determinism
//! Event `n` is computed from `n` and the config alone, with its own SplitMix64 random
//! generator seeded from the base seed and `n` through a strong mixer (see the `rng` module
//! docs). Any event can be regenerated on any worker at any parallelism, and every run, on
//! every platform, produces the same values (floating point uses only IEEE basic operations).
//!
//! # Differences from Beam
//! * The random numbers are not Java's: Beam seeds a `java.util.Random` with the event id, this
//!   crate uses SplitMix64. Values differ from Beam's; their distributions are the same.
//!   Several letters are taken from each 64-bit draw, and bounded integers use
//!   multiply-shift rather than Java's rejection loop (bias below `bound / 2^64`).
//! * `extra` is not drawn letter by letter: it is a window, at a random offset, of a fixed
//!   64 KiB text of random letters (longer paddings, only possible with very large configured
//!   sizes, are drawn letter by letter). Each padding has the statistics of random letters,
//!   but paddings of different events may overlap. This makes padding a copy instead of the
//!   generator's largest cost.
//! * One event-time timeline with a constant rate: no rate shapes (square or sine), no
//!   several generator timelines (`numEventGenerators` = 1), no out-of-order groups
//!   (`outOfOrderGroupSize` = 1) and no artificially delayed events. The inter-event delay is
//!   kept in nanoseconds rather than Beam's microseconds, which gives the same times when the
//!   rate divides 1,000,000 (as the default does) and keeps time moving above 1M events/s.
//! * Splitting deals ids round-robin to splits that share the timeline (Beam splits into
//!   contiguous ranges); the set of events is the same at any split count.
//! * Bid `channel` and `url` are not in Beam's model; they follow `nexmark/nexmark`, except that
//!   its URLs come from an unseeded `Random` (different every run) while these are fixed, and
//!   its second addition of `FIRST_PERSON_ID` to channel bids' bidder is not reproduced.
//!   As there and in `nexmark-rs`, channel and URL do not count toward a bid's padded size.
//! * Names keep Beam's capitalization (`nexmark-rs` lowercases them).
//! * The number of categories is the standard model's 10, not Beam's 5; configurable
//!   ([`NexmarkConfig::num_categories`]).
//! * The source does not pace itself to wall-clock time: it produces as fast as the job reads.
//!
//! # Crate map
//!
//! * `model.rs`: [`Event`], [`Person`], [`Auction`], [`Bid`].
//! * `config.rs`: [`NexmarkConfig`] (Beam's defaults) and the id and time constants.
//! * `rng.rs`: SplitMix64 and the per-event seeding that makes any event reproducible alone.
//! * `generator.rs`: [`NexmarkGenerator`] (`event(n)`), names, prices, channels, padding.
//! * `source.rs`: [`NexmarkSource`] (split `s` generates ids `s, s + splits, ...`; resumable;
//!   optional pacing) and the watermark strategies.
//! * [`queries`]: q0 to q22 as DataStream programs (`stateless.rs`, `windowed.rs`,
//!   `auctions.rs`, `joins.rs`, `aggregates.rs`), `build(name, events, output)`, `QUERIES`.
//! * `src/bin/nexmark_gen_bench.rs`: the generator's own speed.
//!
//! Built on the `eddy` facade without its `kafka` feature: nothing here needs librdkafka.

mod config;
mod generator;
mod model;
pub mod queries;
mod rng;
mod source;
pub mod sql;

pub use config::*;
pub use generator::{NexmarkGenerator, CHANNELS};
pub use model::{Auction, Bid, Event, Person};
pub use source::{
    nexmark_watermarks, nexmark_watermarks_with_delay, NexmarkSource, DEFAULT_OUT_OF_ORDERNESS_MS,
};
