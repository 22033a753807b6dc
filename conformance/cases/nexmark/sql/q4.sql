-- q4: RisingWave's view nexmark_q4 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q4.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Change: RisingWave's AVG of a BIGINT is a DECIMAL; Flink's is a BIGINT (integer division), so
-- the argument is cast to DECIMAL to keep RisingWave's result type.

SELECT
    Q.category,
    AVG(CAST(Q.final AS DECIMAL(38, 18))) as avg
FROM (
    SELECT
        MAX(B.price) AS final, A.category
    FROM
        auction A,
        bid B
    WHERE
        A.id = B.auction AND
        B.date_time BETWEEN A.date_time AND A.expires
    GROUP BY
        A.id, A.category
    ) Q
GROUP BY
    Q.category;
