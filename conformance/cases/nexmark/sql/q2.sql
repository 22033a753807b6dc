-- q2: RisingWave's view nexmark_q2 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q2.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.

SELECT auction, price FROM bid
WHERE auction = 1007 OR auction = 1020 OR auction = 2001 OR auction = 2019 OR auction = 2087;
