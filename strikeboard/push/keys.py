"""Redis key names of the WebSocket connection registry (documented in docs/live.md).

Built like `strikeboard.store.keys.Keys`, under the same prefix, so that a test's per-test
prefix isolates the registry too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from strikeboard.store.keys import DEFAULT_PREFIX, expiry_text


def _part(value: str) -> str:
    """One key component: a colon or whitespace would let two keys collide."""
    if not value or ":" in value or any(c.isspace() for c in value):
        raise ValueError(f"invalid key component {value!r}: non-empty, no ':' or whitespace")
    return value


@dataclass(frozen=True)
class PushKeys:
    """Key builder of the connection registry for one prefix."""

    prefix: str = DEFAULT_PREFIX

    def connection(self, connection_id: str) -> str:
        """Hash: user_id, username, connected_at, source_ip, user_agent of one connection."""
        return f"{self.prefix}ws:conn:{_part(connection_id)}"

    def connection_subs(self, connection_id: str) -> str:
        """Set of the connection's subscriptions, members "{underlying}|{expiry}"."""
        return f"{self.prefix}ws:csubs:{_part(connection_id)}"

    def connections(self) -> str:
        """Sorted set of every live connection id, score = the epoch second it lapses."""
        return f"{self.prefix}ws:connections"

    def subscribers(self, underlying: str, expiry: date | str) -> str:
        """Sorted set of the connections subscribed to one expiry, score = lapse time."""
        return f"{self.prefix}ws:subs:{_part(underlying)}:{expiry_text(expiry)}"

    def subscribers_pattern(self) -> str:
        """SCAN pattern of every per-expiry subscriber set."""
        return f"{self.prefix}ws:subs:*"
