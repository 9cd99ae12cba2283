"""The WebSocket connection registry in Redis: who is connected, and to which expiries.

Written by the WebSocket route handlers ($connect, $disconnect, $default) and read by the
pusher. Every entry lapses: sorted-set members carry the epoch second at which they expire
(refreshed by any activity: subscribe, unsubscribe, ping), and every key has a TTL, so a
connection that vanished without a $disconnect (a Lambda timeout, a lost gateway) is forgotten
after `ttl_s` even if no push ever reaches it. Keys: `strikeboard.push.keys`, docs/live.md.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from strikeboard.auth import Principal
from strikeboard.push.keys import PushKeys
from strikeboard.store.errors import redis_call
from strikeboard.store.keys import DEFAULT_PREFIX, expiry_text

DEFAULT_TTL_S: Final = 900
"""API Gateway closes a WebSocket idle for 10 minutes: a quarter hour outlives that."""
_SEP: Final = "|"

# A token bucket kept in the connection's hash (fields `tokens`, `ts`, `limited`): refilled at
# ARGV[1] tokens a second up to ARGV[2], one taken per message. Returns 1 (allowed), 0 (over
# the rate: drop silently), 2 (over the rate, the first drop since the last allowed message:
# tell the client once) or -1 (unknown connection). One script, so concurrent invocations of
# one connection cannot both spend the last token.
_TAKE_TOKEN: Final = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return -1 end
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', key, 'tokens', 'ts', 'limited')
local tokens = tonumber(v[1]) or burst
local ts = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
if tokens >= 1 then
  redis.call('HSET', key, 'tokens', tostring(tokens - 1), 'ts', tostring(now), 'limited', '0')
  return 1
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now), 'limited', '1')
if v[3] == '1' then return 0 end
return 2
"""


class Allowance(enum.Enum):
    """What the rate limit says about one message of a connection."""

    OK = 1
    DROP = 0
    DROP_AND_TELL = 2
    UNKNOWN = -1


