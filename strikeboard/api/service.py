"""What the routes ask of Redis and PostgreSQL: live chain with freshness, archived chains,
history and analytics queries. Errors: `UnavailableError` (503), `NotFoundError` (404),
`BadRequestError` (400); store driver errors never escape as 500s."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Final

import numpy as np

from strikeboard.api import chain as chain_doc
from strikeboard.api.errors import BadRequestError, NotFoundError, UnavailableError
from strikeboard.api.stores import Stores
from strikeboard.chain import analytics, conventions
from strikeboard.market import calendar, underlyings
from strikeboard.market.calendar import CALENDAR, IST, TradingCalendar, market_open
from strikeboard.market.underlyings import market_future_name
from strikeboard.store import snapshot as snap
from strikeboard.store.archive import CHAIN_AGG_COLUMNS, CHAIN_COLUMNS
from strikeboard.store.errors import StoreError

EARLIEST: Final = date(2000, 1, 1)
LATEST: Final = date(2100, 1, 1)
IV_LOOKBACK_DAYS: Final = 365


def now_ist() -> datetime:
    return datetime.now(IST)


TICKS_STALE_AFTER_S: Final = 5.0
"""/api/health degrades when the newest tick is older than this in market hours."""


def check_day(value: date, name: str) -> date:
    if not EARLIEST <= value < LATEST:
        span = f"{EARLIEST.year}-{LATEST.year - 1}"
        raise NotFoundError(f"nothing stored for {name} {value}: the archive spans {span}")
    return value


def as_ist(value: datetime, name: str) -> datetime:
    """A request time: naive means IST; years outside 2000-2099 are refused."""
    check_day(value.date(), name)
    return value.replace(tzinfo=IST) if value.tzinfo is None else value.astimezone(IST)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, dtime(0, 0), IST)
    return start, start + timedelta(days=1)


# -- freshness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    stale: bool
    age_s: float | None


def feed_freshness(health: dict[str, Any] | None, stale_after_s: float, now: float) -> Freshness:
    """Live data is fresh while the feed writes health (TTL 15 s) and ticks are recent."""
    if health is None:
        return Freshness(True, None)
    age = health.get("last_tick_age_s")
    written = health.get("ts")
    if not isinstance(age, int | float):
        return Freshness(True, None)
    if isinstance(written, int | float):
        age = age + max(0.0, now - written)
    return Freshness(bool(age > stale_after_s), round(float(age), 3))


# -- live -------------------------------------------------------------------------------------


@dataclass
class Live:
    data: bytes
    """The snapshot JSON as stored (without seq)."""
    seq: int
    health: dict[str, Any] | None


def read_live(stores: Stores, underlying: str, expiry: date) -> Live | None:
    """The stored snapshot of an expiry and the feed's health in one round trip; None when
    the expiry has no snapshot. Raises `StoreError` when Redis is down."""
    hot = stores.hot
    pipe = hot.client.pipeline(transaction=False)
    pipe.hmget(hot.keys.snapshot(underlying, expiry), ["seq", "data"])
    pipe.get(hot.keys.health())
    result = hot._call(pipe.execute)
    (seq, data), health_raw = result
    health = None
    if health_raw is not None:
        try:
            health = snap.loads(health_raw)
        except snap.SnapshotError:
            health = None
    if seq is None or data is None:
        return None
    return Live(bytes(data), int(seq), health)


def read_health(stores: Stores) -> dict[str, Any] | None:
    """The feed's health document; `StoreError` when Redis is down."""
    return stores.hot.read_health()


def session(stores: Stores, now: datetime, redis_ok: bool) -> dict[str, Any]:
    """The calendar's view of the market at `now`, with the feed's record of its last session
    (open or closed, and when) when Redis has it."""
    view = calendar.session_view(now)
    recorded = None
    if redis_ok:
        try:
            recorded = stores.hot.read_session()
        except StoreError:
            recorded = None
    return {"state": view.state, "last_session": view.last_session,
            "last_close": view.last_close, "next_open": view.next_open,
            "reason": view.reason, "recorded": recorded}  # fmt: skip


# -- archive ----------------------------------------------------------------------------------


