"""The live chain: the latest value of every field of every subscribed instrument, as arrays.

One table holds every instrument of every followed underlying (spots, VIX, futures, options)
as columns of a float64 matrix, so applying a decoded batch of ticks is one vectorised scatter
per field, whatever its size. An option's place is also indexed per (underlying, expiry) and
strike, so pricing an expiry reads its calls and puts as aligned arrays. Each column knows its
underlying: a contract by its `name` in the dump, an index by its tradingsymbol (the
`Underlying`'s spot or volatility index). Pure: no I/O and no clock; the caller passes the time.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from strikeboard.market.codec import TickBatch
from strikeboard.market.underlyings import Underlying, underlying

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class Kind(enum.IntEnum):
    SPOT = 0
    VIX = 1
    FUTURE = 2
    CALL = 3
    PUT = 4


class Contract(Protocol):
    """What the state needs of an instrument record from the Kite dump."""

    @property
    def instrument_token(self) -> int: ...
    @property
    def name(self) -> str: ...  # the underlying of a contract; an index's own name
    @property
    def tradingsymbol(self) -> str: ...
    @property
    def expiry(self) -> date | None: ...
    @property
    def strike(self) -> float: ...
    @property
    def instrument_type(self) -> str: ...  # CE, PE, FUT (or EQ/INDEX for the indices)
    @property
    def lot_size(self) -> int: ...


class Field(enum.IntEnum):
    """Rows of the value matrix. NaN means never seen."""

    LTP = 0
    CLOSE = 1  # previous session's close
    OPEN = 2
    HIGH = 3
    LOW = 4
    BID = 5
    ASK = 6
    BID_QTY = 7
    ASK_QTY = 8
    VOLUME = 9
    OI = 10
    OI_PREV = 11  # previous session's closing OI (not on the wire; set by the feed)
    AVG_PRICE = 12
    LAST_QTY = 13
    BUY_QTY = 14
    SELL_QTY = 15
    EXCHANGE_TS = 16
    LAST_TRADE_TS = 17
    OI_DAY_HIGH = 18
    OI_DAY_LOW = 19


# Field <- TickBatch attribute, for the columns that come straight off the wire.
_WIRE: Final[tuple[tuple[Field, str], ...]] = (
    (Field.LTP, "last_price"),
    (Field.CLOSE, "close"),
    (Field.OPEN, "open"),
    (Field.HIGH, "high"),
    (Field.LOW, "low"),
    (Field.VOLUME, "volume_traded"),
    (Field.OI, "oi"),
    (Field.AVG_PRICE, "average_traded_price"),
    (Field.LAST_QTY, "last_traded_quantity"),
    (Field.BUY_QTY, "total_buy_quantity"),
    (Field.SELL_QTY, "total_sell_quantity"),
    (Field.EXCHANGE_TS, "exchange_timestamp"),
    (Field.LAST_TRADE_TS, "last_trade_time"),
    (Field.OI_DAY_HIGH, "oi_day_high"),
    (Field.OI_DAY_LOW, "oi_day_low"),
)


@dataclass(frozen=True)
class ExpiryIndex:
    """Where one expiry's options sit in the table: per strike, the call and put columns."""

    expiry: date
    strikes: F64  # ascending
    call: I64  # column of the call at each strike, -1 when not subscribed
    put: I64
    lot_size: int
    underlying: str = "NIFTY"


