-- q16: RisingWave's view nexmark_q16 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q16.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Changes: to_char(t, 'YYYY-MM-DD') is Flink's DATE_FORMAT(t, 'yyyy-MM-dd') (both occurrences).
-- to_char(t, 'HH:mm') in PostgreSQL/RisingWave is the 12-hour hour (HH) and the MONTH (mm, case-
-- insensitive), so it is DATE_FORMAT(t, 'hh:MM') (Java hh: 12-hour hour, MM: month). See NOTES.md.

SELECT
    channel,
    DATE_FORMAT(date_time, 'yyyy-MM-dd') as "day",
    max(DATE_FORMAT(date_time, 'hh:MM')) as "minute",
    count(*) AS total_bids,
    count(*) filter (where price < 10000) AS rank1_bids,
    count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
    count(*) filter (where price >= 1000000) AS rank3_bids,
    count(distinct bidder) AS total_bidders,
    count(distinct bidder) filter (where price < 10000) AS rank1_bidders,
    count(distinct bidder) filter (where price >= 10000 and price < 1000000) AS rank2_bidders,
    count(distinct bidder) filter (where price >= 1000000) AS rank3_bidders,
    count(distinct auction) AS total_auctions,
    count(distinct auction) filter (where price < 10000) AS rank1_auctions,
    count(distinct auction) filter (where price >= 10000 and price < 1000000) AS rank2_auctions,
    count(distinct auction) filter (where price >= 1000000) AS rank3_auctions
FROM bid
GROUP BY channel, DATE_FORMAT(date_time, 'yyyy-MM-dd');
