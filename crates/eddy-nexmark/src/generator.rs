//! [`NexmarkGenerator`]: computes event `n` from `n` alone.
//!
//! The structure (which ids exist when, hot items, leads, auction lengths, padding) follows
//! Beam's `Generator`, `GeneratorConfig` and `model/*Generator` classes; see the crate docs for
//! where it differs.

use std::sync::{Arc, OnceLock};

use crate::config::*;
use crate::model::{Auction, Bid, Event, Person};
use crate::rng::{mix64, spaced_char, SplitMix64};

/// Beam's US states (kept few so queries filtering on them find matches).
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
/// Beam's US cities.
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
/// Beam's first names.
const FIRST_NAMES: [&str; 11] =
    ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
/// Beam's last names.
const LAST_NAMES: [&str; 9] =
    ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
/// `nexmark/nexmark`'s hot channels.
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Number of generated (non-hot) channels, `channel-0` to `channel-9999`.
pub const CHANNELS: u64 = 10_000;
/// Seed of the channel URL table (fixed: URLs are the same under every config).
const CHANNEL_SEED: u64 = 0x6368_616E_6E65_6C73; // "channels"

/// Length of the random text `extra` paddings are cut from.
const PADDING_TEXT_LEN: usize = 64 * 1024;
/// Seed of the padding text.
const PADDING_SEED: u64 = 0x7061_6464_696E_6721; // "padding!"

/// A fixed random text of letters (built once per process) that `extra` paddings are cut
/// from: 64 KiB, small enough to stay in a core's L2 cache.
fn padding_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| SplitMix64::new(mix64(PADDING_SEED)).letters(PADDING_TEXT_LEN))
}

/// A short ASCII string under construction on the stack: bytes are written without the
/// per-character checks of `String::push`, and the result is validated and copied once.
struct Ascii {
    bytes: [u8; 96],
    len: usize,
}

