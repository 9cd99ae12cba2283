"""The underlyings Strikeboard can follow: ONE table, the only place an index is described.

An `Underlying` names what the instruments dump cannot say by itself: which index row is its
spot (and which volatility index goes with it), where its contracts trade, its strike step and
its expiry rule. What the dump does say (lot size, tick size, the contracts and expiries that
exist today) is always read from the dump, never from here.

Sources of truth: the spot is found in the dump by exchange and tradingsymbol (segment
INDICES, `spot_row`); the token in the table is only the fallback when no such row is there,
and a test checks that the two agree in the simulator. Tokens are Kite's `exchange_token << 8 |
segment` (segment 9 for every index, NSE's or BSE's). NIFTY 50, NIFTY BANK, NIFTY FIN SERVICE,
NIFTY MID SELECT and INDIA VIX: Kite instruments dump (NSE, segment INDICES). SENSEX 265 is
BSE scrip code 1. BANKEX 3081 is derived the same way from BSE's index code 12 and is not
checked against a live dump: the dump's row wins when they differ.

Expiry rules (SEBI circular of 2024-10-01 as applied from September 2025): one weekly series
per exchange, NIFTY on NSE (Tuesday) and SENSEX on BSE (Thursday); every other index expires
monthly only, on the last Tuesday (NSE) or Thursday (BSE) of the month; a holiday moves an
expiry to the previous trading day.

Adding an underlying: one entry in `UNDERLYINGS`, then name it in the UNDERLYINGS setting.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final

from strikeboard.market import layouts
from strikeboard.market.calendar import TUESDAY

INDIA_VIX_TOKEN: Final = 264969
THURSDAY: Final = 3
"""`date.weekday()` of SENSEX's and BANKEX's expiries."""


class UnknownUnderlyingError(ValueError):
    """A name that is not in the table of known underlyings."""


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """When an underlying's options expire: every week on `weekday` (and the month's last
    such day is the monthly), or only on the month's last `weekday`."""

    weekday: int
    weekly: bool

    def describe(self) -> str:
        day = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")[self.weekday]
        return f"weekly ({day}) and monthly" if self.weekly else f"monthly (last {day})"


@dataclass(frozen=True, slots=True)
class Underlying:
    """One index whose option chain Strikeboard can follow."""

    name: str
    """As the dump names its futures and options (`name` column): NIFTY, BANKNIFTY, ..."""
    exchange: str
    """Where the spot index is listed: NSE or BSE."""
    derivatives: str
    """Where its futures and options trade: NFO or BFO."""
    spot_symbol: str
    """The index's tradingsymbol in the dump (segment INDICES): NIFTY 50, SENSEX, ..."""
    spot_token: int
    """Fallback only: the spot row found by `spot_symbol` in the dump is the source of truth."""
    strike_step: float
    """The finest strike interval listed near the money."""
    expiry: ExpiryRule
    vix_symbol: str | None = None
    """Its volatility index in the dump, when there is one (INDIA VIX for NIFTY only)."""
    vix_token: int | None = None

    @property
    def segment(self) -> int:
        """Kite's segment code of its contracts (`instrument_token & 0xff`)."""
        return layouts.SEGMENT_NFO if self.derivatives == "NFO" else layouts.SEGMENT_BFO

    @property
    def spot_key(self) -> str:
        """`EXCHANGE:TRADINGSYMBOL` of the spot, as Kite's quote and LTP calls take it."""
        return f"{self.exchange}:{self.spot_symbol}"


NIFTY: Final = Underlying(
    "NIFTY", "NSE", "NFO", "NIFTY 50", 256265, 50.0, ExpiryRule(TUESDAY, weekly=True),
    vix_symbol="INDIA VIX", vix_token=INDIA_VIX_TOKEN,
)  # fmt: skip

_TABLE: Final = (
    NIFTY,
    Underlying("BANKNIFTY", "NSE", "NFO", "NIFTY BANK", 260105, 100.0, ExpiryRule(TUESDAY, False)),
    Underlying("FINNIFTY", "NSE", "NFO", "NIFTY FIN SERVICE", 257801, 50.0,
               ExpiryRule(TUESDAY, False)),
    Underlying("MIDCPNIFTY", "NSE", "NFO", "NIFTY MID SELECT", 288009, 25.0,
               ExpiryRule(TUESDAY, False)),
    Underlying("SENSEX", "BSE", "BFO", "SENSEX", 265, 100.0, ExpiryRule(THURSDAY, True)),
    Underlying("BANKEX", "BSE", "BFO", "BANKEX", 3081, 100.0, ExpiryRule(THURSDAY, False)),
)  # fmt: skip

UNDERLYINGS: Final[Mapping[str, Underlying]] = MappingProxyType({u.name: u for u in _TABLE})
"""Every underlying Strikeboard knows, by name, in a stable order."""


def underlying(name: str) -> Underlying:
    """The underlying called `name` (case-insensitive); `UnknownUnderlyingError` naming the known
    ones otherwise."""
    found = UNDERLYINGS.get(name.strip().upper())
    if found is None:
        known = ", ".join(UNDERLYINGS)
        raise UnknownUnderlyingError(f"unknown underlying {name!r}: known are {known}")
    return found


def parse_underlyings(names: str | Iterable[str]) -> tuple[Underlying, ...]:
    """The underlyings of a comma-separated list (or a list of names), in the given order,
    each once. Empty: NIFTY alone."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[Underlying] = []
    for item in items:
        if item.strip() and (u := underlying(item)) not in out:
            out.append(u)
    return tuple(out) or (NIFTY,)


_INDEX_OWNERS: Final = {
    (u.exchange, symbol): u.name
    for u in _TABLE
    for symbol in (u.spot_symbol, u.vix_symbol)
    if symbol is not None
}


def followed_name(followed: Sequence[Underlying], name: str | None) -> str:
    """``name`` if it is one of ``followed`` (a deployment's UNDERLYINGS), the first of them
    if None; else `UnknownUnderlyingError` naming the followed ones. The one rule for what a
    request (REST or WebSocket) may name."""
    names = [u.name for u in followed]
    if name is None:
        return names[0]
    if name not in names:
        raise UnknownUnderlyingError(
            f"unknown underlying {name!r}: this deployment follows {', '.join(names)}"
        )
    return name


def underlying_of(row: Mapping[str, Any]) -> str | None:
    """The known underlying an instruments dump row belongs to: a future or option by its
    `name`, an index when it is an underlying's spot or volatility index; else None."""
    if row.get("segment") == "INDICES":
        return _INDEX_OWNERS.get((str(row.get("exchange")), str(row.get("tradingsymbol"))))
    name = row.get("name")
    return name if row.get("expiry") and isinstance(name, str) and name in UNDERLYINGS else None


def market_future_name(underlying: str, expiry: date) -> str:
    """A future's name in the market data: "FUT <expiry>" for NIFTY (the name clients have
    always read), "<UNDERLYING> FUT <expiry>" for the others (one hash holds them all)."""
    prefix = "" if underlying == "NIFTY" else f"{underlying} "
    return f"{prefix}FUT {expiry.isoformat()}"
