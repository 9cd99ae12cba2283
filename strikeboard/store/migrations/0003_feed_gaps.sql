-- Outages of a Kite connection: when a shard lost its connection, when it was back, how many
-- instruments it carries and how many were back-filled from the quote API. Ticks Kite sent
-- while a connection was down are gone for good; this says where history has holes.
CREATE TABLE feed_gaps (
    shard         integer NOT NULL,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz NOT NULL,
    instruments   integer NOT NULL,
    filled        integer NOT NULL,
    PRIMARY KEY (shard, started_at)
);
