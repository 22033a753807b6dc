-- q5: RisingWave's view nexmark_q5 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q5.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Changes: RisingWave's HOP(bid, date_time, slide, size) is Flink's window table function
-- TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), slide, size)) (same argument order: 2 s slide,
-- 10 s size; both occurrences). Its result is not named bid, so bid.auction is auction.

SELECT
    AuctionBids.auction, AuctionBids.num
FROM (
    SELECT
        auction,
		count(*) AS num,
        window_start AS starttime
    FROM
        TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    GROUP BY
        window_start,
        auction
) AS AuctionBids
JOIN (
	SELECT
		max(CountBids.num) AS maxn,
		CountBids.starttime_c
	FROM (
		SELECT
			count(*) AS num,
			window_start AS starttime_c
		FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
		GROUP BY
			auction,
			window_start
		) AS CountBids
	GROUP BY
		CountBids.starttime_c
	) AS MaxBids
ON
	AuctionBids.starttime = MaxBids.starttime_c AND
	AuctionBids.num >= MaxBids.maxn;
