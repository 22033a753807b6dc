-- -------------------------------------------------------------------------------------------------
-- The Nexmark generator's three tables, for the queries in this directory.
-- -------------------------------------------------------------------------------------------------
-- eddy change: Flink's DDL (`ddl_gen.sql` + `ddl_views.sql`) declares one `datagen` table of
-- nested ROW columns with an `event_type` and three views over it. eddy's `nexmark` connector
-- offers each event kind as its own flat table instead ('table' = 'person' | 'auction' | 'bid');
-- the columns are those of Flink's views, with the same names. Each table reads the generator
-- on its own (a query over two tables generates the events twice); every event, of any kind,
-- advances the table's watermark, as in Flink's single source.
-- eddy change: the watermark is declared per table (4 s, as in Flink's DDL); `dateTime` is the
-- generator's event time. Flink's rate and proportion options are left at the generator's
-- defaults (eddy's `events.per-second` paces the source; proportions 1:3:46 are fixed).
-- `events.num` bounds the input: `eddy-bench nexmark --sql` replaces its value with `--events`.
-- eddy change: 'seed' is the generator's default seed (eddy_nexmark::DEFAULT_SEED, "nexmark!"),
-- which the DataStream queries and their benchmark use; the connector's own default is 0.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE person (
    id  BIGINT,
    name  VARCHAR,
    emailAddress  VARCHAR,
    creditCard  VARCHAR,
    city  VARCHAR,
    state  VARCHAR,
    `dateTime` TIMESTAMP(3),
    extra  VARCHAR,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'person',
    'events.num' = '100000',
    'seed' = '7954896728001506081'
);

CREATE TABLE auction (
    id  BIGINT,
    itemName  VARCHAR,
    description  VARCHAR,
    initialBid  BIGINT,
    reserve  BIGINT,
    `dateTime`  TIMESTAMP(3),
    expires  TIMESTAMP(3),
    seller  BIGINT,
    category  BIGINT,
    extra  VARCHAR,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'auction',
    'events.num' = '100000',
    'seed' = '7954896728001506081'
);

CREATE TABLE bid (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    channel  VARCHAR,
    url  VARCHAR,
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR,
    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND
) WITH (
    'connector' = 'nexmark',
    'table' = 'bid',
    'events.num' = '100000',
    'seed' = '7954896728001506081'
);
