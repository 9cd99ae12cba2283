"""Kite Connect REST + Kite Ticker WebSocket over one Starlette app (network I/O; one port).

REST: /instruments, /quote, /quote/ltp, /quote/ohlc, /instruments/historical/..., the login flow
(/connect/login, POST /session/token), rate-limited per api_key as Kite. Ticker: /ws. Access
tokens expire at the next 06:00 IST on the market clock, an aware IST clock that runs over many
trading days (each trading day's listing starts at 08:00 IST; docs/simulator.md). Admin
(unauthenticated, local testing only): GET /_sim/state, POST /_sim/fault, /_sim/clock,
/_sim/token, /_sim/order, /_sim/message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import parse_qs, parse_qsl, urlencode

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from strikeboard.market import layouts as L  # noqa: N812 - short name for the layouts
from strikeboard.market.calendar import IST, token_expiry
from strikeboard.redact import redact_uvicorn_logs
from strikeboard.sim import history
from strikeboard.sim import model as m
from strikeboard.sim.engine import N, SimConfig, Simulator, session_open
from strikeboard.sim.limits import HISTORICAL, OTHER, QUOTE, RateLimiter
from strikeboard.sim.universe import instruments_csv

MAX_TOKENS_PER_CONNECTION: Final = 3000
MAX_CONNECTIONS_PER_KEY: Final = 3
MODE_LTP, MODE_QUOTE, MODE_FULL = 0, 1, 2
_MODES: Final = {"ltp": MODE_LTP, "quote": MODE_QUOTE, "full": MODE_FULL}
_MODE_NAMES: Final = {v: k for k, v in _MODES.items()}
HEARTBEAT: Final = b"\x00"
DAY_ROLL: Final = dt.time(8, 0)
"""When the server switches to a new trading day's listing (before the 09:00 pre-open)."""
FAULT_KINDS: Final = (
    "drop", "stall", "garbage", "truncated", "expire_token", "rate_limit_storm", "slow_rest",
    "hang_handshake", "message",
)  # fmt: skip
BROADCASTS: Final = (
    "Market data for NFO may be delayed; we are looking into it.",
    "Scheduled maintenance of Kite Connect this Sunday 10:00-14:00 IST.",
    "Exchange has extended the market hours for today.",
    "Kite Connect services are operating normally.",
)
"""Texts for the seeded broadcast `message` frames (Kite's are free-form notices)."""


@dataclass
class ServerOptions:
    """Credentials and clock for one simulator process."""

    api_key: str = "sim_api_key"
    access_token: str = "sim_access_token"
    api_secret: str = "sim_api_secret"
    speed: float = 1.0
    start: dt.time | None = None
    step_ms: int = 100
    record_sent: bool = False
    sent_log_size: int = 20_000
    rate_limits: bool = True
    """Kite's per-api_key REST limits (429 beyond them); off only for benchmarks."""
    message_every: int = 30
    """A broadcast `message` frame about once per this many simulated minutes (0: never)."""
    redirect_url: str = ""
    """The app's registered redirect URL (Kite's developer console); empty: /connect/login
    answers the request_token as JSON unless the request names a `redirect_url`."""


@dataclass
class SentMessage:
    """One binary ticker message as sent: the connection and its packet arrays by layout."""

    conn_id: int
    seq: int
    packets: list[np.ndarray]

    def ticks(self) -> list[dict[str, Any]]:
        """Per-tick truth (prices in rupees), in packet order as the client parses them."""
        out: list[dict[str, Any]] = []
        for arr in self.packets:
            names = arr.dtype.names or ()
            for rec in arr:
                d: dict[str, Any] = {"packet_size": arr.dtype.itemsize}
                for f in names:
                    if f == "depth":
                        d[f] = [(int(e["quantity"]), int(e["price"]) / 100.0, int(e["orders"]))
                                for e in rec[f]]  # fmt: skip
                    elif f in _PRICE_FIELDS:
                        d[f] = int(rec[f]) / L.PRICE_DIVISOR
                    else:
                        d[f] = int(rec[f])
                out.append(d)
        return out


_PRICE_FIELDS: Final = {
    "last_price", "high", "low", "open", "close", "average_traded_price",
}  # fmt: skip


