-- Strikeboard history schema, version 1. Applied by strikeboard.store.migrate in one
-- transaction; described table by table in docs/storage.md.

-- The Kite instrument dump, upserted daily; first/last_seen tell when a contract was listed.
CREATE TABLE instruments (
    instrument_token  bigint PRIMARY KEY,
    exchange_token    bigint,
    tradingsymbol     text NOT NULL,
    name              text,
    expiry            date,
    strike            double precision,
    instrument_type   text NOT NULL,
    lot_size          integer,
    tick_size         double precision,
    segment           text,
    exchange          text,
    first_seen        timestamptz NOT NULL DEFAULT now(),
    last_seen         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instruments_name_expiry ON instruments (name, expiry, strike);

-- Every tick, partitioned by IST trading day on the exchange timestamp. The archiver creates
-- partitions ahead (ticks_YYYYMMDD). ingest_seq is the feed-assigned identity that makes a
-- replayed batch a no-op (INSERT ... ON CONFLICT DO NOTHING). The primary key also serves
-- "ticks of a token in a time range, paginated by (exchange_ts, ingest_seq)".
CREATE TABLE ticks (
    token         bigint NOT NULL,
    exchange_ts   timestamptz NOT NULL,
    ingest_seq    bigint NOT NULL,
    received_ts   timestamptz NOT NULL,
    last_price    double precision,
    last_qty      bigint,
    avg_price     double precision,
    volume        bigint,
    buy_qty       bigint,
    sell_qty      bigint,
    open          double precision,
    high          double precision,
    low           double precision,
    close         double precision,
    oi            bigint,
    oi_day_high   bigint,
    oi_day_low    bigint,
    bid_price     double precision,
    bid_qty       bigint,
    ask_price     double precision,
    ask_qty       bigint,
    depth_bid_price  double precision[],
    depth_bid_qty    bigint[],
    depth_bid_orders integer[],
    depth_ask_price  double precision[],
    depth_ask_qty    bigint[],
    depth_ask_orders integer[],
    PRIMARY KEY (token, exchange_ts, ingest_seq)
) PARTITION BY RANGE (exchange_ts);

-- The chain every minute per contract, for intraday charts and replaying a past minute.
CREATE TABLE chain_minute (
    underlying   text NOT NULL,
    expiry       date NOT NULL,
    minute       timestamptz NOT NULL,
    strike       double precision NOT NULL,
    option_type  text NOT NULL CHECK (option_type IN ('CE', 'PE')),
    token        bigint,
    ltp          double precision,
    bid          double precision,
    ask          double precision,
    iv           double precision,
    delta        double precision,
    gamma        double precision,
    theta        double precision,
    vega         double precision,
    oi           bigint,
    oi_change    bigint,
    volume       bigint,
    PRIMARY KEY (underlying, expiry, minute, strike, option_type)
);
-- A contract's series over a day.
CREATE INDEX chain_minute_token_minute ON chain_minute (token, minute);

-- Per-expiry aggregates of each minute.
CREATE TABLE chain_minute_agg (
    underlying     text NOT NULL,
    expiry         date NOT NULL,
    minute         timestamptz NOT NULL,
    spot           double precision,
    future         double precision,
    forward        double precision,
    atm_strike     double precision,
    atm_iv         double precision,
    straddle       double precision,
    expected_move  double precision,
    pcr_oi         double precision,
    pcr_volume     double precision,
    max_pain       double precision,
    PRIMARY KEY (underlying, expiry, minute)
);

-- One-minute candles of spot, futures and VIX, upserted as minutes close.
CREATE TABLE candles_1m (
    token   bigint NOT NULL,
    minute  timestamptz NOT NULL,
    open    double precision NOT NULL,
    high    double precision NOT NULL,
    low     double precision NOT NULL,
    close   double precision NOT NULL,
    volume  bigint,
    oi      bigint,
    PRIMARY KEY (token, minute)
);
