-- Example user-provided target table for the ClickHouse sink (`table.create: false`, or any table
-- that already exists). The sink maps record fields to columns BY NAME; fields without a column
-- are ignored unless schema.evolution=basic adds them. Required: the sink columns below and
-- ORDER BY the source primary key. Timestamps: DateTime64(6, 'UTC') on 20.1+, DateTime('UTC') or
-- String on older servers. Replace `analytics` with the sink's `database`.
CREATE DATABASE IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.customers
(
    id          Int64,
    email       String,
    created_at  DateTime('UTC') COMMENT 'pg:timestamp without time zone',
    balance     Decimal(18, 2),
    _deleted    UInt8,                -- 1 = the row was deleted at _version
    _version    UInt64,               -- commit LSN of the change (ReplacingMergeTree keeps the highest)
    _seq        UInt32,               -- ordinal of the change in its transaction (the sink adds it if missing)
    _op         String,               -- c | u | d | r | t
    _lsn        UInt64,               -- LSN of the change itself
    _synced_at  DateTime('UTC')       -- when the sink wrote the row
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id;

-- Current state, as the sink's own `<table>_current` views do:
CREATE VIEW IF NOT EXISTS analytics.customers_current AS
SELECT * FROM analytics.customers FINAL WHERE _deleted = 0;
