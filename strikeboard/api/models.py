"""Response and request models of the HTTP API (they make the OpenAPI schema precise).

Document models allow extra fields: the snapshot document belongs to the feed
(`strikeboard.chain.snapshot.expiry_snapshot`), and a field it adds later must pass through.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Number = float | None
Day = date  # a field named "date" would shadow the type in its own annotation

COLUMNS: tuple[str, ...] = (
    "oi", "oi_change", "volume", "iv", "ltp", "change", "change_pct", "bid", "ask", "bid_qty",
    "ask_qty", "delta", "gamma", "theta", "vega", "buildup", "avg_price", "close",
)  # fmt: skip
"""Leg columns the SPA can show (preferences.columns)."""

# Fixed bounds, not relative to today (a saved preference must not turn invalid with time):
# NSE's index options began in 2001; NIFTY's longest-dated options run some five years out.
EXPIRY_FLOOR = date(2000, 1, 1)
EXPIRY_CEILING = date(2100, 12, 31)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Leg(_Open):
    """One option (CE or PE) of a strike."""

    token: int | None = None
    ltp: Number = None
    close: Number = None
    bid: Number = None
    ask: Number = None
    bid_qty: int | None = None
    ask_qty: int | None = None
    volume: int | None = None
    oi: int | None = None
    avg_price: Number = None
    change: Number = None
    change_pct: Number = None
    oi_change: int | None = None
    iv: Number = None
    delta: Number = None
    gamma: Number = None
    theta: Number = None
    vega: Number = None
    buildup: str | None = None
    iv_reason: (
        Literal["no_price", "no_spot", "expired", "intrinsic", "bound", "unsolved"] | None
    ) = Field(
        None,
        description="Why `iv` is null (strikeboard/chain/ivreason.py): no_price (no trade), "
        "no_spot, expired, intrinsic (price at or below intrinsic value), bound (at or above "
        "the upper bound), unsolved; null when there is an IV.",
    )


class StrikeRow(_Open):
    strike: float
    iv: Number = None
    gex: Number = None
    CE: Leg | None = None
    PE: Leg | None = None


class Aggregates(_Open):
    pcr_oi: Number = None
    pcr_volume: Number = None
    pcr_oi_change: Number = None
    max_pain: Number = None
    atm_iv: Number = None
    atm_straddle: Number = None
    expected_move: Number = None
    call_oi: Number = None
    put_oi: Number = None
    call_oi_change: Number = None
    put_oi_change: Number = None
    support: Number = None
    resistance: Number = None


class Chain(_Open):
    """A priced chain of one expiry: the snapshot document plus where it came from."""

    underlying: str
    expiry: str
    seq: int | None = Field(None, description="Live stream seq (null from the archive).")
    ts: Number = Field(None, description="Exchange time of the newest tick (Unix seconds).")
    computed_at: str | None = None
    spot: Number = None
    future: Number = None
    forward: Number = None
    carry: Number = None
    rate: Number = None
    t_years: Number = None
    days_to_expiry: Number = None
    lot_size: int | None = None
    atm_strike: Number = None
    aggregates: Aggregates
    strikes: dict[str, StrikeRow]
    source: Literal["live", "archive"]
    stale: bool
    age_s: Number = Field(None, description="Seconds since the data was current.")
    convention: Literal["forward", "nse"] = "forward"
    minute: str | None = Field(None, description="The archived minute served (archive only).")


FEED_TOKEN_STATES = ("ok", "waiting", "expired")
"""The Kite token states the feed reports (strikeboard/feed/kite_session.py)."""


class FeedHealth(_Open):
    connected: bool
    token: Literal["ok", "waiting", "expired", "unknown"] = Field(
        description="Kite access token: in use (ok), none stored yet (waiting), refused by "
        "Kite (expired), or no feed health to tell (unknown)."
    )
    last_tick_age_s: Number = None
    ticks_per_s: Number = None


class Session(BaseModel):
    """The market's state by NSE's calendar, and the session the data on screen is from."""

    state: Literal["open", "closed", "holiday"] = Field(
        description="open (live), closed (a trading day outside 09:15-15:30 IST) or holiday "
        "(a weekend or an exchange holiday)."
    )
    last_session: date = Field(description="Today once it has opened, else the previous one.")
    last_close: datetime
    next_open: datetime
    reason: str | None = Field(None, description="Why the market is shut today, if it is.")
    recorded: dict[str, str] | None = Field(
        None, description="The feed's own record of the last session it opened or closed."
    )


class Health(BaseModel):
    status: Literal["ok", "degraded", "down", "closed"]
    feed: FeedHealth
    redis: bool
    database: bool
    market_open: bool
    session: Session
    now: datetime


class Market(BaseModel):
    instruments: dict[str, dict[str, float | int | str | None]]
    stale: bool
    age_s: Number
    market_open: bool
    source: Literal["live", "archive"]


class Expiry(BaseModel):
    expiry: date
    days_to_expiry: float
    kind: Literal["weekly", "monthly"]
    lot_size: int | None


class Tick(BaseModel):
    ts: datetime
    ingest_seq: int
    ltp: Number
    last_qty: int | None
    volume: int | None
    oi: int | None
    bid: Number
    bid_qty: int | None
    ask: Number
    ask_qty: int | None


class TickPage(BaseModel):
    ticks: list[Tick]
    next: str | None = Field(None, description="Cursor for the next page (pass as `after`).")


class Candle(BaseModel):
    minute: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int | None
    oi: int | None


class ContractMinute(BaseModel):
    minute: datetime
    ltp: Number
    bid: Number
    ask: Number
    iv: Number
    delta: Number
    gamma: Number
    theta: Number
    vega: Number
    oi: int | None
    oi_change: int | None
    volume: int | None


class ContractSeries(BaseModel):
    token: int
    date: Day
    underlying: str | None
    expiry: Day | None
    strike: float | None
    option_type: str | None
    minutes: list[ContractMinute]


class OiStrike(BaseModel):
    strike: float
    call_oi: int | None
    put_oi: int | None
    call_oi_change: int | None
    put_oi_change: int | None


class OiAnalytics(BaseModel):
    expiry: str
    source: Literal["live", "archive"]
    stale: bool
    spot: Number
    atm_strike: Number
    pcr_oi: Number
    max_pain: Number
    call_oi: Number
    put_oi: Number
    strikes: list[OiStrike]


class IntradayPoint(BaseModel):
    minute: datetime
    spot: Number
    future: Number
    forward: Number
    pcr_oi: Number
    pcr_volume: Number
    max_pain: Number
    atm_iv: Number
    straddle: Number
    expected_move: Number


class Intraday(BaseModel):
    expiry: date
    date: Day
    points: list[IntradayPoint]


class SmilePoint(BaseModel):
    strike: float
    moneyness: float = Field(description="ln(K/F).")
    iv: float = Field(description="The strike's shown IV (per iv_leg).")
    call_iv: Number
    put_iv: Number


class Smile(BaseModel):
    expiry: str
    convention: Literal["forward", "nse"]
    forward: Number
    t_years: Number
    atm_iv: Number
    source: Literal["live", "archive"]
    stale: bool
    points: list[SmilePoint]


class GexStrike(BaseModel):
    strike: float
    gex: float


class Gex(BaseModel):
    expiry: str
    spot: Number
    total: float = Field(description="Sum of GEX over strikes (rupees per 1 % move).")
    flip: Number = Field(None, description="Strike where cumulative GEX changes sign, if any.")
    source: Literal["live", "archive"]
    stale: bool
    strikes: list[GexStrike]


class DailyStat(BaseModel):
    day: date
    expiry: date
    minutes: int
    spot_close: Number
    future_close: Number
    atm_iv_open: Number
    atm_iv_high: Number
    atm_iv_low: Number
    atm_iv_close: Number
    straddle_close: Number
    pcr_oi_close: Number
    max_pain_close: Number
    iv_rank: Number = Field(None, description="0-100 over the previous year of daily ATM IV.")
    iv_percentile: Number = Field(None, description="0-100: share of days with a lower ATM IV.")


class Preferences(BaseModel):
    """What the SPA remembers per user."""

    model_config = ConfigDict(extra="forbid")

    columns: list[Literal[COLUMNS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["oi", "oi_change", "volume", "iv", "ltp", "change"],
        max_length=len(COLUMNS),
        description="Leg columns shown, in order, each at most once.",
        json_schema_extra={"uniqueItems": True},  # enforced by _distinct below
    )
    strikes: int = Field(20, ge=1, le=100, description="Strikes each side of the ATM.")
    theme: Literal["dark", "light"] = "dark"
    default_expiry: date | None = Field(
        None,
        ge=EXPIRY_FLOOR,
        le=EXPIRY_CEILING,
        description=f"An expiry date between {EXPIRY_FLOOR} and {EXPIRY_CEILING}.",
        # JSON Schema bounds no date: the same range as a pattern on the year, for clients.
        json_schema_extra={"pattern": r"^(20[0-9]{2}|2100)-"},
    )
    convention: Literal["forward", "nse"] = "forward"
    iv_leg: Literal["otm", "call", "put"] = "otm"
    flash: bool = Field(True, description="Flash changed digits in the chain (off: no motion).")

    @field_validator("columns")
    @classmethod
    def _distinct(cls, columns: list[str]) -> list[str]:
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"columns repeated: {', '.join(repeated)}")
        return columns


class Problem(BaseModel):
    detail: str
