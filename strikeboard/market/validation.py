"""Vectorised tick validation over a `TickBatch`.

Checks, in order (a row gets the first reason that applies): unknown token, non-positive
price, off-tick price (last price and best bid/ask against the instrument's tick size; indices
have none), crossed book, exchange timestamp going backwards per token, absurd jump from the
last accepted price (indices and futures) and an option price above its no-arbitrage bound
(a call above spot, a put above its strike, each with a margin).

Pure: no logging or metrics. The validator keeps per-token state (last accepted price and
timestamp) in arrays; the caller logs the sample and emits the counts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from strikeboard.market.codec import TickBatch
from strikeboard.market.universe import NIFTY_50_TOKEN, Instrument


class RejectReason(enum.IntEnum):
    """Why a tick was dropped (0 is reserved for accepted rows)."""

    UNKNOWN_TOKEN = 1
    NON_POSITIVE_PRICE = 2
    OFF_TICK = 3
    CROSSED_BOOK = 4
    TIMESTAMP_BACKWARDS = 5
    PRICE_JUMP = 6
    OPTION_BOUND = 7


_OK: Final = 0
_INDEX, _FUTURE, _CALL, _PUT, _OTHER = range(5)
_GROUP_STRIDE: Final = float(2**33)
"""Larger than any uint32 timestamp: separates per-token runs in one running maximum."""


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """Thresholds. `max_jump` is a fraction (0.20 = 20 %) of the last accepted price."""

    max_jump: float = 0.20
    option_bound_margin: float = 0.05
    """A call may trade up to spot x (1 + margin), a put up to strike x (1 + margin)."""
    reanchor_after: int = 5
    """After this many consecutive jump rejects a token accepts the new level, so one bad
    first tick cannot lock a token out for the day."""
    sample_size: int = 5
    tick_tolerance: float = 1e-6
    """Allowed distance from a tick multiple, in ticks (absorbs float rounding)."""


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Accepted rows (in order), reject counts for every reason, and a few rejected rows."""

    accepted: TickBatch
    rejected: Mapping[RejectReason, int]
    sample: TickBatch
    sample_reasons: tuple[RejectReason, ...]

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())


def _classify(inst: Instrument) -> int:
    if inst.is_index:
        return _INDEX
    if inst.is_future:
        return _FUTURE
    if inst.instrument_type == "CE":
        return _CALL
    if inst.instrument_type == "PE":
        return _PUT
    return _OTHER


