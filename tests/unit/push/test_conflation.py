"""Fair conflation under overload: a connection whose posts are slow is passed over while its
message is in flight and then gets ONE merged delta of what it missed (seq rules kept: its
base is the last seq the client had), or a reset when it fell behind the history; the others
are not held; nothing queues (one post in flight per connection, a bounded lane history), and
every client still rebuilds the Redis document exactly."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from strikeboard.auth import Principal
from strikeboard.push import messages
from strikeboard.push.conflate import Board, Item
from strikeboard.push.poster import PostResult
from strikeboard.push.registry import Registry
from strikeboard.push.service import Pusher
from strikeboard.store import snapshot as snap
from strikeboard.store.hot import HotStore
from tests.support.sim_chain import SimChain

JSONDict = dict[str, Any]
USER = Principal("dev", "dev")


class GatedPoster:
    """Records what each connection receives; a connection with a closed gate waits in its
    post until the gate opens (a slow or far client); ids in ``gone`` answer 410."""

    def __init__(self) -> None:
        self.received: dict[str, list[JSONDict]] = defaultdict(list)
        self.gates: dict[str, asyncio.Event] = {}
        self.gone: set[str] = set()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0  # posts in flight at once, all connections

    async def post(self, connection_id: str, data: bytes) -> PostResult:
        self.in_flight[connection_id] += 1
        self.peak[connection_id] = max(self.peak[connection_id], self.in_flight[connection_id])
        self.peak_total = max(self.peak_total, self.in_flight.total())
        try:
            gate = self.gates.get(connection_id)
            if gate is not None:
                await gate.wait()
            if connection_id in self.gone:
                return PostResult.GONE
            self.received[connection_id].extend(messages.unbatch(json.loads(data)))
            return PostResult.OK
        finally:
            self.in_flight[connection_id] -= 1

    async def aclose(self) -> None:
        pass


@dataclass
class Client:
    """A browser of one expiry: starts from the snapshot (the subscribe reply), applies what
    it receives by the seq rules, re-fetches over REST (here: Redis) on a reset."""

    rest: Callable[[], JSONDict | None]
    follower: messages.Follower = field(default_factory=messages.Follower)
    outcomes: list[str] = field(default_factory=list)
    done: int = 0

    def feed(self, received: list[JSONDict]) -> None:
        for message in received[self.done :]:
            if message["type"] in ("delta", "reset"):
                outcome = self.follower.handle(message)
                self.outcomes.append(outcome)
                if outcome == "reset":
                    self.follower.load(self.rest() or {})
        self.done = len(received)


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@dataclass
class Rig:
    chain: SimChain
    hot: HotStore
    registry: Registry
    poster: GatedPoster
    pusher: Pusher
    previous: JSONDict

    @property
    def expiry(self) -> str:
        return self.chain.expiries[0]

    def publish(self) -> int:
        document = self.chain.step(1)[self.expiry]
        seq = self.hot.publish(document, self.previous)
        self.previous = document
        return seq

    def client(self, cid: str) -> Client:
        self.registry.connect(cid, USER)
        self.registry.subscribe(cid, "NIFTY", self.expiry)
        client = Client(lambda: self.hot.read_snapshot("NIFTY", self.expiry))
        client.follower.load(client.rest() or {})
        return client


@pytest_asyncio.fixture
async def rig(redis_url: str, redis_prefix: str) -> AsyncIterator[Rig]:
    hot = HotStore.from_url(redis_url, redis_prefix)
    registry = Registry.from_url(redis_url, redis_prefix, ttl_s=60)
    poster = GatedPoster()
    pusher = Pusher(redis_url, poster, prefix=redis_prefix, registry=registry, hot=hot,
                    market_hz=20)  # fmt: skip
    pusher.board = Board(history=8)  # 8 cycles with deltas; further behind: a reset
    chain = SimChain(seed=3)
    first = chain.snapshots()[chain.expiries[0]]
    hot.publish(first)
    stop = asyncio.Event()
    task = asyncio.create_task(pusher.run(stop))
    await asyncio.wait_for(pusher.subscribed.wait(), 10)
    yield Rig(chain, hot, registry, poster, pusher, first)
    for gate in poster.gates.values():
        gate.set()
    stop.set()
    await task
    hot.close()
    registry.close()


@pytest.mark.asyncio
async def test_a_slow_client_gets_merged_deltas_and_holds_no_one(rig: Rig) -> None:
    fast, slow = rig.client("fast="), rig.client("slow=")
    rig.client("gone=")
    rig.poster.gone.add("gone=")
    received = rig.poster.received
    key = ("NIFTY", rig.expiry)
    bounded: list[int] = []

    async def publish_while_slow_waits(steps: int) -> int:
        seq = 0
        for _ in range(steps):
            seq = rig.publish()
            await eventually(lambda seq=seq: bool(received["fast="])
                             and received["fast="][-1]["seq"] == seq)  # fmt: skip
            # Nothing queues: one post in flight for the slow client, a bounded history.
            assert rig.poster.in_flight["slow="] == 1
            assert len(rig.pusher.deliveries) <= 2
            bounded.append(len(rig.pusher.board.lanes[key].entries))
        return seq

    seq = rig.publish()
    await eventually(lambda: bool(received["slow="]) and received["slow="][-1]["seq"] == seq)
    await eventually(lambda: "gone=" not in rig.registry.connections())  # 410: pruned
    assert "gone=" not in rig.pusher.board.peers

    # The slow client's next post hangs (a far client, a stalled socket) for 5 updates.
    rig.poster.gates["slow="] = asyncio.Event()
    first = rig.publish()
    await eventually(lambda: rig.poster.in_flight["slow="] == 1)
    last = await publish_while_slow_waits(5)
    posted_before = len(received["slow="])
    rig.poster.gates["slow="].set()
    await eventually(lambda: bool(received["slow="]) and received["slow="][-1]["seq"] == last)
    after = received["slow="][posted_before:]
    # The post that was hanging (seq `first`), then ONE delta from `first` to `last`.
    assert [(m["base"], m["seq"]) for m in after] == [(first - 1, first), (first, last)]
    assert rig.pusher.board.stats.skipped >= 5 and rig.pusher.board.stats.conflated >= 4

    # Stalled longer than the history (8 cycles with deltas): a reset, then the REST snapshot.
    rig.poster.gates["slow="] = asyncio.Event()
    rig.publish()
    await eventually(lambda: rig.poster.in_flight["slow="] == 1)
    last = await publish_while_slow_waits(12)
    rig.poster.gates["slow="].set()
    await eventually(lambda: received["slow="][-1]["seq"] == last)
    assert received["slow="][-1]["type"] == "reset"
    assert rig.pusher.board.stats.lag_resets >= 1
    last = rig.publish()  # and it follows on from the snapshot it fetched
    await eventually(lambda: received["slow="][-1]["seq"] == last)

    document = rig.hot.read_snapshot("NIFTY", rig.expiry)
    for client, cid in ((fast, "fast="), (slow, "slow=")):
        client.feed(received[cid])
        assert "gap" not in client.outcomes
        assert client.follower.document == document
    assert set(fast.outcomes) == {"applied"}  # the fast client got every delta, in turn
    assert len(received["fast="]) >= 20 and len(received["slow="]) <= 8
    assert max(bounded) == 8  # the lane history stays at its bound
    assert max(rig.poster.peak.values()) == 1  # never two posts to one connection at once


# -- the board alone (no Redis, no clock) -------------------------------------------------------


def deltas(count: int, seed: int = 11) -> tuple[list[JSONDict], list[Item]]:
    """``count + 1`` documents of one expiry (seq 1..) and the deltas between them."""
    chain = SimChain(seed=seed)
    expiry = chain.expiries[0]
    documents = [dict(chain.snapshots()[expiry], seq=1)]
    items = []
    for seq in range(2, count + 2):
        document = dict(chain.step(1)[expiry], seq=seq)
        change = snap.diff_snapshot(documents[-1], document)
        items.append(Item.of({"seq": seq, "base": seq - 1, "type": "delta", "underlying": "NIFTY",
                              "expiry": expiry, **change}))  # fmt: skip
        documents.append(document)
    return documents, items


def test_a_failed_post_is_owed_merged_and_resets_past_the_history() -> None:
    documents, items = deltas(12)
    expiry = documents[0]["expiry"]
    key = ("NIFTY", expiry)
    board = Board(history=4)
    followers = {cid: messages.Follower() for cid in ("a", "b")}
    for follower in followers.values():
        follower.load(copy.deepcopy(documents[0]))

    def receive(cid: str, texts: list[str]) -> None:
        for text in texts:
            outcome = followers[cid].handle(snap.loads(text))
            assert outcome in ("applied", "reset"), outcome
            if outcome == "reset":  # re-fetch: the newest document (seq s is documents[s-1])
                head = board.lanes[key].head
                assert head is not None
                followers[cid].load(copy.deepcopy(documents[head - 1]))

    def cycle(item: Item, fail: frozenset[str] = frozenset()) -> None:
        board.start_cycle()
        board.add_items(key, [item])
        for send in board.plan(["a", "b"], {key: ["a", "b"]}):
            for cid in send.connection_ids:
                if cid not in fail:
                    receive(cid, send.texts)
                board.delivered(cid, cid not in fail)

    cycle(items[0])
    cycle(items[1], fail=frozenset({"b"}))  # b's post failed: what it carried stays owed
    cycle(items[2])
    assert followers["b"].seq == items[2].seq == followers["a"].seq
    assert board.stats.conflated == 1
    # b stalls (one post in flight) for 6 cycles, more than the history of 4: a reset.
    board.start_cycle()
    board.add_items(key, [items[3]])
    for send in board.plan(["a", "b"], {key: ["a", "b"]}):
        for cid in send.connection_ids:
            receive(cid, send.texts)
            if cid == "a":
                board.delivered(cid, True)  # b's stays in flight
    for item in items[4:10]:
        cycle(item)
    assert len(board.lanes[key].entries) == 4  # the history stays at its bound
    board.delivered("b", True)  # the stalled post finally went through
    cycle(items[10])
    assert board.stats.lag_resets == 1
    cycle(items[11])
    assert followers["a"].document == followers["b"].document == documents[12]
    assert board.stats.skipped == 6
    # Gone from the registry: forgotten (the board keeps no state for it).
    board.start_cycle()
    board.plan(["a"], {key: ["a"]})
    assert set(board.peers) == {"a"}


def test_a_lane_that_starts_late_reaches_its_early_subscribers() -> None:
    """Subscribed before the expiry's first delta, with idle cycles between (no plan ran):
    the first items arrive whole, not as a reset."""
    _, items = deltas(2)
    key = ("NIFTY", items[0].doc["expiry"])
    board = Board(history=4)
    board.start_cycle()
    board.set_market(messages.market_message({"NIFTY 50": {"ltp": 1.0}}))
    (send,) = board.plan(["a"], {key: ["a"]})
    board.delivered("a", True)
    for _ in range(10):
        board.start_cycle()  # nothing new: no plan
    board.add_items(key, items[:1])
    (send,) = board.plan(["a"], {key: ["a"]})
    assert send.texts == [items[0].text]
    board.delivered("a", True)
    board.start_cycle()
    board.add_items(key, items[1:])
    (send,) = board.plan(["a"], {key: ["a"]})
    assert send.texts == [items[1].text] and board.stats.lag_resets == 0


def test_laggards_at_different_depths_share_one_walk_and_all_rebuild() -> None:
    documents, items = deltas(5)
    key = ("NIFTY", documents[0]["expiry"])
    board = Board(history=8)
    peers = ["p0", "p1", "p2", "p3"]
    followers = {cid: messages.Follower() for cid in peers}
    for follower in followers.values():
        follower.load(copy.deepcopy(documents[0]))
    for n, item in enumerate(items[:4]):
        board.start_cycle()
        board.add_items(key, [item])
        for send in board.plan(peers, {key: peers}):
            for cid in send.connection_ids:
                ok = n < int(cid[1])  # pK's posts fail from cycle K on: K cycles behind
                for text in send.texts if ok else []:
                    assert followers[cid].handle(snap.loads(text)) == "applied"
                board.delivered(cid, ok)
    texts_before = [i.text for _, entry in board.lanes[key].entries for i in entry]
    board.start_cycle()
    board.add_items(key, [items[4]])
    sends = board.plan(peers, {key: peers})
    assert len(sends) == len(peers)  # four depths: four merged deltas, from one walk back
    for send in sends:
        (cid,) = send.connection_ids
        (text,) = send.texts
        assert snap.loads(text)["base"] == followers[cid].seq
        assert followers[cid].handle(snap.loads(text)) == "applied"
        assert followers[cid].document == documents[5]
    # The history itself is untouched by the merging (what is built on is parsed afresh).
    assert [i.text for _, entry in board.lanes[key].entries for i in entry][:-1] == texts_before


def test_direct_messages_go_to_their_connection_once_and_stay_owed_until_delivered() -> None:
    """A user's alert goes to that connection alone, after what the cycle has for everyone;
    a failed post owes it again; a connection gone from the registry is forgotten with it."""
    board = Board(history=4, direct_log=2)
    market = messages.market_message({"NIFTY 50": {"ltp": 1.0}})
    alert = messages.alert_message({"id": 7, "text": "NIFTY spot crossed above 24500"})
    board.start_cycle()
    board.set_market(market)
    board.add_direct("a", alert)
    sends = {tuple(s.connection_ids): s.texts for s in board.plan(["a", "b"], {})}
    assert sends == {("a",): [market, alert], ("b",): [market]}
    board.delivered("a", False)  # the post failed: still owed
    board.delivered("b", True)
    board.start_cycle()
    (send,) = board.plan(["a", "b"], {})
    assert (send.connection_ids, send.texts) == (["a"], [market, alert])
    # Another alert while that post is in flight: only it comes next.
    second = messages.alert_message({"id": 8, "text": "second"})
    board.add_direct("a", second)
    board.delivered("a", True)
    board.start_cycle()
    (send,) = board.plan(["a", "b"], {})
    assert (send.connection_ids, send.texts) == (["a"], [second])
    board.delivered("a", True)
    board.start_cycle()
    assert board.plan(["a", "b"], {}) == [] and board.direct == {}
    # Bounded: beyond direct_log waiting, the oldest goes (counted).
    for n in range(3):
        board.add_direct("b", messages.alert_message({"id": n}))
    assert len(board.direct["b"]) == 2 and board.stats.direct_lost == 1
    board.start_cycle()
    board.plan(["a"], {})  # b is gone from the registry
    assert "b" not in board.direct and "b" not in board.peers


@pytest.mark.asyncio
async def test_an_alert_reaches_its_users_connections_only(rig: Rig) -> None:
    """Published on the alerts channel (as the feed's evaluator does), an alert is posted to
    each connection of its user, on this shard, and to nobody else."""
    rig.registry.connect("mine-1=", Principal("alice", "alice"))
    rig.registry.connect("mine-2=", Principal("alice", "alice"))
    rig.registry.connect("theirs=", Principal("bob", "bob"))
    rig.registry.subscribe("theirs=", "NIFTY", rig.expiry)
    event = {"id": 41, "rule_id": 3, "crossing": 1, "kind": "spot", "underlying": "NIFTY",
             "text": "NIFTY spot crossed above 24500 (24512.35)", "user_id": "alice",
             "email": True, "pushed_at": None}  # fmt: skip
    assert rig.hot.publish_alert("alice", event) >= 1
    received = rig.poster.received

    def alerts(cid: str) -> list[JSONDict]:
        return [m for m in received[cid] if m["type"] == "alert"]

    await eventually(lambda: bool(alerts("mine-1=")) and bool(alerts("mine-2=")))
    seq = rig.publish()  # bob gets the chain, still no alert
    await eventually(lambda: any(m.get("seq") == seq for m in received["theirs="]))
    for cid in ("mine-1=", "mine-2="):
        (message,) = alerts(cid)
        assert message["data"]["id"] == 41 and message["data"]["crossing"] == 1
        assert set(message["data"]) == set(messages.ALERT_FIELDS)  # no user id, no bookkeeping
    assert alerts("theirs=") == []
    assert rig.pusher.stats.alerts == 1


@pytest.mark.asyncio
async def test_posts_in_flight_are_bounded_by_the_concurrency(rig: Rig) -> None:
    """A cycle's deliveries wait in a queue for `window` posting tasks (PUSH_CONCURRENCY):
    never more posts in flight, and the waiting ones go as soon as a task is free."""
    rig.pusher.window = 2
    ids = [f"c{i}=" for i in range(6)]
    for cid in ids:
        rig.client(cid)
    received = rig.poster.received
    seq = rig.publish()
    await eventually(lambda: all(received[c] and received[c][-1]["seq"] == seq for c in ids))
    for cid in ids[:2]:
        rig.poster.gates[cid] = asyncio.Event()  # these two hang in their next post
    seq = rig.publish()
    await eventually(lambda: rig.poster.in_flight.total() == 2)
    assert len(rig.pusher.deliveries) <= 2
    for cid in ids[:2]:
        rig.poster.gates[cid].set()
    await eventually(lambda: all(received[c][-1]["seq"] == seq for c in ids))
    assert rig.poster.peak_total == 2 and not rig.pusher.waiting
