-- q1: RisingWave's view nexmark_q1 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q1.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.

SELECT
    auction,
    bidder,
    0.908 * price as price,
    date_time
FROM bid;
