-- Orders and customers from CSV files: a view with a join and GROUP BY, a bounded query
-- printed as a table, and INSERT INTO a CSV file and the print connector, which run
-- together as one job when the script ends.
--
-- Run it from the repository's root (relative paths are relative to the current directory):
--
--   cargo run -p eddy-cli --bin eddy -- sql -f examples/sql/orders.sql

CREATE TABLE customers (
    id INT,
    name STRING,
    city STRING
) WITH (
    'connector' = 'filesystem',
    'path' = 'examples/sql/customers.csv',
    'format' = 'csv'
);

CREATE TABLE orders (
    order_id BIGINT,
    customer_id INT,
    order_date DATE,
    amount DECIMAL(10, 2)
) WITH (
    'connector' = 'filesystem',
    'path' = 'examples/sql/orders.csv',
    'format' = 'csv'
);

-- Revenue per city.
CREATE VIEW city_revenue AS
SELECT c.city, COUNT(*) AS orders, SUM(o.amount) AS revenue
FROM orders o JOIN customers c ON o.customer_id = c.id
GROUP BY c.city;

SELECT * FROM city_revenue ORDER BY revenue DESC;

-- Big orders (a join, append-only) go to a CSV file; revenue per city to standard output.
CREATE TABLE big_orders (
    order_id BIGINT,
    name STRING,
    amount DECIMAL(10, 2)
) WITH (
    'connector' = 'filesystem',
    'path' = 'target/sql-example/big_orders',
    'format' = 'csv'
);

CREATE TABLE revenue_log (
    city STRING,
    orders BIGINT,
    revenue DECIMAL(38, 2)
) WITH (
    'connector' = 'print',
    'print-identifier' = 'revenue'
);

INSERT INTO big_orders
SELECT o.order_id, c.name, o.amount
FROM orders o JOIN customers c ON o.customer_id = c.id
WHERE o.amount >= 10;

INSERT INTO revenue_log SELECT * FROM city_revenue;
