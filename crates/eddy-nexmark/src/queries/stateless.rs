//! Element-wise queries: q0 (pass-through), q1 (currency conversion), q2 (selection), q14
//! (calculation with a user function), q21 (channel id), q22 (URL directories).

use eddy_connectors::FileSink;
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

use super::Decimal;
use crate::model::{Bid, Event};

/// The bids of an event stream.
pub fn bids(events: DataStream<'_, Event>) -> DataStream<'_, Bid> {
    events.flat_map(|event| match event {
        Event::Bid(bid) => Some(bid),
        _ => None,
    })
}

/// q0: every bid, unchanged (`SELECT auction, bidder, price, date_time, extra FROM bid`).
pub fn q0(events: DataStream<'_, Event>) -> DataStream<'_, Bid> {
    bids(events)
}

/// A bid with its price converted (q1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q1 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// `0.908 * price`.
    pub price: Decimal,
    /// Event time.
    pub date_time: u64,
    /// Padding, as in the bid.
    pub extra: String,
}

/// q1: bid prices converted from dollars to euros (`0.908 * price`, exact).
pub fn q1(events: DataStream<'_, Event>) -> DataStream<'_, Q1> {
    bids(events).map(|bid| Q1 {
        auction: bid.auction,
        bidder: bid.bidder,
        price: Decimal::times_0_908(bid.price),
        date_time: bid.date_time,
        extra: bid.extra,
    })
}

/// An auction and a price (q2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q2 {
    /// The auction.
    pub auction: u64,
    /// The bid's price.
    pub price: u64,
}

/// q2: bids on every 123rd auction (`WHERE auction % 123 = 0`), as in `nexmark/nexmark`.
/// (RisingWave's known answer uses a different filter, a fixed list of auctions.)
pub fn q2(events: DataStream<'_, Event>) -> DataStream<'_, Q2> {
    bids(events).filter(|bid| bid.auction % 123 == 0).map(|bid| Q2 { auction: bid.auction, price: bid.price })
}

/// A bid with derived columns (q14).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q14 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// `0.908 * price`.
    pub price: Decimal,
    /// The time of day of the bid.
    #[serde(rename = "bidtimetype")]
    pub bid_time_type: BidTimeType,
    /// Event time.
    pub date_time: u64,
    /// Padding, as in the bid.
    pub extra: String,
    /// How many times `c` occurs in `extra` (the user function `count_char`).
    pub c_counts: u64,
}

/// q14's time of day: `dayTime` (08:00 to 18:59), `nightTime` (20:00 to 06:59) or
/// `otherTime` (UTC hours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BidTimeType {
    /// 08:00 to 18:59.
    #[serde(rename = "dayTime")]
    DayTime,
    /// 20:00 to 06:59.
    #[serde(rename = "nightTime")]
    NightTime,
    /// 07:00 to 07:59 and 19:00 to 19:59.
    #[serde(rename = "otherTime")]
    OtherTime,
}

/// The hour of the day (UTC) of an epoch-milliseconds time.
fn hour_of_day(epoch_ms: u64) -> u64 {
    epoch_ms / 3_600_000 % 24
}

/// The user function of q14: occurrences of `c` in `text`.
pub fn count_char(text: &str, c: char) -> u64 {
    text.chars().filter(|&found| found == c).count() as u64
}

/// q14: bids between 1,000,000 and 50,000,000 euros (exclusive) with their time of day and a
/// user-defined count.
pub fn q14(events: DataStream<'_, Event>) -> DataStream<'_, Q14> {
    bids(events).flat_map(|bid| {
        let price = Decimal::times_0_908(bid.price);
        let (low, high) = (1_000_000i128 * 1000, 50_000_000i128 * 1000);
        if price.units <= low || price.units >= high {
            return None;
        }
        let hour = hour_of_day(bid.date_time);
        let bid_time_type = if (8..=18).contains(&hour) {
            BidTimeType::DayTime
        } else if hour <= 6 || hour >= 20 {
            BidTimeType::NightTime
        } else {
            BidTimeType::OtherTime
        };
        Some(Q14 {
            auction: bid.auction,
            bidder: bid.bidder,
            price,
            bid_time_type,
            date_time: bid.date_time,
            c_counts: count_char(&bid.extra, 'c'),
            extra: bid.extra,
        })
    })
}

/// A bid with its channel id (q21).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q21 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price.
    pub price: u64,
    /// The channel.
    pub channel: String,
    /// `0` to `3` for the four hot channels, else the URL's `channel_id` parameter.
    pub channel_id: String,
}

