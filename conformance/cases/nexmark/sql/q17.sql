-- q17: RisingWave's view nexmark_q17 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q17.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Changes: to_char(t, 'YYYY-MM-DD') is Flink's DATE_FORMAT(t, 'yyyy-MM-dd') (both occurrences).
-- RisingWave's avg of a BIGINT is a DECIMAL; Flink's is a BIGINT (integer division), so the
-- argument is cast to DECIMAL to keep RisingWave's result type.

SELECT
    auction,
    DATE_FORMAT(date_time, 'yyyy-MM-dd') AS day,
    count(*) AS total_bids,
    count(*) filter (where price < 10000) AS rank1_bids,
    count(*) filter (where price >= 10000 and price < 1000000) AS rank2_bids,
    count(*) filter (where price >= 1000000) AS rank3_bids,
    min(price) AS min_price,
    max(price) AS max_price,
    avg(CAST(price AS DECIMAL(38, 18))) AS avg_price,
    sum(price) AS sum_price
FROM bid
GROUP BY auction, DATE_FORMAT(date_time, 'yyyy-MM-dd');
