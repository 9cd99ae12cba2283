"""The instrument universe: Kite instruments dump parsing, selection, re-centring and sharding.

Everything here is pure: the dump comes in as the list of dicts `KiteConnect.instruments()`
returns or as its CSV text; expiries, strikes, lot and tick sizes all come from the dump.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Final

from strikeboard.market.underlyings import NIFTY, Underlying

NIFTY_50_TOKEN: Final = NIFTY.spot_token
MAX_CONNECTIONS: Final = 3
MAX_TOKENS_PER_CONNECTION: Final = 3000
"""Kite's limits: 3 WebSocket connections per API key, 3000 instruments per connection."""

CSV_FIELDS: Final = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)


class UniverseError(ValueError):
    """An instruments dump row is malformed, or no valid universe can be selected."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """One row of the Kite instruments dump."""

    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    expiry: date | None
    strike: float
    tick_size: float
    lot_size: int
    instrument_type: str
    """CE, PE, FUT, or EQ (Kite also reports indices as EQ)."""
    segment: str
    """NFO-OPT, NFO-FUT, BFO-OPT, BFO-FUT, INDICES, NSE, ..."""
    exchange: str
    last_price: float = 0.0

    @property
    def is_option(self) -> bool:
        return self.instrument_type in ("CE", "PE")

    @property
    def is_future(self) -> bool:
        return self.instrument_type == "FUT"

    @property
    def is_index(self) -> bool:
        return self.segment == "INDICES"


def _expiry(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def parse_instruments(rows: Iterable[Mapping[str, Any]]) -> list[Instrument]:
    """Typed records from the dicts of `KiteConnect.instruments()` (or `csv.DictReader` rows).

    Raises `UniverseError` naming the row when a field is missing or unparsable.
    """
    out: list[Instrument] = []
    for n, row in enumerate(rows, start=1):
        try:
            out.append(
                Instrument(
                    instrument_token=int(row["instrument_token"]),
                    exchange_token=int(row["exchange_token"]),
                    tradingsymbol=str(row["tradingsymbol"]),
                    name=str(row["name"]),
                    expiry=_expiry(row["expiry"]),
                    strike=float(row["strike"] or 0.0),
                    tick_size=float(row["tick_size"]),
                    lot_size=int(row["lot_size"]),
                    instrument_type=str(row["instrument_type"]),
                    segment=str(row["segment"]),
                    exchange=str(row["exchange"]),
                    last_price=float(row.get("last_price") or 0.0),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UniverseError(f"instruments row {n}: {exc!r}") from exc
    return out


def parse_instruments_csv(text: str | bytes) -> list[Instrument]:
    """Typed records from the CSV text of Kite's `/instruments` endpoint."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    reader = csv.DictReader(io.StringIO(text.strip()))
    missing = set(CSV_FIELDS) - set(reader.fieldnames or ())
    if missing:
        raise UniverseError(f"instruments CSV lacks columns {sorted(missing)}")
    return parse_instruments(reader)


@dataclass(frozen=True, slots=True)
class UniverseConfig:
    """What to subscribe. Defaults: NIFTY, 4 weekly expiries + current monthly, ATM +/- 25.

    The expiry and strike counts apply to each underlying; the connections are shared, and
    `underlyings` is also the priority order when they do not all fit."""

    underlyings: tuple[Underlying, ...] = (NIFTY,)
    weekly_expiries: int = 4
    """Nearest expiries per underlying (for a monthly-only underlying, its nearest monthlies)."""
    include_monthly: bool = True
    next_future: bool = False
    strikes_each_side: int | None = 25
    """Strikes above and below the ATM per expiry; None subscribes every strike."""
    recentre_after: int = 3
    """Re-centre an expiry's window once the ATM is this many strikes from its centre."""
    max_connections: int = MAX_CONNECTIONS
    per_connection: int = MAX_TOKENS_PER_CONNECTION

    def __post_init__(self) -> None:
        if self.weekly_expiries < 0 or (
            self.strikes_each_side is not None and self.strikes_each_side < 0
        ):
            raise UniverseError("expiry and strike counts must be >= 0")
        if self.recentre_after < 1:
            raise UniverseError("recentre_after must be >= 1")
        if not self.max_connections >= 1 or self.per_connection < 1:
            raise UniverseError("need at least one connection of at least one token")
        names = [u.name for u in self.underlyings]
        if not names or len(set(names)) != len(names):
            raise UniverseError(f"need one or more distinct underlyings, got {names}")


