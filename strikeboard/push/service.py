"""The pusher: the feed's live channels -> every subscribed WebSocket connection.

PSUBSCRIBEs ``{prefix}live:*`` (one channel per expiry) and SUBSCRIBEs the orders and the
alerts channels (a fired alert goes to its user's connections only, looked up in the registry);
each expiry has a lane that puts its messages in seq order. A push cycle (as soon as a lane
has something, at most ``market_hz`` times a second; else ``market_hz`` times a second for
the market data) polls the market hash, puts what the cycle has on the `Board` and sends each
connection that is free ONE message with everything it is owed (market data if it changed,
its expiries' deltas, orders: a ``batch`` when more than one; API Gateway bills per message)
through the Management API (an `AsyncPoster`: `HttpPoster` by default). The cycle does not
wait for its posts: a connection whose previous message is still in flight is passed over and
gets the merged delta of what it missed when it is free again (`strikeboard.push.conflate`),
so a slow client neither holds the others nor grows a queue.

Several pushers (``shards``, e.g. ``--workers N``) split the connections between them by a
hash of the connection id; each subscribes to every channel and posts to its own share.

Falling behind never loses data: the lane takes its whole backlog at once and composes the
deltas into one (`compose_deltas`). Missing messages (a Redis reconnect, a gap in the seqs)
are caught up from the bounded delta stream (`HotStore.deltas_since`), else a ``reset`` tells
clients to re-fetch. A 410 from the Management API drops the connection from the registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import zlib
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import redis
import redis.asyncio as aioredis

from strikeboard.push import messages
from strikeboard.push.conflate import Board, Item, LaneKey, coalesce
from strikeboard.push.poster import AsyncPoster, PostResult
from strikeboard.push.registry import Registry
from strikeboard.store import snapshot as snap
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.keys import DEFAULT_PREFIX, Keys

log = logging.getLogger("strikeboard.push")

PRUNE_EVERY_S: Final = 60.0
STATS_EVERY_S: Final = 30.0
SETTLE_S: Final = 0.015
"""How long a cycle waits after the first delta for the rest of the feed's burst."""
BURST: Final = 2.0
"""Cycles the token bucket lets through at once (see `Pusher._bucket_wait`)."""
HISTORY_S: Final = 10.0
"""How far behind a connection may fall and still get a merged delta (else a reset): longer
than a post with its retries normally takes."""

__all__ = ["Item", "Lane", "Pusher", "PusherStats"]


@dataclass
class Lane:
    underlying: str
    expiry: str
    queue: asyncio.Queue[Item | None] = field(default_factory=asyncio.Queue)
    last_seq: int | None = None
    task: asyncio.Task[None] | None = None
    pending: list[Item] = field(default_factory=list)  # in seq order, for the next cycle


@dataclass
class PusherStats:
    received: int = 0
    sent_messages: int = 0
    posts: Counter[str] = field(default_factory=Counter)
    coalesced: int = 0
    caught_up: int = 0
    resets: int = 0
    market: int = 0
    orders: int = 0
    alerts: int = 0  # alert messages received (each posted to its user's connections)
    reconnects: int = 0
    cycles: int = 0  # push cycles that sent something
    batched: int = 0  # messages that went inside a batch with others
    errors: int = 0  # posts that raised (a bug in a poster: counted, the connection kept)


