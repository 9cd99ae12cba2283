-- Alerts (docs/alerts.md): each user's rules, and the alerts they fired.

-- A rule watches one number of the live chain (spot; a contract's LTP, IV, OI or change in OI;
-- an expiry's PCR or max pain) and fires when it crosses `level` (op). The rows are written
-- by the API (create, delete: a rule is never edited) and their state by the evaluator (the
-- feed's publisher process): `armed` (NULL until a first value was seen, false while the
-- value stays across after a fire), `side` of the level the value was on and `last_value`,
-- both as of `observed_at` (the last change of state, not every cycle), and `crossings`, how
-- many times it fired: the next fire is crossing `crossings + 1`.
CREATE TABLE alert_rules (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('spot', 'ltp', 'iv', 'oi', 'oi_change', 'pcr',
                                                'max_pain')),
    underlying   text NOT NULL,
    expiry       date,
    strike       double precision,
    option_type  text CHECK (option_type IN ('CE', 'PE')),
    op           text NOT NULL CHECK (op IN ('crosses_above', 'crosses_below')),
    level        double precision NOT NULL,
    hysteresis   double precision NOT NULL DEFAULT 0 CHECK (hysteresis >= 0),
    email        boolean NOT NULL DEFAULT false,
    note         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    armed        boolean,
    side         text CHECK (side IN ('above', 'below')),
    last_value   double precision,
    observed_at  timestamptz,
    crossings    integer NOT NULL DEFAULT 0
);
CREATE INDEX alert_rules_user ON alert_rules (user_id, id);

-- One row per fire. (rule_id, crossing) is unique: an evaluator that restarts, or a second one
-- that sees the same crossing, cannot record it twice. The rule's definition is copied so the
-- event still reads after the rule is deleted. `pushed_at` / `emailed_at`: when it went to
-- Redis (for the pusher) / to SNS; NULL = not yet (retried for a while, docs/alerts.md).
CREATE TABLE alert_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id      bigint NOT NULL,
    crossing     integer NOT NULL,
    user_id      text NOT NULL,
    kind         text NOT NULL,
    underlying   text NOT NULL,
    expiry       date,
    strike       double precision,
    option_type  text,
    op           text NOT NULL,
    level        double precision NOT NULL,
    value        double precision NOT NULL,
    previous     double precision,
    text         text NOT NULL,
    note         text NOT NULL DEFAULT '',
    email        boolean NOT NULL,
    fired_at     timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    pushed_at    timestamptz,
    emailed_at   timestamptz,
    UNIQUE (rule_id, crossing)
);
CREATE INDEX alert_events_user ON alert_events (user_id, id DESC);
CREATE INDEX alert_events_undelivered ON alert_events (created_at)
    WHERE pushed_at IS NULL OR (email AND emailed_at IS NULL);
