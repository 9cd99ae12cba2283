"""Redis key names: the single source of truth (documented in docs/storage.md).

Every key Strikeboard writes is built here from a prefix (production default "sb:"; tests use
a per-test prefix) so that no other module spells a key by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_PREFIX = "sb:"


def _part(value: str) -> str:
    """Validate one key component: a colon would make two keys collide."""
    if not value or ":" in value or any(c.isspace() for c in value):
        raise ValueError(f"invalid key component {value!r}: non-empty, no ':' or whitespace")
    return value


def expiry_text(expiry: date | str) -> str:
    """An expiry as the ISO date used in keys and JSON (YYYY-MM-DD)."""
    if isinstance(expiry, date):
        return expiry.isoformat()
    return date.fromisoformat(expiry).isoformat()


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix."""

    prefix: str = DEFAULT_PREFIX

    def expiries(self, underlying: str) -> str:
        """Sorted set of the live expiries of an underlying (member ISO date, score ordinal)."""
        return f"{self.prefix}expiries:{_part(underlying)}"

    def snapshot(self, underlying: str, expiry: date | str) -> str:
        """Hash {seq, ts, data}: the current chain snapshot of one expiry."""
        return f"{self.prefix}snap:{_part(underlying)}:{expiry_text(expiry)}"

    def seq(self, underlying: str, expiry: date | str) -> str:
        """Integer: the last seq assigned on this expiry's live stream."""
        return f"{self.prefix}seq:{_part(underlying)}:{expiry_text(expiry)}"

    def deltas(self, underlying: str, expiry: date | str) -> str:
        """Stream of the recent delta messages of one expiry (bounded, for catch-up)."""
        return f"{self.prefix}deltas:{_part(underlying)}:{expiry_text(expiry)}"

    def channel(self, underlying: str, expiry: date | str) -> str:
        """Pub/sub channel on which each delta message of one expiry is published."""
        return f"{self.prefix}live:{_part(underlying)}:{expiry_text(expiry)}"

    def channel_pattern(self) -> str:
        """PSUBSCRIBE pattern matching every live channel."""
        return f"{self.prefix}live:*"

    def market(self) -> str:
        """Hash name -> JSON: latest spot, futures and VIX values."""
        return f"{self.prefix}market"

    def ticks(self) -> str:
        """Stream of recent tick batches (bounded)."""
        return f"{self.prefix}ticks"

    def orders(self) -> str:
        """Pub/sub channel and bounded stream of Kite order updates (trade notifications)."""
        return f"{self.prefix}orders"

    def alerts(self) -> str:
        """Pub/sub channel of fired alerts, ``{"user_id", "event"}`` (the pusher sends each to
        its user's connections; the event itself is in PostgreSQL)."""
        return f"{self.prefix}alerts"

    def access_token(self) -> str:
        """String: a Kite access token stored by the local login callback (no cloud secret)."""
        return f"{self.prefix}kite:access_token"

    def ws_ticket(self, ticket: str) -> str:
        """JSON principal: a one-time `/ws` ticket (30 s TTL, deleted when redeemed)."""
        return f"{self.prefix}ws:ticket:{_part(ticket)}"

    def token_notice(self) -> str:
        """Integer: bumped by a login with Redis after it writes a new token into the Kite
        secret, so the feed re-reads the secret at once (the secret stays the source of truth;
        the cloud's Kite login Lambda has no Redis and bumps nothing)."""
        return f"{self.prefix}kite:token_version"

    def health(self) -> str:
        """JSON health document of the feed (with a TTL: absent means the feed is silent)."""
        return f"{self.prefix}health"

    def session(self) -> str:
        """JSON: the trading session the feed last opened or closed (no TTL: it outlives the
        feed, so after hours the API can say when the last session closed)."""
        return f"{self.prefix}session"
