"""Redis hot store: current chain snapshots, live deltas, market data, recent ticks, health.

One writer (the feed) and many readers (API, pusher). Every write of a snapshot is one Lua
script, so a reader sees the snapshot, its seq and the delta message together or not at all.
Key names come from `strikeboard.store.keys`; bounds and TTLs are in docs/storage.md.

When Redis is unreachable every method raises `HotStoreUnavailableError` (quickly: short socket
timeouts) and the caller keeps ingesting; when `ping()` succeeds again it calls `rebuild()`
with its current snapshots so that the hot keys are whole again and clients resynchronise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import numpy as np
import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from strikeboard.store import snapshot as snap
from strikeboard.store.errors import redis_call
from strikeboard.store.keys import DEFAULT_PREFIX, Keys, expiry_text
from strikeboard.store.ticks import TICK_DTYPE, TickArray

JSONDict = snap.JSONDict

SNAPSHOT_TTL_S: Final = 4 * 24 * 3600
"""Snapshots, seqs, delta streams and the expiry list outlive a long weekend, then vanish."""
DELTA_STREAM_MAXLEN: Final = 1000
TICK_STREAM_MAXLEN: Final = 2000
HEALTH_TTL_S: Final = 15
ORDER_STREAM_MAXLEN: Final = 500
MARKET_TTL_S: Final = 4 * 24 * 3600

MSG_DELTA: Final = "delta"
MSG_RESET: Final = "reset"

# KEYS: seq, snapshot, deltas, expiries
# ARGV: floor, ts, data, body, maxlen, member, score, channel, ttl
# The seq never goes backwards: it is the max of the stored seq, the last delta's id and the
# writer's own floor (which survives a Redis restart while the writer lives).
_PUBLISH_LUA: Final = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if cur < floor then cur = floor end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
if #last > 0 then
  local top = tonumber(string.match(last[1][1], '^(%d+)'))
  if top > cur then cur = top end
end
local seq = cur + 1
local ttl = tonumber(ARGV[9])
redis.call('SET', KEYS[1], seq, 'EX', ttl)
redis.call('HSET', KEYS[2], 'seq', seq, 'ts', ARGV[2], 'data', ARGV[3])
redis.call('EXPIRE', KEYS[2], ttl)
local msg = '{"seq":' .. seq .. ',"base":' .. cur .. ',' .. ARGV[4]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], seq .. '-0', 'msg', msg)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[6])
redis.call('EXPIRE', KEYS[4], ttl)
redis.call('PUBLISH', ARGV[8], msg)
return seq
"""


@dataclass
class HotState:
    """What `HotStore.load_state` reads back on a feed restart."""

    snapshots: dict[tuple[str, str], JSONDict] = field(default_factory=dict)
    market: dict[str, JSONDict] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveSnapshot:
    """An expiry's stored snapshot as stored (its JSON, without the seq), its seq, and the
    feed's health document read in the same round trip (None when absent or unreadable)."""

    data: bytes
    seq: int
    health: JSONDict | None


def _key_of(document: JSONDict) -> tuple[str, str]:
    underlying = document.get("underlying")
    expiry = document.get("expiry")
    if not isinstance(underlying, str) or not isinstance(expiry, str | date):
        raise snap.SnapshotError("a snapshot needs 'underlying' (str) and 'expiry' (ISO date)")
    try:
        return underlying, expiry_text(expiry)
    except ValueError as exc:
        raise snap.SnapshotError(f"bad expiry {expiry!r}") from exc