@dataclass(frozen=True, slots=True)
class ExpiryWindow:
    """The subscribed strike window of one expiry."""

    expiry: date
    monthly: bool
    strikes: tuple[float, ...]
    """Every strike listed for this expiry, ascending."""
    centre: int
    """Index in `strikes` of the window's centre (the ATM when last centred)."""
    lo: int
    hi: int
    """The window is strikes[lo:hi]."""
    underlying: str = "NIFTY"

    @property
    def centre_strike(self) -> float:
        return self.strikes[self.centre]

    @property
    def window(self) -> tuple[float, ...]:
        return self.strikes[self.lo : self.hi]


@dataclass(frozen=True, slots=True)
class Selection:
    """One underlying's part of a universe."""

    underlying: Underlying
    spot: Instrument | None
    vix: Instrument | None
    futures: tuple[Instrument, ...]
    windows: tuple[ExpiryWindow, ...]
    options: tuple[Instrument, ...]
    trimmed: int = 0
    """Its option instruments left out to fit Kite's connection limits."""

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Every selected instrument of the underlying (spot, VIX, futures, options)."""
        extra = tuple(i for i in (self.spot, self.vix) if i is not None)
        return extra + self.futures + self.options


@dataclass(frozen=True, slots=True)
class Universe:
    """A selected universe: the tokens to subscribe and what they are, per underlying."""

    parts: tuple[Selection, ...]
    tokens: frozenset[int] = field(default=frozenset())

    @property
    def trimmed(self) -> int:
        """Option instruments left out to fit Kite's connection limits (farthest from the ATM
        first, the farther expiry, then the lower-priority underlying, first among equals):
        0 when everything configured fits."""
        return sum(p.trimmed for p in self.parts)

    def part(self, name: str) -> Selection:
        for p in self.parts:
            if p.underlying.name == name:
                return p
        raise KeyError(name)

    @property
    def spot(self) -> Instrument | None:
        """The first underlying's spot."""
        return self.parts[0].spot

    @property
    def vix(self) -> Instrument | None:
        return self.parts[0].vix

    @property
    def futures(self) -> tuple[Instrument, ...]:
        return tuple(f for p in self.parts for f in p.futures)

    @property
    def windows(self) -> tuple[ExpiryWindow, ...]:
        return tuple(w for p in self.parts for w in p.windows)

    @property
    def options(self) -> tuple[Instrument, ...]:
        return tuple(o for p in self.parts for o in p.options)

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Every selected instrument (spot, VIX, futures, options of every underlying)."""
        return tuple(i for p in self.parts for i in p.instruments)

    def options_nearest_first(self) -> tuple[Instrument, ...]:
        """The options in the order a trader looks at them: each underlying's nearest expiry
        before its later ones, strikes outward from the window's centre (the ATM), the
        higher-priority underlying first among equals. Work done an option at a time (the
        previous session's OI from Kite's historical API, 3 a second) fills the chains on
        screen first."""
        order: dict[int, tuple[int, int, int]] = {}
        for priority, part in enumerate(self.parts):
            windows = sorted(part.windows, key=lambda w: w.expiry)
            place = {w.expiry: (rank, w) for rank, w in enumerate(windows)}
            for option in part.options:
                found = place.get(option.expiry) if option.expiry is not None else None
                if found is None:
                    order[option.instrument_token] = (len(windows), 0, priority)
                    continue
                rank, w = found
                index = bisect.bisect_left(w.strikes, option.strike)
                order[option.instrument_token] = (rank, abs(index - w.centre), priority)
        return tuple(sorted(self.options, key=lambda o: order[o.instrument_token]))


class UnderlyingCatalog:
    """One underlying's contracts in the instruments dump."""

    def __init__(
        self, u: Underlying, instruments: Iterable[Instrument], config: UniverseConfig
    ) -> None:
        self.underlying = u
        self.config = config
        self.futures: list[Instrument] = []
        # expiry -> strike -> {"CE": inst, "PE": inst}
        self.chains: dict[date, dict[float, dict[str, Instrument]]] = defaultdict(dict)
        self.spot_token = u.spot_token
        self.vix_token = u.vix_token
        for inst in instruments:
            if inst.is_index and inst.exchange == u.exchange:
                # The dump's row is the source of truth for the spot's (and VIX's) token.
                if inst.tradingsymbol == u.spot_symbol:
                    self.spot_token = inst.instrument_token
                elif u.vix_symbol is not None and inst.tradingsymbol == u.vix_symbol:
                    self.vix_token = inst.instrument_token
            if inst.name != u.name or inst.expiry is None or inst.exchange != u.derivatives:
                continue
            if inst.is_future:
                self.futures.append(inst)
            elif inst.is_option:
                self.chains[inst.expiry].setdefault(inst.strike, {})[inst.instrument_type] = inst
        self.futures.sort(key=lambda i: (i.expiry or date.max, i.instrument_token))
        expiries = sorted(self.chains)
        # A monthly expiry is the last listed expiry of its calendar month.
        last_of_month: dict[tuple[int, int], date] = {}
        for e in expiries:
            last_of_month[(e.year, e.month)] = e
        self.monthlies = frozenset(last_of_month.values())
        self.expiries = expiries

    def select_expiries(self, today: date) -> list[date]:
        """The nearest `weekly_expiries` expiries on or after today, plus the current monthly."""
        live = [e for e in self.expiries if e >= today]
        chosen = set(live[: self.config.weekly_expiries])
        if self.config.include_monthly:
            monthly = next((e for e in live if e in self.monthlies), None)
            if monthly is not None:
                chosen.add(monthly)
        return sorted(chosen)

    def select_futures(self, today: date) -> list[Instrument]:
        live = [f for f in self.futures if f.expiry is not None and f.expiry >= today]
        return live[: 2 if self.config.next_future else 1]

    def strikes(self, expiry: date) -> tuple[float, ...]:
        return tuple(sorted(self.chains[expiry]))

    def window(self, expiry: date, centre: int) -> ExpiryWindow:
        strikes = self.strikes(expiry)
        n = self.config.strikes_each_side
        lo, hi = (0, len(strikes)) if n is None else (max(0, centre - n), centre + n + 1)
        return ExpiryWindow(
            expiry=expiry,
            monthly=expiry in self.monthlies,
            strikes=strikes,
            centre=centre,
            lo=lo,
            hi=min(hi, len(strikes)),
            underlying=self.underlying.name,
        )