class ChainState:
    """Latest values of the universe's instruments, plus which expiries changed since the last
    time `take_dirty` was called."""

    def __init__(self, underlyings: str | Sequence[str] = "NIFTY") -> None:
        names = [underlyings] if isinstance(underlyings, str) else list(underlyings)
        self.underlyings: tuple[Underlying, ...] = tuple(underlying(n) for n in names)
        self.underlying = self.underlyings[0].name
        """The first underlying's name."""
        self.tokens = np.zeros(0, dtype=np.uint32)
        self.kind = np.zeros(0, dtype=np.int8)
        self.und_id = np.zeros(0, dtype=np.int64)  # position in `underlyings`
        self.expiry_id = np.zeros(0, dtype=np.int64)  # -1 for spot and VIX
        self.values = np.full((len(Field), 0), np.nan)
        self.expiries: list[ExpiryIndex] = []
        self.futures: dict[str, list[tuple[date, int]]] = {}  # (expiry, column), nearest first
        self.spot_columns: dict[str, int] = {}
        self.vix_columns: dict[str, int] = {}
        self._expiry_und = np.zeros(0, dtype=np.int64)
        self._order = np.zeros(0, dtype=np.int64)  # tokens sorted, for searchsorted lookups
        self._dirty = np.zeros(0, dtype=bool)
        self.market_dirty = False
        self.market_moved: set[str] = set()
        """Underlyings whose spot, VIX or futures changed since `take_market_moved`."""

    # -- universe -----------------------------------------------------------------------------

    def set_universe(self, contracts: Iterable[Contract]) -> None:
        """Rebuild the table for a new universe, keeping every value already known."""
        owners = self._owners()
        records = sorted(
            {c.instrument_token: c for c in contracts}.values(),
            key=lambda c: (c.expiry or date.min, c.strike, c.instrument_type),
        )
        tokens = np.array([c.instrument_token for c in records], dtype=np.uint32)
        kinds = [_kind_of(c, owners) for c in records]
        kind = np.array([k for k, _ in kinds], dtype=np.int8)
        und_id = np.array([u for _, u in kinds], dtype=np.int64)
        series: list[tuple[int, date]] = sorted(
            {(int(und_id[i]), c.expiry or date.min) for i, c in enumerate(records) if _is_option(c)}
        )
        expiry_pos = {key: i for i, key in enumerate(series)}
        expiry_id = np.array(
            [
                expiry_pos.get((int(und_id[i]), c.expiry or date.min), -1) if _is_option(c) else -1
                for i, c in enumerate(records)
            ],
            dtype=np.int64,
        )
        values = np.full((len(Field), len(records)), np.nan)
        if len(self.tokens):
            old = self.column_of(tokens)
            known = old >= 0
            values[:, known] = self.values[:, old[known]]

        indexes: list[ExpiryIndex] = []
        for n, (u, e) in enumerate(series):
            legs = [(i, records[i]) for i in np.flatnonzero(expiry_id == n).tolist()]
            strikes = np.array(sorted({c.strike for _, c in legs}), dtype=np.float64)
            call = np.full(len(strikes), -1, dtype=np.int64)
            put = np.full(len(strikes), -1, dtype=np.int64)
            for i, c in legs:
                s = int(np.searchsorted(strikes, c.strike))
                (call if c.instrument_type == "CE" else put)[s] = i
            name = self.underlyings[u].name
            indexes.append(ExpiryIndex(e, strikes, call, put, legs[0][1].lot_size, name))

        self.tokens, self.kind, self.expiry_id, self.values = tokens, kind, expiry_id, values
        self.und_id = und_id
        self.expiries = indexes
        self._expiry_und = np.array([u for u, _ in series], dtype=np.int64)
        self.futures = {u.name: [] for u in self.underlyings}
        self.spot_columns, self.vix_columns = {}, {}
        for i, c in enumerate(records):
            name = self.underlyings[und_id[i]].name
            if kind[i] == Kind.FUTURE and c.expiry:
                self.futures[name].append((c.expiry, i))
            elif kind[i] == Kind.SPOT:
                self.spot_columns[name] = i
            elif kind[i] == Kind.VIX:
                self.vix_columns[name] = i
        for listed in self.futures.values():
            listed.sort()
        self._order = np.argsort(tokens, kind="stable")
        self._dirty = np.ones(len(indexes), dtype=bool)
        self.market_dirty = True
        self.market_moved = {u.name for u in self.underlyings}

    def _owners(self) -> _Owners:
        """Index tradingsymbol -> (SPOT or VIX, underlying position); contract name ->
        underlying position (SENSEX is both an index's symbol and its contracts' name)."""
        indices: dict[str, tuple[Kind, int]] = {}
        for n, u in enumerate(self.underlyings):
            indices[u.spot_symbol] = (Kind.SPOT, n)
            if u.vix_symbol is not None:
                indices[u.vix_symbol] = (Kind.VIX, n)
        return _Owners(indices, {u.name: n for n, u in enumerate(self.underlyings)})

    def column_of(self, tokens: NDArray[np.uint32] | Sequence[int]) -> I64:
        """Table column of each token, -1 for tokens outside the universe."""
        tokens = np.asarray(tokens, dtype=np.uint32)
        if not len(self.tokens):
            return np.full(len(tokens), -1, dtype=np.int64)
        sorted_tokens = self.tokens[self._order]
        pos = np.minimum(np.searchsorted(sorted_tokens, tokens), len(sorted_tokens) - 1)
        found = sorted_tokens[pos] == tokens
        return np.where(found, self._order[pos], -1).astype(np.int64)

    # -- updates ------------------------------------------------------------------------------

    def apply(self, batch: TickBatch) -> int:
        """Apply validated ticks (in arrival order: the last tick of a token wins).

        Returns how many ticks hit the universe."""
        if not len(batch):
            return 0
        columns = self.column_of(batch.instrument_token)
        hit = columns >= 0
        if not hit.any():
            return 0
        rows = np.flatnonzero(hit)
        cols = columns[rows]
        # Keep only each column's last tick of the batch, so the scatter has no duplicates.
        last = len(cols) - 1 - np.unique(cols[::-1], return_index=True)[1]
        rows, cols = rows[last], cols[last]
        # A field the packet's mode does not carry (NaN from the codec: OI and depth in the
        # quote packet Kite sends on subscribe) keeps its last value; after the close no full
        # tick would ever come to put it back.
        for field, attr in _WIRE:
            self._keep_known(field, cols, getattr(batch, attr)[rows])
        has_book = ~np.isnan(batch.buy_price[rows, 0])
        book = cols[has_book]
        self.values[Field.BID, book] = _price_or_nan(batch.buy_price[rows[has_book], 0])
        self.values[Field.ASK, book] = _price_or_nan(batch.sell_price[rows[has_book], 0])
        self.values[Field.BID_QTY, book] = batch.buy_quantity[rows[has_book], 0]
        self.values[Field.ASK_QTY, book] = batch.sell_quantity[rows[has_book], 0]
        self._mark(cols)
        return int(hit.sum())

    def _keep_known(self, field: Field, cols: I64, new: NDArray[np.float64]) -> None:
        self.values[field, cols] = np.where(np.isnan(new), self.values[field, cols], new)

    def set_values(self, field: Field, values: Mapping[int, float]) -> None:
        """Set one field for some tokens (previous-session OI, values from a REST quote)."""
        cols = self.column_of(list(values))
        ok = cols >= 0
        self.values[field, cols[ok]] = np.fromiter(values.values(), dtype=np.float64)[ok]
        self._mark(cols[ok])

    def _mark(self, cols: I64) -> None:
        expiry_ids = self.expiry_id[cols]
        self._dirty[np.unique(expiry_ids[expiry_ids >= 0])] = True
        market = (expiry_ids < 0) | (self.kind[cols] == Kind.FUTURE)
        if market.any():
            # Spot and futures feed every expiry's forward and Greeks: of their underlying.
            moved = np.unique(self.und_id[cols[market]])
            self._dirty[np.isin(self._expiry_und, moved)] = True
            self.market_dirty = True
            self.market_moved.update(self.underlyings[u].name for u in moved.tolist())

    def take_dirty(self) -> list[int]:
        """Positions in `expiries` of the expiries changed since the last call (all of an
        underlying's after a move of its spot or futures)."""
        changed = [int(i) for i in np.flatnonzero(self._dirty)]
        self._dirty[:] = False
        self.market_dirty = False
        return changed

    def take_market_moved(self) -> list[str]:
        """The underlyings whose spot, VIX or futures changed since the last call."""
        moved = [u.name for u in self.underlyings if u.name in self.market_moved]
        self.market_moved = set()
        return moved

    # -- reads --------------------------------------------------------------------------------

    def value(self, token: int, field: Field) -> float:
        col = int(self.column_of([token])[0])
        return float(self.values[field, col]) if col >= 0 else float("nan")

    def spot(self, underlying: str, field: Field = Field.LTP) -> float:
        """A field of an underlying's spot (NaN while it is not in the universe)."""
        col = self.spot_columns.get(underlying, -1)
        return float(self.values[field, col]) if col >= 0 else float("nan")

    def spots(self) -> dict[str, float]:
        """Each underlying's spot price (NaN while unknown)."""
        return {u.name: self.spot(u.name) for u in self.underlyings}

    def leg(self, columns: I64, field: Field) -> F64:
        """A field for the given columns, NaN where the column is -1 (no such contract)."""
        out = self.values[field, np.maximum(columns, 0)] if len(self.tokens) else columns * np.nan
        return np.where(columns >= 0, out, np.nan)

    def future_for(self, expiry: date, underlying: str | None = None) -> int:
        """Column of the underlying's future to fall back on for an expiry: the first expiring
        on or after it, else the last one listed; -1 when no future is subscribed."""
        futures = self.futures.get(underlying or self.underlying, [])
        for fut_expiry, col in futures:
            if fut_expiry >= expiry:
                return col
        return futures[-1][1] if futures else -1


def _price_or_nan(prices: F64) -> F64:
    """An empty depth level carries price 0: that is no quote, not a free option."""
    return np.where(prices > 0, prices, np.nan)


def _is_option(c: Contract) -> bool:
    return c.instrument_type in ("CE", "PE")


_KINDS: Final = {"CE": Kind.CALL, "PE": Kind.PUT, "FUT": Kind.FUTURE}


@dataclass(frozen=True)
class _Owners:
    indices: Mapping[str, tuple[Kind, int]]
    contracts: Mapping[str, int]


def _kind_of(c: Contract, owners: _Owners) -> tuple[Kind, int]:
    """The column's kind and underlying (its position in the state's underlyings)."""
    if c.expiry is None and c.tradingsymbol in owners.indices:
        return owners.indices[c.tradingsymbol]
    kind = _KINDS.get(c.instrument_type)
    owner = owners.contracts.get(c.name)
    if kind is None or owner is None:
        raise ValueError(
            f"instrument {c.instrument_token} ({c.tradingsymbol!r}, {c.instrument_type!r}) is "
            "neither a followed underlying's index, a future nor an option"
        )
    return kind, owner
