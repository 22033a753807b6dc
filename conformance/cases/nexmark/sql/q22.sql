-- q22: RisingWave's view nexmark_q22 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q22.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Change: split_part(s, d, n) is 1-based and gives '' past the last piece; Flink's
-- SPLIT_INDEX(s, d, n - 1) is 0-based and gives NULL there, hence the COALESCE to ''.

SELECT
    auction, bidder, price, channel,
    COALESCE(SPLIT_INDEX(url, '/', 3), '') as dir1,
    COALESCE(SPLIT_INDEX(url, '/', 4), '') as dir2,
    COALESCE(SPLIT_INDEX(url, '/', 5), '') as dir3
FROM
    bid;