class TickValidator:
    """Validates batches against the current universe, remembering accepted state per token."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        config: ValidationConfig | None = None,
        spot_token: int = NIFTY_50_TOKEN,
        spot_tokens: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config or ValidationConfig()
        self.spot_tokens: Mapping[str, int] = spot_tokens or {"NIFTY": spot_token}
        """Underlying name -> its spot's token: a call is capped by its own underlying's spot."""
        self._tokens = np.empty(0, dtype=np.int64)
        self._last_price = np.empty(0)
        self._last_ts = np.empty(0)
        self._jump_rejects = np.empty(0, dtype=np.int64)
        self.set_universe(instruments)

    def set_universe(self, instruments: Iterable[Instrument]) -> None:
        """Replace the known instruments, keeping state for tokens that stay."""
        insts = sorted({i.instrument_token: i for i in instruments}.values(), key=_token)
        tokens = np.array([i.instrument_token for i in insts], dtype=np.int64)
        last_price = np.full(tokens.shape[0], np.nan)
        last_ts = np.full(tokens.shape[0], np.nan)
        jumps = np.zeros(tokens.shape[0], dtype=np.int64)
        _, new_at, old_at = np.intersect1d(tokens, self._tokens, return_indices=True)
        last_price[new_at] = self._last_price[old_at]
        last_ts[new_at] = self._last_ts[old_at]
        jumps[new_at] = self._jump_rejects[old_at]
        self._tokens, self._last_price, self._last_ts = tokens, last_price, last_ts
        self._jump_rejects = jumps
        # Indices have no tick constraint: tick 0 disables the check.
        self._tick = np.array([0.0 if i.is_index else i.tick_size for i in insts])
        self._class = np.array([_classify(i) for i in insts], dtype=np.int8)
        self._strike = np.array([i.strike for i in insts])
        self._spot_of = np.array([self.spot_tokens.get(i.name, -1) for i in insts], dtype=np.int64)

    def last_price(self, token: int) -> float | None:
        """The last accepted price of a token (None if never accepted or unknown)."""
        i = int(np.searchsorted(self._tokens, token))
        if i < self._tokens.shape[0] and self._tokens[i] == token:
            v = float(self._last_price[i])
            return None if np.isnan(v) else v
        return None

    def validate(self, batch: TickBatch) -> ValidationResult:
        """Split a batch into accepted rows and counted rejects, and update the state."""
        cfg = self.config
        n = len(batch)
        reason = np.zeros(n, dtype=np.uint8)

        def reject(mask: npt.NDArray[np.bool_], why: RejectReason) -> None:
            reason[(reason == _OK) & mask] = why

        tok = batch.instrument_token.astype(np.int64)
        if self._tokens.shape[0] == 0:  # no universe yet: every token is unknown
            reason[:] = RejectReason.UNKNOWN_TOKEN
            return self._result(batch, reason)
        pos = np.minimum(np.searchsorted(self._tokens, tok), self._tokens.shape[0] - 1)
        known = self._tokens[pos] == tok
        reject(~known, RejectReason.UNKNOWN_TOKEN)
        idx = np.where(known, pos, 0)

        last = batch.last_price
        reject(~(last > 0), RejectReason.NON_POSITIVE_PRICE)

        tick = self._tick[idx]
        bid = batch.buy_price[:, 0]
        ask = batch.sell_price[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.zeros(n, dtype=np.bool_)
            for price in (last, bid, ask):
                steps = price / tick
                # Only positive prices of instruments with a tick size (depth 0 = empty level).
                far = np.abs(steps - np.rint(steps)) > cfg.tick_tolerance
                off |= (tick > 0) & (price > 0) & far
        reject(off, RejectReason.OFF_TICK)
        reject((bid > 0) & (ask > 0) & (bid >= ask), RejectReason.CROSSED_BOOK)

        self._check_timestamps(batch, idx, reason)
        self._check_jumps(last, idx, reason)
        self._check_option_bounds(last, tok, idx, reason)

        self._remember(batch, idx, reason == _OK, reason)
        return self._result(batch, reason)

    def _result(self, batch: TickBatch, reason: npt.NDArray[np.uint8]) -> ValidationResult:
        ok = reason == _OK
        counts = np.bincount(reason, minlength=len(RejectReason) + 1)
        bad = np.flatnonzero(~ok)[: self.config.sample_size]
        return ValidationResult(
            accepted=batch.select(ok),
            rejected={r: int(counts[r]) for r in RejectReason},
            sample=batch.select(bad),
            sample_reasons=tuple(RejectReason(int(r)) for r in reason[bad]),
        )

    def _check_timestamps(
        self, batch: TickBatch, idx: npt.NDArray[np.intp], reason: npt.NDArray[np.uint8]
    ) -> None:
        """Reject a row whose exchange timestamp is before the token's latest one so far.

        "So far" is the last accepted timestamp before this batch and every earlier row of
        the batch that passed the checks before this one (equal timestamps are fine).
        """
        ts = batch.exchange_timestamp
        rows = np.flatnonzero((reason == _OK) & ~np.isnan(ts))
        if rows.size == 0:
            return
        order = rows[np.argsort(idx[rows], kind="stable")]
        group = idx[order].astype(np.float64)
        shifted = ts[order] + group * _GROUP_STRIDE
        running = np.maximum.accumulate(shifted)
        before = np.full(order.shape[0], -np.inf)
        same = group[1:] == group[:-1]
        before[1:][same] = running[:-1][same] - group[1:][same] * _GROUP_STRIDE
        floor = np.fmax(before, self._last_ts[idx[order]])
        late = ts[order] < floor
        reason[order[late]] = RejectReason.TIMESTAMP_BACKWARDS

    def _check_jumps(
        self,
        last: npt.NDArray[np.float64],
        idx: npt.NDArray[np.intp],
        reason: npt.NDArray[np.uint8],
    ) -> None:
        """Reject an index or future price more than `max_jump` from its last accepted price."""
        cls = self._class[idx]
        ref = self._last_price[idx]
        check = (
            (reason == _OK)
            & ((cls == _INDEX) | (cls == _FUTURE))
            & ~np.isnan(ref)
            & (self._jump_rejects[idx] < self.config.reanchor_after)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            jump = np.abs(last / ref - 1.0) > self.config.max_jump
        reason[check & jump] = RejectReason.PRICE_JUMP

    def _check_option_bounds(
        self,
        last: npt.NDArray[np.float64],
        tok: npt.NDArray[np.int64],
        idx: npt.NDArray[np.intp],
        reason: npt.NDArray[np.uint8],
    ) -> None:
        """Reject a call above spot or a put above its strike (plus margin): no-arbitrage caps."""
        cls = self._class[idx]
        cap = 1.0 + self.config.option_bound_margin
        bad = (cls == _PUT) & (last > self._strike[idx] * cap)
        spot_of = self._spot_of[idx]
        for spot_token in self.spot_tokens.values():
            spot_rows = np.flatnonzero((tok == spot_token) & (reason == _OK))
            spot = float(last[spot_rows[-1]]) if spot_rows.size else self.last_price(spot_token)
            if spot is not None:
                bad |= (cls == _CALL) & (spot_of == spot_token) & (last > spot * cap)
        reason[(reason == _OK) & bad] = RejectReason.OPTION_BOUND

    def _remember(
        self,
        batch: TickBatch,
        idx: npt.NDArray[np.intp],
        ok: npt.NDArray[np.bool_],
        reason: npt.NDArray[np.uint8],
    ) -> None:
        acc = np.flatnonzero(ok)
        if acc.size:
            acc_idx = idx[acc]
            # The last accepted row of each token sets its price.
            uniq, first_from_end = np.unique(acc_idx[::-1], return_index=True)
            self._last_price[uniq] = batch.last_price[acc[::-1][first_from_end]]
            ts = batch.exchange_timestamp[acc]
            has = ~np.isnan(ts)
            np.fmax.at(self._last_ts, acc_idx[has], ts[has])
            self._jump_rejects[uniq] = 0
        jumped = idx[reason == RejectReason.PRICE_JUMP]
        np.add.at(self._jump_rejects, jumped, 1)


def _token(inst: Instrument) -> int:
    return inst.instrument_token
