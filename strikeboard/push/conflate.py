"""Fair conflation: what each connection has had and what it is owed (pure, no I/O).

Each push cycle puts on the `Board` what it has: the market data if it changed, each lane's
new items (its expiry's deltas and resets, in seq order), order updates, and messages for one
connection only (a user's fired alerts: `Board.add_direct`). `Board.plan` then
gives every connection that is not still busy with its previous message ONE message with
everything it has not had: for a connection that keeps up, this cycle's; for one that was
busy (a slow or far client whose post outlasted a cycle) or whose post failed, the merged
delta of all it missed (`compose_deltas`: the same as applying them one by one, so the seq
rules hold: its ``base`` is the last seq the client got), the newest market data and the
order updates since its last message. A slow connection never holds the others.

Nothing queues per connection: a connection has at most one message in flight, and the board
keeps the last ``history`` cycles of each lane (a connection further behind gets a ``reset``:
re-fetch the snapshot), the last ``order_log`` order updates and, per connection, its last
``direct_log`` direct messages not yet delivered, so memory stays flat whatever the clients
do.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from strikeboard.push import messages
from strikeboard.store import snapshot as snap

LaneKey = tuple[str, str]  # (underlying, expiry)

_HEAD: Final = re.compile(rb'^\{"seq":(\d+),"base":(\d+|null),"type":"(\w+)"')
DEFAULT_HISTORY: Final = 40  # cycles: 10 s at 4 Hz
DEFAULT_ORDER_LOG: Final = 1000
DEFAULT_DIRECT_LOG: Final = 100


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

    def parsed(self) -> dict[str, Any]:
        """The document without keeping it (items in a lane's history stay text only)."""
        return self._doc if self._doc is not None else snap.loads(self.text)


def join(first: list[Item], then: list[Item]) -> tuple[list[Item], int]:
    """``first`` then ``then``, each with no two deltas in a row, as one such list: a delta
    meeting a delta at the seam is composed (`compose_deltas`); how many were merged away.
    Deltas that do not follow each other stay apart (the client sees the gap and re-fetches)."""
    if first and then and first[-1].kind == "delta" and then[0].kind == "delta":
        older = first[-1]
        own = older._doc is None  # parsed here, nobody else holds it: build on it, no copy
        try:
            merged = messages.compose_deltas(older.parsed(), then[0].parsed(), consume=own)
        except messages.MessageError:
            return [*first, *then], 0
        return [*first[:-1], Item.of(merged), *then[1:]], 1
    return [*first, *then], 0


def coalesce(items: list[Item]) -> tuple[list[Item], int]:
    """Runs of consecutive deltas composed into one each, resets kept; how many merged away."""
    out: list[Item] = []
    count = 0
    for item in items:
        out, merged = join(out, [item])
        count += merged
    return out, count


@dataclass
class LaneLog:
    """A lane's last ``history`` cycles that had items (coalesced), oldest first."""

    underlying: str
    expiry: str
    history: int
    floor: int  # a connection served up to this cycle or earlier cannot get a delta from here
    entries: deque[tuple[int, list[Item]]] = field(default_factory=deque)
    head: int | None = None  # seq of the newest item

    @property
    def newest(self) -> int:
        """The newest cycle with items (``floor`` when none)."""
        return self.entries[-1][0] if self.entries else self.floor

    def add(self, cycle: int, items: list[Item]) -> None:
        if len(self.entries) >= self.history:
            self.floor = self.entries.popleft()[0]
        self.entries.append((cycle, items))
        self.head = items[-1].seq

    def owed(self, afters: Iterable[int]) -> tuple[dict[int, list[str]], int]:
        """For each cycle in ``afters``: the texts of what came after it (merged), or a reset
        when it is older than the history; and how many deltas were merged away. Built from
        the newest entry back, one composition a step, whatever the number of distinct lags."""
        out: dict[int, list[str]] = {}
        merged: list[Item] = []
        count = 0
        index = len(self.entries) - 1
        for after in sorted(set(afters), reverse=True):
            if after < self.floor:
                out[after] = [messages.reset_message(self.underlying, self.expiry, self.head)]
                continue
            while index >= 0 and self.entries[index][0] > after:
                merged, n = join(self.entries[index][1], merged)
                count += n
                index -= 1
            out[after] = [item.text for item in merged]
        return out, count


@dataclass
class Peer:
    """One connection's state: what it has had (committed when a message is delivered)."""

    market: int = 0  # market version delivered (0: none)
    orders: int = 0  # order updates delivered, as a position in the board's count
    lanes: dict[LaneKey, int] = field(default_factory=dict)  # lane -> cycle delivered up to
    busy: bool = False
    pending: tuple[int, int, dict[LaneKey, int], int] | None = None  # state once delivered


@dataclass(frozen=True)
class Send:
    """One message (``texts`` in order, batched by the caller) for each of these connections."""

    connection_ids: list[str]
    texts: list[str]


@dataclass
class BoardStats:
    skipped: int = 0  # connections passed over because their previous message was in flight
    conflated: int = 0  # deltas merged into a laggard's message
    lag_resets: int = 0  # lanes a connection had fallen too far behind on: a reset instead
    orders_lost: int = 0  # order updates a laggard missed beyond the order log
    direct_lost: int = 0  # direct messages dropped beyond a connection's direct log


class Board:
    """The push cycles' shared state; see the module docstring."""

    def __init__(self, history: int = DEFAULT_HISTORY, order_log: int = DEFAULT_ORDER_LOG,
                 direct_log: int = DEFAULT_DIRECT_LOG) -> None:  # fmt: skip
        self.history = max(1, history)
        self.cycle = 0
        self.market_text: str | None = None
        self.market_version = 0
        self.orders: deque[str] = deque(maxlen=order_log)
        self.order_count = 0
        self._orders_before = 0  # order_count when this cycle started
        self.lanes: dict[LaneKey, LaneLog] = {}
        self.peers: dict[str, Peer] = {}
        self.direct_log = max(1, direct_log)
        self.direct: dict[str, deque[tuple[int, str]]] = {}  # connection -> (number, text)
        self._direct_count = 0
        self.dirty = False  # something is owed to someone: the next cycle must plan
        self.stats = BoardStats()

    # -- what a cycle has -------------------------------------------------------------------

    def start_cycle(self) -> int:
        self.cycle += 1
        self._orders_before = self.order_count
        return self.cycle

    def set_market(self, text: str) -> None:
        self.market_text = text
        self.market_version += 1
        self.dirty = True

    def add_items(self, key: LaneKey, items: list[Item]) -> None:
        if not items:
            return
        lane = self.lanes.get(key)
        if lane is None:
            # floor -1: nothing came before the first items, nobody can have missed any.
            lane = self.lanes[key] = LaneLog(*key, self.history, floor=-1)
        lane.add(self.cycle, items)
        self.dirty = True

    def add_orders(self, texts: list[str]) -> None:
        self.orders.extend(texts)
        self.order_count += len(texts)
        self.dirty = self.dirty or bool(texts)

    def add_direct(self, connection_id: str, text: str) -> None:
        """A message for this connection alone, owed until a post of it succeeds (the oldest
        is dropped beyond ``direct_log`` waiting)."""
        owed = self.direct.setdefault(connection_id, deque())
        if len(owed) >= self.direct_log:
            owed.popleft()
            self.stats.direct_lost += 1
        self._direct_count += 1
        owed.append((self._direct_count, text))
        self.dirty = True

    def active_lanes(self) -> list[LaneKey]:
        """Lanes with items in the history: whose subscribers a plan needs."""
        return [k for k, lane in self.lanes.items() if lane.newest > self.cycle - self.history]

    # -- who gets what ----------------------------------------------------------------------

    def plan(self, connections: Iterable[str], subscribers: dict[LaneKey, list[str]]) -> list[Send]:
        """This cycle's messages: one for each free connection that is owed something,
        connections owed the same sharing one `Send`. Marks them busy until `delivered`."""
        lanes_of: dict[str, list[LaneKey]] = {}
        for key in sorted(subscribers):
            for cid in subscribers[key]:
                lanes_of.setdefault(cid, []).append(key)
        present = dict.fromkeys(itertools.chain(connections, lanes_of))
        for cid in [c for c, p in self.peers.items() if c not in present and not p.busy]:
            del self.peers[cid]  # gone from the registry
        for cid in [c for c in self.direct if c not in present and c not in self.peers]:
            del self.direct[cid]
        self.dirty = False
        cycle = self.cycle
        wanted: dict[
            tuple[bool, tuple[tuple[LaneKey, int], ...], int, tuple[str, ...]], list[str]
        ] = {}
        needs: dict[LaneKey, set[int]] = {}
        for cid in present:
            peer = self.peers.get(cid)
            if peer is None:  # new: gets this cycle's orders and lane items, the market now
                peer = self.peers[cid] = Peer(orders=self._orders_before)
            subscribed = lanes_of.get(cid, [])
            for key in subscribed:
                peer.lanes.setdefault(key, cycle - 1)  # subscribed since: only what follows
            if peer.busy:
                self.stats.skipped += 1
                self.dirty = True  # it is owed this cycle: plan again next cycle
                continue
            for key in [k for k in peer.lanes if k in subscribers and k not in subscribed]:
                del peer.lanes[key]  # unsubscribed (lanes not asked about this cycle: kept)
            owed_lanes: list[tuple[LaneKey, int]] = []
            for key in subscribed:
                lane = self.lanes.get(key)
                after = peer.lanes[key]
                if lane is None or lane.newest <= after:
                    peer.lanes[key] = cycle  # nothing new: it has everything up to now
                else:
                    owed_lanes.append((key, after))
                    needs.setdefault(key, set()).add(after)
            market = self.market_text is not None and peer.market != self.market_version
            orders = peer.orders if peer.orders < self.order_count else -1
            direct = tuple(text for _, text in self.direct.get(cid, ()))
            if not (market or owed_lanes or orders >= 0 or direct):
                continue
            wanted.setdefault((market, tuple(owed_lanes), orders, direct), []).append(cid)
        texts_of: dict[LaneKey, dict[int, list[str]]] = {}
        for key, afters in needs.items():
            texts_of[key], merged = self.lanes[key].owed(afters)
            self.stats.conflated += merged
            self.stats.lag_resets += sum(1 for a in afters if a < self.lanes[key].floor)
        sends: list[Send] = []
        for (market, lane_afters, orders, direct), cids in wanted.items():
            texts = [self.market_text] if market and self.market_text is not None else []
            for key, after in lane_afters:
                texts.extend(texts_of[key][after])
            if orders >= 0:
                kept_from = self.order_count - len(self.orders)
                if orders < kept_from:
                    self.stats.orders_lost += (kept_from - orders) * len(cids)
                texts.extend(itertools.islice(self.orders, max(0, orders - kept_from), None))
            texts.extend(direct)
            lanes_now = {key: cycle for key, _ in lane_afters}
            for cid in cids:
                peer = self.peers[cid]
                peer.busy = True
                owed = self.direct.get(cid)
                upto = owed[-1][0] if owed else 0  # its direct messages in this one
                peer.pending = (self.market_version if market else peer.market,
                                self.order_count, lanes_now, upto)  # fmt: skip
            sends.append(Send(cids, texts))
        return sends

    def delivered(self, connection_id: str, ok: bool) -> None:
        """The message of `plan` reached the connection (``ok``) or did not: then what it
        carried stays owed, merged into the connection's next message."""
        peer = self.peers.get(connection_id)
        if peer is None:
            return
        if ok and peer.pending is not None:
            peer.market, peer.orders, lanes, direct_upto = peer.pending
            for key, cycle in lanes.items():
                if key in peer.lanes:
                    peer.lanes[key] = cycle
            owed = self.direct.get(connection_id)
            while owed and owed[0][0] <= direct_upto:
                owed.popleft()
            if owed is not None and not owed:
                del self.direct[connection_id]
        elif not ok:
            self.dirty = True
        peer.busy = False
        peer.pending = None

    def forget(self, connection_id: str) -> None:
        self.peers.pop(connection_id, None)
        self.direct.pop(connection_id, None)

    @property
    def busy(self) -> int:
        return sum(1 for p in self.peers.values() if p.busy)