@dataclass(eq=False)
class Connection:
    """One ticker WebSocket: its subscriptions (instrument index -> mode) and send queue."""

    id: int
    api_key: str
    access_token: str
    ws: WebSocket
    subs: dict[int, int] = field(default_factory=dict)
    queue: asyncio.Queue[bytes | str | tuple[bytes, SentMessage] | None] = field(
        default_factory=lambda: asyncio.Queue(4096)
    )
    last_send: float = field(default_factory=time.monotonic)
    stall_until: float = 0.0
    sub_idx: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    sub_mode: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))

    def rebuild(self) -> None:
        """Refresh the subscription arrays used by the vectorised encoder."""
        keys = np.fromiter(self.subs.keys(), dtype=np.int64, count=len(self.subs))
        vals = np.fromiter(self.subs.values(), dtype=np.int8, count=len(self.subs))
        order = np.argsort(keys)
        self.sub_idx, self.sub_mode = keys[order], vals[order]

    def put(self, msg: bytes | str | tuple[bytes, SentMessage] | None) -> None:
        """Queue a message; a client too slow to drain 4,096 messages loses the newest. A
        tick message goes with its `SentMessage`: it counts as sent once it was written."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(msg)


def _paise(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x) * 100.0).astype(np.int64) & 0xFFFFFFFF


class SimServer:
    """The simulator process: market state, the clock, auth, ticker connections and faults."""

    def __init__(self, config: SimConfig | None = None, options: ServerOptions | None = None):
        self.sim = Simulator(config)
        self.config = replace(self.sim.config, day=self.sim.day)
        """The market definition; `day` is the first trading day (the sim's is the current)."""
        self.last_day: dt.date | None = None
        """The last trading day this server starts (None: unbounded), from `config.days`."""
        if self.config.days is not None:
            if self.config.days < 1:
                raise ValueError("`days` must be at least 1")
            self.last_day = self.sim.day
            for _ in range(self.config.days - 1):
                self.last_day = self.sim.calendar.next_trading_day(self.last_day)
        self.opts = options or ServerOptions()
        self.tokens: dict[str, dt.datetime] = {}
        """Valid access tokens -> expiry (IST, on the market clock)."""
        self.request_tokens: set[str] = set()
        self.limiter = RateLimiter() if self.opts.rate_limits else None
        self.storm_until = 0.0
        self.slow_until = 0.0
        self.slow_delay = 0.0
        self.hang_until = 0.0
        self.conns: dict[int, Connection] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.sent_log: deque[SentMessage] = deque(maxlen=self.opts.sent_log_size)
        self.on_sent: Callable[[SentMessage], None] | None = None
        self.speed = self.opts.speed
        start = self.opts.start or dt.time(9, 15)
        self._clock_at = dt.datetime.combine(self.sim.day, start, IST)
        """The market clock (aware IST) at monotonic time `_clock_wall`."""
        self._clock_wall = time.monotonic()
        self._msg_minute = math.floor(self.market_sec() / 60)
        self.issue_token(self.opts.access_token)
        self._task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app = self._build_app()

    # ----- clock -------------------------------------------------------------------------
    def market_now(self) -> dt.datetime:
        """The market clock as an aware IST datetime (runs on past 15:30, midnight, weekends)."""
        elapsed = self.speed * (time.monotonic() - self._clock_wall)
        return self._clock_at + dt.timedelta(seconds=elapsed)

    def market_sec(self) -> float:
        """The market clock in seconds since the current trading day's 09:15:00 (compat)."""
        return (self.market_now() - session_open(self.sim.day)).total_seconds()

    def sec_of(self, when: dt.datetime) -> float:
        """Market seconds since the sim day's 09:15 of an aware (or IST-naive) datetime."""
        aware = when if when.tzinfo else when.replace(tzinfo=IST)
        return (aware - session_open(self.sim.day)).total_seconds()

    # ----- access tokens -----------------------------------------------------------------
    def issue_token(self, token: str | None = None) -> str:
        """Make `token` (default: a fresh one) valid until the next 06:00 on the market clock."""
        tok = token or secrets.token_urlsafe(24)
        self.tokens[tok] = token_expiry(self.market_now())
        return tok

    def token_valid(self, token: str) -> bool:
        """True while `token` was issued and its 06:00 has not come on the market clock."""
        expiry = self.tokens.get(token)
        return expiry is not None and self.market_now() < expiry

    @property
    def valid_tokens(self) -> set[str]:
        """The access tokens valid now."""
        return {t for t in self.tokens if self.token_valid(t)}

    def set_clock(self, sec: float | None = None, speed: float | None = None) -> None:
        """Jump the market clock to `sec` seconds after the current day's 09:15 (forward only:
        the market never rewinds) and/or set the speed."""
        at = None if sec is None else session_open(self.sim.day) + dt.timedelta(seconds=sec)
        self.set_clock_at(at, speed)

    def set_clock_at(self, when: dt.datetime | None = None, speed: float | None = None) -> None:
        """Jump the market clock to `when` (aware, or naive IST), forward only, across nights,
        weekends and holidays too; the next step starts the trading day it falls in (its
        engine from its own state: nothing of the skipped time is simulated)."""
        now = self.market_now()
        if when is not None:
            aware = when if when.tzinfo else when.replace(tzinfo=IST)
            now = max(now, aware.astimezone(IST))
        self._clock_at = now
        self._clock_wall = time.monotonic()
        if speed is not None:
            self.speed = speed

    # ----- trading days ------------------------------------------------------------------
    def trading_day_at(self, when: dt.datetime) -> dt.date:
        """The trading day in effect at `when`: the latest one whose 08:00 IST roll has come,
        not before the current one nor after `last_day`."""
        cal = self.sim.calendar
        day = self.sim.day
        while True:
            nxt = cal.next_trading_day(day)
            if self.last_day is not None and nxt > self.last_day:
                return day
            if when < dt.datetime.combine(nxt, DAY_ROLL, IST):
                return day
            day = nxt

    def roll_day(self) -> bool:
        """Start the trading day the clock is in, if it is a new one (True when it did).

        The new day's listing replaces the old (expired series gone, new ones listed, strikes
        around the new reference spot); each open ticker connection keeps its subscriptions to
        the tokens still listed and silently loses the others, as Kite stops sending them.
        """
        day = self.trading_day_at(self.market_now())
        if day == self.sim.day:
            return False
        old = self.sim
        try:
            new = Simulator(replace(self.config, day=day))
        except ValueError:  # beyond the model's calendar range: stay on the last day
            self.last_day = old.day
            return False
        for conn in self.conns.values():
            subs = {int(old.token[i]): mode for i, mode in conn.subs.items()}
            conn.subs = {new.by_token[t]: mode for t, mode in subs.items() if t in new.by_token}
            conn.rebuild()
        self.sim = new
        self._msg_minute = math.floor(self.market_sec() / 60)
        return True

    # ----- stepping and encoding --------------------------------------------------------
    def step(self) -> None:
        """Advance the market to the clock and send each connection its due ticks."""
        self.roll_day()
        now = time.monotonic()
        clock = self.market_sec()
        self._broadcasts(clock)
        target = int(np.floor(clock))
        due = self.sim.advance_to(target) if target > self.sim.sec else np.empty(0, np.int64)
        mask = np.zeros(len(self.sim.token), dtype=bool)
        mask[due] = True
        for conn in list(self.conns.values()):
            if now < conn.stall_until:
                continue
            if len(due) and len(conn.sub_idx):
                sel = mask[conn.sub_idx]
                if sel.any():
                    self._send_ticks(conn, conn.sub_idx[sel], conn.sub_mode[sel])
                    continue
            if now - conn.last_send >= 1.0:
                conn.put(HEARTBEAT)
                conn.last_send = now

    def _broadcasts(self, clock: float) -> None:
        """Send the seeded `message` frame of any simulated minute just begun (at most one).

        Minute m carries one when hash(seed, day, m) % message_every == 0: about one per
        `message_every` minutes, identical across runs; a big clock jump sends only the last.
        """
        minute = math.floor(clock / 60)
        every = self.opts.message_every
        if minute <= self._msg_minute or every <= 0:
            self._msg_minute = max(minute, self._msg_minute)
            return
        mins = np.arange(max(self._msg_minute + 1, minute - 10_000), minute + 1)
        self._msg_minute = minute
        h = m.hash_keys(self.sim.config.seed, 40, self.sim.day.toordinal(), mins)
        hits = mins[h % np.uint64(every) == 0]
        if len(hits):
            text = BROADCASTS[int(m.mix64(np.asarray(hits[-1])) % np.uint64(len(BROADCASTS)))]
            self.broadcast(text)

    def broadcast(self, text: str) -> int:
        """Send `{"type": "message", "data": text}` to every ticker connection; their count."""
        conns = list(self.conns.values())
        for c in conns:
            c.put(json.dumps({"type": "message", "data": text}))
        return len(conns)

    def encode(self, idx: np.ndarray, mode: np.ndarray) -> list[np.ndarray]:
        """Fill the packet arrays for instruments `idx` in modes `mode` (vectorised)."""
        s = self.sim
        index = s.is_index[idx]
        groups: list[np.ndarray] = []
        for sel, dtype in (
            (mode == MODE_LTP, L.LTP),
            ((mode == MODE_QUOTE) & index, L.INDEX_QUOTE),
            ((mode == MODE_FULL) & index, L.INDEX_FULL),
            ((mode == MODE_QUOTE) & ~index, L.QUOTE),
            ((mode == MODE_FULL) & ~index, L.FULL),
        ):
            i = idx[sel]
            if len(i) == 0:
                continue
            a = np.zeros(len(i), dtype=dtype)
            a["instrument_token"] = s.token[i]
            a["last_price"] = _paise(s.ltp[i])
            names = dtype.names or ()
            if "high" in names:
                a["open"] = _paise(s.open[i])
                a["high"] = _paise(s.high[i])
                a["low"] = _paise(s.low[i])
                a["close"] = _paise(s.prev_close[i])
            if "price_change" in names:
                a["price_change"] = _paise(s.ltp[i] - s.prev_close[i])
            if "volume_traded" in names:
                a["last_traded_quantity"] = s.ltq[i]
                a["average_traded_price"] = _paise(s.atp[i])
                a["volume_traded"] = s.volume[i]
                a["total_buy_quantity"] = s.tbq[i]
                a["total_sell_quantity"] = s.tsq[i]
            if "exchange_timestamp" in names:
                a["exchange_timestamp"] = s.epoch_of(np.maximum(s.last_sec[i], 0))
            if "oi" in names:
                # The last trade's time (price or volume last moved), not the tick's.
                a["last_trade_time"] = self._last_trade_epoch(i)
                a["oi"] = s.oi[i]
                a["oi_day_high"] = s.oi_high[i]
                a["oi_day_low"] = s.oi_low[i]
                a["depth"]["quantity"] = s.depth_qty[i]
                a["depth"]["price"] = _paise(s.depth_price[i])
                a["depth"]["orders"] = s.depth_orders[i]
            groups.append(a)
        return groups

    def _last_trade_epoch(self, i: np.ndarray) -> np.ndarray:
        """Epoch seconds of the last trade; before today's first: 15:29:59 of the previous day."""
        lt = self.sim.last_trade_sec[i]
        prev = int(dt.datetime.combine(self.sim.prev_day, dt.time(15, 29, 59), IST).timestamp())
        return np.where(lt >= 0, self.sim.epoch_of(np.maximum(lt, 0)), prev)

    def _send_ticks(self, conn: Connection, idx: np.ndarray, mode: np.ndarray) -> None:
        groups = self.encode(idx, mode)
        conn.last_send = time.monotonic()
        if self.opts.record_sent or self.on_sent is not None:
            conn.put((L.frame_many(groups), SentMessage(conn.id, next(self._seq), groups)))
        else:
            conn.put(L.frame_many(groups))

    def _record_sent(self, msg: SentMessage) -> None:
        """A tick message written to the socket: what the client can have received. One queued
        but never written (the socket closed first, or the queue was full) was not sent, as
        Kite's ticks in flight at a disconnect are simply gone."""
        if self.opts.record_sent:
            self.sent_log.append(msg)
        if self.on_sent is not None:
            self.on_sent(msg)

    def sent_ticks(self, conn_id: int | None = None) -> list[dict[str, Any]]:
        """Every recorded tick sent (optionally to one connection), oldest first."""
        out: list[dict[str, Any]] = []
        for msg in list(self.sent_log):
            if conn_id is None or msg.conn_id == conn_id:
                for t in msg.ticks():
                    t["conn_id"] = msg.conn_id
                    out.append(t)
        return out

    async def _run(self) -> None:
        period = self.opts.step_ms / 1000.0
        while True:
            t0 = time.monotonic()
            try:
                self.step()
            except Exception as exc:  # pragma: no cover - keep serving; report to clients
                for c in self.conns.values():
                    c.put(json.dumps({"type": "error", "data": f"simulator step failed: {exc}"}))
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))

    # ----- faults ------------------------------------------------------------------------
    def fault(
        self,
        kind: str,
        seconds: float = 5.0,
        *,
        connection: int | None = None,
        index: int | None = None,
        delay: float | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        """Inject a fault (see FAULT_KINDS and docs/simulator.md); ValueError on bad input.

        `connection` (an id) or `index` (0-based, in connection order) narrows `stall` to one
        socket; `delay` is slow_rest's per-call delay; `text` is the `message` fault's text.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(FAULT_KINDS)})")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("`seconds` must be a finite number >= 0")
        if (connection is not None or index is not None) and kind != "stall":
            raise ValueError("`connection` and `index` apply to `stall` only")
        if delay is not None and kind != "slow_rest":
            raise ValueError("`delay` applies to `slow_rest` only")
        if text is not None and kind != "message":
            raise ValueError("`text` applies to `message` only")
        conns = list(self.conns.values())
        until = time.monotonic() + seconds
        if kind == "drop":
            for c in conns:
                c.put(None)
        elif kind == "stall":
            conns = self._pick(conns, connection, index)
            for c in conns:
                c.stall_until = until
        elif kind == "garbage":
            for c in conns:
                junk = bytearray(secrets.token_bytes(37))
                # A packet count >= 32768 cannot fit in 37 bytes: never parses by chance.
                junk[0] |= 0x80
                c.put(bytes(junk))
        elif kind == "truncated":
            for c in conns:
                c.put(self._truncated(c))
        elif kind == "expire_token":
            # As at Kite's 06:00 flush: REST and new handshakes refused; open sockets go on.
            self.tokens.clear()
        elif kind == "rate_limit_storm":
            self.storm_until = until
        elif kind == "slow_rest":
            if delay is None or not math.isfinite(delay) or delay <= 0:
                raise ValueError("slow_rest needs `delay` > 0 (seconds per REST call)")
            self.slow_until, self.slow_delay = until, delay
        elif kind == "hang_handshake":
            self.hang_until = until
        elif kind == "message":
            if text is not None and not isinstance(text, str):
                raise ValueError("`text` must be a string")
            self.broadcast(text if text is not None else BROADCASTS[0])
        return {"fault": kind, "seconds": seconds, "connections": len(conns),
                "connection_ids": [c.id for c in conns]}  # fmt: skip

    @staticmethod
    def _pick(conns: list[Connection], conn_id: int | None, index: int | None) -> list[Connection]:
        """All connections, or the one with id `conn_id`, or the `index`-th (0-based)."""
        if conn_id is not None and index is not None:
            raise ValueError("give `connection` or `index`, not both")
        if conn_id is not None:
            match = [c for c in conns if c.id == conn_id]
            if not match:
                raise ValueError(f"no ticker connection with id {conn_id}")
            return match
        if index is not None:
            if not 0 <= index < len(conns):
                raise ValueError(f"connection index {index} out of range ({len(conns)} open)")
            return [conns[index]]
        return conns

    def _truncated(self, conn: Connection) -> bytes:
        """The connection's current ticks as one message cut inside its last packet.

        The whole packets before the cut still decode, as after a short read on the wire.
        Without subscriptions (or before the open): one 184-byte packet with 60 bytes of it.
        """
        if len(conn.sub_idx) == 0 or self.sim.sec < 0:
            return b"\x00\x01\x00\xb8" + bytes(60)
        groups = self.encode(conn.sub_idx, conn.sub_mode)
        msg = L.frame_many(groups)
        return msg[: len(msg) - groups[-1].dtype.itemsize // 2]

    def order_update(self, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Push an order update text message (Kite postback shape) to every connection."""
        now = self.sim.market_time().strftime("%Y-%m-%d %H:%M:%S")
        order = {
            "account_id": "SIM001", "unfilled_quantity": 0, "checksum": "",
            "placed_by": "SIM001", "order_id": str(int(time.time() * 1000)),
            "exchange_order_id": str(1_000_000_000_000 + next(self._seq)),
            "parent_order_id": None, "status": "COMPLETE", "status_message": None,
            "status_message_raw": None, "order_timestamp": now, "exchange_update_timestamp": now,
            "exchange_timestamp": now, "variety": "regular", "exchange": "NFO",
            "tradingsymbol": self.sim.instruments[2].tradingsymbol,
            "instrument_token": int(self.sim.token[2]), "order_type": "MARKET",
            "transaction_type": "BUY", "validity": "DAY", "product": "NRML",
            "quantity": self.sim.config.lot_size, "disclosed_quantity": 0, "price": 0,
            "trigger_price": 0, "average_price": float(self.sim.ltp[2]),
            "filled_quantity": self.sim.config.lot_size, "pending_quantity": 0,
            "cancelled_quantity": 0, "market_protection": 0, "meta": {}, "tag": None,
            "guid": secrets.token_hex(8),
        }  # fmt: skip
        order.update(data or {})
        for c in self.conns.values():
            c.put(json.dumps({"type": "order", "data": order}))
        return order

    # ----- HTTP helpers ------------------------------------------------------------------
    @staticmethod
    def _error(message: str, error_type: str, status: int) -> JSONResponse:
        return JSONResponse(
            {"status": "error", "message": message, "data": None, "error_type": error_type},
            status_code=status,
        )

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("token "):
            return False
        key, _, token = auth[6:].partition(":")
        return key == self.opts.api_key and self.token_valid(token)

    def _token_error(self) -> JSONResponse:
        return self._error("Incorrect `api_key` or `access_token`.", "TokenException", 403)

    def _too_many(self) -> JSONResponse:
        # Kite's exact body; kiteconnect raises NetworkException("Too many requests", code=429).
        return self._error("Too many requests", "NetworkException", 429)

    def admit(self, api_key: str, kind: str) -> bool:
        """One rate-limited call of `kind` for `api_key`: False during a storm or over limit."""
        if time.monotonic() < self.storm_until:
            return False
        return self.limiter is None or self.limiter.admit(api_key, kind)

    async def _slow(self) -> None:
        if time.monotonic() < self.slow_until:
            await asyncio.sleep(self.slow_delay)

    def _rest(
        self, handler: Callable[[Request], Awaitable[Response]], kind: str | None
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a REST handler: slow_rest delay, then (if `kind`) auth and the rate limit.

        Only authenticated calls count against the api_key's limit (a 403 is not counted).
        """

        async def endpoint(request: Request) -> Response:
            await self._slow()
            if kind is not None:
                if not self._authorised(request):
                    return self._token_error()
                if not self.admit(self.opts.api_key, kind):
                    return self._too_many()
            return await handler(request)

        return endpoint

    # ----- REST handlers -----------------------------------------------------------------
    async def instruments(self, request: Request) -> Response:
        exchange = request.path_params.get("exchange")
        if exchange is not None and exchange not in {"NSE", "NFO", "BSE", "BFO"}:
            return PlainTextResponse(
                ",".join(instruments_csv([]).strip().split(",")) + "\n", media_type="text/csv"
            )
        return PlainTextResponse(
            instruments_csv(self.sim.instruments, exchange), media_type="text/csv"
        )

    def _resolve(self, request: Request, limit: int) -> list[tuple[str, int]] | JSONResponse:
        keys = request.query_params.getlist("i")
        if not keys:
            return self._error("No instruments specified.", "InputException", 400)
        if len(keys) > limit:
            return self._error(f"Too many instruments (max {limit}).", "InputException", 400)
        out: list[tuple[str, int]] = []
        for k in keys:
            i = self.sim.by_key.get(k)
            if i is None and k.isdigit():
                i = self.sim.by_token.get(int(k))
            if i is not None:
                out.append((k, i))
        return out

    def _ts(self, sec: int) -> str:
        return self.sim.market_time(min(max(sec, 0), N)).strftime("%Y-%m-%d %H:%M:%S")

    def _ohlc(self, i: int) -> dict[str, float]:
        s = self.sim
        return {"open": float(s.open[i]), "high": float(s.high[i]), "low": float(s.low[i]),
                "close": float(s.prev_close[i])}  # fmt: skip

    async def quote(self, request: Request) -> Response:
        res = self._resolve(request, 500)
        if isinstance(res, JSONResponse):
            return res
        s = self.sim
        data: dict[str, Any] = {}
        for key, i in res:
            # timestamp: the exchange time of the instrument's latest tick; last_trade_time:
            # of its latest trade (same wire values as the full-mode packet).
            ts = int(s.last_sec[i]) if s.last_sec[i] >= 0 else s.sec
            ltt = dt.datetime.fromtimestamp(int(self._last_trade_epoch(np.array([i]))[0]), IST)
            close = float(s.prev_close[i])
            data[key] = {
                "instrument_token": int(s.token[i]),
                "timestamp": self._ts(ts),
                "last_trade_time": ltt.strftime("%Y-%m-%d %H:%M:%S"),
                "last_price": float(s.ltp[i]),
                "last_quantity": int(s.ltq[i]),
                "buy_quantity": int(s.tbq[i]),
                "sell_quantity": int(s.tsq[i]),
                "volume": int(s.volume[i]),
                "average_price": float(s.atp[i]),
                "oi": int(s.oi[i]),
                "oi_day_high": int(s.oi_high[i]),
                "oi_day_low": int(s.oi_low[i]),
                "net_change": round(float(s.ltp[i]) - close, 2) if close else 0,
                "lower_circuit_limit": 0.05 if not s.is_index[i] else 0,
                "upper_circuit_limit": round(max(close, float(s.ltp[i])) * 2 + 100, 0)
                if not s.is_index[i] else 0,
                "ohlc": self._ohlc(i),
                "depth": {
                    side: [
                        {"price": float(s.depth_price[i, j]), "quantity": int(s.depth_qty[i, j]),
                         "orders": int(s.depth_orders[i, j])}
                        for j in rng
                    ]
                    for side, rng in (("buy", range(5)), ("sell", range(5, 10)))
                },
            }  # fmt: skip
        return JSONResponse({"status": "success", "data": data})

    async def ohlc(self, request: Request) -> Response:
        res = self._resolve(request, 1000)
        if isinstance(res, JSONResponse):
            return res
        s = self.sim
        data = {
            k: {"instrument_token": int(s.token[i]), "last_price": float(s.ltp[i]),
                "ohlc": self._ohlc(i)}
            for k, i in res
        }  # fmt: skip
        return JSONResponse({"status": "success", "data": data})

    async def ltp(self, request: Request) -> Response:
        res = self._resolve(request, 1000)
        if isinstance(res, JSONResponse):
            return res
        s = self.sim
        data = {k: {"instrument_token": int(s.token[i]), "last_price": float(s.ltp[i])}
                for k, i in res}  # fmt: skip
        return JSONResponse({"status": "success", "data": data})

    async def historical(self, request: Request) -> Response:
        q = request.query_params
        try:
            token = int(request.path_params["token"])
            start = _parse_when(q.get("from", ""))
            end = _parse_when(q.get("to", ""), end_of_day=True)
            rows = history.candles(
                self.sim, token, request.path_params["interval"], start, end, q.get("oi") == "1"
            )
        except ValueError as exc:
            return self._error(str(exc), "InputException", 400)
        return JSONResponse({"status": "success", "data": {"candles": rows}})

    async def login(self, request: Request) -> Response:
        q = request.query_params
        if q.get("api_key") != self.opts.api_key:
            return self._error("Invalid `api_key`.", "InputException", 400)
        rt = secrets.token_urlsafe(24)
        self.request_tokens.add(rt)
        # As Kite: `redirect_params` (a urlencoded query string, e.g. state%3Dxyz) comes back
        # as extra query parameters on the redirect.
        extra = parse_qsl(q.get("redirect_params", ""))
        redirect = q.get("redirect_url") or self.opts.redirect_url
        if redirect.startswith(("http://", "https://")):
            sep = "&" if "?" in redirect else "?"
            query = urlencode([("request_token", rt), ("action", "login"),
                               ("status", "success"), *extra])  # fmt: skip
            return RedirectResponse(f"{redirect}{sep}{query}", status_code=302)
        return JSONResponse({"status": "success", "data": {"request_token": rt, **dict(extra)}})

    async def session_token(self, request: Request) -> Response:
        # Kite's client posts a urlencoded form; parse it without python-multipart.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        api_key, rt, checksum = (
            form.get(k, [""])[0] for k in ("api_key", "request_token", "checksum")
        )
        if not api_key or not rt or not checksum:
            return self._error("Missing api_key, request_token or checksum.", "InputException", 400)
        if api_key != self.opts.api_key:
            return self._error("Invalid `api_key`.", "TokenException", 403)
        expected = hashlib.sha256((api_key + rt + self.opts.api_secret).encode()).hexdigest()
        if not secrets.compare_digest(expected, checksum):
            return self._error("Invalid `checksum`.", "TokenException", 403)
        if not self.admit(api_key, OTHER):
            return self._too_many()
        if rt not in self.request_tokens:
            return self._error("Token is invalid or has expired.", "TokenException", 403)
        self.request_tokens.discard(rt)
        access = self.issue_token()
        login = self.market_now().strftime("%Y-%m-%d %H:%M:%S")
        return JSONResponse({"status": "success", "data": {
            "user_type": "individual", "email": "sim@example.com", "user_name": "Sim User",
            "user_shortname": "Sim", "broker": "ZERODHA", "exchanges": ["NSE", "NFO", "BSE", "BFO"],
            "products": ["CNC", "NRML", "MIS"], "order_types": ["MARKET", "LIMIT"],
            "avatar_url": None, "user_id": "SIM001", "api_key": api_key, "access_token": access,
            "public_token": secrets.token_hex(16), "refresh_token": "", "enctoken": "",
            "login_time": login, "meta": {"demat_consent": "consent"},
        }})  # fmt: skip

    # ----- admin -------------------------------------------------------------------------
    async def admin_state(self, request: Request) -> Response:
        toks = request.query_params.get("tokens")
        s = self.sim
        body: dict[str, Any] = {
            "day": s.day.isoformat(), "sec": s.sec, "clock_sec": self.market_sec(),
            "first_day": self.config.day.isoformat() if self.config.day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "time": s.market_time().isoformat(), "is_open": s.is_open, "speed": self.speed,
            "instruments": len(s.token), "clock": self.market_now().isoformat(),
            "valid_tokens": len(self.valid_tokens), "rate_limits": self.limiter is not None,
            "connections": [
                {"id": c.id, "api_key": c.api_key, "subscribed": len(c.subs),
                 "stalled": time.monotonic() < c.stall_until}
                for c in self.conns.values()
            ],
        }  # fmt: skip
        if toks:
            try:
                tl = [int(t) for t in toks.split(",")]
                body["snapshot"] = {str(k): v for k, v in s.snapshot(tl).items()}
            except (ValueError, KeyError) as exc:
                return self._error(f"bad tokens: {exc}", "InputException", 400)
        return JSONResponse(body)

    async def admin_post(self, request: Request) -> Response:
        try:
            body = await request.json() if await request.body() else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            what = request.path_params["what"]
            if what == "fault":
                return JSONResponse(self._admin_fault(body))
            if what == "clock":
                sec = body.get("sec")
                if "time" in body:
                    t = dt.time.fromisoformat(body["time"])
                    sec = self.sec_of(dt.datetime.combine(self.sim.day, t, IST))
                speed = body.get("speed")
                spd = None if speed is None else _number(speed, "speed")
                if "at" in body:  # any IST datetime, e.g. the next day's 06:00 or 09:20
                    at = dt.datetime.fromisoformat(body["at"])
                    self.set_clock_at(at if at.tzinfo else at.replace(tzinfo=IST), spd)
                else:
                    self.set_clock(None if sec is None else float(sec), spd)
                self.step()  # answer once the market (and the trading day) is at the new time
                return JSONResponse({"clock_sec": self.market_sec(), "speed": self.speed,
                                     "time": self.market_now().isoformat(),
                                     "day": self.sim.day.isoformat()})  # fmt: skip
            if what == "token":
                tok = body["access_token"]
                if not isinstance(tok, str) or not tok:
                    raise ValueError("`access_token` must be a non-empty string")
                self.issue_token(tok)
                return JSONResponse({"access_token": tok,
                                     "expires": self.tokens[tok].isoformat(),
                                     "valid_tokens": len(self.valid_tokens)})  # fmt: skip
            if what == "order":
                return JSONResponse(self.order_update(body.get("data")))
            if what == "message":
                text = body.get("text", BROADCASTS[0])
                if not isinstance(text, str):
                    raise ValueError("`text` must be a string")
                return JSONResponse({"message": text, "connections": self.broadcast(text)})
        except (ValueError, KeyError, TypeError) as exc:
            return self._error(f"bad admin request: {exc}", "InputException", 400)
        return self._error("unknown admin action", "InputException", 404)

    def _admin_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a POST /_sim/fault body and inject the fault (ValueError -> 400)."""
        allowed = {"kind", "seconds", "connection", "index", "delay", "text"}
        extra = set(body) - allowed
        if extra:
            raise ValueError(f"unknown fault parameter(s): {', '.join(sorted(extra))}")
        if "kind" not in body or not isinstance(body["kind"], str):
            raise ValueError("`kind` (a string) is required")
        conn, index, delay = body.get("connection"), body.get("index"), body.get("delay")
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError("`text` must be a string")
        return self.fault(
            body["kind"],
            _number(body.get("seconds", 5), "seconds"),
            connection=None if conn is None else _integer(conn, "connection"),
            index=None if index is None else _integer(index, "index"),
            delay=None if delay is None else _number(delay, "delay"),
            text=text,
        )

    # ----- ticker ------------------------------------------------------------------------
    async def ticker(self, ws: WebSocket) -> None:
        hang = self.hang_until - time.monotonic()
        if hang > 0:  # hang_handshake: no answer at all until the fault ends
            await asyncio.sleep(hang)
        key = ws.query_params.get("api_key", "")
        token = ws.query_params.get("access_token", "")
        if key != self.opts.api_key or not self.token_valid(token):
            await ws.close(code=1008)  # before accept: uvicorn answers HTTP 403
            return
        if sum(1 for c in self.conns.values() if c.api_key == key) >= MAX_CONNECTIONS_PER_KEY:
            await ws.send_denial_response(
                self._error("Maximum 3 connections per api_key.", "NetworkException", 429)
            )
            return
        await ws.accept()
        conn = Connection(next(self._ids), key, token, ws)
        self.conns[conn.id] = conn
        sender = asyncio.create_task(self._sender(conn))
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                text = msg.get("text") or (msg.get("bytes") or b"").decode("utf-8", "replace")
                self._on_client_message(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.conns.pop(conn.id, None)
            conn.put(None)
            with contextlib.suppress(Exception):
                await sender

    async def _sender(self, conn: Connection) -> None:
        try:
            while True:
                msg = await conn.queue.get()
                if msg is None:
                    await conn.ws.close(code=1000)
                    return
                if isinstance(msg, str):
                    await conn.ws.send_text(msg)
                elif isinstance(msg, tuple):
                    await conn.ws.send_bytes(msg[0])
                    self._record_sent(msg[1])
                else:
                    await conn.ws.send_bytes(msg)
        except Exception:
            return

    def _on_client_message(self, conn: Connection, text: str) -> None:
        try:
            req = json.loads(text)
            action, value = req["a"], req["v"]
        except (ValueError, KeyError, TypeError):
            conn.put(json.dumps({"type": "error", "data": "Invalid message"}))
            return
        s = self.sim
        try:
            if action == "subscribe":
                added = 0
                rejected = 0
                for t in value:
                    i = s.by_token.get(int(t))
                    if i is None or i in conn.subs:
                        continue
                    if len(conn.subs) >= MAX_TOKENS_PER_CONNECTION:
                        rejected += 1
                        continue
                    conn.subs[i] = MODE_QUOTE
                    added += 1
                if rejected:
                    conn.put(json.dumps({"type": "error", "data":
                        f"Subscription limit exceeded: at most {MAX_TOKENS_PER_CONNECTION} "
                        f"instruments per connection; {rejected} not subscribed"}))  # fmt: skip
                if added:
                    conn.rebuild()
                    # Kite sends the current state of new subscriptions straight away.
                    new = np.array([s.by_token[int(t)] for t in value if int(t) in s.by_token])
                    new = new[np.isin(new, conn.sub_idx)]
                    if len(new) and s.sec >= 0:
                        self._send_ticks(conn, new, np.full(len(new), MODE_QUOTE, np.int8))
            elif action == "unsubscribe":
                for t in value:
                    conn.subs.pop(s.by_token.get(int(t), -1), None)
                conn.rebuild()
            elif action == "mode":
                mode = _MODES[value[0]]
                for t in value[1]:
                    i = s.by_token.get(int(t))
                    if i is not None and i in conn.subs:
                        conn.subs[i] = mode
                conn.rebuild()
            else:
                raise ValueError(action)
        except (ValueError, KeyError, TypeError, IndexError):
            conn.put(json.dumps({"type": "error", "data": "Invalid message"}))

    # ----- app ---------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> Any:
            self.loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._run())
            yield
            self._task.cancel()

        routes = [
            # Public (no auth, no limit), as Kite's instrument dump.
            Route("/instruments", self._rest(self.instruments, None)),
            Route(
                "/instruments/historical/{token}/{interval}",
                self._rest(self.historical, HISTORICAL),
            ),
            Route("/instruments/{exchange}", self._rest(self.instruments, None)),
            Route("/quote", self._rest(self.quote, QUOTE)),
            Route("/quote/ltp", self._rest(self.ltp, QUOTE)),
            Route("/quote/ohlc", self._rest(self.ohlc, QUOTE)),
            # Kite's login page (kite.zerodha.com), not the API: not rate-limited.
            Route("/connect/login", self._rest(self.login, None)),
            # Authenticated by checksum; counted as OTHER (10/s) per api_key in the handler.
            Route("/session/token", self._rest(self.session_token, None), methods=["POST"]),
            Route("/_sim/state", self.admin_state),
            Route("/_sim/{what}", self.admin_post, methods=["POST"]),
            WebSocketRoute("/ws", self.ticker),
        ]
        return Starlette(routes=routes, lifespan=lifespan)


def _number(value: Any, name: str) -> float:
    """A finite JSON number (not a bool) or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number")
    return float(value)


def _integer(value: Any, name: str) -> int:
    """A JSON integer (not a bool) or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"`{name}` must be an integer")
    return value


def _parse_when(text: str, end_of_day: bool = False) -> dt.datetime:
    """Kite's `from`/`to`: 'YYYY-MM-DD HH:MM:SS' or 'YYYY-MM-DD', in IST."""
    if not text:
        raise ValueError("missing `from` or `to`")
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            t = dt.time(23, 59, 59) if end_of_day else dt.time(0, 0)
            return dt.datetime.combine(d, t, IST)
        return dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)
    except ValueError as exc:
        raise ValueError(f"invalid date: {text!r}") from exc


