"""Pure transformations of chain documents for the API: strike window, NSE-style recompute,
and the document rebuilt from archived minute rows. No I/O here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strikeboard.chain import analytics, bsm, conventions
from strikeboard.chain.ivreason import iv_reasons

JSON = dict[str, Any]
SIDES = ("CE", "PE")
_ROUND = {"iv": 4, "delta": 4, "gamma": 6, "theta": 2, "vega": 2}


def _num(value: float, digits: int | None = None) -> float | None:
    if not math.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


def _arr(values: Sequence[Any]) -> NDArray[np.float64]:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def sorted_strikes(doc: JSON) -> list[JSON]:
    """The strike rows in strike order."""
    rows: list[JSON] = list(doc.get("strikes", {}).values())
    rows.sort(key=lambda r: float(r["strike"]))
    return rows


def leg_values(rows: Sequence[JSON], side: str, name: str) -> NDArray[np.float64]:
    """One field of one side across strikes (NaN where absent)."""
    return _arr([(r.get(side) or {}).get(name) for r in rows])


def window(doc: JSON, each_side: int) -> JSON:
    """Only the ``each_side`` strikes either side of the ATM strike (plus the ATM itself)."""
    rows = sorted_strikes(doc)
    if not rows:
        return doc
    atm = doc.get("atm_strike")
    k = np.array([float(r["strike"]) for r in rows])
    centre = int(np.argmin(np.abs(k - float(atm)))) if atm is not None else len(rows) // 2
    lo, hi = max(0, centre - each_side), centre + each_side + 1
    keep = {f"{float(r['strike']):g}" for r in rows[lo:hi]}
    out = dict(doc)
    out["strikes"] = {key: row for key, row in doc["strikes"].items() if key in keep}
    return out


def recompute_nse(doc: JSON, iv_leg: conventions.IvLeg = conventions.IvLeg.OTM) -> JSON:
    """The chain with IVs and Greeks as the NSE page computes them: Black-Scholes on spot,
    r = 10 %, q = 0, call and put IVs separately (docs/conventions.md). The document's time
    to expiry is kept, so both conventions describe the same instant."""
    rows = sorted_strikes(doc)
    spot = doc.get("spot")
    t = doc.get("t_years")
    out = dict(doc)
    out["convention"] = "nse"
    out["rate"] = conventions.NSE_RATE
    out["carry"] = 0.0
    if not rows or spot is None or t is None:
        return out
    k = np.array([float(r["strike"]) for r in rows])
    prices = np.stack([leg_values(rows, "CE", "ltp"), leg_values(rows, "PE", "ltp")])
    is_call = np.array([[True], [False]])
    # Plain NumPy, not the feed's numba kernels: a fresh Lambda would compile those first.
    iv, greeks = bsm.implied_vol_and_greeks(
        prices, float(spot), k, float(t), conventions.NSE_RATE, 0.0, is_call
    )
    # Which leg a strike shows is decided against spot: the NSE model has no forward.
    shown = conventions.shown_iv(k, iv[0], iv[1], float(spot), iv_leg)
    oi = np.stack([leg_values(rows, "CE", "oi"), leg_values(rows, "PE", "oi")])
    gex = analytics.gex_by_strike(float(spot), greeks.gamma[0], greeks.gamma[1], oi[0], oi[1])
    values = {"iv": iv, **{g: getattr(greeks, g) for g in ("delta", "gamma", "theta", "vega")}}
    reasons = iv_reasons(iv, prices, float(spot), k, float(t), conventions.NSE_RATE, 0.0, is_call)
    strikes: JSON = {}
    for i, row in enumerate(rows):
        new_row = dict(row)
        new_row["iv"] = _num(float(shown[i]), 4)
        new_row["gex"] = _num(float(gex[i]), 0)
        for s, side in enumerate(SIDES):
            leg = row.get(side)
            if leg is None:
                continue
            new_leg = dict(leg)
            for name, array in values.items():
                new_leg[name] = _num(float(array[s, i]), _ROUND[name])
            new_leg["iv_reason"] = reasons[s, i]
            new_row[side] = new_leg
        strikes[f"{k[i]:g}"] = new_row
    out["strikes"] = strikes
    agg = dict(doc.get("aggregates") or {})
    atm_iv = analytics.atm_iv(k, shown, float(spot))
    agg["atm_iv"] = _num(atm_iv, 4)
    agg["expected_move"] = _num(analytics.expected_move(float(spot), atm_iv, float(t)), 2)
    out["aggregates"] = agg
    return out


def archive_document(
    underlying: str,
    expiry: date,
    minute: datetime,
    agg: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    rate: float,
    lot_size: int | None,
    iv_leg: conventions.IvLeg = conventions.IvLeg.OTM,
    closes: Mapping[int, float] | None = None,
) -> JSON:
    """A chain document (same shape as the live snapshot) from one archived minute: the
    chain_minute rows of the expiry (dicts by column) and its chain_minute_agg row. ``closes``:
    each token's previous-session close (`service.previous_closes`), from which a leg's change
    is counted as the live chain counts it. Fields the archive does not keep (quantities, ...)
    are null."""
    closes = closes or {}
    by_strike: dict[float, JSON] = {}
    for r in rows:
        row = by_strike.setdefault(float(r["strike"]), {"strike": float(r["strike"])})
        leg = {
            name: r[name]
            for name in ("token", "ltp", "bid", "ask", "iv", "delta", "gamma", "theta", "vega",
                         "oi", "oi_change", "volume")
        }  # fmt: skip
        leg.update(_change(r["ltp"], closes.get(r["token"])))
        row[r["option_type"]] = leg
    strike_rows = [by_strike[k] for k in sorted(by_strike)]
    k = np.array([r["strike"] for r in strike_rows], dtype=np.float64)
    spot = agg.get("spot")
    forward = agg.get("forward")
    t = conventions.time_to_expiry(minute, expiry)
    civ, piv = leg_values(strike_rows, "CE", "iv"), leg_values(strike_rows, "PE", "iv")
    ref = forward if forward is not None else spot
    shown = conventions.shown_iv(k, civ, piv, float(ref) if ref is not None else math.nan, iv_leg)
    coi, poi = leg_values(strike_rows, "CE", "oi"), leg_values(strike_rows, "PE", "oi")
    cg, pg = leg_values(strike_rows, "CE", "gamma"), leg_values(strike_rows, "PE", "gamma")
    gex = analytics.gex_by_strike(float(spot) if spot is not None else math.nan, cg, pg, coi, poi)
    coc, poc = (
        leg_values(strike_rows, "CE", "oi_change"),
        leg_values(strike_rows, "PE", "oi_change"),
    )
    support, resistance = analytics.support_resistance(k, coi, poi)
    pcr = analytics.pcr(coi, poi, leg_values(strike_rows, "CE", "volume"),
                        leg_values(strike_rows, "PE", "volume"), coc, poc)  # fmt: skip
    carry = (
        conventions.carry_from_forward(float(spot), float(forward), t, rate)
        if spot is not None and forward is not None
        else math.nan
    )
    ivs = np.stack([civ, piv])
    prices = np.stack([leg_values(strike_rows, "CE", "ltp"), leg_values(strike_rows, "PE", "ltp")])
    spot_value = float(spot) if spot is not None else math.nan
    reasons = iv_reasons(ivs, prices, spot_value, k, t, rate, carry, np.array([[True], [False]]))
    strikes: JSON = {}
    for i, row in enumerate(strike_rows):
        row["iv"] = _num(float(shown[i]), 4)
        row["gex"] = _num(float(gex[i]), 0)
        for s, side in enumerate(SIDES):
            if side in row:
                row[side]["iv_reason"] = reasons[s, i]
        strikes[f"{k[i]:g}"] = row

    def total(a: NDArray[np.float64]) -> float | None:
        return float(np.nansum(a)) if np.isfinite(a).any() else None

    return {
        "underlying": underlying,
        "expiry": expiry.isoformat(),
        "seq": None,
        "ts": minute.timestamp(),
        "computed_at": minute.isoformat(),
        "spot": spot,
        "future": agg.get("future"),
        "forward": forward,
        "carry": _num(carry, 6),
        "rate": rate,
        "t_years": _num(t, 8),
        "days_to_expiry": _num(t * 365.0, 3),
        "lot_size": lot_size,
        "atm_strike": agg.get("atm_strike"),
        "aggregates": {
            "pcr_oi": agg.get("pcr_oi"),
            "pcr_volume": agg.get("pcr_volume"),
            "pcr_oi_change": _num(pcr.oi_change, 4),
            "max_pain": agg.get("max_pain"),
            "atm_iv": agg.get("atm_iv"),
            "atm_straddle": agg.get("straddle"),
            "expected_move": agg.get("expected_move"),
            "call_oi": total(coi),
            "put_oi": total(poi),
            "call_oi_change": total(coc),
            "put_oi_change": total(poc),
            "support": float(support[0]) if len(support) else None,
            "resistance": float(resistance[0]) if len(resistance) else None,
        },
        "strikes": strikes,
        "minute": minute.isoformat(),
    }


def _change(ltp: float | None, close: float | None) -> JSON:
    """A leg's previous close and its LTP's change from it (null when either is unknown)."""
    if ltp is None or close is None:
        return {"close": close, "change": None, "change_pct": None}
    change = float(ltp) - float(close)
    pct = change / float(close) * 100 if close else math.nan
    return {"close": close, "change": round(change, 2), "change_pct": _num(pct, 2)}


def gex_flip(strikes: Sequence[float], gex: Sequence[float]) -> float | None:
    """The strike where cumulative GEX (from the lowest strike) first changes sign."""
    cumulative = np.cumsum(np.asarray(gex, dtype=np.float64))
    signs = np.sign(cumulative)
    for i in range(1, len(signs)):
        if signs[i - 1] != 0 and signs[i] != 0 and signs[i] != signs[i - 1]:
            return float(strikes[i])
    return None