impl Ascii {
    fn new() -> Self {
        Ascii { bytes: [0; 96], len: 0 }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends `value` in decimal.
    fn push_decimal(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        while value >= 100 {
            let pair = (value % 100) as usize * 2;
            value /= 100;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if value >= 10 {
            start -= 2;
            let pair = value as usize * 2;
            digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            start -= 1;
            digits[start] = b'0' + value as u8;
        }
        self.push(&digits[start..]);
    }

    /// A `nexmark/nexmark` style item URL: three random path parts of 3 or 4 characters
    /// (letters, one in 13 a `_`, as `nextString(5, '_')`).
    fn push_base_url(&mut self, rng: &mut SplitMix64) {
        let lengths = rng.next_u64();
        let mut chars = [0u8; 12];
        rng.fill(&mut chars, |chunk| spaced_char(chunk, b'_'));
        self.push(b"https://www.nexmark.com/");
        for (part, chars) in chars.chunks_exact(4).enumerate() {
            let len = 3 + (lengths >> part & 1) as usize;
            self.push(&chars[..len]);
            self.push(b"/");
        }
        self.push(b"item.htm?query=1");
    }

    fn to_owned_string(&self) -> String {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII").to_owned()
    }
}

/// `"00"` to `"99"`, for writing decimals two digits at a time.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// The URL of generated channel `channel`, a function of the channel number alone (computing
/// it is cheaper than a table lookup that misses the cache). As in `nexmark/nexmark`, nine in
/// ten carry `&channel_id=<the channel's 32 bits reversed>`.
fn channel_url(channel: u64) -> String {
    let mut rng = SplitMix64::for_event(mix64(CHANNEL_SEED), channel);
    let mut url = Ascii::new();
    url.push_base_url(&mut rng);
    if rng.below(10) > 0 {
        url.push(b"&channel_id=");
        url.push_decimal(u64::from((channel as i32).reverse_bits().unsigned_abs()));
    }
    url.to_owned_string()
}

/// `channel-<channel>`.
fn channel_name(channel: u64) -> String {
    let mut name = Ascii::new();
    name.push(b"channel-");
    name.push_decimal(channel);
    name.to_owned_string()
}

/// The URLs of the four hot channels (fixed, like all channel URLs).
fn hot_urls() -> [String; 4] {
    let mut rng = SplitMix64::new(mix64(CHANNEL_SEED ^ 1));
    [(); 4].map(|()| {
        let mut url = Ascii::new();
        url.push_base_url(&mut rng);
        url.to_owned_string()
    })
}

/// The last person id created at or before event `n`, counted from 0 (Beam's
/// `lastBase0PersonId`).
#[inline]
fn last_base0_person(n: u64) -> u64 {
    n / PROPORTION_DENOMINATOR
}

/// The last auction id created at or before event `n`, counted from 0 (Beam's
/// `lastBase0AuctionId`). Before the first auction (events 0 to 1) it is 0.
#[inline]
fn last_base0_auction(n: u64) -> u64 {
    let epoch = n / PROPORTION_DENOMINATOR;
    let offset = n % PROPORTION_DENOMINATOR;
    if offset < PERSON_PROPORTION {
        (epoch * AUCTION_PROPORTION).saturating_sub(1)
    } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
        epoch * AUCTION_PROPORTION + offset - PERSON_PROPORTION
    } else {
        epoch * AUCTION_PROPORTION + AUCTION_PROPORTION - 1
    }
}

/// Beam's `nextExtra` length: uniform in `[target - d, target + d)` with `d = round(target / 5)`
/// and `target = average - current` (0 when `current` already exceeds the average).
#[inline]
fn extra_len(rng: &mut SplitMix64, current: u64, average: u64) -> usize {
    let Some(target) = average.checked_sub(current) else { return 0 };
    let delta = (target + 2) / 5;
    (target - delta + if delta == 0 { 0 } else { rng.below(2 * delta) }) as usize
}

/// Computes Nexmark events from their ids: deterministic, stateless and cheap to clone, so
/// every split of a source (on any worker) can compute any event.
///
/// ```
/// use eddy_nexmark::{Event, NexmarkConfig, NexmarkGenerator};
/// let generator = NexmarkGenerator::new(NexmarkConfig::default());
/// assert!(matches!(generator.event(0), Event::Person(_)));
/// assert!(matches!(generator.event(1), Event::Auction(_)));
/// assert!(matches!(generator.event(4), Event::Bid(_)));
/// assert_eq!(generator.event(4_321), NexmarkGenerator::new(NexmarkConfig::default()).event(4_321));
/// assert_eq!(generator.timestamp(10_000), generator.config().base_time_ms + 1_000);
/// ```
#[derive(Clone)]
pub struct NexmarkGenerator {
    config: NexmarkConfig,
    /// `mix64(config.seed)`.
    seed_base: u64,
    /// Event-time distance between consecutive events, in nanoseconds.
    inter_event_delay_ns: u64,
    /// `num_in_flight_auctions * 50 / 3`: events until that many more auctions exist.
    in_flight_horizon_events: u64,
    /// The URLs of the hot channels.
    hot_urls: Arc<[String; 4]>,
    /// The text paddings are cut from.
    padding: &'static str,
}

impl std::fmt::Debug for NexmarkGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NexmarkGenerator").field("config", &self.config).finish_non_exhaustive()
    }
}

