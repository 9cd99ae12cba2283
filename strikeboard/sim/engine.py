"""The simulator's single source of market truth: NumPy state over all instruments.

`Simulator.advance_to(s)` moves the market to second `s` of the session (0 = 09:15:00 IST,
22,500 = 15:30:00). Every instrument ticks on its own grid of market seconds (about once a
second near the money, every 5-30 s far out), and each tick's values are a pure function of
(seed, day, instrument, second), so the market is the same whatever the step cadence.
Both REST and the ticker read this state; nothing else holds prices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np

from strikeboard.market.calendar import IST, NSE_HOLIDAYS, TUESDAY, TradingCalendar
from strikeboard.sim import model as m
from strikeboard.sim.universe import (
    KIND_CE,
    KIND_FUT,
    KIND_INDEX,
    KIND_PE,
    KIND_VIX,
    SIM_LEVELS,
    Instrument,
    Listing,
    UniverseConfig,
    as_arrays,
    build_others,
    build_universe,
    listing,
    underlying_calendar,
)

N: Final = m.SESSION_SECONDS
CHUNK: Final = 300
"""Market seconds processed per vectorised chunk (bounds memory on big clock jumps)."""
DAY_CACHE: Final = 8
"""Per-day grids and listings kept per Simulator (a long candle request visits many days)."""


@dataclass
class SimConfig:
    """Everything that defines a simulated market (same config + seed -> same prices)."""

    seed: int = 1
    day: dt.date | None = None
    lot_size: int = 65
    expiry_weekday: int = TUESDAY
    holidays: frozenset[dt.date] = field(default_factory=lambda: NSE_HOLIDAYS)
    params: m.ModelParams = field(default_factory=m.ModelParams)
    universe: UniverseConfig | None = None
    every_second: bool = False
    """Benchmark knob: every instrument ticks once per market second."""
    days: int | None = None
    """Trading days a server runs from `day` (None: a new day every trading morning, unbounded).

    The Simulator itself is always one day; SimServer rolls over to the next (docs: Many days).
    """


def session_open(day: dt.date) -> dt.datetime:
    """09:15:00 IST of `day` (aware)."""
    return dt.datetime(day.year, day.month, day.day, 9, 15, tzinfo=IST)


def default_day(calendar: TradingCalendar, now: dt.datetime | None = None) -> dt.date:
    """Today's trading day in IST (the previous one on a weekend or holiday)."""
    today = (now or dt.datetime.now(IST)).astimezone(IST).date()
    return calendar.trading_day_on_or_before(today)


@dataclass(frozen=True)
class DayGrid:
    """One day's liquidity (0..1], tick interval and phase per instrument, and the cumulative
    activity at each instrument's last tick of the day."""

    liq: np.ndarray
    interval: np.ndarray
    phase: np.ndarray
    close_activity: np.ndarray


@dataclass
class Ticks:
    """Per-tick values for a set of instruments at given seconds (the last of each group)."""

    idx: np.ndarray
    sec: np.ndarray
    ltp: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    volume: np.ndarray
    oi: np.ndarray
    ltq: np.ndarray
    depth_price: np.ndarray
    depth_qty: np.ndarray
    depth_orders: np.ndarray


