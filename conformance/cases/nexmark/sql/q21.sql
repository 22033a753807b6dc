-- q21: RisingWave's view nexmark_q21 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q21.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Change: (regexp_match(s, p))[2] (the second capture group of the first match, NULL without a
-- match) is Flink's REGEXP_EXTRACT(s, p, 2) (both occurrences).

SELECT
    auction, bidder, price, channel,
    CASE
        WHEN LOWER(channel) = 'apple' THEN '0'
        WHEN LOWER(channel) = 'google' THEN '1'
        WHEN LOWER(channel) = 'facebook' THEN '2'
        WHEN LOWER(channel) = 'baidu' THEN '3'
    ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)
    END
    AS channel_id
FROM
    bid
WHERE
    REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) is not null or LOWER(channel) in ('apple', 'google', 'facebook', 'baidu');
