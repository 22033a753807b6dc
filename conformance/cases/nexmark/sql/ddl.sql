-- The three input tables of RisingWave's Nexmark known answers (`../person.jsonl`,
-- `../auction.jsonl`, `../bid.jsonl`) as eddy SQL tables: the filesystem connector with the
-- json format, one JSON object a line. The runner (`conformance/src/nexmark_sql.rs`) replaces
-- ${DIR} with the case directory. As in RisingWave's test, the tables are plain tables: no
-- watermark, so window queries run over all rows (bounded input: the final result).
-- RisingWave's `TIMESTAMP` is `TIMESTAMP(3)` here (every value has millisecond precision).

CREATE TABLE person (
    id BIGINT,
    name VARCHAR,
    email_address VARCHAR,
    credit_card VARCHAR,
    city VARCHAR,
    state VARCHAR,
    date_time TIMESTAMP(3),
    extra VARCHAR
) WITH ('connector' = 'filesystem', 'path' = '${DIR}/person.jsonl', 'format' = 'json');

CREATE TABLE auction (
    id BIGINT,
    item_name VARCHAR,
    description VARCHAR,
    initial_bid BIGINT,
    reserve BIGINT,
    date_time TIMESTAMP(3),
    expires TIMESTAMP(3),
    seller BIGINT,
    category BIGINT,
    extra VARCHAR
) WITH ('connector' = 'filesystem', 'path' = '${DIR}/auction.jsonl', 'format' = 'json');

CREATE TABLE bid (
    auction BIGINT,
    bidder BIGINT,
    price BIGINT,
    channel VARCHAR,
    url VARCHAR,
    date_time TIMESTAMP(3),
    extra VARCHAR
) WITH ('connector' = 'filesystem', 'path' = '${DIR}/bid.jsonl', 'format' = 'json');