class Simulator:
    """Market state for one trading day; deterministic for (config, clock)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        cfg = config or SimConfig()
        self.config = cfg
        self.calendar = TradingCalendar(cfg.holidays, cfg.expiry_weekday)
        self.day = cfg.day or default_day(self.calendar)
        if not self.calendar.is_trading_day(self.day):
            raise ValueError(f"{self.day} is not an NSE trading day")
        self.model = m.MarketModel(cfg.seed, self.calendar, cfg.params)
        self.prev_day = self.calendar.previous_trading_day(self.day)
        ucfg = cfg.universe or UniverseConfig(lot_size=cfg.lot_size)
        self._ucfg = ucfg
        self.underlyings = ucfg.underlyings
        # One price path per underlying: NIFTY's is the model's; the others have seeds and
        # levels of their own (their days are NIFTY's: one holiday list).
        self.models = {"NIFTY": self.model} | {
            name: m.MarketModel(cfg.seed + 7919 * k, self.calendar, replace(
                cfg.params, anchor_spot=cfg.params.anchor_spot * SIM_LEVELS[name]
                / SIM_LEVELS["NIFTY"]))
            for k, name in enumerate(self.underlyings) if name != "NIFTY"
        }  # fmt: skip
        self.calendars = {n: underlying_calendar(n, self.calendar) for n in self.underlyings}
        self._listings: dict[dt.date, dict[str, Listing] | None] = {}
        self.instruments: list[Instrument] = build_universe(
            self.day, self.model.close(self.prev_day), self.calendar, ucfg
        ) + build_others(self.day, self.closes(self.prev_day), self.calendar, ucfg)
        self.by_token = {ins.instrument_token: i for i, ins in enumerate(self.instruments)}
        self.by_key = {ins.key: i for i, ins in enumerate(self.instruments)}
        cols = as_arrays(self.instruments)
        self.token = cols["token"]
        self.kind = cols["kind"]
        self.strike = cols["strike"]
        self.is_option = (self.kind == KIND_CE) | (self.kind == KIND_PE)
        self.is_index = (self.kind == KIND_INDEX) | (self.kind == KIND_VIX)
        self.lot = np.array([i.lot_size or 1 for i in self.instruments], dtype=np.int64)
        self.und = np.array(
            [self.underlyings.index(i.underlying) for i in self.instruments], dtype=np.int64
        )
        """Each instrument's underlying, as its index in `underlyings`."""
        self._paths: dict[dt.date, tuple[np.ndarray, np.ndarray]] = {}
        # Expiry at 15:30 IST, as epoch seconds.
        self._open_epoch = int(session_open(self.day).timestamp())
        exp_epoch = np.array(
            [
                session_open(ins.expiry).timestamp() + N if ins.expiry else 0.0
                for ins in self.instruments
            ]
        )
        self.expiry_epoch = exp_epoch
        self.path = self.model.path(self.day)
        self._grids: dict[dt.date, DayGrid] = {}
        today = self.day_grid(self.day)
        self.liq, self.interval, self.phase = today.liq, today.interval, today.phase
        # Daily totals in lots: volume, and OI at yesterday's and today's close. Each day's
        # values depend on that day only, so yesterday's close here is what yesterday's own
        # simulator ended with (and what its historical day candle says).
        self.vol_lots = self._daily_volume_lots(self.day)
        # Contracts new today (a new series, or strikes listed around a moved spot) open with
        # no open interest, as on the exchange; the others with yesterday's close.
        self.new_today = ~self.listed_mask(self.prev_day)
        self.oi_open_lots = np.where(self.new_today, 0.0, self._oi_close_lots(self.prev_day))
        self.oi_close_lots = self._oi_close_lots(self.day)
        self._init_state()

    def closes(self, day: dt.date) -> dict[str, float]:
        """Each underlying's close on trading day `day`."""
        return {name: model.close(day) for name, model in self.models.items()}

    def spot_paths(self, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """(spot, vol level) per underlying (rows in `underlyings` order) and second of a
        trading day (cached)."""
        paths = self._paths.get(day)
        if paths is None:
            days = [self.models[name].path(day) for name in self.underlyings]
            paths = (np.stack([p.spot for p in days]), np.stack([p.vol_level for p in days]))
            if len(self._paths) >= DAY_CACHE:
                self._paths.pop(next(iter(self._paths)))
            self._paths[day] = paths
        return paths

    # ----- per-day randoms -------------------------------------------------------------
    def day_grid(self, day: dt.date) -> DayGrid:
        """Liquidity and tick grid of every listed instrument on trading day `day` (cached).

        A function of that day only (its reference spot, the previous close, and its open),
        so the simulators of consecutive days agree on each other's values.
        """
        grid = self._grids.get(day)
        if grid is not None:
            return grid
        prev = self.calendar.previous_trading_day(day)
        s0 = np.array([self.models[n].close(prev) for n in self.underlyings])[self.und]
        open_epoch = session_open(day).timestamp()
        # Liquidity in (0, 1]: highest at the money and for near expiries.
        t0 = np.maximum((self.expiry_epoch - open_epoch) / m.YEAR_SECONDS, 1e-4)
        mny = np.abs(np.log(np.where(self.is_option, self.strike, s0) / s0))
        width = 0.02 + 0.1 * np.sqrt(t0)
        liq = np.where(self.is_option, np.exp(-mny / width) * (1.0 / (1.0 + 4.0 * t0)), 1.0)
        h = m.hash_keys(self.config.seed, 10, self.token)
        if self.config.every_second:
            interval = np.ones(len(self.token), dtype=np.int64)
        else:
            # Near-ATM contracts about once a second; illiquid far strikes every 5-30 s.
            raw = 1.0 + 29.0 * (1.0 - liq) ** 1.5 * (0.7 + 0.6 * m.uniform(h))
            interval = np.where(liq > 0.6, 1, np.clip(np.round(raw), 5, 30)).astype(np.int64)
        interval[self.is_index | (self.kind == KIND_FUT)] = 1
        phase = (m.hash_keys(self.config.seed, 11, self.token) % interval.astype(np.uint64)).astype(
            np.int64
        )
        last = N - np.mod(N + phase, interval)
        grid = DayGrid(liq, interval, phase, self.model.path(day).activity[last])
        if len(self._grids) >= DAY_CACHE:
            self._grids.pop(next(iter(self._grids)))
        self._grids[day] = grid
        return grid

    def listing_of(self, day: dt.date) -> dict[str, Listing] | None:
        """The series of each underlying listed on trading day `day` (None: beyond the
        model's range; cached)."""
        if day in self._listings:
            return self._listings[day]
        try:
            refs = self.closes(self.calendar.previous_trading_day(day))
            lst: dict[str, Listing] | None = {
                n: listing(day, refs[n], self.calendars[n], self._ucfg, n) for n in self.underlyings
            }
        except ValueError:
            lst = None
        if len(self._listings) >= DAY_CACHE:
            self._listings.pop(next(iter(self._listings)))
        self._listings[day] = lst
        return lst

    def listed_on(self, day: dt.date, i: int) -> bool:
        """True when instrument `i` was (or is) listed on trading day `day`."""
        lst = self.listing_of(day)
        ins = self.instruments[i]
        return lst is None or lst[ins.underlying].has(ins.kind, ins.expiry, ins.strike)

    def listed_mask(self, day: dt.date) -> np.ndarray:
        """Which of today's instruments were listed on trading day `day`."""
        return np.array([self.listed_on(day, i) for i in range(len(self.instruments))])

    def open_oi_lots(self, day: dt.date, i: int) -> float:
        """Instrument `i`'s open interest (lots) at `day`'s open: the previous day's close, or
        0 when it was not listed the previous day."""
        prev = self.calendar.previous_trading_day(day)
        return float(self._oi_close_lots(prev)[i]) if self.listed_on(prev, i) else 0.0

    def _daily_volume_lots(self, day: dt.date) -> np.ndarray:
        liq = self.day_grid(day).liq
        u = m.normal(m.hash_keys(self.config.seed, 20, day.toordinal(), self.token))
        base = np.where(self.kind == KIND_FUT, 150_000.0, 600_000.0 * liq**2 + 50.0)
        return np.where(self.is_index, 0.0, np.floor(base * np.exp(0.4 * u)))

    def _oi_close_lots(self, day: dt.date) -> np.ndarray:
        liq = self.day_grid(day).liq
        u = m.normal(m.hash_keys(self.config.seed, 21, day.toordinal(), self.token))
        base = np.where(self.kind == KIND_FUT, 200_000.0, 150_000.0 * liq + 200.0)
        return np.where(self.is_index, 0.0, np.floor(base * np.exp(0.25 * u)))

    def oi_fraction(self, day: dt.date, idx: np.ndarray, sec: np.ndarray) -> np.ndarray:
        """How far OI has moved from the previous close to the day's close (0..1).

        Reaches 1 at each instrument's last tick of the day, so its closing OI is the day's
        close OI whatever its tick grid.
        """
        grid = self.day_grid(day)
        act = self.model.path(day).activity[sec]
        return np.asarray(np.minimum(act / grid.close_activity[idx], 1.0))

    # ----- state -----------------------------------------------------------------------
    def _init_state(self) -> None:
        n = len(self.token)
        self.sec = -1  # last processed market second; -1 = before the open
        self.last_sec = np.full(n, -1, dtype=np.int64)
        self.last_trade_sec = np.full(n, -1, dtype=np.int64)
        """Market second of each instrument's last trade today (-1: none yet today)."""
        self.prev_close = self._prev_close()
        self.ltp = self.prev_close.copy()
        self.bid = np.zeros(n)
        self.ask = np.zeros(n)
        self.open = np.zeros(n)
        self.high = np.zeros(n)
        self.low = np.zeros(n)
        self.volume = np.zeros(n, dtype=np.int64)
        self.oi_prev = (self.oi_open_lots * self.lot).astype(np.int64)
        self.oi = self.oi_prev.copy()
        self.oi_high = self.oi.copy()
        self.oi_low = self.oi.copy()
        self.ltq = np.zeros(n, dtype=np.int64)
        self.atp = np.zeros(n)
        self.tbq = np.zeros(n, dtype=np.int64)
        self.tsq = np.zeros(n, dtype=np.int64)
        self.depth_price = np.zeros((n, 10))
        self.depth_qty = np.zeros((n, 10), dtype=np.int64)
        self.depth_orders = np.zeros((n, 10), dtype=np.int64)

    def _prev_close(self) -> np.ndarray:
        """Every instrument's price at yesterday's close (ohlc.close today)."""
        idx = np.arange(len(self.token))
        prev = self.model.path(self.prev_day)
        epoch = int(session_open(self.prev_day).timestamp())
        return self._mid_prices(idx, self.last_tick_sec(N, self.prev_day), prev, epoch)[0]

    def last_tick_sec(self, sec: int, day: dt.date | None = None) -> np.ndarray:
        """Each instrument's last tick second at or before `sec` (its grid point on `day`)."""
        g = self.day_grid(day or self.day)
        return np.asarray(sec - np.mod(sec + g.phase, g.interval))

    # ----- pricing -----------------------------------------------------------------------
    def _mid_prices(
        self, idx: np.ndarray, sec: np.ndarray, path: m.DayPath, open_epoch: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ltp, model mid, lower bound, upper bound) for instruments `idx` at seconds `sec`."""
        p = self.config.params
        base = self._open_epoch if open_epoch is None else open_epoch
        kind = self.kind[idx]
        if len(self.underlyings) == 1:
            spot, lv = path.spot[sec], path.vol_level[sec]
        else:
            spots, levels = self.spot_paths(path.day)
            spot, lv = spots[self.und[idx], sec], levels[self.und[idx], sec]
        t = np.maximum(
            (self.expiry_epoch[idx] - (base + sec)) / m.YEAR_SECONDS, 60.0 / m.YEAR_SECONDS
        )
        fwd = spot * np.exp((p.rate - p.dividend_yield) * t)
        disc = np.exp(-p.rate * t)
        k = np.where(self.is_option[idx], self.strike[idx], fwd)
        iv = m.surface_iv(p, lv, t, k, fwd)
        is_call = kind == KIND_CE
        opt = m.black76(is_call, fwd, k, t, iv, disc)
        lb = np.where(is_call, disc * np.maximum(fwd - k, 0.0), disc * np.maximum(k - fwd, 0.0))
        ub = np.where(is_call, disc * fwd, disc * k)
        vix = np.round(100.0 * m.atm_iv(p, lv, np.full(len(idx), 30.0 / 365.0)), 2)
        mid = np.select(
            [kind == KIND_INDEX, kind == KIND_VIX, kind == KIND_FUT], [spot, vix, fwd], opt
        )
        ltp = np.where(
            self.is_option[idx],
            np.maximum(np.clip(m.round_tick(opt), m.ceil_tick(lb), m.floor_tick(ub)), m.TICK),
            np.where(kind == KIND_VIX, vix, m.round_tick(mid)),
        )
        return ltp, mid, lb, ub

    def price_at(
        self, idx: np.ndarray, sec: np.ndarray, path: m.DayPath | None = None
    ) -> np.ndarray:
        """Last-traded prices of instruments `idx` at market seconds `sec` (pure)."""
        return self._mid_prices(idx, sec, path or self.path)[0]

    def volume_at(self, idx: np.ndarray, sec: np.ndarray) -> np.ndarray:
        """Cumulative day volume (shares) at `sec` (monotone in sec)."""
        return np.asarray(
            np.floor(self.vol_lots[idx] * self.path.activity[sec]) * self.lot[idx]
        ).astype(np.int64)

    def oi_at(self, idx: np.ndarray, sec: np.ndarray) -> np.ndarray:
        """Open interest at `sec`: yesterday's close drifting to today's, in whole lots."""
        o, c = self.oi_open_lots[idx], self.oi_close_lots[idx]
        out = np.round(o + (c - o) * self.oi_fraction(self.day, idx, sec)) * self.lot[idx]
        return np.asarray(out).astype(np.int64)

    def _ticks(self, idx: np.ndarray, sec: np.ndarray) -> Ticks:
        """Full tick values (book, depth, volume, OI) at the given (instrument, second) pairs."""
        ltp, mid, _, ub = self._mid_prices(idx, sec, self.path)
        liq = self.liq[idx]
        tradable = ~self.is_index[idx]
        half = 0.5 * m.TICK * (1.0 + 4.0 * (1.0 - liq)) + mid * (0.0015 + 0.01 * (1.0 - liq))
        bid = np.maximum(m.floor_tick(mid - half), m.TICK)
        ask = m.ceil_tick(mid + half)
        ub_t = np.where(self.is_option[idx], m.floor_tick(ub), np.inf)
        ask = np.minimum(np.maximum(ask, np.maximum(bid + m.TICK, ltp)), np.maximum(ub_t, ltp))
        bid = np.minimum(bid, np.round(ask - m.TICK, 2))
        bid = np.minimum(bid, ltp)
        # Five levels each side: steps widen and sizes thin out for illiquid strikes.
        n = len(idx)
        step = (1 + np.round(3.0 * (1.0 - liq))) * m.TICK
        lvl = np.arange(5)
        bids = np.round(bid[:, None] - step[:, None] * lvl, 2)
        asks = np.round(ask[:, None] + step[:, None] * lvl, 2)
        prices = np.concatenate([bids, asks], axis=1)
        h = m.hash_keys(self.config.seed, 30, self.token[idx][:, None], sec[:, None], np.arange(10))
        max_lots = (1 + np.floor(80.0 * liq**2)).astype(np.uint64)
        lots = (1 + h % max_lots[:, None]).astype(np.int64)
        valid = (prices >= m.TICK - 1e-9) & tradable[:, None]
        qty = np.where(valid, lots * self.lot[idx][:, None], 0)
        orders = np.where(
            valid, 1 + (m.mix64(h) % np.minimum(lots, 30).astype(np.uint64)).astype(np.int64), 0
        )
        prices = np.where(valid, prices, 0.0)
        hq = m.hash_keys(self.config.seed, 31, self.token[idx], sec)
        ltq = np.where(tradable, self.lot[idx] * (1 + (hq % np.uint64(10)).astype(np.int64)), 0)
        vol = self.volume_at(idx, sec)
        oi = self.oi_at(idx, sec)
        zero = ~tradable
        return Ticks(
            idx, sec, ltp, np.where(zero, 0.0, bid), np.where(zero, 0.0, ask), vol, oi, ltq,
            prices.reshape(n, 10), qty.reshape(n, 10), orders.reshape(n, 10),
        )  # fmt: skip

    # ----- stepping ----------------------------------------------------------------------
    def advance_to(self, sec: int) -> np.ndarray:
        """Process every tick in (self.sec, sec]; return the indices of instruments that ticked.

        `sec` is clamped to the session (after 15:30 nothing ticks: the market is closed).
        """
        target = min(int(sec), N)
        due: list[np.ndarray] = []
        while self.sec < target:
            hi = min(self.sec + CHUNK, target)
            due.append(self._advance_chunk(self.sec, hi))
            self.sec = hi
        if not due:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(due)) if len(due) > 1 else due[0]

    def _advance_chunk(self, lo: int, hi: int) -> np.ndarray:
        k, ph = self.interval, self.phase
        # Ticks happen at seconds s with (s + phase) % interval == 0, s in (lo, hi].
        before = np.floor_divide(lo + ph, k)
        count = np.floor_divide(hi + ph, k) - before
        due = np.flatnonzero(count > 0)
        if len(due) == 0:
            return due
        c = count[due]
        first = (before[due] + 1) * k[due] - ph[due]
        pair_idx = np.repeat(due, c)
        starts = np.concatenate([[0], np.cumsum(c)[:-1]])
        offset = np.arange(len(pair_idx)) - np.repeat(starts, c)
        pair_sec = np.repeat(first, c) + offset * k[pair_idx]
        prices = self.price_at(pair_idx, pair_sec)
        # A tick is a trade when its price or cumulative volume moved since the previous tick
        # (the stored state for a group's first tick): that sets last_trade_time. Every tick
        # of the grid is compared, so the result does not depend on the step cadence.
        vols = self.volume_at(pair_idx, pair_sec)
        prev_p = np.r_[np.nan, prices[:-1]]
        prev_v = np.r_[-1, vols[:-1]]
        prev_p[starts] = self.ltp[due]
        prev_v[starts] = self.volume[due]
        traded = (prices != prev_p) | (vols != prev_v)
        last_trade = np.maximum.reduceat(np.where(traded, pair_sec, -1), starts)
        self.last_trade_sec[due] = np.where(last_trade >= 0, last_trade, self.last_trade_sec[due])
        hi_p = np.maximum.reduceat(prices, starts)
        lo_p = np.minimum.reduceat(prices, starts)
        last = starts + c - 1
        fresh = self.last_sec[due] < 0
        self.open[due] = np.where(fresh, prices[starts], self.open[due])
        self.high[due] = np.where(fresh, hi_p, np.maximum(self.high[due], hi_p))
        self.low[due] = np.where(fresh, lo_p, np.minimum(self.low[due], lo_p))
        t = self._ticks(due, pair_sec[last])
        self._store(t)
        return due

    def _store(self, t: Ticks) -> None:
        i = t.idx
        self.last_sec[i] = t.sec
        self.ltp[i] = t.ltp
        self.bid[i] = t.bid
        self.ask[i] = t.ask
        self.volume[i] = t.volume
        self.oi[i] = t.oi
        self.oi_high[i] = np.maximum(self.oi_high[i], t.oi)
        self.oi_low[i] = np.minimum(self.oi_low[i], t.oi)
        self.ltq[i] = t.ltq
        self.atp[i] = m.round_tick((self.open[i] + self.high[i] + self.low[i] + t.ltp) / 4.0)
        self.depth_price[i] = t.depth_price
        self.depth_qty[i] = t.depth_qty
        self.depth_orders[i] = t.depth_orders
        mult = 2 + (m.hash_keys(self.config.seed, 32, self.token[i], t.sec) % np.uint64(6))
        self.tbq[i] = t.depth_qty[:, :5].sum(axis=1) * mult.astype(np.int64)
        self.tsq[i] = t.depth_qty[:, 5:].sum(axis=1) * (9 - mult.astype(np.int64))

    # ----- clock helpers ---------------------------------------------------------------
    def epoch_of(self, sec: np.ndarray | int) -> np.ndarray:
        """Epoch seconds of market seconds since the open."""
        return np.asarray(self._open_epoch + np.asarray(sec, dtype=np.int64))

    def market_time(self, sec: int | None = None) -> dt.datetime:
        """IST datetime of a market second (default: the current one)."""
        s = self.sec if sec is None else sec
        return session_open(self.day) + dt.timedelta(seconds=max(s, 0))

    @property
    def is_open(self) -> bool:
        """True while the session runs (09:15 <= t < 15:30)."""
        return 0 <= self.sec < N

    def snapshot(self, tokens: list[int] | None = None) -> dict[int, dict[str, float | int]]:
        """The current truth per token (last price, book top, volume, OI, ...)."""
        toks = tokens if tokens is not None else [int(t) for t in self.token]
        out: dict[int, dict[str, float | int]] = {}
        for tok in toks:
            i = self.by_token[tok]
            out[tok] = {
                "last_price": float(self.ltp[i]),
                "bid": float(self.bid[i]),
                "ask": float(self.ask[i]),
                "volume": int(self.volume[i]),
                "oi": int(self.oi[i]),
                "open": float(self.open[i]),
                "high": float(self.high[i]),
                "low": float(self.low[i]),
                "close": float(self.prev_close[i]),
                "last_sec": int(self.last_sec[i]),
                "last_trade_sec": int(self.last_trade_sec[i]),
            }
        return out