class Registry:
    """Typed access to the connection registry under one key prefix."""

    def __init__(
        self, client: redis.Redis, prefix: str = DEFAULT_PREFIX, ttl_s: int = DEFAULT_TTL_S
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.client = client
        self.keys = PushKeys(prefix)
        self.ttl_s = ttl_s

    @classmethod
    def from_url(
        cls, url: str, prefix: str = DEFAULT_PREFIX, ttl_s: int = DEFAULT_TTL_S,
        timeout: float = 1.0,
    ) -> Registry:  # fmt: skip
        """A registry on its own client with short timeouts (an outage costs ~timeout)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, prefix, ttl_s)

    def close(self) -> None:
        self.client.close()

    def take_token(
        self, connection_id: str, rate: float, burst: int, now: float | None = None
    ) -> Allowance:
        """Spend one message of the connection's rate (`rate` a second, bursts of `burst`)."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        key = self.keys.connection(connection_id)
        args = [repr(float(rate)), str(burst), repr(self._now(now))]
        result = self._call(lambda: self.client.eval(_TAKE_TOKEN, 1, key, *args))
        return Allowance(int(result))

    def _call(self, action: Callable[[], Any]) -> Any:
        return redis_call(action)

    def _now(self, now: float | None) -> float:
        return time.time() if now is None else now

    # -- writers (route handlers) -----------------------------------------------------------

    def connect(
        self, connection_id: str, principal: Principal, *, source_ip: str = "",
        user_agent: str = "", now: float | None = None,
    ) -> None:  # fmt: skip
        """Register a connection accepted by $connect."""
        t = self._now(now)
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            k.connection(connection_id),
            mapping={
                "user_id": principal.user_id,
                "username": principal.username,
                "connected_at": repr(t),
                "source_ip": source_ip,
                "user_agent": user_agent,
            },
        )
        pipe.expire(k.connection(connection_id), self.ttl_s)
        pipe.zadd(k.connections(), {connection_id: t + self.ttl_s})
        pipe.expire(k.connections(), self.ttl_s)
        self._call(pipe.execute)

    def principal(self, connection_id: str) -> Principal | None:
        """Who opened the connection, or None when it is unknown or lapsed."""
        raw: list[bytes | None] = self._call(
            lambda: self.client.hmget(self.keys.connection(connection_id), ["user_id", "username"])
        )
        if raw[0] is None:
            return None
        return Principal(raw[0].decode(), (raw[1] or b"").decode())

    def subscriptions(self, connection_id: str) -> list[tuple[str, str]]:
        """The (underlying, expiry) pairs the connection is subscribed to, sorted."""
        members: set[bytes] = self._call(
            lambda: self.client.smembers(self.keys.connection_subs(connection_id))
        )
        pairs = (m.decode().split(_SEP, 1) for m in members)
        return sorted((u, e) for u, e in pairs)

    def touch(self, connection_id: str, now: float | None = None) -> bool:
        """Refresh the connection's lapse time everywhere; False when it is unknown."""
        if self.principal(connection_id) is None:
            return False
        self._refresh(connection_id, self.subscriptions(connection_id), self._now(now))
        return True

    def _refresh(self, connection_id: str, subs: list[tuple[str, str]], t: float) -> None:
        k = self.keys
        deadline = t + self.ttl_s
        pipe = self.client.pipeline(transaction=True)
        pipe.expire(k.connection(connection_id), self.ttl_s)
        pipe.expire(k.connection_subs(connection_id), self.ttl_s)
        pipe.zadd(k.connections(), {connection_id: deadline})
        pipe.expire(k.connections(), self.ttl_s)
        for underlying, expiry in subs:
            pipe.zadd(k.subscribers(underlying, expiry), {connection_id: deadline})
            pipe.expire(k.subscribers(underlying, expiry), self.ttl_s)
        self._call(pipe.execute)

    def subscribe(
        self, connection_id: str, underlying: str, expiry: str, now: float | None = None
    ) -> bool:
        """Add a subscription (and refresh the connection); False when it is unknown.

        Raises ValueError for a malformed underlying or expiry.
        """
        expiry = expiry_text(expiry)
        self.keys.subscribers(underlying, expiry)  # validates both components
        if self.principal(connection_id) is None:
            return False
        member = f"{underlying}{_SEP}{expiry}"
        self._call(lambda: self.client.sadd(self.keys.connection_subs(connection_id), member))
        self._refresh(connection_id, self.subscriptions(connection_id), self._now(now))
        return True

    def unsubscribe(
        self, connection_id: str, underlying: str, expiry: str, now: float | None = None
    ) -> bool:
        """Drop a subscription (and refresh the connection); False when it is unknown."""
        expiry = expiry_text(expiry)
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        pipe.srem(k.connection_subs(connection_id), f"{underlying}{_SEP}{expiry}")
        pipe.zrem(k.subscribers(underlying, expiry), connection_id)
        self._call(pipe.execute)
        return self.touch(connection_id, now)

    def disconnect(self, connection_id: str) -> None:
        """Forget a connection entirely ($disconnect, or a 410 from the Management API)."""
        k = self.keys
        subs = self.subscriptions(connection_id)
        pipe = self.client.pipeline(transaction=True)
        for underlying, expiry in subs:
            pipe.zrem(k.subscribers(underlying, expiry), connection_id)
        pipe.zrem(k.connections(), connection_id)
        pipe.delete(k.connection(connection_id), k.connection_subs(connection_id))
        self._call(pipe.execute)

    # -- readers (pusher) -------------------------------------------------------------------

    def subscribers(self, underlying: str, expiry: str, now: float | None = None) -> list[str]:
        """Connection ids subscribed to an expiry that have not lapsed."""
        key = self.keys.subscribers(underlying, expiry)
        t = self._now(now)
        members: list[bytes] = self._call(lambda: self.client.zrangebyscore(key, t, "+inf"))
        return [m.decode() for m in members]

    def connections(self, now: float | None = None) -> list[str]:
        """Every connection id that has not lapsed (market data and orders go to all)."""
        t = self._now(now)
        members: list[bytes] = self._call(
            lambda: self.client.zrangebyscore(self.keys.connections(), t, "+inf")
        )
        return [m.decode() for m in members]

    def connections_of(self, user_ids: set[str], now: float | None = None) -> dict[str, list[str]]:
        """The live connections of each of these users (a user's alerts go to them alone):
        every connection's ``user_id`` in one pipelined round trip."""
        ids = self.connections(now)
        if not ids or not user_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for connection_id in ids:
            pipe.hget(self.keys.connection(connection_id), "user_id")
        owners: list[bytes | None] = self._call(pipe.execute)
        out: dict[str, list[str]] = {}
        for connection_id, owner in zip(ids, owners, strict=True):
            user = owner.decode() if owner is not None else None
            if user in user_ids:
                out.setdefault(user, []).append(connection_id)
        return out

    def prune(self, now: float | None = None) -> int:
        """Remove lapsed members from the sorted sets; returns how many were removed."""
        t = self._now(now)
        removed = int(self._call(lambda: self.client.zremrangebyscore(
            self.keys.connections(), "-inf", f"({t}")))  # fmt: skip
        keys: list[bytes] = self._call(
            lambda: list(self.client.scan_iter(match=self.keys.subscribers_pattern(), count=500))
        )
        if keys:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.zremrangebyscore(key, "-inf", f"({t}")
            removed += sum(int(n) for n in self._call(pipe.execute))
        return removed
