"""Response and request models of the HTTP API (they make the OpenAPI schema precise).

Document models allow extra fields: the snapshot document belongs to the feed
(`strikeboard.chain.snapshot.expiry_snapshot`), and a field it adds later must pass through.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from strikeboard.market import underlyings

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


class UnderlyingInfo(BaseModel):
    """A followed underlying, in configured order (UNDERLYINGS)."""

    name: str
    exchange: Literal["NSE", "BSE"]
    spot_symbol: str
    strike_step: float
    lot_size: int | None
    """From the nearest live (else archived) expiry; null while none is known."""
    vix_symbol: str | None


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


class SurfaceExpiry(BaseModel):
    """One expiry of the surface: a row of the heat map, a point of the term structure."""

    expiry: date
    days_to_expiry: Number = Field(description="Calendar days to 15:30 IST of the expiry day.")
    forward: Number
    atm_strike: Number
    atm_iv: Number = Field(description="The expiry's ATM IV (annual, 0.12 = 12 %).")
    minute: datetime | None = Field(
        description="The archived minute the expiry's chain is from (null: live)."
    )
    source: Literal["live", "archive"]
    stale: bool
    points: list[SmilePoint] = Field(description="Finite shown IVs (OTM leg) by strike.")


class Surface(BaseModel):
    underlying: str
    at: datetime | None = Field(description="The minute asked for (null: live).")
    expiries: list[SurfaceExpiry] = Field(description="Nearest first.")


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
    minute: datetime | None = Field(
        None, description="The archived minute the chain is from (null: live)."
    )
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


MAX_STRATEGY_LEGS = 20
"""The most legs a strategy may have (`strikeboard.chain.strategy.MAX_LEGS`)."""
MAX_SAVED_STRATEGIES = 10
"""Strategies kept per user: ten of twenty legs stay well under the 64 KiB body limit."""
UNDERLYING_PATTERN = r"^[A-Z][A-Z0-9&-]{0,19}$"


class StrategyLeg(BaseModel):
    """One leg as the user builds it: the contract, the side, lots, and how it was entered."""

    # The rule of `_typed_needs_a_price` in the schema too, so that a client (or schemathesis)
    # reading the schema knows a typed entry without a price is not a valid leg.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"entry": {"enum": ["mid", "bid", "ask", "ltp"]}}},
                {"required": ["entry", "price"],
                 "properties": {"entry": {"const": "typed"}, "price": {"type": "number"}}},
            ]
        },
    )  # fmt: skip

    expiry: date = Field(
        ge=EXPIRY_FLOOR, le=EXPIRY_CEILING, json_schema_extra={"pattern": r"^(20[0-9]{2}|2100)-"}
    )
    strike: float = Field(gt=0, le=1_000_000)
    option_type: Literal["CE", "PE"]
    side: Literal["buy", "sell"]
    lots: int = Field(1, ge=1, le=10_000)
    entry: Literal["mid", "bid", "ask", "ltp", "typed"] = Field(
        "mid", description="The entry price: the live quote's mid, bid, ask, LTP, or `price`."
    )
    price: float | None = Field(
        None, gt=0, le=1_000_000, description="Premium per unit (used with entry=typed)."
    )

    @model_validator(mode="after")
    def _typed_needs_a_price(self) -> StrategyLeg:
        if self.entry == "typed" and self.price is None:
            raise ValueError("entry 'typed' needs a price")
        return self


class SavedStrategy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f]+$")
    underlying: str = Field("NIFTY", pattern=UNDERLYING_PATTERN)
    legs: list[StrategyLeg] = Field(min_length=1, max_length=MAX_STRATEGY_LEGS)

    @field_validator("underlying")
    @classmethod
    def _known(cls, name: str) -> str:
        # Any underlying Strikeboard knows, followed here or not: a saved strategy outlives a
        # change of UNDERLYINGS. Checked here rather than declared as an enum, so the schema
        # (and the SPA's types generated from it) keeps the plain pattern.
        underlyings.underlying(name)  # UnknownUnderlyingError, a ValueError: a 422
        return name


class StrategyRequest(BaseModel):
    """A strategy and the payoff chart's controls."""

    model_config = ConfigDict(extra="forbid")

    underlying: str | None = Field(
        None, pattern=UNDERLYING_PATTERN,
        description="One of UNDERLYINGS; null: the first configured.",
    )  # fmt: skip
    legs: list[StrategyLeg] = Field(min_length=1, max_length=MAX_STRATEGY_LEGS)
    range_pct: float | None = Field(
        None,
        ge=0.5,
        le=50.0,
        description="Spot axis: today's spot +/- %; null: four standard deviations of the first "
        "expiry's move (ATM IV), 1-50 %.",
    )
    points: int = Field(201, ge=11, le=1001, description="Spots on the axis.")
    iv_shift: float = Field(
        0.0, ge=-50.0, le=100.0, description="Vol points added to every leg's IV (T+ curve)."
    )
    target: datetime | None = Field(
        None,
        description="When the T+ curve is valued (ISO; naive = IST): now (default) up to the "
        "first expiry's close.",
    )


