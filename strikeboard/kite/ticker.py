"""Sharded Kite Ticker connections on kiteconnect's KiteTicker, kept alive by this module.

Kite's own reconnect is off: each (re)connection is a fresh KiteTicker, so every new socket is
sent the shard's whole wanted set (KiteTicker would resubscribe its old set), and retries never
end while the token is valid (KiteTicker gives up after 300). A watchdog on the reactor closes a
socket that has said nothing (no tick, no heartbeat) for `stall_after_s`: Kite sockets can stay
open and silent (pykiteconnect issue #229). Raw binary payloads go to the caller undecoded (the
project's codec decodes them). Network I/O on the Twisted reactor thread; callbacks must return
quickly.
"""

from __future__ import annotations

import contextlib
import enum
import json
import random
import threading
import time
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from kiteconnect import KiteTicker
from twisted.internet import reactor as _twisted_reactor
from twisted.internet import task
from twisted.python import threadable

reactor: Any = _twisted_reactor  # Twisted's stubs type the global reactor as an interface

MAX_SHARDS = 3
MAX_TOKENS_PER_SHARD = 3000


class ShardState(enum.StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    UNAUTHORIZED = "unauthorized"  # the handshake was refused (403): waits for a new token
    CLOSED = "closed"


@dataclass(frozen=True)
class TickerPolicy:
    """How shards are kept alive. Kite sends a heartbeat byte each idle second, so a few
    seconds of silence means a dead socket."""

    stall_after_s: float = 5.0
    handshake_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    watchdog_every_s: float = 0.5


@dataclass
class ShardStatus:
    shard: int
    state: ShardState = ShardState.IDLE
    tokens: int = 0
    subscribed: int = 0
    """Tokens sent to the server on the current socket (equal to `tokens` once reconciled)."""
    connects: int = 0
    disconnects: int = 0
    stalls: int = 0
    """Sockets the watchdog closed for silence."""
    attempts: int = 0
    """Failed connection attempts since the last successful one (drives the backoff)."""
    last_message_at: float = 0.0
    last_error: str = ""
    disconnected_at: float | None = None
    gaps: list[tuple[float, float]] = field(default_factory=list)
    """(last message before the outage, reconnected) times of each outage of this shard."""


PayloadHandler = Callable[[int, bytes, float], None]
"""(shard, binary payload, receive time from time.time())."""
TextHandler = Callable[[int, dict[str, Any]], None]
StateHandler = Callable[[ShardStatus], None]


def _call_in_reactor(fn: Callable[..., object], *args: object) -> None:
    if threadable.isInIOThread():  # type: ignore[no-untyped-call]
        fn(*args)
    else:
        reactor.callFromThread(fn, *args)


_reactor_lock = threading.Lock()
_reactor_threads: list[threading.Thread] = []


def _ensure_reactor() -> None:
    """One Twisted reactor per process, on a daemon thread (calls queued before it runs are
    run when it starts)."""
    with _reactor_lock:
        if reactor.running or _reactor_threads:
            return
        thread = threading.Thread(
            target=reactor.run,
            kwargs={"installSignalHandlers": False},
            daemon=True,
            name="kite-reactor",
        )
        thread.start()
        _reactor_threads.append(thread)


class _ShardTicker(KiteTicker):  # type: ignore[misc]
    """One socket's KiteTicker: no retries of its own (its `reconnect=False` is ignored by
    kiteconnect 5.2), a bounded opening handshake, and a report of a failed TCP connect."""

    handshake_timeout_s = 10.0
    on_connect_failed: Callable[[str], None] | None = None
    protocol: Any = None
    """The socket's protocol from its first byte (KiteTicker's `ws` is set only after the
    handshake), so that a hung handshake can be aborted."""

    def _create_connection(self, url: str, **kwargs: Any) -> None:
        super()._create_connection(url, **kwargs)
        factory = self.factory
        factory.setProtocolOptions(openHandshakeTimeout=self.handshake_timeout_s)
        factory.stopTrying()
        build = factory.buildProtocol

        def build_protocol(addr: Any) -> Any:
            self.protocol = build(addr)
            return self.protocol

        def failed(_connector: Any, reason: Any) -> None:
            if self.on_connect_failed is not None:
                self.on_connect_failed(str(getattr(reason, "value", reason)))

        factory.buildProtocol = build_protocol
        factory.clientConnectionFailed = failed
        factory.clientConnectionLost = lambda _connector, _reason: None  # onClose reports it

    def abort(self) -> None:
        """Drop the socket at once, whatever state its handshake is in."""
        self.stop_retry()
        protocol = self.ws or self.protocol
        if protocol is not None:
            with contextlib.suppress(Exception):  # already closed
                protocol.dropConnection(abort=True)


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
        policy: TickerPolicy | None = None,
        rng: random.Random | None = None,
        expect_data: Callable[[], bool] = lambda: True,
    ) -> None:
        """`expect_data`: whether silence means a dead socket now (the market is open);
        outside market hours Kite may have nothing to send and the watchdog rests."""
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"Kite allows 1 to {MAX_SHARDS} connections, not {shards}")
        self._api_key = api_key
        self._access_token = access_token
        self._root = root
        self._on_payload = on_payload
        self._on_text = on_text
        self._on_state = on_state
        self.policy = policy or TickerPolicy()
        self._rng = rng or random.Random()
        self._wanted: list[set[int]] = [set() for _ in range(shards)]
        self._sent: list[set[int]] = [set() for _ in range(shards)]
        self._tickers: list[_ShardTicker | None] = [None] * shards
        self._attempt_started = [0.0] * shards
        self._retry: list[Any] = [None] * shards  # pending reactor.callLater per shard
        self.status = [ShardStatus(i) for i in range(shards)]
        self._lock = threading.Lock()
        self._closed = False
        self._watchdog: task.LoopingCall | None = None
        self._expect_data = expect_data
        self._watching_since: float | None = None
        _ensure_reactor()

    # -- public API, callable from any thread -----------------------------------------------

    def assign(self, shard_tokens: Sequence[Set[int]]) -> None:
        """Set each shard's wanted tokens; connected shards are reconciled at once, others when
        their next socket opens."""
        if len(shard_tokens) > len(self._wanted):
            raise ValueError(f"{len(shard_tokens)} shards asked for, {len(self._wanted)} open")
        for i, tokens in enumerate(shard_tokens):
            if len(tokens) > MAX_TOKENS_PER_SHARD:
                raise ValueError(f"shard {i}: {len(tokens)} tokens, Kite allows 3000")
        with self._lock:
            for i in range(len(self._wanted)):
                self._wanted[i] = set(shard_tokens[i]) if i < len(shard_tokens) else set()
                self.status[i].tokens = len(self._wanted[i])
        _call_in_reactor(self._reconcile_all)

    def set_access_token(self, access_token: str) -> None:
        """Use a new token for every later handshake; shards refused for the old one (or
        waiting to retry) connect now. Open sockets stay: Kite does not close them at expiry."""
        self._access_token = access_token
        _call_in_reactor(self._retry_refused)

    def close(self, wait_s: float = 5.0) -> None:
        """Close every socket. Returns once the reactor has done it (or after ``wait_s``): no
        payload is delivered after that, so a caller stopping its ingest next loses none."""
        self._closed = True
        closed = threading.Event()

        def close_all() -> None:
            try:
                self._close_all()
            finally:
                closed.set()

        _call_in_reactor(close_all)
        closed.wait(wait_s)

    def wanted(self, shard: int) -> frozenset[int]:
        with self._lock:
            return frozenset(self._wanted[shard])

    # -- reactor thread -----------------------------------------------------------------------

    def _reconcile_all(self) -> None:
        if self._closed:
            return
        self._ensure_watchdog()
        for i in range(len(self._wanted)):
            self._reconcile(i)

    def _reconcile(self, i: int) -> None:
        """Make the server's set equal the wanted set: connect, (un)subscribe, or close."""
        with self._lock:
            wanted = set(self._wanted[i])
        ticker = self._tickers[i]
        if not wanted:
            if ticker is not None or self._retry[i] is not None:
                self._stop_shard(i, ShardState.CLOSED)
            return
        if ticker is None:
            if self._retry[i] is None and self.status[i].state != ShardState.UNAUTHORIZED:
                self._connect(i)
            return
        if not ticker.is_connected():
            return  # the handshake's on_connect sends the wanted set
        added, removed = sorted(wanted - self._sent[i]), sorted(self._sent[i] - wanted)
        if removed and ticker.unsubscribe(removed):
            self._sent[i].difference_update(removed)
        if added and ticker.subscribe(added) and ticker.set_mode(ticker.MODE_FULL, added):
            self._sent[i].update(added)
        # KiteTicker answers a failed send by closing the socket: the next socket retries.
        self.status[i].subscribed = len(self._sent[i])

    def _connect(self, i: int) -> None:
        self._retry[i] = None
        if self._closed:
            return
        timeout = max(1, int(self.policy.handshake_timeout_s))
        ticker = _ShardTicker(
            self._api_key,
            self._access_token,
            root=self._root,
            reconnect=False,
            connect_timeout=timeout,
        )
        ticker.handshake_timeout_s = self.policy.handshake_timeout_s
        ticker.on_connect = lambda ws, _resp: self._on_connect(i, ticker)
        ticker.on_message = lambda _ws, payload, binary: self._on_message(
            i, ticker, payload, binary
        )
        ticker.on_close = lambda _ws, code, reason: self._on_close(i, ticker, code, reason)
        ticker.on_error = lambda _ws, code, reason: self._on_error(i, ticker, code, reason)
        ticker.on_connect_failed = lambda reason: self._on_close(i, ticker, None, reason)
        self._tickers[i] = ticker
        self._sent[i] = set()
        self.status[i].subscribed = 0
        self._attempt_started[i] = time.monotonic()
        self._set(i, ShardState.CONNECTING)
        ticker.connect(threaded=True)  # on the running reactor: starts no thread

    def _on_connect(self, i: int, ticker: _ShardTicker) -> None:
        if self._tickers[i] is not ticker:
            return
        status = self.status[i]
        now = time.time()
        if status.disconnected_at is not None:
            status.gaps.append((status.disconnected_at, now))
            status.disconnected_at = None
        status.connects += 1
        status.attempts = 0
        status.last_message_at = now
        self._attempt_started[i] = 0.0
        self._set(i, ShardState.CONNECTED)
        self._reconcile(i)

    def _on_message(self, i: int, ticker: _ShardTicker, payload: bytes, binary: bool) -> None:
        if self._tickers[i] is not ticker:
            return
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

    def _on_error(self, i: int, ticker: _ShardTicker, code: int | None, reason: Any) -> None:
        if self._tickers[i] is not ticker:
            return
        text = str(reason)
        if code == 0:  # a Kite text error on an open socket (e.g. a refused subscription)
            self._note_error(i, text)
            return
        if "403" in text:
            # Kite refuses the handshake of an expired or revoked token: no point retrying it.
            self._drop(i, ticker, f"handshake refused: {text}")
            self._set(i, ShardState.UNAUTHORIZED, text)

    def _on_close(self, i: int, ticker: _ShardTicker, code: int | None, reason: Any) -> None:
        if self._tickers[i] is not ticker:
            return
        self._drop(i, ticker, f"closed: {code} {reason}")
        self._schedule_retry(i)

    def _drop(self, i: int, ticker: _ShardTicker, why: str) -> None:
        """Forget a socket (closing it if still open) and start this shard's outage."""
        if self._tickers[i] is ticker:
            self._tickers[i] = None
        self._sent[i] = set()
        status = self.status[i]
        status.subscribed = 0
        if status.state == ShardState.CONNECTED:
            status.disconnects += 1
            if status.disconnected_at is None:  # the outage starts at the last message heard
                status.disconnected_at = status.last_message_at or time.time()
        else:
            status.attempts += 1
        status.last_error = why
        ticker.abort()

    def _schedule_retry(self, i: int) -> None:
        if self._closed or not self.wanted(i) or self._retry[i] is not None:
            return
        if self.status[i].state == ShardState.UNAUTHORIZED:
            return
        p = self.policy
        ceiling = min(p.backoff_max_s, p.backoff_initial_s * 2 ** min(self.status[i].attempts, 16))
        delay = self._rng.uniform(p.backoff_initial_s / 2, ceiling)  # jitter: shards spread out
        self._set(i, ShardState.RECONNECTING)
        self._retry[i] = reactor.callLater(delay, self._connect, i)

    def _restart(self, i: int, why: str) -> None:
        ticker = self._tickers[i]
        if ticker is not None:
            self._drop(i, ticker, why)
        self._schedule_retry(i)

    def _retry_refused(self) -> None:
        for i, status in enumerate(self.status):
            if status.state == ShardState.UNAUTHORIZED:
                status.state = ShardState.RECONNECTING
                status.attempts = 0
            if self._tickers[i] is None and self.wanted(i):
                if self._retry[i] is not None:
                    self._retry[i].cancel()
                    self._retry[i] = None
                self._connect(i)

    def _stop_shard(self, i: int, state: ShardState) -> None:
        if self._retry[i] is not None:
            self._retry[i].cancel()
            self._retry[i] = None
        ticker, self._tickers[i] = self._tickers[i], None
        self._sent[i] = set()
        if ticker is not None:
            if ticker.is_connected():
                ticker.close(1000, "unsubscribed")
            else:
                ticker.abort()
        self._set(i, state)

    def _close_all(self) -> None:
        if self._watchdog is not None and self._watchdog.running:
            self._watchdog.stop()
        for i in range(len(self._tickers)):
            self._stop_shard(i, ShardState.CLOSED)

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = task.LoopingCall(self._watch)
            self._watchdog.start(self.policy.watchdog_every_s, now=False)

    def _watch(self) -> None:
        """Close silent sockets and hung handshakes; reconcile subscriptions."""
        now_wall, now = time.time(), time.monotonic()
        if not self._expect_data():
            self._watching_since = None
        elif self._watching_since is None:
            self._watching_since = now_wall  # silence is counted from the open, not overnight
        for i, status in enumerate(self.status):
            ticker = self._tickers[i]
            if ticker is None:
                if self._wanted[i] and self._retry[i] is None:
                    self._reconcile(i)  # e.g. a retry lost with a closed socket
                continue
            if status.state == ShardState.CONNECTED:
                heard = max(status.last_message_at, self._watching_since or now_wall)
                if now_wall - heard > self.policy.stall_after_s:
                    status.stalls += 1
                    self._restart(i, f"silent for {now_wall - status.last_message_at:.1f} s")
                else:
                    with self._lock:
                        behind = self._sent[i] != self._wanted[i]
                    if behind:  # a send that failed, or a change made while connecting
                        self._reconcile(i)
            elif (
                status.state == ShardState.CONNECTING
                and now - self._attempt_started[i] > self.policy.handshake_timeout_s + 5
            ):
                self._restart(i, "handshake timed out")

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