def archive_minute(
    stores: Stores, underlying: str, expiry: date, at: datetime | None
) -> datetime | None:
    """The last archived minute of an expiry at or before ``at`` (or ever)."""
    if at is None:
        rows = stores.rows(
            "SELECT max(minute) FROM chain_minute_agg WHERE underlying = %s AND expiry = %s",
            (underlying, expiry),
        )
    else:
        rows = stores.rows(
            "SELECT max(minute) FROM chain_minute_agg"
            " WHERE underlying = %s AND expiry = %s AND minute <= %s",
            (underlying, expiry, at),
        )
    value = rows[0][0] if rows else None
    return value.astimezone(IST) if isinstance(value, datetime) else None


def lot_size(stores: Stores, underlying: str, expiry: date) -> int | None:
    rows = stores.rows(
        "SELECT lot_size FROM instruments WHERE name = %s AND expiry = %s"
        " AND lot_size IS NOT NULL LIMIT 1",
        (underlying, expiry),
    )
    return int(rows[0][0]) if rows else None


def archive_chain(
    stores: Stores, underlying: str, expiry: date, minute: datetime, rate: float,
    iv_leg: conventions.IvLeg,
) -> dict[str, Any]:  # fmt: skip
    cols = ", ".join(CHAIN_COLUMNS)
    rows = stores.rows(
        f"SELECT {cols} FROM chain_minute WHERE underlying = %s AND expiry = %s AND minute = %s",
        (underlying, expiry, minute),
    )
    agg_cols = ", ".join(CHAIN_AGG_COLUMNS)
    agg_rows = stores.rows(
        f"SELECT {agg_cols} FROM chain_minute_agg"
        " WHERE underlying = %s AND expiry = %s AND minute = %s",
        (underlying, expiry, minute),
    )
    agg = dict(zip(CHAIN_AGG_COLUMNS, agg_rows[0], strict=True)) if agg_rows else {}
    dicts = [dict(zip(CHAIN_COLUMNS, r, strict=True)) for r in rows]
    closes = previous_closes(stores, underlying, expiry, minute)
    size = lot_size(stores, underlying, expiry)
    return chain_doc.archive_document(
        underlying, expiry, minute, agg, dicts, rate, size, iv_leg, closes
    )


def previous_closes(
    stores: Stores, underlying: str, expiry: date, minute: datetime
) -> dict[int, float]:
    """Each option's close of the session before ``minute``'s IST day: its LTP at the last
    archived minute of that session (what a change in history mode is counted from)."""
    day_start, _ = day_bounds(minute.astimezone(IST).date())
    rows = stores.rows(
        "SELECT token, ltp FROM chain_minute WHERE underlying = %s AND expiry = %s"
        " AND ltp IS NOT NULL AND minute = (SELECT max(minute) FROM chain_minute_agg"
        "  WHERE underlying = %s AND expiry = %s AND minute < %s)",
        (underlying, expiry, underlying, expiry, day_start),
    )
    return {int(token): float(ltp) for token, ltp in rows if token is not None}


# -- the chain, wherever it is ----------------------------------------------------------------


@dataclass
class ChainResult:
    doc: dict[str, Any] | None
    """The parsed document (None on the live fast path until asked for)."""
    live: Live | None
    source: str
    stale: bool
    age_s: float | None

    def document(self) -> dict[str, Any]:
        if self.doc is None:
            assert self.live is not None
            self.doc = snap.loads(self.live.data)
            self.doc["seq"] = self.live.seq
        return self.doc


def get_chain(
    stores: Stores, underlying: str, expiry: date, at: datetime | None, stale_after_s: float,
    rate: float, iv_leg: conventions.IvLeg, now: datetime | None = None,
) -> ChainResult:  # fmt: skip
    """Live from Redis unless ``at`` asks for the past; the archive when Redis is down or has
    no snapshot of the expiry (after hours, or after a Redis loss). ``now``: the market's
    time (default `now_ist`)."""
    now = now_ist() if now is None else now
    redis_error: str | None = None
    if at is None:
        try:
            live = read_live(stores, underlying, expiry)
        except StoreError as exc:
            live, redis_error = None, str(exc)
        if live is not None:
            fresh = feed_freshness(live.health, stale_after_s, time.time())
            stale = fresh.stale or not market_open(now)
            return ChainResult(None, live, "live", stale, fresh.age_s)
    try:
        minute = archive_minute(stores, underlying, expiry, at)
        if minute is None:
            when = f" at or before {at.isoformat()}" if at is not None else ""
            raise NotFoundError(
                f"no chain for {underlying} {expiry.isoformat()}{when}: not a live expiry and "
                "not in the archive"
            )
        doc = archive_chain(stores, underlying, expiry, minute, rate, iv_leg)
    except UnavailableError as exc:
        if redis_error is not None:
            raise UnavailableError("Redis and PostgreSQL are both unavailable") from exc
        raise
    age = max(0.0, now.timestamp() - minute.timestamp())
    return ChainResult(doc, None, "archive", True, round(age, 3))


