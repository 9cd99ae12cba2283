"""Pure transformations of chain documents for the API: strike window, NSE-style recompute,
and the document rebuilt from archived minute rows (both built by `chain.document`). No I/O
here."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from strikeboard.chain import analytics, bsm, conventions, document
from strikeboard.chain.document import SIDES
from strikeboard.chain.ivreason import iv_reasons
from strikeboard.store import archive

JSON = dict[str, Any]


def _num(value: float, digits: int | None = None) -> float | None:
    if not math.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


def sorted_strikes(doc: JSON) -> list[JSON]:
    """The strike rows in strike order."""
    rows: list[JSON] = list(doc.get("strikes", {}).values())
    rows.sort(key=lambda r: float(r["strike"]))
    return rows


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
    spot = doc.get("spot")
    t = doc.get("t_years")
    header = {k: v for k, v in doc.items() if k not in ("aggregates", "strikes", "convention")}
    header.update(rate=conventions.NSE_RATE, carry=0.0)
    agg = dict(doc.get("aggregates") or {})
    if not doc.get("strikes") or spot is None or t is None:
        return {**header, "aggregates": agg, "strikes": doc.get("strikes", {}), "convention": "nse"}
    columns = document.from_document(doc).columns
    k = columns.strikes
    prices = np.stack([_field(columns, side, "ltp") for side in SIDES])
    is_call = np.array([[True], [False]])
    # Plain NumPy, not the feed's numba kernels: a fresh Lambda would compile those first.
    iv, greeks = bsm.implied_vol_and_greeks(
        prices, float(spot), k, float(t), conventions.NSE_RATE, 0.0, is_call
    )
    # Which leg a strike shows is decided against spot: the NSE model has no forward.
    shown = conventions.shown_iv(k, iv[0], iv[1], float(spot), iv_leg)
    oi = np.stack([_field(columns, side, "oi") for side in SIDES])
    gex = analytics.gex_by_strike(float(spot), greeks.gamma[0], greeks.gamma[1], oi[0], oi[1])
    reasons = iv_reasons(iv, prices, float(spot), k, float(t), conventions.NSE_RATE, 0.0, is_call)
    computed = {"iv": iv, **{g: getattr(greeks, g) for g in ("delta", "gamma", "theta", "vega")}}
    for s, side in enumerate(SIDES):
        if side in columns.sides:
            fields = {name: document.rounded(name, a[s]) for name, a in computed.items()}
            fields["iv_reason"] = reasons[s]
            columns = columns.with_fields(side, fields)
    columns.iv, columns.gex = np.round(shown, 4), np.round(gex, 0)
    atm_iv = analytics.atm_iv(k, shown, float(spot))
    agg["atm_iv"] = _num(atm_iv, 4)
    agg["expected_move"] = _num(analytics.expected_move(float(spot), atm_iv, float(t)), 2)
    built, _ = document.build(
        cast(document.Header, header), cast(document.Aggregates, agg), columns, convention="nse"
    )
    return document.as_json(built.document)


def _field(columns: document.ChainColumns, side: str, name: str) -> NDArray[np.float64]:
    """One float field of one side (NaN where the strike has no such leg or value)."""
    found = columns.sides.get(side)
    if found is None or name not in found.fields:
        return np.full(len(columns.strikes), np.nan)
    return np.where(found.present, found.fields[name].astype(np.float64), np.nan)


def archive_document(
    underlying: str,
    expiry: date,
    minute: datetime,
    agg: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    rate: float,
    lot_size: int | None,
    iv_leg: conventions.IvLeg = conventions.IvLeg.OTM,
    closes: Mapping[int, float] | None = None,
) -> JSON:
    """A chain document (same shape as the live snapshot) from one archived minute: the
    chain_minute rows of the expiry and its chain_minute_agg row, each by column name
    (`store.archive.CHAIN_COLUMNS`, `CHAIN_AGG_COLUMNS`). ``closes``: each token's
    previous-session close (`chain_queries.previous_closes`), from which a leg's change is counted
    as the live chain counts it. Fields the archive does not keep (quantities, average price,
    buildup) are absent from the legs."""
    closes = closes or {}
    strikes = np.array(sorted({float(r["strike"]) for r in rows}), dtype=np.float64)
    n = len(strikes)
    sides: dict[str, document.SideColumns] = {}
    for side in SIDES:
        found = {
            int(np.searchsorted(strikes, float(r["strike"]))): r
            for r in rows if r["option_type"] == side
        }  # fmt: skip
        if not found:
            continue
        present = np.zeros(n, dtype=bool)
        present[list(found)] = True
        raw: dict[str, list[Any]] = {name: [None] * n for name in (*archive.LEG_COLUMNS, "close")}
        for i, r in found.items():
            for name in archive.LEG_COLUMNS:
                raw[name][i] = r[name]
            raw["close"][i] = closes.get(r["token"])
        values = {name: document.column(name, column) for name, column in raw.items()}
        ltp, close = values["ltp"], values["close"]
        with np.errstate(divide="ignore", invalid="ignore"):
            values["change"] = np.round(ltp - close, 2)
            change_pct = np.where(close != 0, (ltp - close) / close * 100, np.nan)
            values["change_pct"] = np.round(change_pct, 2)
        fields = {name: values[name] for name in document.LEG_FIELDS if name in values}
        sides[side] = document.SideColumns(present, fields)
    archived = archive.document_values(agg)
    spot, forward = archived["spot"], archived["forward"]
    t = conventions.time_to_expiry(minute, expiry)
    columns = document.ChainColumns(strikes, np.full(n, np.nan), np.full(n, np.nan), sides)

    def leg(side: str, name: str) -> NDArray[np.float64]:
        return _field(columns, side, name)

    civ, piv = leg("CE", "iv"), leg("PE", "iv")
    ref = forward if forward is not None else spot
    shown = conventions.shown_iv(
        strikes, civ, piv, float(ref) if ref is not None else math.nan, iv_leg
    )
    coi, poi = leg("CE", "oi"), leg("PE", "oi")
    spot_value = float(spot) if spot is not None else math.nan
    gex = analytics.gex_by_strike(spot_value, leg("CE", "gamma"), leg("PE", "gamma"), coi, poi)
    coc, poc = leg("CE", "oi_change"), leg("PE", "oi_change")
    support, resistance = analytics.support_resistance(strikes, coi, poi)
    pcr = analytics.pcr(coi, poi, leg("CE", "volume"), leg("PE", "volume"), coc, poc)
    carry = (
        conventions.carry_from_forward(float(spot), float(forward), t, rate)
        if spot is not None and forward is not None
        else math.nan
    )
    ivs = np.stack([civ, piv])
    prices = np.stack([leg("CE", "ltp"), leg("PE", "ltp")])
    reasons = iv_reasons(ivs, prices, spot_value, strikes, t, rate, carry,
                         np.array([[True], [False]]))  # fmt: skip
    for s, side in enumerate(SIDES):
        if side in columns.sides:
            columns = columns.with_fields(side, {"iv_reason": reasons[s]})
    columns.iv, columns.gex = np.round(shown, 4), np.round(gex, 0)

    def total(a: NDArray[np.float64]) -> float | None:
        return float(np.nansum(a)) if np.isfinite(a).any() else None

    head: document.Header = {
        "underlying": underlying,
        "expiry": expiry.isoformat(),
        "seq": None,
        "ts": minute.timestamp(),
        "computed_at": minute.isoformat(),
        "spot": spot,
        "future": archived["future"],
        "forward": forward,
        "carry": _num(carry, 6),
        "rate": rate,
        "t_years": _num(t, 8),
        "days_to_expiry": _num(t * 365.0, 3),
        "lot_size": lot_size,
        "atm_strike": archived["atm_strike"],
    }
    aggs = document.aggregates(
        **archived["aggregates"], pcr_oi_change=_num(pcr.oi_change, 4), call_oi=total(coi),
        put_oi=total(poi), call_oi_change=total(coc), put_oi_change=total(poc),
        support=float(support[0]) if len(support) else None,
        resistance=float(resistance[0]) if len(resistance) else None,
    )  # fmt: skip
    built, _ = document.build(head, aggs, columns, minute=minute.isoformat())
    return document.as_json(built.document)
