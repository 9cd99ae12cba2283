"""The pusher: the feed's live channels -> every subscribed WebSocket connection.

PSUBSCRIBEs ``{prefix}live:*`` (one channel per expiry) and SUBSCRIBEs the orders channel;
each expiry has a lane that puts its messages in seq order. A push cycle, ``market_hz`` times
a second, polls the market hash and sends each connection ONE message with everything the
cycle has for it (market data if it changed, its expiry's deltas, orders: a ``batch`` when
more than one; API Gateway bills per message) through the Management API, many connections
at once (a thread pool of ``concurrency`` boto3 calls), each connection's messages in order.

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
import re
import time
import uuid
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import redis
import redis.asyncio as aioredis

from strikeboard.push import messages
from strikeboard.push.poster import Poster, PostResult
from strikeboard.push.registry import Registry
from strikeboard.store import snapshot as snap
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.keys import DEFAULT_PREFIX, Keys

log = logging.getLogger("strikeboard.push")

_HEAD: Final = re.compile(rb'^\{"seq":(\d+),"base":(\d+|null),"type":"(\w+)"')
PRUNE_EVERY_S: Final = 60.0
STATS_EVERY_S: Final = 30.0


@dataclass
class Item:
    """One message of an expiry's live stream (text as published, parsed on demand)."""

    seq: int
    base: int | None
    kind: str
    text: str
    _doc: dict[str, Any] | None = None

    @classmethod
    def parse(cls, raw: bytes | str) -> Item:
        data = raw if isinstance(raw, bytes) else raw.encode()
        head = _HEAD.match(data)
        if head:  # the feed's own layout: no need to parse a 30 KB delta to route it
            base = None if head.group(2) == b"null" else int(head.group(2))
            return cls(int(head.group(1)), base, head.group(3).decode(), data.decode())
        doc = snap.loads(data)
        base_value = doc.get("base")
        return cls(
            int(doc["seq"]), None if base_value is None else int(base_value),
            str(doc.get("type")), data.decode(), doc,
        )  # fmt: skip

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Item:
        base = doc.get("base")
        return cls(int(doc["seq"]), None if base is None else int(base), str(doc.get("type")),
                   messages.dumps(doc), doc)  # fmt: skip

    @property
    def doc(self) -> dict[str, Any]:
        if self._doc is None:
            self._doc = snap.loads(self.text)
        return self._doc


@dataclass
class Lane:
    underlying: str
    expiry: str
    queue: asyncio.Queue[Item | None] = field(default_factory=asyncio.Queue)
    last_seq: int | None = None
    task: asyncio.Task[None] | None = None
    pending: list[Item] = field(default_factory=list)  # in seq order, for the next cycle


@dataclass(frozen=True)
class Outgoing:
    """A message for the next push cycle: to these connections, or to every one (None)."""

    connection_ids: list[str] | None
    text: str


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
    reconnects: int = 0
    cycles: int = 0  # push cycles that sent something
    batched: int = 0  # messages that went inside a batch with others


