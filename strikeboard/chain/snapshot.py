"""One expiry's priced chain from the live chain state (the feed's `chain.document`), and the
market data of an underlying's indices and futures.

Forward from put-call parity (future as fallback), carry implied from it, IV and Greeks of both
legs from their last traded prices, then the aggregates, rounded as `chain.document` publishes
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np

from strikeboard.chain import analytics, conventions, document, pricing
from strikeboard.chain.document import Chain, Delta, clean
from strikeboard.chain.ivreason import iv_reasons
from strikeboard.chain.state import ChainState, ExpiryIndex, Field
from strikeboard.market.underlyings import market_future_name

JSON = dict[str, Any]

LEG_FIELDS: Final = {
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
"""The leg fields read straight from the chain state."""


@dataclass(frozen=True)
class PricingParams:
    rate: float = 0.0
    """Continuous risk-free rate for discounting in the forward convention (Black-76)."""
    iv_leg: conventions.IvLeg = conventions.IvLeg.OTM
    parity_strikes: int = 5


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
            "ltp": clean(ltp, 2),
            "close": clean(close, 2),
            "change": clean(ltp - close, 2),
            "change_pct": clean((ltp / close - 1) * 100 if close else math.nan, 2),
            "ts": clean(float(value[Field.EXCHANGE_TS])),
        }
        for field, key in ((Field.OPEN, "open"), (Field.HIGH, "high"), (Field.LOW, "low")):
            doc[key] = clean(float(value[field]), 2)
        if n >= indices:
            doc["oi"] = clean(float(value[Field.OI]))
            doc["volume"] = clean(float(value[Field.VOLUME]))
        out[name] = doc
    return out


def expiry_snapshot(
    state: ChainState, index: ExpiryIndex, now: datetime, params: PricingParams
) -> JSON | None:
    """The priced chain of one expiry (a `document.ChainDocument`), or None while spot is
    unknown or the expiry is past."""
    built = expiry_chain(state, index, now, params)
    return document.as_json(built[0].document) if built is not None else None


def expiry_chain(
    state: ChainState, index: ExpiryIndex, now: datetime, params: PricingParams,
    previous: Chain | None = None,
) -> tuple[Chain, Delta | None] | None:  # fmt: skip
    """`expiry_snapshot` with its columns, and its delta from the ``previous`` chain of the
    expiry (`document.build`); None while spot is unknown or the expiry is past."""
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

    # Columns (vectorised rounding); `document.build` makes the legs of those that changed.
    sides: dict[str, document.SideColumns] = {}
    for side, s, cols in (("CE", 0, index.call), ("PE", 1, index.put)):
        close = legs[side]["close"]
        with np.errstate(divide="ignore", invalid="ignore"):
            change_pct = np.where(close != 0, change[s] / close * 100, np.nan)
        computed = {
            "token": np.where(cols >= 0, state.tokens[np.maximum(cols, 0)], np.nan),
            **legs[side],
            "change": change[s],
            "change_pct": change_pct,
            "oi_change": oi_change[s],
            "iv": iv[s],
            "iv_reason": reasons[s],
            "delta": greeks.delta[s],
            "gamma": greeks.gamma[s],
            "theta": greeks.theta[s],
            "vega": greeks.vega[s],
            "buildup": _BUILDUP_NAMES[buildup[s]],
        }
        fields = {name: document.rounded(name, computed[name]) for name in document.LEG_FIELDS}
        sides[side] = document.SideColumns(cols >= 0, fields)
    columns = document.ChainColumns(k, np.round(shown, 4), np.round(gex, 0), sides)

    straddle = float(prices[0, atm_i] + prices[1, atm_i])
    stamps = state.values[Field.EXCHANGE_TS]
    ts = float(np.nanmax(stamps)) if np.isfinite(stamps).any() else math.nan
    header: document.Header = {
        "underlying": index.underlying,
        "expiry": index.expiry.isoformat(),
        "ts": clean(ts),
        "computed_at": now.isoformat(),
        "spot": clean(spot, 2),
        "future": clean(future, 2),
        "forward": clean(forward, 2),
        "carry": clean(q, 6),
        "rate": params.rate,
        "t_years": clean(t, 8),
        "days_to_expiry": clean(t * 365.0, 3),
        "lot_size": index.lot_size,
        "atm_strike": clean(float(k[atm_i])),
    }
    aggs = document.aggregates(
        pcr_oi=clean(pcr.oi, 4),
        pcr_volume=clean(pcr.volume, 4),
        pcr_oi_change=clean(pcr.oi_change, 4),
        max_pain=clean(analytics.max_pain(k, oi[0], oi[1])),
        atm_iv=clean(atm_iv, 4),
        atm_straddle=clean(straddle, 2),
        expected_move=clean(analytics.expected_move(forward, atm_iv, t), 2),
        call_oi=clean(totals.call_oi),
        put_oi=clean(totals.put_oi),
        call_oi_change=clean(totals.call_oi_change),
        put_oi_change=clean(totals.put_oi_change),
        support=clean(float(support[0])) if len(support) else None,
        resistance=clean(float(resistance[0])) if len(resistance) else None,
    )
    return document.build(header, aggs, columns, previous)


_BUILDUP_NAMES: Final = np.array([b.name.lower() for b in analytics.Buildup], dtype=object)