class StrategyLegPriced(StrategyLeg):
    lot_size: int
    quantity: int = Field(description="Units: lots x lot size.")
    price: float = Field(description="The entry premium used, per unit.")
    iv: float = Field(description="The annual IV the leg is priced with (before the shift).")
    iv_source: Literal["entry", "chain"] = Field(
        description="entry: implied by the entry price (the T+0 P&L at spot is then zero); "
        "chain: the chain's IV, when the entry price implies none (e.g. below intrinsic)."
    )


class StrategyGreeks(BaseModel):
    delta: float = Field(description="Rupees per point of spot.")
    gamma: float = Field(description="Change of the rupee delta per point of spot.")
    theta: float = Field(description="Rupees per calendar day.")
    vega: float = Field(description="Rupees per vol point.")


class StrategyPayoff(BaseModel):
    underlying: str
    spot: float
    now: datetime = Field(description="The market's clock the strategy was priced at.")
    target: datetime
    horizon: date = Field(description="The first expiry: the payoff 'at expiry' is at its close.")
    forward: Number = Field(description="The first expiry's forward (probability of profit).")
    atm_iv: Number = Field(description="The first expiry's ATM IV (probability of profit).")
    iv_shift: float
    range_pct: float = Field(description="The spot axis used: spot +/- this %.")
    spots: list[float]
    at_expiry: list[float] = Field(description="P&L in rupees at the first expiry, per spot.")
    at_target: list[float] = Field(description="P&L in rupees at `target`, per spot.")
    target_at_spot: float = Field(description="P&L at today's spot on the target curve.")
    breakevens: list[float] = Field(description="Spots where the P&L at expiry crosses zero.")
    max_profit: Number = Field(description="Rupees; null: unlimited.")
    max_loss: Number = Field(description="Rupees (<= 0 unless all outcomes gain); null: unlimited.")
    pop: Number = Field(description="Probability (0-1) of a positive P&L at expiry.")
    net_premium: float = Field(description="Rupees paid (> 0) or received (< 0) to open.")
    greeks: StrategyGreeks
    legs: list[StrategyLegPriced]
    source: Literal["live", "archive"]
    stale: bool


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
    strategies: list[SavedStrategy] = Field(
        default_factory=list,
        max_length=MAX_SAVED_STRATEGIES,
        description="Saved strategies (the strategy builder's), each name at most once.",
    )

    @field_validator("strategies")
    @classmethod
    def _distinct_names(cls, strategies: list[SavedStrategy]) -> list[SavedStrategy]:
        names = [s.name for s in strategies]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"strategy names repeated: {', '.join(repeated)}")
        return strategies

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