class Pusher:
    """Forwards live messages to subscribers; run with `run(stop)`."""

    def __init__(
        self,
        redis_url: str,
        poster: AsyncPoster,
        *,
        prefix: str = DEFAULT_PREFIX,
        registry: Registry | None = None,
        hot: HotStore | None = None,
        market_hz: float = 4.0,
        shard: int = 0,
        shards: int = 1,
        concurrency: int = 256,
    ) -> None:
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} not in 0..{shards - 1}")
        self.redis_url = redis_url
        self.poster = poster
        self.keys = Keys(prefix)
        self.registry = registry or Registry.from_url(redis_url, prefix)
        self.hot = hot or HotStore.from_url(redis_url, prefix)
        self.shard, self.shards = shard, shards
        self.market_interval = 1.0 / market_hz
        self.io = ThreadPoolExecutor(2, thread_name_prefix="redis")  # registry/store calls
        self.lanes: dict[tuple[str, str], Lane] = {}
        self.orders: list[str] = []  # order messages for the next cycle
        self.alerts: list[tuple[str, str]] = []  # (user id, alert message) for the next cycle
        self.board = Board(history=max(4, round(HISTORY_S * market_hz)))
        # Deliveries wait here for one of `window` posting tasks: a cycle's 1,000 posts are
        # not 1,000 tasks that each run (and sign) up to the pool's limit before the first
        # response is read, which held every answer back ~100 ms behind the planning.
        self.window = max(1, concurrency)
        self.waiting: deque[tuple[str, list[bytes], asyncio.Future[None]]] = deque()
        self.deliveries: set[asyncio.Task[None]] = set()  # the posting tasks
        self.stats = PusherStats()
        self.subscribed = asyncio.Event()  # set once the live channels are subscribed
        self.wake = asyncio.Event()  # something arrived for the next cycle
        self.last_items_at = -1e9  # monotonic time the lanes last had something
        self._tokens, self._tokens_at = BURST, time.monotonic()  # see _bucket_wait

    # -- plumbing ---------------------------------------------------------------------------

    async def _io(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.io, fn, *args)

    def _lane(self, underlying: str, expiry: str) -> Lane:
        lane = self.lanes.get((underlying, expiry))
        if lane is None:
            lane = Lane(underlying, expiry)
            lane.task = asyncio.create_task(self._lane_worker(lane))
            self.lanes[(underlying, expiry)] = lane
        return lane

    def _channel_expiry(self, channel: str) -> tuple[str, str] | None:
        head = self.keys.channel_pattern()[:-1]  # "{prefix}live:"
        if not channel.startswith(head):
            return None
        underlying, _, expiry = channel[len(head) :].partition(":")
        return (underlying, expiry) if underlying and expiry else None

    def mine(self, connection_ids: list[str]) -> list[str]:
        """The connections this shard posts to (each pusher process owns a stable share)."""
        if self.shards == 1:
            return connection_ids
        return [c for c in connection_ids if zlib.crc32(c.encode()) % self.shards == self.shard]

    # -- fan-out ----------------------------------------------------------------------------

    async def _post_all(self, connection_id: str, payloads: list[bytes]) -> PostResult:
        for payload in payloads:
            result = await self.poster.post(connection_id, payload)
            if result is not PostResult.OK:
                return result
        return PostResult.OK

    async def _deliver(self, connection_id: str, payloads: list[bytes]) -> None:
        """One connection's message (its parts in order); the board learns how it went."""
        result = PostResult.FAILED
        try:
            result = await self._post_all(connection_id, payloads)
        except Exception:  # a poster must not raise; if it does, count it and carry on
            self.stats.errors += 1
            log.exception("post to %s", connection_id)
        finally:
            self.board.delivered(connection_id, result is PostResult.OK)
        self.stats.posts[result.value] += 1
        if result is PostResult.OK:
            self.stats.sent_messages += len(payloads)
        elif result is PostResult.GONE:
            self.board.forget(connection_id)
            with contextlib.suppress(StoreError):
                await self._io(self.registry.disconnect, connection_id)

    def _start(self, connection_ids: list[str], texts: list[str]) -> list[asyncio.Future[None]]:
        """Queue one message (encoded once, shared) for each of these connections; a future
        per delivery, done when it is."""
        payloads = [
            part.encode()
            for part in messages.split(messages.batch_message(texts), uuid.uuid4().hex[:12])
        ]
        loop = asyncio.get_running_loop()
        done = [loop.create_future() for _ in connection_ids]
        self.waiting.extend((cid, payloads, d) for cid, d in zip(connection_ids, done, strict=True))
        for _ in range(min(len(self.waiting), self.window - len(self.deliveries))):
            task = asyncio.create_task(self._post_waiting())
            self.deliveries.add(task)
            task.add_done_callback(self.deliveries.discard)
        return done

    async def _post_waiting(self) -> None:
        """One posting task: deliveries in the order they were queued, until none wait."""
        while self.waiting:
            connection_id, payloads, done = self.waiting.popleft()
            try:
                await self._deliver(connection_id, payloads)
            finally:
                if not done.done():
                    done.set_result(None)

    async def send_cycle(self) -> list[asyncio.Future[None]]:
        """Plan the cycle on the board and queue its posts: ONE message per free connection
        with everything it is owed. Not awaited (a slow connection must not hold the others):
        a future per post is returned for callers that want to wait."""
        if not self.board.dirty:
            return []
        everyone = self.mine(await self._io(self.registry.connections))
        subscribers: dict[LaneKey, list[str]] = {}
        for key in self.board.active_lanes():
            subscribers[key] = self.mine(await self._io(self.registry.subscribers, *key))
        sends = self.board.plan(everyone, subscribers)
        tasks = [task for send in sends for task in self._start(send.connection_ids, send.texts)]
        if sends:
            self.stats.cycles += 1
        self.stats.batched += sum(len(s.connection_ids) * len(s.texts) for s in sends
                                  if len(s.texts) > 1)  # fmt: skip
        return tasks

    # -- per-expiry lanes -------------------------------------------------------------------

    async def _catch_up(self, lane: Lane) -> list[Item]:
        """What followed ``lane.last_seq``, from the delta stream; a reset when it is gone."""
        assert lane.last_seq is not None
        try:
            found = await self._io(self.hot.deltas_since, lane.underlying, lane.expiry,
                                   lane.last_seq)  # fmt: skip
        except StoreError:
            found = None
        if found is not None:
            self.stats.caught_up += len(found)
            return [Item.of(doc) for doc in found]
        self.stats.resets += 1
        try:
            current = await self._io(self.hot.read_snapshot, lane.underlying, lane.expiry)
        except StoreError:
            current = None
        seq = int(current[snap.SEQ]) if current else lane.last_seq
        doc = {"seq": seq, "base": lane.last_seq, "type": "reset",
               "underlying": lane.underlying, "expiry": lane.expiry}  # fmt: skip
        return [Item.of(doc)]

    async def _ordered(self, lane: Lane, batch: list[Item | None]) -> list[Item]:
        """The batch in seq order, duplicates dropped, gaps filled (or turned into a reset).

        A None in the batch is a probe (after a Redis reconnect): fetch what followed.
        """
        items = sorted((i for i in batch if i is not None), key=lambda i: i.seq)
        if lane.last_seq is not None and any(i is None for i in batch):
            items = sorted([*items, *await self._catch_up(lane)], key=lambda i: i.seq)
        out: list[Item] = []
        for item in items:
            last = lane.last_seq
            if last is not None and item.seq <= last:
                continue  # already sent (a duplicate from a catch-up)
            if last is not None and item.kind == "delta" and item.base != last:
                for missed in await self._catch_up(lane):
                    if lane.last_seq is None or missed.seq > lane.last_seq:
                        out.append(missed)
                        lane.last_seq = missed.seq
                if lane.last_seq is not None and item.seq <= lane.last_seq:
                    continue  # the catch-up (or its reset) covered it
            out.append(item)  # if it still does not follow, the client sees the gap
            lane.last_seq = item.seq
        return out

    def _coalesce(self, items: list[Item]) -> list[Item]:
        """Runs of consecutive deltas become one delta each; resets pass through."""
        out, merged = coalesce(items)
        self.stats.coalesced += merged
        return out

    async def _lane_worker(self, lane: Lane) -> None:
        while True:
            batch: list[Item | None] = [await lane.queue.get()]
            while not lane.queue.empty():
                batch.append(lane.queue.get_nowait())
            try:
                ordered = await self._ordered(lane, batch)
                if ordered:
                    lane.pending.extend(ordered)
                    self.last_items_at = time.monotonic()
                    self.wake.set()
            except (StoreError, ValueError, KeyError) as exc:
                log.warning("lane %s %s: %s", lane.underlying, lane.expiry, exc)

    # -- sources ----------------------------------------------------------------------------

    async def _dispatch(self, channel: str, data: bytes) -> None:
        self.stats.received += 1
        if channel == self.keys.alerts():
            try:
                fired = snap.loads(data)
                user_id, event = str(fired["user_id"]), fired["event"]
                text = messages.alert_message(event)
            except (snap.SnapshotError, KeyError, TypeError, AttributeError) as exc:
                log.warning("bad alert message: %s", exc)
                return
            self.stats.alerts += 1
            self.alerts.append((user_id, text))
            self.wake.set()
            return
        if channel == self.keys.orders():
            try:
                update = snap.loads(data)
            except snap.SnapshotError:
                return
            self.stats.orders += 1
            self.orders.append(messages.order_message(update))
            self.wake.set()
            return
        stream = self._channel_expiry(channel)
        if stream is None:
            return
        try:
            item = Item.parse(data)
        except (snap.SnapshotError, KeyError, ValueError) as exc:
            log.warning("bad live message on %s: %s", channel, exc)
            return
        self._lane(*stream).queue.put_nowait(item)

    async def _listen(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        first = True
        while not stop.is_set():
            client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(self.keys.channel_pattern())
                await pubsub.subscribe(self.keys.orders(), self.keys.alerts())
                if not first:
                    # Subscribed again: whatever was published while we were away is in
                    # the delta streams; each lane fetches what follows its last seq.
                    for lane in self.lanes.values():
                        lane.queue.put_nowait(None)
                first = False
                backoff = 0.1
                self.subscribed.set()
                while not stop.is_set():
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if msg is None:
                        continue
                    channel = msg["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    await self._dispatch(channel, msg["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self.stats.reconnects += 1
                self.subscribed.clear()
                log.warning("Redis pub/sub lost (%s); retrying in %.1f s", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await client.aclose()

    # -- push cycles ------------------------------------------------------------------------

    def _collect_lanes(self) -> None:
        """Each lane's pending items (a backlog composed into one delta) onto the board."""
        for key, lane in list(self.lanes.items()):
            if lane.pending:
                items, lane.pending = lane.pending, []
                self.board.add_items(key, self._coalesce(items))

    def _bucket_wait(self, now: float) -> float:
        """Seconds until a cycle may send: a token bucket (``market_hz`` a second, a burst of
        `BURST`) keeps each connection at ``market_hz`` messages a second on average while
        letting a cycle follow a late delta at once, so the cycles never lock one interval
        behind the publishes."""
        self._tokens = min(BURST, self._tokens + (now - self._tokens_at) / self.market_interval)
        self._tokens_at = now
        return max(0.0, (1.0 - self._tokens) * self.market_interval)

    async def _next_cycle(self, stop: asyncio.Event, ran: float, sent: float) -> None:
        """Until the next cycle is due: when lane items or orders arrive (after `SETTLE_S`,
        for the rest of the feed's burst: it publishes its expiries one after the other), no
        sooner than half an interval after the last cycle that sent something (``sent``) and
        within the token bucket; else, for the market data, one interval after the last
        cycle (``ran``), or one and a half while the lanes publish (so that a market-only
        cycle does not take the place of a delta that is a little late)."""
        interval = self.market_interval
        idle = time.monotonic() - self.last_items_at > 2 * interval
        deadline = ran + (interval if idle else 1.5 * interval)
        waiting = asyncio.ensure_future(self.wake.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiting, stopping}, timeout=max(0.0, deadline - time.monotonic()),
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            waiting.cancel()
            stopping.cancel()
        now = time.monotonic()
        delay = max(self._bucket_wait(now), sent + interval / 2 - now,
                    SETTLE_S if self.wake.is_set() else 0.0)  # fmt: skip
        if delay > 0 and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _cycles(self, stop: asyncio.Event) -> None:
        last: dict[str, Any] | None = None
        ran = sent = -1e9
        while not stop.is_set():
            await self._next_cycle(stop, ran, sent)
            if stop.is_set():
                return
            ran = time.monotonic()
            self.board.start_cycle()
            try:
                current = await self._io(self.hot.read_market)
                if current and current != last:
                    self.board.set_market(messages.market_message(current))
                    self.stats.market += 1
                    last = current
            except StoreError as exc:
                log.debug("market poll: %s", exc)
            self.wake.clear()  # what arrived so far goes in this cycle
            self._collect_lanes()
            orders, self.orders = self.orders, []
            self.board.add_orders(orders)
            await self._route_alerts()
            try:
                if await self.send_cycle():
                    sent = ran
                    self._bucket_wait(ran)
                    self._tokens -= 1.0
            except StoreError as exc:
                log.warning("push cycle: %s", exc)

    async def _route_alerts(self) -> None:
        """This cycle's alerts onto the board, for their users' connections (of this shard)."""
        if not self.alerts:
            return
        alerts, self.alerts = self.alerts, []
        try:
            owners = await self._io(self.registry.connections_of, {u for u, _ in alerts})
        except StoreError as exc:  # the events are in PostgreSQL: the SPA lists them on load
            log.warning("alerts not routed (%d): %s", len(alerts), exc)
            return
        for user_id, text in alerts:
            for connection_id in self.mine(owners.get(user_id, [])):
                self.board.add_direct(connection_id, text)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        last_prune = last_stats = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            now = time.monotonic()
            if self.shard == 0 and now - last_prune >= PRUNE_EVERY_S:
                last_prune = now
                with contextlib.suppress(StoreError):
                    await self._io(self.registry.prune)
            if now - last_stats >= STATS_EVERY_S:
                last_stats = now
                s, b = self.stats, self.board.stats
                log.info(
                    "push stats: received=%d sent=%d posts=%s coalesced=%d caught_up=%d "
                    "resets=%d lanes=%d cycles=%d batched=%d connections=%d in_flight=%d "
                    "skipped=%d conflated=%d lag_resets=%d alerts=%d", s.received,
                    s.sent_messages, dict(s.posts), s.coalesced, s.caught_up, s.resets,
                    len(self.lanes), s.cycles, s.batched, len(self.board.peers),
                    len(self.deliveries), b.skipped, b.conflated, b.lag_resets, s.alerts,
                )  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set."""
        tasks = [
            asyncio.create_task(self._listen(stop)),
            asyncio.create_task(self._cycles(stop)),
            asyncio.create_task(self._housekeeping(stop)),
        ]
        try:
            await stop.wait()
        finally:
            for lane in self.lanes.values():
                if lane.task is not None:
                    lane.task.cancel()
            for _, _, done in self.waiting:
                done.cancel()
            self.waiting.clear()
            for task in [*tasks, *self.deliveries]:
                task.cancel()
            await asyncio.gather(*tasks, *self.deliveries,
                                 *(ln.task for ln in self.lanes.values() if ln.task),
                                 return_exceptions=True)  # fmt: skip
            self.io.shutdown(wait=True, cancel_futures=True)