def expiries(stores: Stores, underlying: str, now: datetime) -> list[dict[str, Any]]:
    """Live expiries from Redis (with the snapshot's lot size); else the archive's unexpired
    ones."""
    found: dict[date, int | None] = {}
    try:
        hot = stores.hot
        for text in hot.expiries(underlying):
            doc = hot.read_snapshot(underlying, text)
            lot = doc.get("lot_size") if doc is not None else None
            found[date.fromisoformat(text)] = lot if isinstance(lot, int) else None
    except StoreError:
        found = {}
    if not found:
        rows = stores.rows(
            "SELECT a.expiry, (SELECT lot_size FROM instruments i WHERE i.name = %s"
            "  AND i.expiry = a.expiry AND lot_size IS NOT NULL LIMIT 1)"
            " FROM (SELECT DISTINCT expiry FROM chain_minute_agg WHERE underlying = %s"
            "  AND expiry >= %s) a ORDER BY 1",
            (underlying, underlying, now.date()),
        )
        found = {r[0]: r[1] for r in rows}
    # Monthly: the last expiry of the month on the underlying's own weekday (SENSEX: Thursday).
    calendar_of = TradingCalendar(
        CALENDAR.holidays, underlyings.underlying(underlying).expiry.weekday
    )
    out = []
    for expiry in sorted(found):
        t = conventions.time_to_expiry(now, expiry)
        if t <= 0:
            continue
        kind = "monthly" if calendar_of.is_monthly_expiry(expiry) else "weekly"
        out.append({"expiry": expiry, "days_to_expiry": round(t * 365.0, 3), "kind": kind,
                    "lot_size": found[expiry]})  # fmt: skip
    return out


# -- market -----------------------------------------------------------------------------------


MARKET_AT_SQL: Final = """
SELECT c.token, max(c.minute), (array_agg(c.open ORDER BY c.minute))[1], max(c.high), min(c.low),
       (array_agg(c.close ORDER BY c.minute DESC))[1], (array_agg(c.oi ORDER BY c.minute DESC))[1],
       (array_agg(c.volume ORDER BY c.minute DESC))[1], i.instrument_type, i.expiry,
       i.tradingsymbol, i.underlying,
       (SELECT p.close FROM candles_1m p WHERE p.token = c.token AND p.minute < %s
        ORDER BY p.minute DESC LIMIT 1)
FROM candles_1m c JOIN instruments i ON i.instrument_token = c.token
WHERE c.minute >= %s AND c.minute <= %s AND i.underlying = ANY(%s)
GROUP BY c.token, i.instrument_type, i.expiry, i.tradingsymbol, i.underlying
"""


def market_at(
    stores: Stores, at: datetime, names: Sequence[str] = ("NIFTY",)
) -> dict[str, dict[str, Any]]:
    """Spot, VIX and futures of the underlyings ``names`` as they were at the minute ``at``
    (history mode's top bar), named as the feed names them: the last candle of that IST day at
    or before it, the day's open, high and low up to it, and the change from the previous
    session's last close. Empty when that day has no candles."""
    day_start, _ = day_bounds(at.astimezone(IST).date())
    rows = stores.rows(MARKET_AT_SQL, (day_start, day_start, at, list(names)))
    out: dict[str, dict[str, Any]] = {}
    for token, minute, o, h, lo, c, oi, volume, itype, expiry, symbol, owner, close in rows:
        if c is None:
            continue
        future = itype == "FUT" and expiry is not None
        name = market_future_name(owner, expiry) if future else symbol
        change = c - close if close is not None else None
        pct = round(change / close * 100, 2) if change is not None and close else None
        doc: dict[str, Any] = {"token": int(token), "underlying": owner, "ltp": c, "close": close,
                               "change": round(change, 2) if change is not None else None,
                               "change_pct": pct, "open": o, "high": h, "low": lo,
                               "ts": minute.timestamp()}  # fmt: skip
        if future:
            doc["oi"], doc["volume"] = oi, volume
        out[name] = doc
    return out


