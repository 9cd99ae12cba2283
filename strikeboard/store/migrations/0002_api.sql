-- Strikeboard history schema, version 2: what the HTTP API and the scheduled jobs add.

-- Per-user SPA preferences (columns, strikes, theme, ...), one JSON document per user.
CREATE TABLE user_preferences (
    user_id     text PRIMARY KEY,
    data        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- End-of-day statistics per expiry and IST trading day, computed from chain_minute_agg by
-- the EOD job (lambdas/jobs.py); IV rank and percentile are derived from atm_iv_close.
CREATE TABLE daily_stats (
    underlying      text NOT NULL,
    day             date NOT NULL,
    expiry          date NOT NULL,
    minutes         integer NOT NULL,
    spot_open       double precision,
    spot_high       double precision,
    spot_low        double precision,
    spot_close      double precision,
    future_close    double precision,
    atm_iv_open     double precision,
    atm_iv_high     double precision,
    atm_iv_low      double precision,
    atm_iv_close    double precision,
    straddle_close  double precision,
    pcr_oi_close    double precision,
    max_pain_close  double precision,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (underlying, day, expiry)
);
