-- q19: RisingWave's view nexmark_q19 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q19.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.

SELECT * FROM
    (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid)
WHERE rank_number <= 10;
