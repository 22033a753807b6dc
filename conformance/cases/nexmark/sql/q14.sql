-- q14: RisingWave's view nexmark_q14 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q14.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Changes: eddy has no user-defined functions; the SQL UDF count_char(s, c) of the case's
-- sql_prerequisites (LENGTH(s) - LENGTH(REPLACE(s, c, ''))) is written out with s = extra,
-- c = 'c' (Flink's LENGTH is CHAR_LENGTH). extract(hour from t) is unchanged (upper case).

SELECT
  auction,
  bidder,
  0.908 * price as price,
  CASE
    WHEN
      EXTRACT(HOUR FROM date_time) >= 8 AND
      EXTRACT(HOUR FROM date_time) <= 18
    THEN 'dayTime'
    WHEN
      EXTRACT(HOUR FROM date_time) <= 6 OR
      EXTRACT(HOUR FROM date_time) >= 20
    THEN 'nightTime'
    ELSE 'otherTime'
  END AS bidTimeType,
  date_time,
  CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
