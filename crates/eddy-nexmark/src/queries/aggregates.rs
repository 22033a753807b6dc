//! Updating aggregations: q15 and q17 (daily statistics with distinct counts), q18 (the latest
//! bid per bidder and auction) and q19 (the ten highest bids per auction). Their results are
//! upsert changelogs ([`Change`]): the latest value per key is the result.

use std::cmp::Ordering;

use eddy_core::hash::HashSet;
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

use super::stateless::bids;
use crate::model::{Bid, Event};

/// `YYYY-MM-DD` (UTC) of an epoch-milliseconds time (`to_char(date_time, 'YYYY-MM-DD')`).
pub fn day_string(epoch_ms: u64) -> String {
    let days = (epoch_ms / 86_400_000) as i64;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The price band of q15 to q17: below 10,000, below 1,000,000, or above.
fn band(price: u64) -> usize {
    match price {
        0..10_000 => 0,
        10_000..1_000_000 => 1,
        _ => 2,
    }
}

/// Daily bid statistics (q15), an upsert row keyed by `day`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q15 {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Bids.
    pub total_bids: u64,
    /// Bids below 10,000.
    pub rank1_bids: u64,
    /// Bids from 10,000 to below 1,000,000.
    pub rank2_bids: u64,
    /// Bids of 1,000,000 or more.
    pub rank3_bids: u64,
    /// Distinct bidders.
    pub total_bidders: u64,
    /// Distinct bidders of bids below 10,000.
    pub rank1_bidders: u64,
    /// Distinct bidders of bids from 10,000 to below 1,000,000.
    pub rank2_bidders: u64,
    /// Distinct bidders of bids of 1,000,000 or more.
    pub rank3_bidders: u64,
    /// Distinct auctions.
    pub total_auctions: u64,
    /// Distinct auctions of bids below 10,000.
    pub rank1_auctions: u64,
    /// Distinct auctions of bids from 10,000 to below 1,000,000.
    pub rank2_auctions: u64,
    /// Distinct auctions of bids of 1,000,000 or more.
    pub rank3_auctions: u64,
}

/// The accumulator of q15: counts, and the distinct bidders and auctions, overall and per band.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyStatistics {
    day: String,
    bids: [u64; 4],
    bidders: [HashSet<u64>; 4],
    auctions: [HashSet<u64>; 4],
}

/// q15's aggregate function.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q15Aggregate;

impl AggregateFunction<Bid> for Q15Aggregate {
    type Acc = DailyStatistics;
    type Out = Q15;
    fn create_accumulator(&self) -> DailyStatistics {
        DailyStatistics::default()
    }
    fn add(&self, acc: &mut DailyStatistics, bid: Bid) {
        if acc.day.is_empty() {
            acc.day = day_string(bid.date_time);
        }
        for slot in [0, 1 + band(bid.price)] {
            acc.bids[slot] += 1;
            acc.bidders[slot].insert(bid.bidder);
            acc.auctions[slot].insert(bid.auction);
        }
    }
    fn merge(&self, mut left: DailyStatistics, right: DailyStatistics) -> DailyStatistics {
        for slot in 0..4 {
            left.bids[slot] += right.bids[slot];
            left.bidders[slot].extend(right.bidders[slot].iter().copied());
            left.auctions[slot].extend(right.auctions[slot].iter().copied());
        }
        if left.day.is_empty() {
            left.day = right.day;
        }
        left
    }
    fn get_result(&self, acc: &DailyStatistics) -> Q15 {
        let bidders = |slot: usize| acc.bidders[slot].len() as u64;
        let auctions = |slot: usize| acc.auctions[slot].len() as u64;
        Q15 {
            day: acc.day.clone(),
            total_bids: acc.bids[0],
            rank1_bids: acc.bids[1],
            rank2_bids: acc.bids[2],
            rank3_bids: acc.bids[3],
            total_bidders: bidders(0),
            rank1_bidders: bidders(1),
            rank2_bidders: bidders(2),
            rank3_bidders: bidders(3),
            total_auctions: auctions(0),
            rank1_auctions: auctions(1),
            rank2_auctions: auctions(2),
            rank3_auctions: auctions(3),
        }
    }
}

