-- q0: RisingWave's view nexmark_q0 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q0.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.

SELECT auction, bidder, price, date_time FROM bid;