def market_from_archive(
    stores: Stores, now: datetime | None = None, names: Sequence[str] = ("NIFTY",)
) -> tuple[dict[str, dict[str, Any]], float | None]:
    """The spots, volatility indices and futures of the underlyings ``names`` from the last
    archived candles (Redis down or empty), named as the feed names them, and their age at
    ``now``, the market's time (default `now_ist`)."""
    rows = stores.rows(
        "SELECT DISTINCT ON (c.token) c.token, c.minute, c.open, c.high, c.low, c.close, c.oi,"
        " c.volume, i.instrument_type, i.expiry, i.tradingsymbol, i.underlying FROM candles_1m c"
        " JOIN instruments i ON i.instrument_token = c.token"
        " WHERE i.underlying = ANY(%s) ORDER BY c.token, c.minute DESC",
        (list(names),),
    )
    out: dict[str, dict[str, Any]] = {}
    newest: datetime | None = None
    for token, minute, o, h, lo, c, oi, volume, itype, expiry, symbol, owner in rows:
        future = itype == "FUT" and expiry is not None
        name = market_future_name(owner, expiry) if future else symbol
        doc: dict[str, Any] = {"token": int(token), "underlying": owner, "ltp": c, "open": o,
                               "high": h, "low": lo, "ts": minute.timestamp()}  # fmt: skip
        if future:
            doc["oi"], doc["volume"] = oi, volume
        out[name] = doc
        newest = minute if newest is None or minute > newest else newest
    now = now_ist() if now is None else now
    age = max(0.0, now.timestamp() - newest.timestamp()) if newest is not None else None
    return out, age


# -- history ----------------------------------------------------------------------------------

TICK_FIELDS: Final = (
    "exchange_ts", "ingest_seq", "last_price", "last_qty", "volume", "oi", "bid_price", "bid_qty",
    "ask_price", "ask_qty",
)  # fmt: skip


def encode_cursor(ts: datetime, seq: int) -> str:
    return f"{round(ts.timestamp() * 1_000_000)}:{seq}"


def decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        us_text, seq_text = text.split(":")
        us, seq = int(us_text), int(seq_text)
        ts = datetime.fromtimestamp(us / 1_000_000, IST)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadRequestError(
            f"invalid cursor {text!r}: pass back the `next` of a previous page"
        ) from exc
    check_day(ts.date(), "cursor")
    if not 0 <= seq < 2**63:
        raise BadRequestError(f"invalid cursor {text!r}")
    return ts, seq