/// q15: per day, bid counts and distinct bidders and auctions, overall and per price band.
pub fn q15(events: DataStream<'_, Event>) -> DataStream<'_, Change<String, Q15>> {
    bids(events).key_by(|bid: &Bid| day_string(bid.date_time)).aggregate(Q15Aggregate).uid("q15-daily")
}

/// Daily bid statistics per channel (q16), an upsert row keyed by (`channel`, `day`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q16 {
    /// The channel.
    pub channel: String,
    /// The latest `HH:mm` (UTC, 24-hour clock, as Flink's `DATE_FORMAT`) of the day's bids.
    pub minute: String,
    /// The statistics, as in q15.
    #[serde(flatten)]
    pub statistics: Q15,
}

/// The accumulator of q16: q15's, plus the channel and the latest minute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStatistics {
    channel: String,
    minute: String,
    daily: DailyStatistics,
}

/// `HH:mm` (UTC, 24-hour clock) of an epoch-milliseconds time.
pub fn minute_string(epoch_ms: u64) -> String {
    let minutes = epoch_ms / 60_000;
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

/// q16's aggregate function.
#[derive(Clone, Copy, Debug, Default)]
pub struct Q16Aggregate;

impl AggregateFunction<Bid> for Q16Aggregate {
    type Acc = ChannelStatistics;
    type Out = Q16;
    fn create_accumulator(&self) -> ChannelStatistics {
        ChannelStatistics::default()
    }
    fn add(&self, acc: &mut ChannelStatistics, bid: Bid) {
        if acc.channel.is_empty() {
            acc.channel = bid.channel.clone();
        }
        acc.minute = acc.minute.clone().max(minute_string(bid.date_time));
        Q15Aggregate.add(&mut acc.daily, bid);
    }
    fn merge(&self, left: ChannelStatistics, right: ChannelStatistics) -> ChannelStatistics {
        ChannelStatistics {
            channel: if left.channel.is_empty() { right.channel } else { left.channel },
            minute: left.minute.max(right.minute),
            daily: Q15Aggregate.merge(left.daily, right.daily),
        }
    }
    fn get_result(&self, acc: &ChannelStatistics) -> Q16 {
        Q16 {
            channel: acc.channel.clone(),
            minute: acc.minute.clone(),
            statistics: Q15Aggregate.get_result(&acc.daily),
        }
    }
}

/// q16: q15's statistics per channel and day, with the day's latest minute.
pub fn q16(events: DataStream<'_, Event>) -> DataStream<'_, Change<(String, String), Q16>> {
    bids(events)
        .key_by(|bid: &Bid| (bid.channel.clone(), day_string(bid.date_time)))
        .aggregate(Q16Aggregate)
        .uid("q16-channel-daily")
}

/// Per auction and day bid statistics (q17), an upsert row keyed by `(auction, day)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Q17 {
    /// The auction.
    pub auction: u64,
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Bids.
    pub total_bids: u64,
    /// Bids below 10,000.
    pub rank1_bids: u64,
    /// Bids from 10,000 to below 1,000,000.
    pub rank2_bids: u64,
    /// Bids of 1,000,000 or more.
    pub rank3_bids: u64,
    /// Lowest price.
    pub min_price: u64,
    /// Highest price.
    pub max_price: u64,
    /// Average price.
    pub avg_price: f64,
    /// Sum of prices.
    pub sum_price: u64,
}

/// q17's aggregate function (its accumulator is the row without the average).
#[derive(Clone, Copy, Debug, Default)]
pub struct Q17Aggregate;

impl AggregateFunction<Bid> for Q17Aggregate {
    type Acc = Q17;
    type Out = Q17;
    fn create_accumulator(&self) -> Q17 {
        Q17 { min_price: u64::MAX, ..Q17::default() }
    }
    fn add(&self, acc: &mut Q17, bid: Bid) {
        if acc.total_bids == 0 {
            acc.auction = bid.auction;
            acc.day = day_string(bid.date_time);
        }
        acc.total_bids += 1;
        match band(bid.price) {
            0 => acc.rank1_bids += 1,
            1 => acc.rank2_bids += 1,
            _ => acc.rank3_bids += 1,
        }
        acc.min_price = acc.min_price.min(bid.price);
        acc.max_price = acc.max_price.max(bid.price);
        acc.sum_price += bid.price;
    }
    fn merge(&self, left: Q17, right: Q17) -> Q17 {
        if left.total_bids == 0 {
            return right;
        }
        Q17 {
            total_bids: left.total_bids + right.total_bids,
            rank1_bids: left.rank1_bids + right.rank1_bids,
            rank2_bids: left.rank2_bids + right.rank2_bids,
            rank3_bids: left.rank3_bids + right.rank3_bids,
            min_price: left.min_price.min(right.min_price),
            max_price: left.max_price.max(right.max_price),
            sum_price: left.sum_price + right.sum_price,
            ..left
        }
    }
    fn get_result(&self, acc: &Q17) -> Q17 {
        Q17 { avg_price: acc.sum_price as f64 / acc.total_bids.max(1) as f64, ..acc.clone() }
    }
}

/// q17: per auction and day, bid counts per price band and price statistics.
pub fn q17(events: DataStream<'_, Event>) -> DataStream<'_, Change<(u64, String), Q17>> {
    bids(events)
        .key_by(|bid: &Bid| (bid.auction, day_string(bid.date_time)))
        .aggregate(Q17Aggregate)
        .uid("q17-auction-daily")
}

/// q18: the latest bid of each bidder on each auction (`ROW_NUMBER() OVER (PARTITION BY
/// bidder, auction ORDER BY date_time DESC, extra) = 1`), an upsert stream keyed by (bidder,
/// auction).
pub fn q18(events: DataStream<'_, Event>) -> DataStream<'_, Change<(u64, u64), Bid>> {
    bids(events)
        .key_by(|bid: &Bid| (bid.bidder, bid.auction))
        .top_n(1, |a: &Bid, b: &Bid| b.date_time.cmp(&a.date_time).then_with(|| a.extra.cmp(&b.extra)))
        .uid("q18-latest")
        .map(|change| match change {
            Change::Upsert((key, _), bid) => Change::Upsert(key, bid),
            Change::Delete((key, _)) => Change::Delete(key),
        })
}

/// A bid among the ten highest of its auction (q19).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q19 {
    /// The auction.
    pub auction: u64,
    /// The bidder.
    pub bidder: u64,
    /// The price.
    pub price: u64,
    /// The channel.
    pub channel: String,
    /// The URL.
    pub url: String,
    /// The bid's time.
    pub date_time: u64,
    /// Padding.
    pub extra: String,
    /// 1 for the highest price.
    pub rank_number: u64,
}

/// q19: the ten highest bids of each auction (`ROW_NUMBER() OVER (PARTITION BY auction ORDER
/// BY price DESC) <= 10`; equal prices ranked by arrival), an upsert stream keyed by (auction,
/// rank).
pub fn q19(events: DataStream<'_, Event>) -> DataStream<'_, Change<(u64, u64), Q19>> {
    bids(events)
        .key_by(|bid: &Bid| bid.auction)
        .top_n(10, |a: &Bid, b: &Bid| b.price.cmp(&a.price).then(Ordering::Equal))
        .uid("q19-top-ten")
        .map(|change| match change {
            Change::Upsert((auction, rank), bid) => Change::Upsert(
                (auction, rank),
                Q19 {
                    auction: bid.auction,
                    bidder: bid.bidder,
                    price: bid.price,
                    channel: bid.channel,
                    url: bid.url,
                    date_time: bid.date_time,
                    extra: bid.extra,
                    rank_number: rank,
                },
            ),
            Change::Delete(key) => Change::Delete(key),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(1_436_918_400_000), "2015-07-15");
        assert_eq!(day_string(1_436_918_400_000 - 1), "2015-07-14");
        assert_eq!(day_string(1_709_208_000_000), "2024-02-29");
        assert_eq!(band(9_999), 0);
        assert_eq!(band(10_000), 1);
        assert_eq!(band(1_000_000), 2);
        assert_eq!(minute_string(1_436_918_400_000 + 13 * 3_600_000 + 7 * 60_000 + 59_999), "13:07");
    }
}