class Pusher:
    """Forwards live messages to subscribers; run with `run(stop)`."""

    def __init__(
        self,
        redis_url: str,
        poster: Poster,
        *,
        prefix: str = DEFAULT_PREFIX,
        registry: Registry | None = None,
        hot: HotStore | None = None,
        concurrency: int = 64,
        market_hz: float = 4.0,
        shard: int = 0,
        shards: int = 1,
    ) -> None:
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} not in 0..{shards - 1}")
        self.redis_url = redis_url
        self.poster = poster
        self.keys = Keys(prefix)
        self.registry = registry or Registry.from_url(redis_url, prefix)
        self.hot = hot or HotStore.from_url(redis_url, prefix)
        self.concurrency = concurrency
        self.shard, self.shards = shard, shards
        self.market_interval = 1.0 / market_hz
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="post")
        self.io = ThreadPoolExecutor(2, thread_name_prefix="redis")  # registry/store calls
        self.lanes: dict[tuple[str, str], Lane] = {}
        self.orders: list[str] = []  # order messages for the next cycle
        self.stats = PusherStats()
        self.subscribed = asyncio.Event()  # set once the live channels are subscribed

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

    def _post_all(self, connection_id: str, payloads: list[bytes]) -> PostResult:
        for payload in payloads:
            result = self.poster.post(connection_id, payload)
            if result is not PostResult.OK:
                return result
        return PostResult.OK

    async def fan_out(self, connection_ids: list[str], texts: list[str]) -> Counter[PostResult]:
        """Send ``texts`` (in order) to each connection, connections concurrently."""
        payloads = [
            part.encode() for text in texts for part in messages.split(text, uuid.uuid4().hex[:12])
        ]
        loop = asyncio.get_running_loop()
        futures = [
            loop.run_in_executor(self.pool, self._post_all, cid, payloads) for cid in connection_ids
        ]
        results = await asyncio.gather(*futures)
        outcome: Counter[PostResult] = Counter(results)
        for result, count in outcome.items():
            self.stats.posts[result.value] += count
        self.stats.sent_messages += len(payloads) * outcome[PostResult.OK]
        gone = [cid for cid, r in zip(connection_ids, results, strict=True) if r is PostResult.GONE]
        for cid in gone:
            with contextlib.suppress(StoreError):
                await self._io(self.registry.disconnect, cid)
        return outcome

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

    def _coalesce(self, items: list[Item]) -> list[str]:
        """Runs of consecutive deltas become one delta each; resets pass through."""
        texts: list[str] = []
        run: list[Item] = []

        def flush() -> None:
            if len(run) == 1:
                texts.append(run[0].text)
            elif run:
                merged = run[0].doc
                for nxt in run[1:]:
                    merged = messages.compose_deltas(merged, nxt.doc)
                self.stats.coalesced += len(run) - 1
                texts.append(messages.dumps(merged))
            run.clear()

        for item in items:
            if item.kind == "delta":
                run.append(item)
            else:
                flush()
                texts.append(item.text)
        flush()
        return texts

    async def _lane_worker(self, lane: Lane) -> None:
        while True:
            batch: list[Item | None] = [await lane.queue.get()]
            while not lane.queue.empty():
                batch.append(lane.queue.get_nowait())
            try:
                lane.pending.extend(await self._ordered(lane, batch))
            except (StoreError, ValueError, KeyError) as exc:
                log.warning("lane %s %s: %s", lane.underlying, lane.expiry, exc)

    # -- sources ----------------------------------------------------------------------------

    async def _dispatch(self, channel: str, data: bytes) -> None:
        self.stats.received += 1
        if channel == self.keys.orders():
            try:
                update = snap.loads(data)
            except snap.SnapshotError:
                return
            self.stats.orders += 1
            self.orders.append(messages.order_message(update))
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
                await pubsub.subscribe(self.keys.orders())
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

    async def _lane_messages(self) -> list[Outgoing]:
        """Each lane's pending items (a backlog composed into one delta) for its subscribers."""
        out: list[Outgoing] = []
        for lane in list(self.lanes.values()):
            if not lane.pending:
                continue
            items, lane.pending = lane.pending, []
            try:
                texts = self._coalesce(items)
                ids = self.mine(
                    await self._io(self.registry.subscribers, lane.underlying, lane.expiry)
                )
            except (StoreError, ValueError, KeyError) as exc:
                log.warning("lane %s %s: %s", lane.underlying, lane.expiry, exc)
                continue
            if ids:
                out.extend(Outgoing(ids, text) for text in texts)
        return out

    async def send_cycle(self, outgoing: list[Outgoing]) -> None:
        """One message per connection: its share of ``outgoing``, in order, as a batch."""
        everyone: list[str] = []
        if any(o.connection_ids is None for o in outgoing):
            everyone = self.mine(await self._io(self.registry.connections))
        wanted: dict[str, list[int]] = {}
        for index, o in enumerate(outgoing):
            for cid in everyone if o.connection_ids is None else o.connection_ids:
                wanted.setdefault(cid, []).append(index)
        # Connections that get the same messages share one payload (and one encoding).
        groups: dict[tuple[int, ...], list[str]] = {}
        for cid, indices in wanted.items():
            groups.setdefault(tuple(indices), []).append(cid)
        await asyncio.gather(*(
            self.fan_out(cids, [messages.batch_message([outgoing[i].text for i in indices])])
            for indices, cids in groups.items()
        ))  # fmt: skip
        self.stats.cycles += 1
        self.stats.batched += sum(len(cids) * len(ix) for ix, cids in groups.items() if len(ix) > 1)

    async def _cycles(self, stop: asyncio.Event) -> None:
        last: dict[str, Any] | None = None
        while not stop.is_set():
            started = time.monotonic()
            outgoing: list[Outgoing] = []
            try:
                current = await self._io(self.hot.read_market)
                if current and current != last:
                    outgoing.append(Outgoing(None, messages.market_message(current)))
                    self.stats.market += 1
                    last = current
            except StoreError as exc:
                log.debug("market poll: %s", exc)
            outgoing.extend(await self._lane_messages())
            orders, self.orders = self.orders, []
            outgoing.extend(Outgoing(None, text) for text in orders)
            if outgoing:
                try:
                    await self.send_cycle(outgoing)
                except StoreError as exc:
                    log.warning("push cycle: %s", exc)
            wait = self.market_interval - (time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(wait, 0.01))

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
                s = self.stats
                log.info(
                    "push stats: received=%d sent=%d posts=%s coalesced=%d caught_up=%d "
                    "resets=%d lanes=%d cycles=%d batched=%d", s.received, s.sent_messages,
                    dict(s.posts), s.coalesced, s.caught_up, s.resets, len(self.lanes),
                    s.cycles, s.batched,
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
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, *(ln.task for ln in self.lanes.values() if ln.task),
                                 return_exceptions=True)  # fmt: skip
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.io.shutdown(wait=True, cancel_futures=True)
