"""One-time sign-in values in Redis: `/ws` tickets.

A ticket is random, URL-safe and short-lived (SET with a TTL) and taken with GETDEL, so it
works once: a replayed ticket finds nothing. Keys: `strikeboard.store.keys`. (The Kite login's
`state` needs no store: it is signed, `strikeboard.api.kite_state`.)
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import redis

from strikeboard.auth import Principal
from strikeboard.store.errors import redis_call
from strikeboard.store.keys import Keys

if TYPE_CHECKING:
    from strikeboard.store.hot import HotStore

TICKET_TTL_S: Final = 30
"""A ticket is fetched right before the socket opens: half a minute covers a slow network."""
_VALUE: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")


def new_value() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class AuthState:
    """Issue and redeem one-time values under one key prefix (shares the caller's client)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.keys = Keys(prefix)

    @classmethod
    def of(cls, hot: HotStore) -> AuthState:
        return cls(hot.client, hot.keys.prefix)

    def _call(self, action: Callable[[], Any]) -> Any:
        return redis_call(action)

    def _issue(self, key_of: Callable[[str], str], payload: str, ttl_s: int) -> str:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        value = new_value()
        self._call(lambda: self.client.set(key_of(value), payload, ex=ttl_s))
        return value

    def _take(self, key_of: Callable[[str], str], value: str | None) -> str | None:
        if not value or not _VALUE.fullmatch(value):
            return None  # not one of ours: no need to ask Redis
        raw = self._call(lambda: self.client.getdel(key_of(value)))
        return None if raw is None else bytes(raw).decode()

    # -- WebSocket tickets --------------------------------------------------------------------

    def issue_ticket(self, principal: Principal, ttl_s: int = TICKET_TTL_S) -> str:
        """A ticket that opens one `/ws` connection as ``principal`` within ``ttl_s``."""
        payload = json.dumps({"user_id": principal.user_id, "username": principal.username,
                              "groups": list(principal.groups)})  # fmt: skip
        return self._issue(self.keys.ws_ticket, payload, ttl_s)

    def redeem_ticket(self, ticket: str | None) -> Principal | None:
        """The ticket's principal, once; None when missing, unknown, expired or used."""
        raw = self._take(self.keys.ws_ticket, ticket)
        if raw is None:
            return None
        doc = json.loads(raw)
        return Principal(str(doc["user_id"]), str(doc["username"]),
                         tuple(str(g) for g in doc.get("groups", ())))  # fmt: skip
