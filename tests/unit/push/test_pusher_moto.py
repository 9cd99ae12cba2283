"""The pusher against real Redis and moto's Management API: subscribers rebuild exactly the
snapshot in Redis from a snapshot (the WebSocket Lambda's reply) plus the deltas the pusher
forwards."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import redis
from push_helpers import MotoApi, connect_event, load_event, reply_of
from pydantic import SecretStr

from lambdas import ws
from strikeboard.config import Settings
from strikeboard.push import messages
from strikeboard.push.conflate import Item
from strikeboard.push.registry import Registry
from strikeboard.push.service import Pusher
from strikeboard.store.hot import HotStore
from strikeboard.store.snapshot import apply_delta, loads
from tests.support.sim_chain import SimChain


@dataclass
class Stack:
    chain: SimChain
    hot: HotStore
    registry: Registry
    deps: ws.Deps
    pusher: Pusher
    moto: MotoApi
    previous: dict[str, dict[str, Any]]
    history: dict[tuple[str, int], dict[str, Any]]
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def connect(self, cid: str, *expiries: str) -> None:
        assert ws.handle(connect_event(self.deps.hot, cid), self.deps)["statusCode"] == 200
        for expiry in expiries:
            event = load_event("subscribe", cid)
            event["body"] = f'{{"action": "subscribe", "expiry": "{expiry}"}}'
            response = ws.handle(event, self.deps)
            assert response["statusCode"] == 200
            reply = reply_of(response)
            assert reply is not None
            self.replies.setdefault(cid, []).append(reply)

    def step(self, seconds: int = 1) -> dict[str, int]:
        seqs = {}
        for expiry, document in self.chain.step(seconds).items():
            seqs[expiry] = self.hot.publish(document, self.previous.get(expiry))
            self.previous[expiry] = document
            self.history[expiry, seqs[expiry]] = copy.deepcopy(document)
        return seqs

    def follow(self, cid: str) -> dict[str, messages.Follower]:
        followers: dict[str, messages.Follower] = {}
        # The subscribe replies came first; the Follower buffers deltas that precede them.
        for message in self.replies.get(cid, []) + self.moto.received(cid):
            if message["type"] in ("snapshot", "delta", "reset"):
                followers.setdefault(message["expiry"], messages.Follower()).handle(message)
        return followers


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def stack(redis_url: str, redis_prefix: str, moto_api: MotoApi) -> AsyncIterator[Stack]:
    hot = HotStore.from_url(redis_url, redis_prefix)
    registry = Registry.from_url(redis_url, redis_prefix, ttl_s=60)
    settings = Settings(dev_token=SecretStr("sample-dev-token"), cognito_issuer="")
    deps = ws.Deps(settings, registry, hot)
    pusher = Pusher(redis_url, moto_api.poster, prefix=redis_prefix, registry=registry,
                    hot=hot, market_hz=20)  # fmt: skip
    s = Stack(SimChain(seed=21), hot, registry, deps, pusher, moto_api, {}, {})
    stop = asyncio.Event()
    task = asyncio.create_task(pusher.run(stop))
    await asyncio.wait_for(pusher.subscribed.wait(), 10)
    yield s
    stop.set()
    await task
    hot.close()
    registry.close()


@pytest.mark.asyncio
async def test_subscribers_rebuild_the_redis_snapshots(stack: Stack, redis_url: str) -> None:
    e0, e1 = stack.chain.expiries[:2]
    stack.step()  # first publish: resets
    stack.connect("conn-a=", e0)
    stack.connect("conn-b=", e0, e1)
    stack.connect("conn-c=")  # market data and orders only
    for _ in range(5):
        last = stack.step()
        await asyncio.sleep(0.05)
    # A lost pub/sub connection: the pusher resubscribes and catches up from the stream.
    admin = redis.Redis.from_url(redis_url)
    admin.client_kill_filter(_type="pubsub")
    admin.close()
    for _ in range(4):
        last = stack.step(2)
    await asyncio.sleep(0.3)
    last = stack.step()
    stack.hot.write_market(stack.chain.market())
    order = stack.chain.order_update()
    stack.hot.publish_order(order)

    def caught_up() -> bool:
        a, b = stack.follow("conn-a="), stack.follow("conn-b=")
        return (
            e0 in a and a[e0].seq == last[e0]
            and e0 in b and b[e0].seq == last[e0] and e1 in b and b[e1].seq == last[e1]
        )  # fmt: skip

    await eventually(caught_up)
    for cid, expiries in (("conn-a=", [e0]), ("conn-b=", [e0, e1])):
        followers = stack.follow(cid)
        assert sorted(followers) == sorted(expiries)
        for expiry in expiries:
            assert followers[expiry].document == stack.hot.read_snapshot("NIFTY", expiry)
    await eventually(lambda: any(m["type"] == "order" for m in stack.moto.received("conn-c=")))
    for cid in ("conn-a=", "conn-b=", "conn-c="):
        received = stack.moto.received(cid)
        assert {"type": "order", "data": order} in received
        market = [m for m in received if m["type"] == "market"]
        assert market and set(market[-1]["data"]) >= {"NIFTY 50", "INDIA VIX"}
    assert not any(m["type"] in ("delta", "snapshot") for m in stack.moto.received("conn-c="))
    assert stack.pusher.stats.reconnects >= 1


@pytest.mark.asyncio
async def test_a_lane_fills_gaps_from_the_stream_or_resets(stack: Stack) -> None:
    expiry = stack.chain.expiries[0]
    for _ in range(6):
        seqs = stack.step()
    lane = stack.pusher._lane("NIFTY", expiry)
    await eventually(lambda: lane.last_seq == seqs[expiry])
    # Pretend the lane last sent seq 2 and now sees seq 6 (base 5): 3..5 come from the stream.
    lane.last_seq = 2
    raw = stack.hot.client.xrange(stack.hot.keys.deltas("NIFTY", expiry), "6-0", "6-0")
    item = Item.parse(raw[0][1][b"msg"])
    out = await stack.pusher._ordered(lane, [item])
    assert [i.seq for i in out] == [3, 4, 5, 6]
    assert all(i.kind == "delta" for i in out)
    # Coalesced they are one delta from 2 to 6 that reproduces snapshot 6.
    (merged,) = stack.pusher._coalesce(out)
    assert merged.text.startswith('{"seq":6,"base":2,')
    assert apply_delta(stack.history[expiry, 2], loads(merged.text)) == stack.history[expiry, 6]
    # Stream trimmed away: the lane resets to the current seq and clients re-fetch.
    stack.hot.client.delete(stack.hot.keys.deltas("NIFTY", expiry))
    lane.last_seq = 2
    out = await stack.pusher._ordered(lane, [item])
    assert [(i.kind, i.seq) for i in out] == [("reset", seqs[expiry])]
    assert messages.Follower().handle(out[0].doc) == "reset"


@pytest.mark.asyncio
async def test_one_message_a_cycle_per_connection(
    stack: Stack, redis_url: str, redis_prefix: str
) -> None:
    """Market data, a connection's deltas and an order of one cycle go as ONE message (API
    Gateway bills per message); a connection with one message gets it bare."""
    stack.connect("conn-a=", "2026-12-01")
    stack.connect("conn-b=")
    market = messages.market_message({"NIFTY 50": {"ltp": 25500.0}})
    delta = '{"seq":2,"base":1,"type":"delta","underlying":"NIFTY","expiry":"2026-12-01","set":{}}'
    order = messages.order_message({"order_id": "1"})
    # A pusher of its own, not running: the stack's cycle loop would race this test's cycles.
    pusher = Pusher(redis_url, stack.moto.poster, prefix=redis_prefix,
                    registry=stack.registry, hot=stack.hot)  # fmt: skip
    board = pusher.board
    board.start_cycle()
    board.set_market(market)
    board.add_items(("NIFTY", "2026-12-01"), [Item.parse(delta)])
    board.add_orders([order])
    await asyncio.gather(*await pusher.send_cycle())
    # The subscription's reply (a reset: no live chain yet) was returned; one post.
    assert [m["type"] for m in stack.replies["conn-a="]] == ["reset"]
    [posted] = stack.moto.posted("conn-a=")
    assert posted["type"] == "batch"
    assert [m["type"] for m in messages.unbatch(posted)] == ["market", "delta", "order"]
    assert messages.unbatch(posted)[1] == loads(delta)
    assert [m["type"] for m in messages.unbatch(stack.moto.posted("conn-b=")[0])] == [
        "market",
        "order",
    ]
    board.start_cycle()
    newer = messages.market_message({"NIFTY 50": {"ltp": 25501.0}})
    board.set_market(newer)
    await asyncio.gather(*await pusher.send_cycle())
    assert stack.moto.posted("conn-b=")[-1] == loads(newer)  # alone: not wrapped
    assert len(stack.moto.posted("conn-a=")) == 2
    board.start_cycle()
    assert await pusher.send_cycle() == []  # nothing new: no post


def test_batches_join_texts_and_come_apart_in_order() -> None:
    texts = [messages.market_message({"x": {"ltp": 1.0}}), messages.PONG]
    assert messages.batch_message(texts[:1]) == texts[0]
    joined = loads(messages.batch_message(texts))
    assert messages.unbatch(joined) == [loads(t) for t in texts]
    assert messages.unbatch(loads(texts[1])) == [{"type": "pong"}]
    with pytest.raises(ValueError, match="empty"):
        messages.batch_message([])
    with pytest.raises(messages.MessageError):
        messages.unbatch({"type": "batch", "messages": "no"})
    with pytest.raises(messages.MessageError):
        messages.unbatch({"type": "batch", "messages": [joined]})


def test_shards_split_the_connections_between_them(moto_api: MotoApi) -> None:
    ids = [f"conn{i:04d}=" for i in range(400)]
    shards = [Pusher("redis://127.0.0.1:1/0", moto_api.poster, shard=i, shards=3) for i in range(3)]
    shares = [set(p.mine(ids)) for p in shards]
    assert set().union(*shares) == set(ids)
    assert sum(len(s) for s in shares) == len(ids)  # disjoint
    assert all(len(s) > 80 for s in shares)  # roughly even
    with pytest.raises(ValueError, match="shard"):
        Pusher("redis://127.0.0.1:1/0", moto_api.poster, shard=3, shards=3)
    for p in shards:
        p.io.shutdown()
