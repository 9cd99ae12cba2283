-- Alerts by e-mail (docs/alerts.md "E-mail subscriptions"): each user's one subscription to
-- the alerts topic (ALERTS_TOPIC_ARN), made through PUT /api/alerts/email.

-- SNS holds the address and whether it is confirmed; this row only remembers which
-- subscription is the user's (SNS cannot be searched by filter policy, and a pending
-- subscription is not even listed with its ARN). `address_sha256` (of the lower-cased address,
-- not the address: no personal data kept here) makes an address one user's alone: SNS refuses
-- a second subscription of an endpoint with other attributes, and the API answers 409 first.
CREATE TABLE alert_email (
    user_id           text PRIMARY KEY,
    subscription_arn  text NOT NULL,
    address_sha256    text NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now()
);