class Catalog:
    """The instruments dump indexed for selection (built once per trading day)."""

    def __init__(self, instruments: Iterable[Instrument], config: UniverseConfig) -> None:
        self.config = config
        rows = list(instruments)
        self.by_token: dict[int, Instrument] = {i.instrument_token: i for i in rows}
        self.parts = {u.name: UnderlyingCatalog(u, rows, config) for u in config.underlyings}

    def of(self, name: str) -> UnderlyingCatalog:
        """One underlying's part (KeyError for an underlying not configured)."""
        return self.parts[name]

    def instrument(self, token: int) -> Instrument | None:
        return self.by_token.get(token)


def atm_index(strikes: Sequence[float], spot: float) -> int:
    """Index of the strike nearest to spot (the lower one on a tie)."""
    if not strikes:
        raise UniverseError("no strikes")
    i = min(range(len(strikes)), key=lambda k: (abs(strikes[k] - spot), strikes[k]))
    return i


Spots = float | Mapping[str, float]
"""Spot per underlying name (a bare number: the spot of a catalog's only underlying)."""


def _spots(catalog: Catalog, spot: Spots) -> dict[str, float]:
    names = list(catalog.parts)
    if isinstance(spot, Mapping):
        spots = {name: float(spot[name]) for name in names if name in spot}
        missing = [n for n in names if n not in spots]
        if missing:
            raise UniverseError(f"no spot for {', '.join(missing)}")
    elif len(names) == 1:
        spots = {names[0]: float(spot)}
    else:
        raise UniverseError(f"one spot given for {len(names)} underlyings")
    for name, value in spots.items():
        if not (math.isfinite(value) and value > 0):
            raise UniverseError(f"spot of {name} must be a positive number, got {value!r}")
    return spots