/// The value of the first `channel_id=` parameter of a URL (the regular expression
/// `(&|^)channel_id=([^&]*)`, group 2).
pub fn channel_id_parameter(url: &str) -> Option<&str> {
    const NAME: &str = "channel_id=";
    let mut from = 0;
    while let Some(found) = url[from..].find(NAME) {
        let at = from + found;
        if at == 0 || url.as_bytes()[at - 1] == b'&' {
            let value = &url[at + NAME.len()..];
            return Some(value.split('&').next().unwrap_or(""));
        }
        from = at + 1;
    }
    None
}

/// q21: bids with a channel id: fixed ids for the hot channels (case-insensitive), the URL's
/// `channel_id` parameter otherwise; bids with neither are dropped.
pub fn q21(events: DataStream<'_, Event>) -> DataStream<'_, Q21> {
    bids(events).flat_map(|bid| {
        const HOT: [(&str, &str); 4] = [("apple", "0"), ("google", "1"), ("facebook", "2"), ("baidu", "3")];
        let fixed = HOT.iter().find(|(name, _)| bid.channel.eq_ignore_ascii_case(name)).map(|(_, id)| *id);
        let channel_id = fixed.or_else(|| channel_id_parameter(&bid.url))?.to_owned();
        Some(Q21 {
            auction: bid.auction,
            bidder: bid.bidder,
            price: bid.price,
            channel: bid.channel,
            channel_id,
        })
    })
}

/// A bid with the directories of its URL (q22).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q22 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price.
    pub price: u64,
    /// The channel.
    pub channel: String,
    /// The URL's first directory (`SPLIT_INDEX(url, '/', 3)`, 0-based).
    pub dir1: String,
    /// The second.
    pub dir2: String,
    /// The third.
    pub dir3: String,
}

/// q22: the first three directories of each bid's URL (`https://host/dir1/dir2/dir3/...`).
/// Flink's `SPLIT_INDEX` is 0-based (indexes 3, 4, 5); PostgreSQL's `split_part` 1-based (4,
/// 5, 6): both give these values. A missing part is empty.
pub fn q22(events: DataStream<'_, Event>) -> DataStream<'_, Q22> {
    bids(events).map(|bid| {
        let mut parts = bid.url.split('/').skip(3).map(str::to_owned);
        let (dir1, dir2, dir3) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        Q22 {
            auction: bid.auction,
            bidder: bid.bidder,
            price: bid.price,
            channel: bid.channel,
            dir1,
            dir2,
            dir3,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_id_follows_the_regular_expression() {
        assert_eq!(channel_id_parameter("https://x/a/item.htm?query=1&channel_id=42"), Some("42"));
        assert_eq!(channel_id_parameter("channel_id=7&b=1"), Some("7"));
        assert_eq!(channel_id_parameter("https://x/?xchannel_id=1&channel_id=2&c=3"), Some("2"));
        assert_eq!(channel_id_parameter("https://x/?query=1&channel_id="), Some(""));
        assert_eq!(channel_id_parameter("https://x/?query=1"), None);
    }

    #[test]
    fn count_char_and_hours() {
        assert_eq!(count_char("abcabcc", 'c'), 3);
        assert_eq!(hour_of_day(1_436_918_400_000), 0);
        assert_eq!(hour_of_day(1_436_918_400_000 + 9 * 3_600_000 + 1), 9);
    }
}

/// A bid with its partition columns (q10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q10 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price.
    pub price: u64,
    /// Event time.
    pub date_time: u64,
    /// Padding.
    pub extra: String,
    /// `yyyy-MM-dd` of the bid (UTC).
    pub dt: String,
    /// `HH:mm` of the bid (UTC, 24-hour clock, as Flink's `DATE_FORMAT`).
    pub hm: String,
}

/// q10: every bid with its day and minute, to be logged to files partitioned by them (see
/// [`q10_sink`]).
pub fn q10(events: DataStream<'_, Event>) -> DataStream<'_, Q10> {
    bids(events).map(|bid| Q10 {
        auction: bid.auction,
        bidder: bid.bidder,
        price: bid.price,
        date_time: bid.date_time,
        dt: super::day_string(bid.date_time),
        hm: super::minute_string(bid.date_time),
        extra: bid.extra,
    })
}

/// q10's sink: JSON-lines files under `directory/dt=<dt>/hm=<hm>/` (exactly once with
/// checkpoints).
pub fn q10_sink(directory: impl Into<std::path::PathBuf>) -> FileSink<Q10> {
    FileSink::json_lines(directory).partitioned_by(|row: &Q10| format!("dt={}/hm={}", row.dt, row.hm))
}