def ticks_page(
    stores: Stores, token: int, start: datetime, end: datetime, after: str | None, limit: int
) -> dict[str, Any]:
    if end <= start:
        return {"ticks": [], "next": None}  # an empty range holds no ticks
    key = decode_cursor(after) if after else (start, -1)
    rows = stores.rows(
        f"SELECT {', '.join(TICK_FIELDS)} FROM ticks WHERE token = %s AND exchange_ts >= %s"
        " AND exchange_ts < %s AND (exchange_ts, ingest_seq) > (%s, %s)"
        " ORDER BY exchange_ts, ingest_seq LIMIT %s",
        (token, start, end, key[0], key[1], limit + 1),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ticks = [
        {"ts": r[0], "ingest_seq": r[1], "ltp": r[2], "last_qty": r[3], "volume": r[4],
         "oi": r[5], "bid": r[6], "bid_qty": r[7], "ask": r[8], "ask_qty": r[9]}
        for r in rows
    ]  # fmt: skip
    nxt = encode_cursor(rows[-1][0], rows[-1][1]) if more and rows else None
    return {"ticks": ticks, "next": nxt}


def candles(stores: Stores, token: int, day: date) -> list[dict[str, Any]]:
    start, end = day_bounds(day)
    rows = stores.rows(
        "SELECT minute, open, high, low, close, volume, oi FROM candles_1m"
        " WHERE token = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (token, start, end),
    )
    keys = ("minute", "open", "high", "low", "close", "volume", "oi")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def contract_series(stores: Stores, token: int, day: date) -> dict[str, Any]:
    start, end = day_bounds(day)
    rows = stores.rows(
        "SELECT minute, ltp, bid, ask, iv, delta, gamma, theta, vega, oi, oi_change, volume,"
        " underlying, expiry, strike, option_type FROM chain_minute"
        " WHERE token = %s AND minute >= %s AND minute < %s ORDER BY minute",
        (token, start, end),
    )
    keys = ("minute", "ltp", "bid", "ask", "iv", "delta", "gamma", "theta", "vega", "oi",
            "oi_change", "volume")  # fmt: skip
    first = rows[0] if rows else None
    return {
        "token": token,
        "date": day,
        "underlying": first[12] if first else None,
        "expiry": first[13] if first else None,
        "strike": first[14] if first else None,
        "option_type": first[15] if first else None,
        "minutes": [dict(zip(keys, r[:12], strict=True)) for r in rows],
    }


# -- analytics --------------------------------------------------------------------------------


def intraday(stores: Stores, underlying: str, expiry: date, day: date) -> list[dict[str, Any]]:
    start, end = day_bounds(day)
    rows = stores.rows(
        "SELECT minute, spot, future, forward, pcr_oi, pcr_volume, max_pain, atm_iv, straddle,"
        " expected_move FROM chain_minute_agg WHERE underlying = %s AND expiry = %s"
        " AND minute >= %s AND minute < %s ORDER BY minute",
        (underlying, expiry, start, end),
    )
    keys = ("minute", "spot", "future", "forward", "pcr_oi", "pcr_volume", "max_pain", "atm_iv",
            "straddle", "expected_move")  # fmt: skip
    return [dict(zip(keys, r, strict=True)) for r in rows]


def oi_by_strike(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in chain_doc.sorted_strikes(doc):
        ce, pe = row.get("CE") or {}, row.get("PE") or {}
        out.append({"strike": float(row["strike"]), "call_oi": ce.get("oi"),
                    "put_oi": pe.get("oi"), "call_oi_change": ce.get("oi_change"),
                    "put_oi_change": pe.get("oi_change")})  # fmt: skip
    return out


def smile(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Finite shown IVs by strike with log-moneyness against the document's forward (spot
    for the NSE convention, whose model has no forward)."""
    rows = chain_doc.sorted_strikes(doc)
    ref = doc.get("spot") if doc.get("convention") == "nse" else doc.get("forward")
    if ref is None or not rows:
        return []
    out = []
    for row in rows:
        iv = row.get("iv")
        k = float(row["strike"])
        if iv is None or not math.isfinite(iv) or k <= 0:
            continue
        out.append({"strike": k, "moneyness": math.log(k / float(ref)), "iv": iv,
                    "call_iv": (row.get("CE") or {}).get("iv"),
                    "put_iv": (row.get("PE") or {}).get("iv")})  # fmt: skip
    return out


def gex(doc: dict[str, Any]) -> dict[str, Any]:
    rows = chain_doc.sorted_strikes(doc)
    strikes = [float(r["strike"]) for r in rows]
    values = [float(r["gex"]) if r.get("gex") is not None else 0.0 for r in rows]
    return {
        "total": float(np.sum(values)) if values else 0.0,
        "flip": chain_doc.gex_flip(strikes, values),
        "strikes": [{"strike": k, "gex": g} for k, g in zip(strikes, values, strict=True)],
    }


DAILY_SQL: Final = """
SELECT underlying, (minute AT TIME ZONE 'Asia/Kolkata')::date AS day, expiry, count(*)::int,
       (array_agg(spot ORDER BY minute) FILTER (WHERE spot IS NOT NULL))[1],
       max(spot), min(spot),
       (array_agg(spot ORDER BY minute DESC) FILTER (WHERE spot IS NOT NULL))[1],
       (array_agg(future ORDER BY minute DESC) FILTER (WHERE future IS NOT NULL))[1],
       (array_agg(atm_iv ORDER BY minute) FILTER (WHERE atm_iv IS NOT NULL))[1],
       max(atm_iv), min(atm_iv),
       (array_agg(atm_iv ORDER BY minute DESC) FILTER (WHERE atm_iv IS NOT NULL))[1],
       (array_agg(straddle ORDER BY minute DESC) FILTER (WHERE straddle IS NOT NULL))[1],
       (array_agg(pcr_oi ORDER BY minute DESC) FILTER (WHERE pcr_oi IS NOT NULL))[1],
       (array_agg(max_pain ORDER BY minute DESC) FILTER (WHERE max_pain IS NOT NULL))[1]
FROM chain_minute_agg
WHERE underlying = %s AND minute >= %s AND minute < %s
GROUP BY 1, 2, 3
"""
DAILY_COLUMNS: Final = (
    "underlying", "day", "expiry", "minutes", "spot_open", "spot_high", "spot_low",
    "spot_close", "future_close", "atm_iv_open", "atm_iv_high", "atm_iv_low", "atm_iv_close",
    "straddle_close", "pcr_oi_close", "max_pain_close",
)  # fmt: skip


def compute_daily(
    stores: Stores, underlying: str, first: date, last: date
) -> list[tuple[Any, ...]]:
    """Daily statistics per expiry for the IST days first..last from the minute aggregates."""
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    return stores.rows(DAILY_SQL, (underlying, start, end))


def store_daily(stores: Stores, rows: list[tuple[Any, ...]]) -> int:
    """Upsert computed daily rows into daily_stats; returns how many."""
    if not rows:
        return 0
    cols = ", ".join(DAILY_COLUMNS)
    marks = ", ".join(["%s"] * len(DAILY_COLUMNS))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in DAILY_COLUMNS[3:])
    for row in rows:
        stores.execute(
            f"INSERT INTO daily_stats ({cols}) VALUES ({marks}) ON CONFLICT (underlying, day,"
            f" expiry) DO UPDATE SET {updates}, computed_at = now()",
            row,
        )
    return len(rows)


def daily(stores: Stores, underlying: str, days: int, today: date) -> list[dict[str, Any]]:
    """The last ``days`` trading days' statistics of the front expiry (the nearest expiry
    still alive that day), with IV rank and percentile of its closing ATM IV over the year
    before. Stored rows (EOD job) are completed by on-the-fly rows for days not yet stored
    (today)."""
    first = today - timedelta(days=days + IV_LOOKBACK_DAYS)
    cols = ", ".join(DAILY_COLUMNS)
    stored = stores.rows(
        f"SELECT {cols} FROM daily_stats WHERE underlying = %s AND day >= %s AND day <= %s",
        (underlying, first, today),
    )
    by_key = {(r[1], r[2]): r for r in stored}
    have_days = {r[1] for r in stored}
    recent_first = max(first, today - timedelta(days=days + 7))
    for r in compute_daily(stores, underlying, recent_first, today):
        if r[1] not in have_days:
            by_key[(r[1], r[2])] = r
    # The front expiry of each day: the nearest one that had data that day.
    front: dict[date, tuple[Any, ...]] = {}
    for (day, expiry), row in sorted(by_key.items()):
        if expiry >= day and (day not in front or expiry < front[day][2]):
            front[day] = row
    ordered = [front[d] for d in sorted(front)]
    out = []
    for i, row in enumerate(ordered):
        record = dict(zip(DAILY_COLUMNS, row, strict=True))
        if record["day"] < today - timedelta(days=days - 1):
            continue
        window_start = record["day"] - timedelta(days=IV_LOOKBACK_DAYS)
        history = [r[12] for r in ordered[: i + 1] if r[1] >= window_start and r[12] is not None]
        current = record["atm_iv_close"]
        cur = float(current) if current is not None else math.nan
        rank = analytics.iv_rank(np.array(history, dtype=np.float64), cur)
        pct = analytics.iv_percentile(np.array(history, dtype=np.float64), cur)
        record["iv_rank"] = round(rank, 2) if math.isfinite(rank) else None
        record["iv_percentile"] = round(pct, 2) if math.isfinite(pct) else None
        record.pop("underlying")
        for name in ("spot_open", "spot_high", "spot_low"):
            record.pop(name)
        out.append(record)
    return out


# -- preferences ------------------------------------------------------------------------------


def read_preferences(stores: Stores, user_id: str) -> dict[str, Any] | None:
    rows = stores.rows("SELECT data FROM user_preferences WHERE user_id = %s", (user_id,))
    return dict(rows[0][0]) if rows else None


def write_preferences(stores: Stores, user_id: str, data: str) -> None:
    stores.execute(
        "INSERT INTO user_preferences (user_id, data) VALUES (%s, %s::jsonb)"
        " ON CONFLICT (user_id) DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
        (user_id, data),
    )
