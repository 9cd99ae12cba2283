"""One expiry's priced chain as a snapshot document (the contract the API and SPA read).

Forward from put-call parity (future as fallback), carry implied from it, IV and Greeks of both
legs from their last traded prices, then the aggregates. Values are rounded to what a trader
reads, which also keeps the live deltas small (a Greek moving in its 9th digit is no change).
Missing values are None, never NaN, so the document is plain JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strikeboard.chain import analytics, conventions, pricing
from strikeboard.chain.ivreason import iv_reasons
from strikeboard.chain.state import ChainState, ExpiryIndex, Field
from strikeboard.market.underlyings import market_future_name

JSON = dict[str, Any]

# Decimal places per published field.
_ROUND = {
    "ltp": 2,
    "close": 2,
    "change": 2,
    "change_pct": 2,
    "bid": 2,
    "ask": 2,
    "avg_price": 2,
    "iv": 4,
    "delta": 4,
    "gamma": 6,
    "theta": 2,
    "vega": 2,
}

LEG_FIELDS = {
    "ltp": Field.LTP,
    "close": Field.CLOSE,
    "bid": Field.BID,
    "ask": Field.ASK,
    "bid_qty": Field.BID_QTY,
    "ask_qty": Field.ASK_QTY,
    "volume": Field.VOLUME,
    "oi": Field.OI,
    "avg_price": Field.AVG_PRICE,
}


@dataclass(frozen=True)
class PricingParams:
    rate: float = 0.0
    """Continuous risk-free rate for discounting in the forward convention (Black-76)."""
    iv_leg: conventions.IvLeg = conventions.IvLeg.OTM
    parity_strikes: int = 5


def _column(values: NDArray[np.float64], digits: int | None) -> list[Any]:
    """Rounded values as a list, None where NaN (whole numbers stay floats: prices)."""
    a = np.round(values, digits) if digits is not None else np.asarray(values, np.float64)
    out: list[Any] = a.tolist()
    missing = ~np.isfinite(a)
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            out[i] = None
    return out


def _int_column(values: NDArray[Any]) -> list[Any]:
    """Quantities as ints, None where NaN."""
    a = np.asarray(values, np.float64)
    ok = np.isfinite(a)
    out: list[Any] = np.where(ok, a, 0).astype(np.int64).tolist()
    if not ok.all():
        for i in np.flatnonzero(~ok).tolist():
            out[i] = None
    return out


def _clean(value: float, digits: int | None = None) -> float | int | None:
    if not math.isfinite(value):
        return None
    if digits is None:
        return int(value) if value == int(value) else value
    return round(value, digits)


def market_document(state: ChainState, underlying: str | None = None) -> dict[str, JSON]:
    """One underlying's (default: the first's) spot, volatility index and futures: last
    price, previous close, change, and (futures) OI, each naming its underlying.

    Names are unique across underlyings, as every underlying's entries share one market
    hash: indices by their tradingsymbol ("NIFTY 50", "INDIA VIX", "NIFTY BANK", "SENSEX"),
    NIFTY's futures "FUT <expiry>" (the name clients have always read), the others'
    "<UNDERLYING> FUT <expiry>"."""
    u = next(x for x in state.underlyings if x.name == (underlying or state.underlying))
    named = [(u.spot_symbol, state.spot_columns.get(u.name, -1))]
    if u.vix_symbol is not None:
        named.append((u.vix_symbol, state.vix_columns.get(u.name, -1)))
    futures = state.futures.get(u.name, [])
    named += [(market_future_name(u.name, e), c) for e, c in futures]
    indices = len(named) - len(futures)
    out: dict[str, JSON] = {}
    for n, (name, col) in enumerate(named):
        ltp = float(state.values[Field.LTP, col]) if col >= 0 else math.nan
        if not math.isfinite(ltp):
            continue
        value = state.values[:, col]
        close = float(value[Field.CLOSE])
        doc: JSON = {
            "token": int(state.tokens[col]),
            "underlying": u.name,
            "ltp": _clean(ltp, 2),
            "close": _clean(close, 2),
            "change": _clean(ltp - close, 2),
            "change_pct": _clean((ltp / close - 1) * 100 if close else math.nan, 2),
            "ts": _clean(float(value[Field.EXCHANGE_TS])),
        }
        for field, key in ((Field.OPEN, "open"), (Field.HIGH, "high"), (Field.LOW, "low")):
            doc[key] = _clean(float(value[field]), 2)
        if n >= indices:
            doc["oi"] = _clean(float(value[Field.OI]))
            doc["volume"] = _clean(float(value[Field.VOLUME]))
        out[name] = doc
    return out


def expiry_snapshot(
    state: ChainState, index: ExpiryIndex, now: datetime, params: PricingParams
) -> JSON | None:
    """The priced chain of one expiry, or None while spot is unknown or the expiry is past."""
    spot = state.spot(index.underlying)
    t = conventions.time_to_expiry(now, index.expiry)
    if not math.isfinite(spot) or t <= 0:
        return None
    k = index.strikes
    legs = {
        side: {name: state.leg(cols, f) for name, f in LEG_FIELDS.items()}
        for side, cols in (("CE", index.call), ("PE", index.put))
    }
    future_col = state.future_for(index.expiry, index.underlying)
    future = float(state.values[Field.LTP, future_col]) if future_col >= 0 else math.nan
    forward = conventions.parity_forward(
        k,
        legs["CE"]["bid"],
        legs["CE"]["ask"],
        legs["PE"]["bid"],
        legs["PE"]["ask"],
        t,
        params.rate,
        spot_hint=spot,
        n_strikes=params.parity_strikes,
        fallback=future if math.isfinite(future) else spot,
    )
    q = conventions.carry_from_forward(spot, forward, t, params.rate)

    # Both legs in one pricing pass: row 0 calls, row 1 puts.
    prices = np.stack([legs["CE"]["ltp"], legs["PE"]["ltp"]])
    is_call = np.array([[True], [False]])
    iv, greeks = pricing.implied_vol_and_greeks(prices, spot, k, t, params.rate, q, is_call)
    reasons = iv_reasons(iv, prices, spot, k, t, params.rate, q, is_call)
    prev_oi = np.stack([state.leg(index.call, Field.OI_PREV), state.leg(index.put, Field.OI_PREV)])
    oi = np.stack([legs["CE"]["oi"], legs["PE"]["oi"]])
    oi_change = oi - prev_oi
    change = prices - np.stack([legs["CE"]["close"], legs["PE"]["close"]])
    buildup = analytics.oi_buildup(change, oi_change)
    shown = conventions.shown_iv(k, iv[0], iv[1], forward, params.iv_leg)
    gex = analytics.gex_by_strike(spot, greeks.gamma[0], greeks.gamma[1], oi[0], oi[1])

    pcr = analytics.pcr(
        oi[0], oi[1], legs["CE"]["volume"], legs["PE"]["volume"], oi_change[0], oi_change[1]
    )
    totals = analytics.oi_totals(oi[0], oi[1], prev_oi[0], prev_oi[1])
    atm_i = analytics.atm_index(k, forward)
    atm_iv = analytics.atm_iv(k, shown, forward)
    support, resistance = analytics.support_resistance(k, oi[0], oi[1])

    # Columns first (vectorised rounding, NaN -> None), then one dict per leg: a Python loop
    # per value would cost more than all the pricing.
    n = len(k)
    buildup_names = np.array([b.name.lower() for b in analytics.Buildup])
    sides: dict[str, list[JSON | None]] = {}
    for side, s, cols in (("CE", 0, index.call), ("PE", 1, index.put)):
        close = legs[side]["close"]
        with np.errstate(divide="ignore", invalid="ignore"):
            change_pct = np.where(close != 0, change[s] / close * 100, np.nan)
        columns: dict[str, list[Any]] = {
            "token": _int_column(np.where(cols >= 0, state.tokens[np.maximum(cols, 0)], np.nan)),
        }
        for name in LEG_FIELDS:
            values = legs[side][name]
            columns[name] = _column(values, _ROUND[name]) if name in _ROUND else _int_column(values)
        columns["change"] = _column(change[s], 2)
        columns["change_pct"] = _column(change_pct, 2)
        columns["oi_change"] = _int_column(oi_change[s])
        columns["iv"] = _column(iv[s], 4)
        columns["iv_reason"] = reasons[s].tolist()
        for greek in ("delta", "gamma", "theta", "vega"):
            columns[greek] = _column(getattr(greeks, greek)[s], _ROUND[greek])
        columns["buildup"] = buildup_names[buildup[s]].tolist()
        keys = list(columns)
        rows = [
            dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)
        ]
        sides[side] = [row if cols[i] >= 0 else None for i, row in enumerate(rows)]
    strikes: dict[str, JSON] = {}
    for strike, strike_key, shown_iv, gex_i, ce, pe in zip(
        _column(k, None), [f"{x:g}" for x in k], _column(shown, 4), _column(gex, 0),
        sides["CE"] or [None] * n, sides["PE"] or [None] * n, strict=True,
    ):  # fmt: skip
        row: JSON = {"strike": strike, "iv": shown_iv, "gex": gex_i}
        if ce is not None:
            row["CE"] = ce
        if pe is not None:
            row["PE"] = pe
        strikes[strike_key] = row

    straddle = float(prices[0, atm_i] + prices[1, atm_i])
    stamps = state.values[Field.EXCHANGE_TS]
    ts = float(np.nanmax(stamps)) if np.isfinite(stamps).any() else math.nan
    return {
        "underlying": index.underlying,
        "expiry": index.expiry.isoformat(),
        "ts": _clean(ts),
        "computed_at": now.isoformat(),
        "spot": _clean(spot, 2),
        "future": _clean(future, 2),
        "forward": _clean(forward, 2),
        "carry": _clean(q, 6),
        "rate": params.rate,
        "t_years": _clean(t, 8),
        "days_to_expiry": _clean(t * 365.0, 3),
        "lot_size": index.lot_size,
        "atm_strike": _clean(float(k[atm_i])),
        "aggregates": {
            "pcr_oi": _clean(pcr.oi, 4),
            "pcr_volume": _clean(pcr.volume, 4),
            "pcr_oi_change": _clean(pcr.oi_change, 4),
            "max_pain": _clean(analytics.max_pain(k, oi[0], oi[1])),
            "atm_iv": _clean(atm_iv, 4),
            "atm_straddle": _clean(straddle, 2),
            "expected_move": _clean(analytics.expected_move(forward, atm_iv, t), 2),
            "call_oi": _clean(totals.call_oi),
            "put_oi": _clean(totals.put_oi),
            "call_oi_change": _clean(totals.call_oi_change),
            "put_oi_change": _clean(totals.put_oi_change),
            "support": _clean(float(support[0])) if len(support) else None,
            "resistance": _clean(float(resistance[0])) if len(resistance) else None,
        },
        "strikes": strikes,
    }
