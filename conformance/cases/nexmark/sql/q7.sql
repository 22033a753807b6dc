-- q7: RisingWave's view nexmark_q7 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q7.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Change: RisingWave's TUMBLE(bid, date_time, size) is Flink's window table function
-- TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), size)).

SELECT
    B.auction,
    B.price,
    B.bidder,
    B.date_time
from
    bid B
    JOIN (
        SELECT
            MAX(price) AS maxprice,
            window_end as date_time
        FROM
            TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
        GROUP BY
            window_end
    ) B1 ON B.price = B1.maxprice
WHERE
    B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND
    AND B1.date_time;
