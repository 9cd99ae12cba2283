"""The simulated instrument universe: tokens, tradingsymbols, strike grids, the CSV dump.

NIFTY (with INDIA VIX) is always listed; BANKNIFTY, FINNIFTY, MIDCPNIFTY (NFO), SENSEX and
BANKEX (BFO) are listed when named in `UniverseConfig.underlyings`, each with the expiry rule
and strike step of `market.underlyings` and the simulator's own lot size and level.

Pure code. Tokens follow Kite's scheme `exchange_token << 8 | segment` (NFO = 2, BFO = 5,
indices = 9), so `token & 0xff` tells the segment exactly as kiteconnect's ticker parser
expects. A contract's exchange_token is a pure function of (underlying, kind, expiry, strike)
(`contract_exchange_token`), so a contract keeps its instrument_token every day it is listed,
as on Kite.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np

from strikeboard.market import layouts
from strikeboard.market.calendar import TradingCalendar
from strikeboard.market.underlyings import INDIA_VIX_TOKEN as VIX_TOKEN
from strikeboard.market.underlyings import UNDERLYINGS, Underlying
from strikeboard.market.universe import CSV_FIELDS as CSV_COLUMNS
from strikeboard.market.universe import NIFTY_50_TOKEN as NIFTY_TOKEN

SEG_NFO: Final = layouts.SEGMENT_NFO
TICK: Final = 0.05


KIND_INDEX: Final = 0
KIND_VIX: Final = 1
KIND_FUT: Final = 2
KIND_CE: Final = 3
KIND_PE: Final = 4

_WEEKLY_MONTH_CODE: Final = "123456789OND"

STRIKE_UNIT: Final = 50
"""NFO strikes are whole multiples of this (weeklies step 50, monthlies 100/500)."""
_EPOCH_ORD: Final = dt.date(2000, 1, 1).toordinal()
_KIND_CODE: Final = {KIND_FUT: 0, KIND_CE: 1, KIND_PE: 2}

SIM_LEVELS: Final[Mapping[str, float]] = MappingProxyType({
    "NIFTY": 26_000.0, "BANKNIFTY": 59_000.0, "FINNIFTY": 27_500.0, "MIDCPNIFTY": 13_500.0,
    "SENSEX": 85_000.0, "BANKEX": 66_000.0,
})  # fmt: skip
"""Simulator parameters, not market truth: about where each index trades late in 2026 (the
model's NIFTY path sets the time; the others are scaled from it with paths of their own)."""
SIM_LOT_SIZES: Final[Mapping[str, int]] = MappingProxyType({
    "NIFTY": 65, "BANKNIFTY": 30, "FINNIFTY": 60, "MIDCPNIFTY": 120, "SENSEX": 20, "BANKEX": 30,
})  # fmt: skip
"""Simulator parameters: the exchanges' lot sizes of 2026 (the feed reads them from the dump)."""
SIM_UNDERLYINGS: Final = tuple(SIM_LEVELS)
"""Every underlying the simulator can list, NIFTY first."""
_NFO_CODE: Final = {"BANKNIFTY": 0, "FINNIFTY": 1, "MIDCPNIFTY": 2}
_BFO_CODE: Final = {"SENSEX": 0, "BANKEX": 1}
_MONTH_EPOCH: Final = 2020
_BFO_WEEK_EPOCH: Final = dt.date(2020, 1, 1).toordinal()


def nfo_exchange_token(kind: int, expiry: dt.date, strike: float, expiry_weekday: int) -> int:
    """The stable 24-bit exchange_token of a NIFTY future or option.

    Bits: expiry week (11, weeks since 2000) << 13 | kind (2: FUT 0, CE 1, PE 2) << 11 |
    strike / 50 (11, so strikes up to 102,350). Weeks end on the nominal expiry weekday, so a
    holiday-shifted expiry (moved to an earlier trading day) stays in its week; at most one
    expiry per week, so (kind, expiry, strike) -> token is one-to-one. The instrument_token
    `exchange_token << 8 | 2` then fits a uint32 with the NFO segment in its low byte.
    """
    shift = expiry_weekday + 1  # a week starts the day after the nominal expiry weekday
    week = (expiry.toordinal() - 1 - shift) // 7 - (_EPOCH_ORD - 1 - shift) // 7
    units, rem = divmod(round(strike), STRIKE_UNIT)
    if kind not in _KIND_CODE or rem or not 0 <= units < 2048 or not 0 <= week < 2048:
        raise ValueError(f"no exchange_token for kind {kind}, expiry {expiry}, strike {strike}")
    return (week << 13) | (_KIND_CODE[kind] << 11) | units


def _week(expiry: dt.date, expiry_weekday: int, epoch_ord: int) -> int:
    shift = expiry_weekday + 1  # a week starts the day after the nominal expiry weekday
    return (expiry.toordinal() - 1 - shift) // 7 - (epoch_ord - 1 - shift) // 7


def contract_exchange_token(
    name: str, kind: int, expiry: dt.date, strike: float, expiry_weekday: int
) -> int:
    """The stable 24-bit exchange_token of a future or option of any simulated underlying.

    NIFTY: `nfo_exchange_token` (unchanged). The other NFO underlyings use the kind value 3
    that NIFTY never does in bits 11-12, so they cannot collide with it; the other 22 bits are
    (underlying * 3 + kind) (4) << 18 | months since 2020 (8) << 10 | strike / step (10): they
    expire monthly only. BFO (a segment of its own): underlying (1) << 23 | kind (2) << 21 |
    weeks since 2020 (10) << 11 | strike / step (11).
    """
    if name == "NIFTY":
        return nfo_exchange_token(kind, expiry, strike, expiry_weekday)
    step = int(UNDERLYINGS[name].strike_step)
    units, rem = divmod(round(strike), step)
    if kind not in _KIND_CODE or rem:
        raise ValueError(f"no exchange_token for {name} kind {kind}, {expiry}, strike {strike}")
    if name in _NFO_CODE:
        month = (expiry.year - _MONTH_EPOCH) * 12 + expiry.month - 1
        if not (0 <= units < 1024 and 0 <= month < 256):
            raise ValueError(f"no exchange_token for {name} {expiry} strike {strike}")
        payload = ((_NFO_CODE[name] * 3 + _KIND_CODE[kind]) << 18) | (month << 10) | units
        return ((payload >> 11) << 13) | (3 << 11) | (payload & 0x7FF)
    week = _week(expiry, expiry_weekday, _BFO_WEEK_EPOCH)
    if not (0 <= units < 2048 and 0 <= week < 1024):
        raise ValueError(f"no exchange_token for {name} {expiry} strike {strike}")
    return (_BFO_CODE[name] << 23) | (_KIND_CODE[kind] << 21) | (week << 11) | units


@dataclass(frozen=True)
class Instrument:
    """One row of the instruments dump."""

    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    expiry: dt.date | None
    strike: float
    tick_size: float
    lot_size: int
    instrument_type: str
    segment: str
    exchange: str
    kind: int
    underlying: str = "NIFTY"
    """Whose price drives it (INDIA VIX: NIFTY's volatility)."""

    @property
    def key(self) -> str:
        """`EXCHANGE:TRADINGSYMBOL`, as the quote endpoints take it."""
        return f"{self.exchange}:{self.tradingsymbol}"


def weekly_symbol(expiry: dt.date, strike: int, opt: str, name: str = "NIFTY") -> str:
    """Weekly option symbol, e.g. NIFTY25D0226000CE (year, month code 1-9/O/N/D, day)."""
    code = _WEEKLY_MONTH_CODE[expiry.month - 1]
    return f"{name}{expiry:%y}{code}{expiry:%d}{strike}{opt}"


def monthly_symbol(expiry: dt.date, strike: int, opt: str, name: str = "NIFTY") -> str:
    """Monthly option symbol, e.g. NIFTY25DEC26000CE."""
    return f"{name}{expiry:%y}{expiry.strftime('%b').upper()}{strike}{opt}"


def future_symbol(expiry: dt.date, name: str = "NIFTY") -> str:
    """Future symbol, e.g. NIFTY25DECFUT."""
    return f"{name}{expiry:%y}{expiry.strftime('%b').upper()}FUT"


def strike_grid(
    center: float, fine: int, coarse: int, fine_band: float, lo: float, hi: float
) -> list[int]:
    """Strikes every `fine` within `fine_band` points of `center`, every `coarse` out to lo..hi.

    Example: weeklies use (50, 100, 1500) over 0.75x-1.25x spot.
    """
    if fine <= 0 or coarse <= 0 or coarse % fine:
        raise ValueError("strike steps must be positive and coarse a multiple of fine")
    atm = int(round(center / coarse) * coarse)
    strikes = set(range(atm - int(fine_band), atm + int(fine_band) + 1, fine))
    k = atm
    while k >= lo:
        strikes.add(k)
        k -= coarse
    k = atm
    while k <= hi:
        strikes.add(k)
        k += coarse
    return sorted(s for s in strikes if lo <= s <= hi and s > 0)


@dataclass(frozen=True)
class UniverseConfig:
    """How many expiries and how wide a strike range to list."""

    lot_size: int = 65
    weeklies: int = 6
    monthlies: int = 3
    quarterlies: int = 3
    half_yearlies: int = 6
    futures: int = 3
    range_lo: float = 0.75
    range_hi: float = 1.25
    underlyings: tuple[str, ...] = ("NIFTY",)
    """What to list: NIFTY always (first, its lot `lot_size`), then any of `SIM_UNDERLYINGS`
    (lots `SIM_LOT_SIZES`)."""

    def __post_init__(self) -> None:
        unknown = [n for n in self.underlyings if n not in SIM_LEVELS]
        if unknown or not self.underlyings or self.underlyings[0] != "NIFTY":
            raise ValueError(
                f"simulated underlyings must start with NIFTY and be among {SIM_UNDERLYINGS}, "
                f"got {self.underlyings}"
            )


@dataclass(frozen=True)
class Listing:
    """The NFO series listed on a day: future expiries, and per option expiry its strikes."""

    futures: list[dt.date]
    options: dict[dt.date, tuple[list[int], bool]]
    """Expiry -> (strikes, monthly symbol?), in expiry order."""

    def has(self, kind: int, expiry: dt.date | None, strike: float) -> bool:
        """True when the contract (kind, expiry, strike) is listed (indices always are)."""
        if expiry is None:
            return True
        if kind == KIND_FUT:
            return expiry in self.futures
        series = self.options.get(expiry)
        return series is not None and round(strike) in series[0]


def listing(
    day: dt.date, ref_spot: float, calendar: TradingCalendar, cfg: UniverseConfig,
    underlying: str = "NIFTY",
) -> Listing:  # fmt: skip
    """The series of an underlying listed on `day`, strikes centred on `ref_spot` (the
    previous close); `calendar` carries the underlying's expiry weekday."""
    if underlying != "NIFTY":
        return _other_listing(day, ref_spot, calendar, cfg, UNDERLYINGS[underlying])
    monthlies = calendar.monthly_expiries(day, cfg.monthlies)
    # Quarterly contracts: March, June, September, December beyond the monthly horizon.
    quarterlies: list[dt.date] = []
    y, m = monthlies[-1].year, monthlies[-1].month
    while len(quarterlies) < cfg.quarterlies:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        if m % 3 == 0:
            quarterlies.append(calendar.monthly_expiry(y, m))
    # Long-dated half-yearly contracts (June and December), as NSE lists up to five years out.
    half_yearlies: list[dt.date] = []
    while len(half_yearlies) < cfg.half_yearlies:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        if m % 6 == 0:
            half_yearlies.append(calendar.monthly_expiry(y, m))
    weeklies = calendar.weekly_expiries(day, cfg.weeklies)
    monthly_set = set(monthlies) | set(quarterlies) | set(half_yearlies)
    lo, hi = cfg.range_lo * ref_spot, cfg.range_hi * ref_spot
    near = strike_grid(ref_spot, 50, 100, 1500, lo, hi)
    # Monthlies and quarterlies: 100 near the money, 500 further out.
    far = strike_grid(ref_spot, 100, 500, 3000, lo, hi)
    options = {
        exp: (near if exp in weeklies else far, exp in monthly_set)
        for exp in sorted(set(weeklies) | monthly_set)
    }
    return Listing(monthlies[: cfg.futures], options)


def _other_listing(
    day: dt.date, ref: float, calendar: TradingCalendar, cfg: UniverseConfig, u: Underlying
) -> Listing:
    """An underlying other than NIFTY: its monthlies (strikes every step near the money), and
    when it has weeklies those too, the monthlies then coarser. Same shape of grid as NIFTY's
    (NIFTY's step 50: 50 within 1,500 points, 100 out to the range)."""
    step = int(u.strike_step)
    lo, hi = cfg.range_lo * ref, cfg.range_hi * ref
    near = strike_grid(ref, step, 2 * step, 30 * step, lo, hi)
    far = strike_grid(ref, 2 * step, 10 * step, 60 * step, lo, hi)
    monthlies = calendar.monthly_expiries(day, cfg.monthlies)
    weeklies = calendar.weekly_expiries(day, cfg.weeklies) if u.expiry.weekly else []
    options = {e: (far if weeklies else near, True) for e in monthlies}
    options.update({e: (near, e in options) for e in weeklies})
    return Listing(monthlies[: cfg.futures], dict(sorted(options.items())))


def _contracts(
    u: Underlying, series: Listing, calendar: TradingCalendar, lot: int
) -> list[Instrument]:
    """The futures and options of one underlying other than NIFTY."""
    seg, ex, ew = u.segment, u.derivatives, calendar.expiry_weekday
    out = []
    for exp in series.futures:
        et = contract_exchange_token(u.name, KIND_FUT, exp, 0.0, ew)
        out.append(
            Instrument((et << 8) | seg, et, future_symbol(exp, u.name), u.name, exp, 0.0, TICK,
                       lot, "FUT", f"{ex}-FUT", ex, KIND_FUT, u.name)
        )  # fmt: skip
    for exp, (strikes, monthly) in series.options.items():
        for k in strikes:
            for opt, kind in (("CE", KIND_CE), ("PE", KIND_PE)):
                sym = (monthly_symbol if monthly else weekly_symbol)(exp, k, opt, u.name)
                et = contract_exchange_token(u.name, kind, exp, float(k), ew)
                out.append(
                    Instrument((et << 8) | seg, et, sym, u.name, exp, float(k), TICK, lot,
                               opt, f"{ex}-OPT", ex, kind, u.name)
                )  # fmt: skip
    return out


def underlying_calendar(name: str, nifty: TradingCalendar) -> TradingCalendar:
    """The calendar of an underlying's expiries: NIFTY's own (its weekday is a simulator
    setting), the table's weekday for the others; one holiday list for NSE and BSE (their
    equity-derivatives holidays are the same days)."""
    if name == "NIFTY":
        return nifty
    return TradingCalendar(nifty.holidays, UNDERLYINGS[name].expiry.weekday)


def build_others(
    day: dt.date, ref_spots: Mapping[str, float], calendar: TradingCalendar, cfg: UniverseConfig
) -> list[Instrument]:
    """The spot index, futures and options of every configured underlying but NIFTY."""
    out: list[Instrument] = []
    for name in cfg.underlyings[1:]:
        u = UNDERLYINGS[name]
        cal = underlying_calendar(name, calendar)
        t = u.spot_token
        out.append(Instrument(t, t >> 8, u.spot_symbol, u.spot_symbol, None, 0.0, 0.0, 0, "EQ",
                              "INDICES", u.exchange, KIND_INDEX, name))  # fmt: skip
        series = listing(day, ref_spots[name], cal, cfg, name)
        out += _contracts(u, series, cal, SIM_LOT_SIZES[name])
    return out


def build_universe(
    day: dt.date, ref_spot: float, calendar: TradingCalendar, cfg: UniverseConfig
) -> list[Instrument]:
    """All instruments listed on `day`: the two indices, near futures, and NIFTY options.

    The strike grid is centred on `ref_spot` (the previous close), as exchanges list strikes.
    """
    lot = cfg.lot_size
    out: list[Instrument] = [
        Instrument(NIFTY_TOKEN, NIFTY_TOKEN >> 8, "NIFTY 50", "NIFTY 50", None, 0.0, 0.0, 0,
                   "EQ", "INDICES", "NSE", KIND_INDEX),
        Instrument(VIX_TOKEN, VIX_TOKEN >> 8, "INDIA VIX", "INDIA VIX", None, 0.0, 0.0, 0,
                   "EQ", "INDICES", "NSE", KIND_VIX),
    ]  # fmt: skip
    series = listing(day, ref_spot, calendar, cfg)
    ew = calendar.expiry_weekday
    for exp in series.futures:
        et = nfo_exchange_token(KIND_FUT, exp, 0.0, ew)
        out.append(
            Instrument((et << 8) | SEG_NFO, et, future_symbol(exp), "NIFTY", exp,
                       0.0, TICK, lot, "FUT", "NFO-FUT", "NFO", KIND_FUT)
        )  # fmt: skip
    for exp, (strikes, monthly) in series.options.items():
        for k in strikes:
            for opt, kind in (("CE", KIND_CE), ("PE", KIND_PE)):
                sym = monthly_symbol(exp, k, opt) if monthly else weekly_symbol(exp, k, opt)
                et = nfo_exchange_token(kind, exp, float(k), ew)
                out.append(
                    Instrument((et << 8) | SEG_NFO, et, sym, "NIFTY", exp,
                               float(k), TICK, lot, opt, "NFO-OPT", "NFO", kind)
                )  # fmt: skip
    return out


def instruments_csv(instruments: list[Instrument], exchange: str | None = None) -> str:
    """The instruments dump in Kite's exact CSV columns (last_price 0 as Kite's dump has)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for ins in instruments:
        if exchange is not None and ins.exchange != exchange:
            continue
        w.writerow(
            [
                ins.instrument_token,
                ins.exchange_token,
                ins.tradingsymbol,
                ins.name,
                0,
                ins.expiry.isoformat() if ins.expiry else "",
                f"{ins.strike:g}" if ins.strike else 0,
                f"{ins.tick_size:g}" if ins.tick_size else 0,
                ins.lot_size,
                ins.instrument_type,
                ins.segment,
                ins.exchange,
            ]
        )
    return buf.getvalue()


def as_arrays(instruments: list[Instrument]) -> dict[str, np.ndarray]:
    """Column arrays (token, kind, strike, expiry ordinal) for the vectorised market."""
    return {
        "token": np.array([i.instrument_token for i in instruments], dtype=np.int64),
        "kind": np.array([i.kind for i in instruments], dtype=np.int8),
        "strike": np.array([i.strike for i in instruments], dtype=np.float64),
        "expiry": np.array(
            [i.expiry.toordinal() if i.expiry else 0 for i in instruments], dtype=np.int64
        ),
    }