def select_universe(
    catalog: Catalog,
    spot: Spots,
    today: date,
    centres: Mapping[tuple[str, date], float] | None = None,
) -> Universe:
    """Select the universe around each underlying's spot for `today`.

    `centres` pins an (underlying, expiry) window to a given centre strike (used by `recentre`
    to keep a window that has not moved far enough); other expiries centre on the ATM. A
    selection larger than Kite's connections allow is trimmed, never refused: the strikes
    farthest from their expiry's centre go first, the farther expiry's, then the lower-priority
    underlying's (later in the configuration) first among equals (`Universe.trimmed` counts
    what was left out). Raises `UniverseError` when a spot is missing or not positive, or when
    the spots, VIX and futures alone do not fit.
    """
    spots = _spots(catalog, spot)
    cfg = catalog.config
    windows: list[ExpiryWindow] = []
    tokens: set[int] = set()
    fixed: dict[str, tuple[Instrument | None, Instrument | None, tuple[Instrument, ...]]] = {}
    for name, part in catalog.parts.items():
        for expiry in part.select_expiries(today):
            strikes = part.strikes(expiry)
            pinned = (centres or {}).get((name, expiry))
            centre = atm_index(strikes, spots[name] if pinned is None else pinned)
            windows.append(part.window(expiry, centre))
        futures = tuple(part.select_futures(today))
        vix = catalog.instrument(part.vix_token) if part.vix_token is not None else None
        fixed[name] = (catalog.instrument(part.spot_token), vix, futures)
        tokens.update((part.spot_token, *(f.instrument_token for f in futures)))
        if part.vix_token is not None:
            tokens.add(part.vix_token)
    budget = cfg.max_connections * cfg.per_connection - len(tokens)
    if budget < 0:
        raise UniverseError(
            f"{len(tokens)} spot, VIX and futures instruments exceed {cfg.max_connections} "
            f"connections x {cfg.per_connection}"
        )
    fitted, trimmed = _fit(catalog, windows, budget)
    parts: list[Selection] = []
    for name, part in catalog.parts.items():
        mine = [w for w in fitted if w.underlying == name]
        options: list[Instrument] = []
        for win in mine:
            chain = part.chains[win.expiry]
            for strike in win.window:
                options.extend(chain[strike][t] for t in ("CE", "PE") if t in chain[strike])
        tokens.update(o.instrument_token for o in options)
        spot_inst, vix_inst, futures = fixed[name]
        parts.append(
            Selection(part.underlying, spot_inst, vix_inst, futures, tuple(mine),
                      tuple(options), trimmed.get(name, 0))
        )  # fmt: skip
    return Universe(parts=tuple(parts), tokens=frozenset(tokens))