impl NexmarkGenerator {
    /// A generator for `config`.
    pub fn new(config: NexmarkConfig) -> Self {
        let rate = config.events_per_second.max(1);
        NexmarkGenerator {
            seed_base: mix64(config.seed),
            inter_event_delay_ns: (1_000_000_000 + rate / 2) / rate,
            in_flight_horizon_events: config.num_in_flight_auctions * PROPORTION_DENOMINATOR
                / AUCTION_PROPORTION,
            hot_urls: Arc::new(hot_urls()),
            padding: padding_text(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// The event time of event `n` (epoch ms): `base_time_ms + n * delay`, where the delay
    /// between events is `1 / events_per_second` rounded to the nanosecond. Never decreases
    /// with `n`.
    #[inline]
    pub fn timestamp(&self, n: u64) -> u64 {
        let offset_ns = match n.checked_mul(self.inter_event_delay_ns) {
            Some(ns) => ns / 1_000_000,
            None => (u128::from(n) * u128::from(self.inter_event_delay_ns) / 1_000_000) as u64,
        };
        self.config.base_time_ms.saturating_add(offset_ns)
    }

    /// Event `n`: a person when `n % 50 == 0`, an auction when it is 1 to 3, a bid otherwise.
    pub fn event(&self, n: u64) -> Event {
        let mut rng = SplitMix64::for_event(self.seed_base, n);
        let timestamp = self.timestamp(n);
        match n % PROPORTION_DENOMINATOR {
            offset if offset < PERSON_PROPORTION => Event::Person(self.person(n, &mut rng, timestamp)),
            offset if offset < PERSON_PROPORTION + AUCTION_PROPORTION => {
                Event::Auction(self.auction(n, &mut rng, timestamp))
            }
            _ => Event::Bid(self.bid(n, &mut rng, timestamp)),
        }
    }

    /// A random person id (from 0) among the active people, or up to [`PERSON_ID_LEAD`] not
    /// created yet (Beam's `nextBase0PersonId`).
    fn random_person(&self, n: u64, rng: &mut SplitMix64) -> u64 {
        let people = last_base0_person(n) + 1;
        let active = people.min(self.config.num_active_people.max(1));
        people - active + rng.below(active + PERSON_ID_LEAD)
    }

    /// A random auction id (from 0) among the in-flight auctions, or up to
    /// [`AUCTION_ID_LEAD`] not created yet (Beam's `nextBase0AuctionId`).
    fn random_auction(&self, n: u64, rng: &mut SplitMix64) -> u64 {
        let last = last_base0_auction(n);
        let first = last.saturating_sub(self.config.num_in_flight_auctions);
        first + rng.below(last - first + 1 + AUCTION_ID_LEAD)
    }

    /// `len` random letters: up to half the padding text, a window of it at a random offset
    /// (one draw and a copy); longer paddings are drawn letter by letter.
    fn extra(&self, rng: &mut SplitMix64, len: usize) -> String {
        if len <= PADDING_TEXT_LEN / 2 {
            let start = rng.below((PADDING_TEXT_LEN - len + 1) as u64) as usize;
            self.padding[start..start + len].to_owned()
        } else {
            rng.letters(len)
        }
    }

    fn person(&self, n: u64, rng: &mut SplitMix64, timestamp: u64) -> Person {
        let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
        let mut name = String::with_capacity(first.len() + 1 + last.len());
        name.push_str(first);
        name.push(' ');
        name.push_str(last);

        let mut email_address = String::with_capacity(16);
        rng.push_spaced(&mut email_address, 7, b' ', true);
        email_address.push('@');
        rng.push_spaced(&mut email_address, 5, b' ', true);
        email_address.push_str(".com");

        let mut credit_card = String::with_capacity(19);
        for group in 0..4 {
            if group > 0 {
                credit_card.push(' ');
            }
            let digits = rng.below(10_000) as u32;
            for divisor in [1000, 100, 10, 1] {
                credit_card.push(char::from(b'0' + (digits / divisor % 10) as u8));
            }
        }

        let city = US_CITIES[rng.below(US_CITIES.len() as u64) as usize];
        let state = US_STATES[rng.below(US_STATES.len() as u64) as usize];
        let current =
            8 + (name.len() + email_address.len() + credit_card.len() + city.len() + state.len()) as u64;
        let len = extra_len(rng, current, self.config.avg_person_byte_size);
        let extra = self.extra(rng, len);
        Person {
            id: FIRST_PERSON_ID + last_base0_person(n),
            name,
            email_address,
            credit_card,
            city: city.to_owned(),
            state: state.to_owned(),
            date_time: timestamp,
            extra,
        }
    }

    fn auction(&self, n: u64, rng: &mut SplitMix64, timestamp: u64) -> Auction {
        let seller = if rng.below(self.config.hot_sellers_ratio) > 0 {
            last_base0_person(n) / HOT_SELLER_BATCH * HOT_SELLER_BATCH
        } else {
            self.random_person(n, rng)
        };
        let category = FIRST_CATEGORY_ID + rng.below(self.config.num_categories.max(1));
        let initial_bid = rng.price();
        // Beam's nextAuctionLengthMs: uniform in [1, 2h], where h is how long it takes to
        // create `num_in_flight_auctions` more auctions, so about that many are open at a time.
        let horizon = self.timestamp(n + self.in_flight_horizon_events) - timestamp;
        let expires = timestamp + 1 + rng.below((2 * horizon).max(1));
        let mut item_name = String::with_capacity(20);
        rng.push_spaced(&mut item_name, 20, b' ', true);
        let mut description = String::with_capacity(100);
        rng.push_spaced(&mut description, 100, b' ', true);
        let reserve = initial_bid + rng.price();
        let current = 8 + (item_name.len() + description.len()) as u64 + 5 * 8;
        let len = extra_len(rng, current, self.config.avg_auction_byte_size);
        let extra = self.extra(rng, len);
        Auction {
            id: FIRST_AUCTION_ID + last_base0_auction(n),
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: timestamp,
            expires,
            seller: FIRST_PERSON_ID + seller,
            category,
            extra,
        }
    }

    fn bid(&self, n: u64, rng: &mut SplitMix64, timestamp: u64) -> Bid {
        let auction = if rng.below(self.config.hot_auction_ratio) > 0 {
            last_base0_auction(n) / HOT_AUCTION_BATCH * HOT_AUCTION_BATCH
        } else {
            self.random_auction(n, rng)
        };
        let bidder = if rng.below(self.config.hot_bidders_ratio) > 0 {
            // The second person of the batch, so hot bidders are not hot sellers.
            last_base0_person(n) / HOT_BIDDER_BATCH * HOT_BIDDER_BATCH + 1
        } else {
            self.random_person(n, rng)
        };
        let price = rng.price();
        let (channel, url) = if rng.below(self.config.hot_channels_ratio) > 0 {
            let hot = rng.below(HOT_CHANNELS.len() as u64) as usize;
            (HOT_CHANNELS[hot].to_owned(), self.hot_urls[hot].clone())
        } else {
            let channel = rng.below(CHANNELS);
            (channel_name(channel), channel_url(channel))
        };
        let len = extra_len(rng, 4 * 8, self.config.avg_bid_byte_size);
        let extra = self.extra(rng, len);
        Bid {
            auction: FIRST_AUCTION_ID + auction,
            bidder: FIRST_PERSON_ID + bidder,
            price,
            channel,
            url,
            date_time: timestamp,
            extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_ids_follow_beam() {
        // Events 0..50: person 0 at 0, auctions 0, 1, 2 at 1, 2, 3, then bids.
        assert_eq!(last_base0_person(0), 0);
        assert_eq!(last_base0_person(49), 0);
        assert_eq!(last_base0_person(50), 1);
        assert_eq!(last_base0_auction(1), 0);
        assert_eq!(last_base0_auction(3), 2);
        assert_eq!(last_base0_auction(4), 2);
        assert_eq!(last_base0_auction(49), 2);
        assert_eq!(last_base0_auction(50), 2);
        assert_eq!(last_base0_auction(51), 3);
    }

    #[test]
    fn extra_len_matches_beam() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(extra_len(&mut rng, 120, 100), 0);
        assert_eq!(extra_len(&mut rng, 100, 100), 0);
        assert_eq!(extra_len(&mut rng, 98, 100), 2, "delta rounds to 0");
        for _ in 0..1000 {
            let len = extra_len(&mut rng, 32, 100);
            assert!((54..82).contains(&len), "{len}");
        }
    }

    #[test]
    fn channel_urls() {
        assert_eq!(channel_name(42), "channel-42");
        assert_eq!(channel_url(42), channel_url(42));
        assert_ne!(channel_url(42), channel_url(43));
        let urls: Vec<String> = (0..CHANNELS).map(channel_url).collect();
        assert!(urls.iter().all(|url| url.starts_with("https://www.nexmark.com/")));
        let with_id = urls.iter().filter(|url| url.contains("&channel_id=")).count();
        assert!((8_800..9_200).contains(&with_id), "{with_id}");
        for (channel, url) in urls.iter().enumerate().filter(|(_, url)| url.contains("&channel_id=")) {
            let id = (channel as i32).reverse_bits().unsigned_abs();
            assert!(url.ends_with(&format!("/item.htm?query=1&channel_id={id}")), "{url}");
        }
        for value in [0, 7, 10, 99, 100, 12_345, 2_147_483_648, u64::MAX] {
            let mut decimal = Ascii::new();
            decimal.push(b"x");
            decimal.push_decimal(value);
            assert_eq!(decimal.to_owned_string(), format!("x{value}"));
        }
    }
}
