-- The sql-view benchmark's view over the same input, run by eddy's SQL layer, to check eddy's
-- result against the same reference. Write the input first (README.md, "Correctness"):
--
--   ./target/release/feldera-view --rows 1000000 --eddy-input /tmp/sql-view-input
--   (cd /tmp/sql-view-input && /work/main/target/debug/eddy sql -f $OLDPWD/eddy-check.sql)

CREATE TABLE customers (id BIGINT, region BIGINT) WITH (
    'connector' = 'filesystem',
    'path' = 'customers.csv',
    'format' = 'csv'
);

CREATE TABLE orders (id BIGINT, customer BIGINT, amount BIGINT) WITH (
    'connector' = 'filesystem',
    'path' = 'orders.json',
    'format' = 'debezium-json'
);

SELECT c.region, COUNT(*), SUM(o.amount)
FROM orders o JOIN customers c ON o.customer = c.id
GROUP BY c.region
ORDER BY c.region;