def _fit(
    catalog: Catalog, windows: list[ExpiryWindow], budget: int
) -> tuple[list[ExpiryWindow], dict[str, int]]:
    """The windows narrowed until their option legs fit `budget`, and how many legs that left
    out per underlying. Strikes are kept by distance from their window's centre, the nearer
    expiry, then the higher-priority underlying first among equals, so every window stays
    contiguous around its centre."""

    def legs(win: ExpiryWindow, index: int) -> int:
        return len(catalog.of(win.underlying).chains[win.expiry][win.strikes[index]])

    wanted = sum(legs(w, i) for w in windows for i in range(w.lo, w.hi))
    if wanted <= budget:
        return windows, {}
    priority = {name: n for n, name in enumerate(catalog.parts)}
    nearness: dict[int, int] = {}
    seen: dict[str, int] = {}
    for rank, w in enumerate(windows):  # the expiry's place within its underlying's
        nearness[rank] = seen.get(w.underlying, 0)
        seen[w.underlying] = nearness[rank] + 1
    order = sorted(
        (abs(i - w.centre), nearness[rank], priority[w.underlying], rank, i)
        for rank, w in enumerate(windows)
        for i in range(w.lo, w.hi)
    )
    kept: dict[int, list[int]] = {}
    room = budget
    for _, _, _, rank, i in order:
        n = legs(windows[rank], i)
        if n > room:
            break  # stop at the first strike that does not fit: windows stay contiguous
        room -= n
        kept.setdefault(rank, []).append(i)
    trimmed: dict[str, int] = {}
    fitted: list[ExpiryWindow] = []
    for rank, w in enumerate(windows):
        left_out = sum(legs(w, i) for i in range(w.lo, w.hi))
        if rank in kept:
            narrowed = replace(w, lo=min(kept[rank]), hi=max(kept[rank]) + 1)
            fitted.append(narrowed)
            left_out -= sum(legs(narrowed, i) for i in range(narrowed.lo, narrowed.hi))
        trimmed[w.underlying] = trimmed.get(w.underlying, 0) + left_out
    return fitted, trimmed


@dataclass(frozen=True, slots=True)
class Recentre:
    """The outcome of re-centring: the new universe and the subscription changes."""

    universe: Universe
    to_subscribe: frozenset[int]
    to_unsubscribe: frozenset[int]

    @property
    def changed(self) -> bool:
        return bool(self.to_subscribe or self.to_unsubscribe)


def recentre(catalog: Catalog, current: Universe, spot: Spots, today: date) -> Recentre:
    """Move strike windows that spot has left, with hysteresis.

    An expiry's window moves to the new ATM only when the ATM is at least `recentre_after`
    strikes from the window's centre, so spot oscillating around a strike boundary does not
    flap subscriptions. Expiries that rolled off (or on) are dropped (or added).
    """
    spots = _spots(catalog, spot)
    keep: dict[tuple[str, date], float] = {}
    for win in current.windows:
        if win.expiry < today or win.underlying not in catalog.parts:
            continue
        strikes = catalog.of(win.underlying).strikes(win.expiry)
        if not strikes:
            continue
        atm = atm_index(strikes, spots[win.underlying])
        centre = atm_index(strikes, win.centre_strike)
        if abs(atm - centre) < catalog.config.recentre_after:
            keep[(win.underlying, win.expiry)] = win.centre_strike
    new = select_universe(catalog, spot, today, centres=keep)
    return Recentre(
        universe=new,
        to_subscribe=new.tokens - current.tokens,
        to_unsubscribe=current.tokens - new.tokens,
    )


def shard(
    tokens: Iterable[int],
    previous: Sequence[Iterable[int]] = (),
    *,
    max_connections: int = MAX_CONNECTIONS,
    per_connection: int = MAX_TOKENS_PER_CONNECTION,
) -> tuple[frozenset[int], ...]:
    """Assign tokens to at most `max_connections` shards of at most `per_connection` each.

    Stable: a token already in a shard of `previous` stays there (when that shard still
    exists), so re-centring only moves the tokens that changed. New tokens go, in ascending
    order, to the least-loaded shard. Uses as few connections as fit, never fewer than before.
    Raises `UniverseError` when the tokens do not fit.
    """
    wanted = set(tokens)
    if len(wanted) > max_connections * per_connection:
        raise UniverseError(
            f"{len(wanted)} tokens exceed {max_connections} connections x {per_connection}"
        )
    prev = [set(p) for p in previous][:max_connections]
    count = max(len(prev), math.ceil(len(wanted) / per_connection), 1)
    shards: list[set[int]] = [set() for _ in range(count)]
    placed: set[int] = set()
    for i, old in enumerate(prev):
        for t in sorted(old & wanted):
            if t not in placed and len(shards[i]) < per_connection:
                shards[i].add(t)
                placed.add(t)
    for t in sorted(wanted - placed):
        target = min(range(count), key=lambda k: (len(shards[k]), k))
        shards[target].add(t)
    return tuple(frozenset(s) for s in shards)
