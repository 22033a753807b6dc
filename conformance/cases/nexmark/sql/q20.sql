-- q20: RisingWave's view nexmark_q20 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q20.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.

SELECT
    auction, bidder, price, channel, url, B.date_time as bid_date_time, B.extra as bid_extra,
    item_name, description, initial_bid, reserve, A.date_time as auction_date_time, expires, seller, category, A.extra as auction_extra
FROM
    bid AS B INNER JOIN auction AS A on B.auction = A.id
WHERE A.category = 10;
