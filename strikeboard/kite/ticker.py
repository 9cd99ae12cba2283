"""Sharded Kite Ticker connections, on kiteconnect's own KiteTicker.

KiteTicker (Twisted/autobahn) holds each connection and reconnects with backoff; this module
keeps each shard's wanted subscription, re-subscribes after every (re)connect, and hands raw
binary payloads to the caller untouched: decoding is the project's vectorised codec's job,
so kiteconnect's per-tick parser never runs. Callbacks arrive on the Twisted reactor thread
and must return quickly; changes to subscriptions are marshalled onto that thread.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from kiteconnect import KiteTicker
from twisted.internet import reactor
from twisted.python import threadable

MAX_SHARDS = 3
MAX_TOKENS_PER_SHARD = 3000


class ShardState(enum.StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"  # KiteTicker gave up after its maximum retries
    CLOSED = "closed"


@dataclass
class ShardStatus:
    shard: int
    state: ShardState = ShardState.IDLE
    tokens: int = 0
    connects: int = 0
    disconnects: int = 0
    last_message_at: float = 0.0
    last_error: str = ""
    disconnected_at: float | None = None
    gaps: list[tuple[float, float]] = field(default_factory=list)
    """(disconnected, reconnected) times of each outage of this shard."""
    gaps_filled: int = 0
    """How many of `gaps` the feed has already back-filled from the quote API."""


PayloadHandler = Callable[[int, bytes, float], None]
"""(shard, binary payload, receive time from time.time())."""
TextHandler = Callable[[int, dict[str, Any]], None]
StateHandler = Callable[[ShardStatus], None]


def _call_in_reactor(fn: Callable[..., object], *args: object) -> None:
    if threadable.isInIOThread():  # type: ignore[no-untyped-call]
        fn(*args)
    else:
        reactor.callFromThread(fn, *args)


class TickerShards:
    """Up to three Kite Ticker connections in full mode, each with at most 3,000 tokens."""

    def __init__(
        self,
        api_key: str,
        access_token: str,
        root: str,
        *,
        on_payload: PayloadHandler,
        on_text: TextHandler | None = None,
        on_state: StateHandler | None = None,
        shards: int = MAX_SHARDS,
    ) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"Kite allows 1 to {MAX_SHARDS} connections, not {shards}")
        self._api_key = api_key
        self._access_token = access_token
        self._root = root
        self._on_payload = on_payload
        self._on_text = on_text
        self._on_state = on_state
        self._wanted: list[set[int]] = [set() for _ in range(shards)]
        self._tickers: list[KiteTicker | None] = [None] * shards
        self.status = [ShardStatus(i) for i in range(shards)]
        self._lock = threading.Lock()

    # -- public API, callable from any thread -----------------------------------------------

    def assign(self, shard_tokens: Sequence[Set[int]]) -> None:
        """Set each shard's wanted tokens; the difference is (un)subscribed without reconnecting."""
        if len(shard_tokens) > len(self._wanted):
            raise ValueError(f"{len(shard_tokens)} shards asked for, {len(self._wanted)} open")
        for i, tokens in enumerate(shard_tokens):
            if len(tokens) > MAX_TOKENS_PER_SHARD:
                raise ValueError(f"shard {i}: {len(tokens)} tokens, Kite allows 3000")
        for i in range(len(self._wanted)):
            new = set(shard_tokens[i]) if i < len(shard_tokens) else set()
            with self._lock:
                old, self._wanted[i] = self._wanted[i], new
                self.status[i].tokens = len(new)
            added, removed = sorted(new - old), sorted(old - new)
            if not new and self._tickers[i] is not None:
                _call_in_reactor(self._close_shard, i)
            elif new and self._tickers[i] is None:
                self._open_shard(i)
            elif added or removed:
                _call_in_reactor(self._apply, i, added, removed)

    def set_access_token(self, access_token: str) -> None:
        """Use a new token: every shard with tokens (re)connects with it."""
        self._access_token = access_token
        for i in range(len(self._tickers)):
            old, self._tickers[i] = self._tickers[i], None
            if old is not None:
                _call_in_reactor(old.close, 1000, "new access token")
            if self._wanted[i]:
                self._open_shard(i)

    def close(self) -> None:
        for i in range(len(self._tickers)):
            if self._tickers[i] is not None:
                _call_in_reactor(self._close_shard, i)

    # -- reactor thread -----------------------------------------------------------------------

    def _open_shard(self, i: int) -> None:
        ticker = KiteTicker(self._api_key, self._access_token, root=self._root, reconnect=True,
                            reconnect_max_tries=300, reconnect_max_delay=5)  # fmt: skip
        ticker.on_connect = lambda ws, _response: self._on_connect(i, ws)
        ticker.on_message = lambda _ws, payload, binary: self._on_message(i, payload, binary)
        # A replaced ticker (new token) may still report its closing: only the current one counts.
        ticker.on_close = lambda ws, code, reason: (
            self._on_close(i, code, reason) if self._tickers[i] is ws else None
        )
        ticker.on_error = lambda _ws, code, reason: self._note_error(i, f"{code} {reason}")
        ticker.on_reconnect = lambda _ws, attempt: self._set(i, ShardState.RECONNECTING)
        ticker.on_noreconnect = lambda _ws: self._set(i, ShardState.FAILED)
        self._tickers[i] = ticker
        self._set(i, ShardState.CONNECTING)
        if reactor.running:  # one reactor per process, shared: connect on its own thread
            _call_in_reactor(ticker.connect, True)
        else:
            ticker.connect(threaded=True)

    def _close_shard(self, i: int) -> None:
        ticker, self._tickers[i] = self._tickers[i], None
        if ticker is not None:
            ticker.close(1000, "unsubscribed")
        self._set(i, ShardState.CLOSED)

    def _apply(self, i: int, added: list[int], removed: list[int]) -> None:
        ticker = self._tickers[i]
        if ticker is None or not ticker.is_connected():
            return  # on_connect subscribes the whole wanted set
        if removed:
            ticker.unsubscribe(removed)
        if added:
            ticker.subscribe(added)
            ticker.set_mode(ticker.MODE_FULL, added)

    def _on_connect(self, i: int, ws: KiteTicker) -> None:
        status = self.status[i]
        now = time.time()
        if status.disconnected_at is not None:
            status.gaps.append((status.disconnected_at, now))
            status.disconnected_at = None
        status.connects += 1
        with self._lock:
            tokens = sorted(self._wanted[i])
        # After a reconnect KiteTicker re-subscribes what it had by itself; only a fresh
        # connection needs the wanted set sent.
        if tokens and not ws.subscribed_tokens:
            ws.subscribe(tokens)
            ws.set_mode(ws.MODE_FULL, tokens)
        self._set(i, ShardState.CONNECTED)

    def _on_message(self, i: int, payload: bytes, binary: bool) -> None:
        now = time.time()
        self.status[i].last_message_at = now
        if binary:
            if len(payload) > 1:  # a single byte is a heartbeat
                self._on_payload(i, payload, now)
        elif self._on_text is not None:
            try:
                message = json.loads(payload)
            except ValueError:
                self._note_error(i, f"undecodable text message ({len(payload)} bytes)")
                return
            if isinstance(message, dict):
                self._on_text(i, message)

    def _on_close(self, i: int, code: int | None, reason: str | None) -> None:
        status = self.status[i]
        status.disconnects += 1
        if status.disconnected_at is None:
            status.disconnected_at = time.time()
        if self._tickers[i] is not None:
            self._set(i, ShardState.RECONNECTING, f"closed: {code} {reason}")

    def _note_error(self, i: int, error: str) -> None:
        self.status[i].last_error = error
        if self._on_state is not None:
            self._on_state(self.status[i])

    def _set(self, i: int, state: ShardState, error: str = "") -> None:
        self.status[i].state = state
        if error:
            self.status[i].last_error = error
        if self._on_state is not None:
            self._on_state(self.status[i])
