-- Alert e-mail subscriptions made by the feed, not the API (docs/alerts.md "E-mail
-- subscriptions"): the API Lambda runs in isolated subnets and cannot reach SNS, so
-- PUT/DELETE /api/alerts/email only record what the user asked, and the feed's subscription
-- worker (strikeboard/feed/alert_email.py, which reaches SNS) performs it.
--
-- state: requested (the worker subscribes `address`; a `subscription_arn` still set is the
-- user's previous subscription, unsubscribed first), pending (SNS mailed the confirmation
-- link), confirmed, unsubscribe_requested (the worker unsubscribes `subscription_arn` and
-- deletes the row), refused (SNS refused the address for good: e.g. it has it with another
-- filter). Rows of 0006 were made by the API with SNS and read as pending until the worker
-- has asked SNS.
--
-- `address` is the plain address, kept only while `requested` (cleared once subscribed or
-- refused); `address_hint` its masked form (t***@example.com) for the panel.
ALTER TABLE alert_email ALTER COLUMN subscription_arn DROP NOT NULL;
ALTER TABLE alert_email
    ADD COLUMN state           text NOT NULL DEFAULT 'pending' CHECK (state IN
                               ('requested', 'pending', 'confirmed', 'unsubscribe_requested',
                                'refused')),
    ADD COLUMN address         text,
    ADD COLUMN address_hint    text NOT NULL DEFAULT '',
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN checked_at      timestamptz,
    ADD COLUMN last_error      text NOT NULL DEFAULT '',
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();
ALTER TABLE alert_email ALTER COLUMN state SET DEFAULT 'requested';
ALTER TABLE alert_email ADD CONSTRAINT alert_email_requested_has_address
    CHECK (state <> 'requested' OR address IS NOT NULL);
-- The worker's pick: what is due, requests first.
CREATE INDEX alert_email_due ON alert_email (next_attempt_at);
