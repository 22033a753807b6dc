-- q6_group_top1: RisingWave's view nexmark_q6_group_top1 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q6_group_top1.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Change: RisingWave's AVG of a BIGINT is a DECIMAL; Flink's is a BIGINT (integer division), so
-- the argument is cast to DECIMAL to keep RisingWave's result type.

SELECT
    Q.seller,
    AVG(CAST(Q.final AS DECIMAL(38, 18))) OVER
        (PARTITION BY Q.seller ORDER BY Q.date_time ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
    as avg
FROM (
    SELECT ROW_NUMBER() OVER (PARTITION BY A.id, A.seller ORDER BY B.price) as rank, A.seller, B.price as final,  B.date_time
    FROM auction AS A, bid AS B
    WHERE A.id = B.auction and B.date_time between A.date_time and A.expires
) AS Q
WHERE Q.rank <= 1;
