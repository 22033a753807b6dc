-- q10: RisingWave's view nexmark_q10 (risingwavelabs/risingwave:e2e_test/streaming/nexmark/views/q10.slt.part, Apache-2.0),
-- in eddy's Flink SQL dialect. The view's body runs as a query; every change is noted.
-- Change: TO_CHAR(t, 'YYYY-MM-DD') is Flink's DATE_FORMAT(t, 'yyyy-MM-dd'); TO_CHAR(t, 'HH:MI')
-- (PostgreSQL HH: hour of the 12-hour clock, 01-12; MI: minute) is DATE_FORMAT(t, 'hh:mm')
-- (Java hh: hour of the 12-hour clock, 01-12; mm: minute).

SELECT auction, bidder, price, date_time, DATE_FORMAT(date_time, 'yyyy-MM-dd') as date, DATE_FORMAT(date_time, 'hh:mm') as time FROM bid;