@dataclass
class Running:
    """A simulator serving in a background thread."""

    server: SimServer
    port: int
    host: str

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the server's event loop (thread-safe) and return its result."""
        loop = self.server.loop
        if loop is None:
            raise RuntimeError("simulator loop not running")

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    @property
    def root(self) -> str:
        """REST root for `KiteConnect(root=...)`."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_root(self) -> str:
        """Ticker root for `KiteTicker(root=...)`."""
        return f"ws://{self.host}:{self.port}/ws"


@contextlib.contextmanager
def run_simulator(
    port: int = 0,
    host: str = "127.0.0.1",
    config: SimConfig | None = None,
    options: ServerOptions | None = None,
    start_timeout_s: float = 20.0,
) -> Iterator[Running]:
    """Serve a simulator on `port` (0 = a free one) in a background thread, for tests.

    Starting late in a session takes a while (the market is simulated up to the clock before
    the socket opens): `start_timeout_s` bounds the wait."""
    srv = SimServer(config, options)
    redact_uvicorn_logs()
    ucfg = uvicorn.Config(srv.app, host=host, port=port, log_level="warning",
                          ws="websockets-sansio",
                          lifespan="on", ws_ping_interval=None)  # fmt: skip
    server = uvicorn.Server(ucfg)
    thread = threading.Thread(target=server.run, daemon=True, name="strikeboard-sim")
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("simulator failed to start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(srv, int(bound), host)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(host: str, port: int, config: SimConfig, options: ServerOptions) -> None:
    """Run the simulator in the foreground (the CLI entry)."""
    srv = SimServer(config, options)
    # The access log shows each request target: the ticker's carries the access token.
    redact_uvicorn_logs()
    uvicorn.run(srv.app, host=host, port=port, log_level="info", ws="websockets-sansio",
                ws_ping_interval=None)  # fmt: skip