class HotStore:
    """Typed access to the Redis hot data under one key prefix."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self._publish = client.register_script(_PUBLISH_LUA)
        self._floors: dict[tuple[str, str], int] = {}

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX, timeout: float = 1.0) -> HotStore:
        """A store on its own client with short timeouts and no retries, so that an outage
        costs the caller about ``timeout`` seconds per call, not minutes."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        return cls(client, prefix)

    def close(self) -> None:
        self.client.close()

    def _call(self, action: Callable[[], Any]) -> Any:
        return redis_call(action)

    def ping(self) -> bool:
        """True when Redis answers (never raises)."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    # -- snapshots and deltas ---------------------------------------------------------------

    def publish(
        self, snapshot: JSONDict, previous: JSONDict | None = None, delta: JSONDict | None = None
    ) -> int:
        """Store ``snapshot`` as its expiry's current one and publish the change; returns seq.

        With ``previous`` (the snapshot last published for this expiry) the message is a
        ``delta`` of the changed fields: ``delta`` when the caller has it (`chain.document.build`
        takes it from arrays), else `snapshot.diff_snapshot`; without ``previous``, a ``reset``
        telling clients to re-fetch.
        The seq, snapshot, delta stream entry and PUBLISH happen atomically (one Lua script).
        ``snapshot["seq"]`` is set to the assigned seq. Raises `HotStoreUnavailableError` or
        `SnapshotError` (bad document); the previous state in Redis is then untouched.
        """
        underlying, expiry = _key_of(snapshot)
        data = snap.dumps({k: v for k, v in snapshot.items() if k != snap.SEQ})
        header: JSONDict = {"underlying": underlying, "expiry": expiry}
        if previous is None:
            message: JSONDict = {"type": MSG_RESET, **header}
        else:
            if delta is None:
                delta = snap.diff_snapshot(previous, snapshot)
            message = {"type": MSG_DELTA, **header, "set": delta["set"]}
            if "unset" in delta:
                message["unset"] = delta["unset"]
        body = snap.dumps(message)[1:]  # the script prepends '{"seq":N,"base":M,'
        day = date.fromisoformat(expiry)
        ts = snapshot.get("ts")
        stream = (underlying, expiry)
        assigned = self._call(
            lambda: self._publish(
                keys=[
                    self.keys.seq(underlying, expiry),
                    self.keys.snapshot(underlying, expiry),
                    self.keys.deltas(underlying, expiry),
                    self.keys.expiries(underlying),
                ],
                args=[
                    self._floors.get(stream, 0),
                    json.dumps(ts),
                    data,
                    body,
                    DELTA_STREAM_MAXLEN,
                    expiry,
                    day.toordinal(),
                    self.keys.channel(underlying, expiry),
                    SNAPSHOT_TTL_S,
                ],
            )
        )
        seq = int(assigned)
        self._floors[stream] = seq
        snapshot[snap.SEQ] = seq
        return seq

    def rebuild(
        self, snapshots: Iterable[JSONDict], market: Mapping[str, JSONDict] | None = None
    ) -> list[int]:
        """Write full snapshots (and market data) again, e.g. after Redis came back empty.

        Each snapshot is published as a ``reset`` so that live clients re-fetch it.
        """
        seqs = [self.publish(document) for document in snapshots]
        if market:
            self.write_market(market)
        return seqs

    def read_snapshot(self, underlying: str, expiry: date | str) -> JSONDict | None:
        """The current snapshot of one expiry with its seq, or None when absent."""
        key = self.keys.snapshot(underlying, expiry)
        seq, data = self._call(lambda: self.client.hmget(key, ["seq", "data"]))
        if seq is None or data is None:
            return None
        document = snap.loads(data)
        document[snap.SEQ] = int(seq)
        return document

    def read_live(self, underlying: str, expiry: date | str) -> LiveSnapshot | None:
        """The snapshot of one expiry unparsed, with the feed's health, in one round trip (the
        API splices the stored JSON into its answer); None when the expiry has none."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.snapshot(underlying, expiry), ["seq", "data"])
        pipe.get(self.keys.health())
        (seq, data), health_raw = self._call(pipe.execute)
        if seq is None or data is None:
            return None
        health = None
        if health_raw is not None:
            try:
                health = snap.loads(health_raw)
            except snap.SnapshotError:
                health = None
        return LiveSnapshot(bytes(data), int(seq), health)

    def expiries(self, underlying: str) -> list[str]:
        """The live expiries of an underlying, nearest first (ISO dates)."""
        key = self.keys.expiries(underlying)
        members: list[bytes] = self._call(lambda: self.client.zrange(key, 0, -1))
        return [m.decode() for m in members]

    def retire_expiry(self, underlying: str, expiry: date | str) -> None:
        """Drop an expiry's hot keys (after it expired or left the configured set)."""
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(k.expiries(underlying), expiry_text(expiry))
        pipe.delete(k.snapshot(underlying, expiry), k.seq(underlying, expiry))
        pipe.delete(k.deltas(underlying, expiry))
        self._call(pipe.execute)
        self._floors.pop((underlying, expiry_text(expiry)), None)

    def deltas_since(self, underlying: str, expiry: date | str, seq: int) -> list[JSONDict] | None:
        """The delta messages after ``seq`` in order, for a pusher that missed some.

        None when they are no longer all in the bounded stream or ``seq`` is not one this
        stream issued (the caller re-sends the snapshot instead); [] when ``seq`` is current.
        """
        key = self.keys.deltas(underlying, expiry)
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self._call(
            lambda: self.client.xrange(key, min=f"{seq + 1}-0", max="+")
        )
        messages = [snap.loads(fields[b"msg"]) for _, fields in entries]
        if messages and int(messages[0]["base"]) != seq:
            return None
        if not messages:
            # Current only if the stored seq is exactly the caller's (ahead or unknown: the
            # stream was lost or the caller is confused; either way it needs the snapshot).
            current = self._call(lambda: self.client.get(self.keys.seq(underlying, expiry)))
            if current is None or int(current) != seq:
                return None
        return messages

    # -- market data, ticks, health ---------------------------------------------------------

    def write_market(self, values: Mapping[str, JSONDict]) -> None:
        """Latest market values by name (e.g. "spot", "future:NIFTY26NOVFUT", "vix")."""
        if not values:
            return
        key = self.keys.market()
        mapping = {name: snap.dumps(value) for name, value in values.items()}
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        pipe.expire(key, MARKET_TTL_S)
        self._call(pipe.execute)

    def read_market(self) -> dict[str, JSONDict]:
        raw: dict[bytes, bytes] = self._call(lambda: self.client.hgetall(self.keys.market()))
        return {name.decode(): snap.loads(value) for name, value in raw.items()}

    def append_ticks(self, ticks: TickArray) -> None:
        """Append one batch of ticks to the bounded recent-ticks stream (one entry per batch,
        compact columns: token, ltp, volume, oi, exchange_ts (us), bid, ask)."""
        if ticks.dtype != TICK_DTYPE:
            raise ValueError(f"expected TICK_DTYPE, got {ticks.dtype}")
        if len(ticks) == 0:
            return
        columns = {
            name: np.ascontiguousarray(values)
            for name, values in (
                ("token", ticks["token"]),
                ("ltp", ticks["last_price"]),
                ("volume", ticks["volume"]),
                ("oi", ticks["oi"]),
                ("exchange_ts", ticks["exchange_ts"]),
                ("bid", ticks["bid_price"][:, 0]),
                ("ask", ticks["ask_price"][:, 0]),
            )
        }
        data = orjson.dumps(columns, option=orjson.OPT_SERIALIZE_NUMPY)  # hot path: no lists
        key = self.keys.ticks()
        pipe = self.client.pipeline(transaction=False)
        # received_us: when the feed got the batch's first tick (its latency reference).
        fields = {"n": len(ticks), "data": data,
                  "received_us": int(ticks["received_ts"].min())}  # fmt: skip
        pipe.xadd(key, fields, maxlen=TICK_STREAM_MAXLEN)  # type: ignore[arg-type]
        pipe.expire(key, MARKET_TTL_S)
        self._call(pipe.execute)

    def recent_ticks(self, count: int = 10) -> list[JSONDict]:
        """The last ``count`` tick batches, oldest first, as column dicts."""
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self._call(
            lambda: self.client.xrevrange(self.keys.ticks(), count=count)
        )
        return [snap.loads(fields[b"data"]) for _, fields in reversed(entries)]

    def publish_order(self, update: JSONDict) -> None:
        """A Kite order update: appended to the bounded orders stream and published live."""
        payload = snap.dumps(update)
        key = self.keys.orders()
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(key, {"msg": payload}, maxlen=ORDER_STREAM_MAXLEN)
        pipe.expire(key, MARKET_TTL_S)
        pipe.publish(key, payload)
        self._call(pipe.execute)

    def publish_alert(self, user_id: str, event: JSONDict) -> int:
        """A fired alert for the pusher (pub/sub only: a user who is not connected reads it
        from PostgreSQL, GET /api/alerts/events); returns how many subscribers got it."""
        payload = snap.dumps({"user_id": user_id, "event": event})
        return int(self._call(lambda: self.client.publish(self.keys.alerts(), payload)))

    def read_access_token(self) -> str | None:
        """The Kite access token the local login callback stored, if any."""
        raw = self._call(lambda: self.client.get(self.keys.access_token()))
        return None if raw is None else bytes(raw).decode()

    def write_access_token(self, token: str, ttl_s: int = 24 * 3600) -> None:
        """Kite tokens die at 06:00 IST the next day; a day's TTL keeps no stale one around."""
        self._call(lambda: self.client.set(self.keys.access_token(), token, ex=ttl_s))

    def bump_token_notice(self) -> int:
        """Tell the feed a new token is in the Kite secret. A counter with no TTL: a feed that
        starts later reads the secret anyway, and any change of the value means "read now"."""
        return int(self._call(lambda: self.client.incr(self.keys.token_notice())))

    def read_token_notice(self) -> str | None:
        """The login's notice counter (None before the first cloud login)."""
        raw = self._call(lambda: self.client.get(self.keys.token_notice()))
        return None if raw is None else bytes(raw).decode()

    def write_health(self, health: JSONDict, ttl_s: int = HEALTH_TTL_S) -> None:
        """The feed's health document; it expires after ``ttl_s`` unless rewritten."""
        payload = snap.dumps(health)
        self._call(lambda: self.client.set(self.keys.health(), payload, ex=ttl_s))

    def read_health(self) -> JSONDict | None:
        raw = self._call(lambda: self.client.get(self.keys.health()))
        return None if raw is None else snap.loads(raw)

    def write_session(self, session: JSONDict) -> None:
        """The session the feed last opened or closed: {"day", "state", "at"}."""
        payload = snap.dumps(session)
        self._call(lambda: self.client.set(self.keys.session(), payload))

    def read_session(self) -> JSONDict | None:
        raw = self._call(lambda: self.client.get(self.keys.session()))
        return None if raw is None else snap.loads(raw)

    # -- restart ----------------------------------------------------------------------------

    def load_state(self, underlyings: Iterable[str]) -> HotState:
        """Read back every live snapshot and the market data (feed restart). Also seeds the
        seq floors so that the seqs continue from where they were."""
        state = HotState(market=self.read_market())
        for underlying in underlyings:
            for expiry in self.expiries(underlying):
                document = self.read_snapshot(underlying, expiry)
                if document is not None:
                    state.snapshots[(underlying, expiry)] = document
                    seq = int(document[snap.SEQ])
                    self._floors[(underlying, expiry)] = max(
                        seq, self._floors.get((underlying, expiry), 0)
                    )
        return state
