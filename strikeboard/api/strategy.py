"""A strategy's legs priced against the chains the API serves (POST /api/strategy/payoff,
`strikeboard.api.routes.strategy`).

The route resolves each leg against its expiry's chain (live, else the archive's last minute):
the strike must be listed, the lot size is the chain's (the instrument master's), the entry
price the quote the user chose (mid, bid, ask, LTP) or the one typed, and the leg's IV the one
that price implies. The pricing itself is `strikeboard.chain.strategy`'s, the one
implementation; the SPA only draws its answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from strikeboard.api.chain_source import ChainSource
from strikeboard.api.errors import BadRequestError, NotFoundError
from strikeboard.api.followed import followed_name
from strikeboard.api.models import StrategyLeg, StrategyRequest
from strikeboard.api.params import as_ist
from strikeboard.chain import strategy
from strikeboard.chain.conventions import carry_from_forward, time_to_expiry

__all__ = ["payoff"]


@dataclass
class _Chains:
    """The chain documents of a strategy's expiries, fetched once each."""

    docs: dict[date, dict[str, Any]]
    stale: bool
    source: str


def _load_chains(chains: ChainSource, underlying: str, expiries: set[date]) -> _Chains:
    docs: dict[date, dict[str, Any]] = {}
    stale, sources = False, set()
    for expiry in sorted(expiries):
        result = chains.chain(underlying, expiry)
        docs[expiry] = result.document()
        stale |= result.stale
        sources.add(result.source)
    return _Chains(docs, stale, "archive" if "archive" in sources else "live")


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _market(doc: dict[str, Any], spot: float, rate: float, now: datetime) -> strategy.ExpiryMarket:
    forward = _finite(doc.get("forward"))
    carry = _finite(doc.get("carry"))
    expiry = date.fromisoformat(doc["expiry"])
    if carry is None:
        t = time_to_expiry(now, expiry)
        carry = carry_from_forward(spot, forward, t, rate) if forward and t > 0 else 0.0
    atm = _finite((doc.get("aggregates") or {}).get("atm_iv"))
    return strategy.ExpiryMarket(carry, forward or math.nan, atm if atm else math.nan)


def _name(underlying: str, leg: StrategyLeg) -> str:
    return f"{underlying} {leg.expiry.isoformat()} {leg.strike:g} {leg.option_type}"


def _quote(underlying: str, leg: StrategyLeg, doc: dict[str, Any]) -> dict[str, Any]:
    rows = {float(r["strike"]): r for r in (doc.get("strikes") or {}).values()}
    row = rows.get(leg.strike)
    if row is None:
        listed = sorted(rows)
        span = f" (listed: {listed[0]:g} to {listed[-1]:g})" if listed else ""
        raise NotFoundError(f"{_name(underlying, leg)}: strike not in the chain{span}")
    quote = row.get(leg.option_type)
    if not isinstance(quote, dict):
        raise NotFoundError(f"{_name(underlying, leg)}: no such contract in the chain")
    return quote


def _entry_price(underlying: str, leg: StrategyLeg, quote: dict[str, Any]) -> float:
    if leg.entry == "typed":
        assert leg.price is not None  # the model refuses typed without a price
        return leg.price
    bid, ask = _finite(quote.get("bid")), _finite(quote.get("ask"))
    price: float | None
    if leg.entry == "mid":
        price = (bid + ask) / 2.0 if bid and ask and bid > 0 and ask > 0 else None
    elif leg.entry == "ltp":
        price = _finite(quote.get("ltp"))
    else:
        price = bid if leg.entry == "bid" else ask
    if price is None or price <= 0:
        raise BadRequestError(
            f"{_name(underlying, leg)}: no {leg.entry} price in the chain; "
            "choose another entry or type a price"
        )
    return price


def _lot_size(chains: ChainSource, underlying: str, expiry: date, doc: dict[str, Any]) -> int:
    lot = doc.get("lot_size")
    if not isinstance(lot, int) or lot <= 0:
        lot = chains.lot_size(underlying, expiry)
    if lot is None or lot <= 0:
        raise NotFoundError(f"{underlying} {expiry.isoformat()}: lot size unknown")
    return lot


def payoff(request: StrategyRequest, chain_source: ChainSource) -> dict[str, Any]:
    """The priced strategy (the StrategyPayoff model's fields), at the chain source's time."""
    settings, now = chain_source.settings, chain_source.now
    underlying = followed_name(settings, request.underlying)
    chains = _load_chains(chain_source, underlying, {leg.expiry for leg in request.legs})
    first = chains.docs[min(chains.docs)]
    spot = _finite(first.get("spot"))
    if spot is None or spot <= 0:
        raise NotFoundError(f"{underlying}: no spot in the chain")
    rate = _finite(first.get("rate"))
    rate = settings.risk_free_rate if rate is None else rate
    markets = {e: _market(doc, spot, rate, now) for e, doc in chains.docs.items()}
    quotes = [_quote(underlying, leg, chains.docs[leg.expiry]) for leg in request.legs]
    prices = [_entry_price(underlying, leg, q) for leg, q in zip(request.legs, quotes, strict=True)]
    lots = {e: _lot_size(chain_source, underlying, e, doc) for e, doc in chains.docs.items()}
    implied = strategy.entry_vols(
        [(leg.expiry, leg.strike, leg.option_type == "CE", p)
         for leg, p in zip(request.legs, prices, strict=True)],
        spot, rate, markets, now,
    )  # fmt: skip
    legs: list[strategy.Leg] = []
    priced: list[dict[str, Any]] = []
    for leg, quote, price, entry_iv in zip(request.legs, quotes, prices, implied, strict=True):
        iv, source = entry_iv, "entry"
        if not math.isfinite(iv):
            # the price implies no vol (at or below intrinsic): the chain's own IV prices it
            iv, source = _finite(quote.get("iv")) or math.nan, "chain"
            if not math.isfinite(iv):
                raise BadRequestError(
                    f"{_name(underlying, leg)}: the price {price:g} implies no IV and the chain "
                    "has none"
                )
        quantity = leg.lots * lots[leg.expiry]
        side = strategy.Side(leg.side)
        legs.append(strategy.Leg(leg.expiry, leg.strike, leg.option_type == "CE", side,
                                 quantity, price, iv))  # fmt: skip
        priced.append({**leg.model_dump(), "price": price, "lot_size": lots[leg.expiry],
                       "quantity": quantity, "iv": round(iv, 6), "iv_source": source})  # fmt: skip
    target = as_ist(request.target, "target") if request.target is not None else now
    range_pct = request.range_pct
    if range_pct is None:
        horizon = min(chains.docs)
        range_pct = strategy.auto_range_pct(markets[horizon].atm_iv, time_to_expiry(now, horizon))
    half = spot * range_pct / 100.0
    controls = strategy.Controls(spot - half, spot + half, request.points, target,
                                 request.iv_shift / 100.0)  # fmt: skip
    try:
        a = strategy.analyse(legs, spot, rate, markets, now, controls)
    except ValueError as exc:
        raise BadRequestError(str(exc)) from exc
    first_market = markets[a.horizon]
    return {
        "underlying": underlying, "spot": spot, "now": now, "target": target,
        "horizon": a.horizon, "iv_shift": request.iv_shift, "range_pct": range_pct,
        "forward": _finite(first_market.forward), "atm_iv": _finite(first_market.atm_iv),
        "spots": [round(float(s), 2) for s in a.spots],
        "at_expiry": [round(float(v), 2) for v in a.at_expiry],
        "at_target": [round(float(v), 2) for v in a.at_target],
        "target_at_spot": round(a.target_at_spot, 2),
        "breakevens": [round(b, 2) for b in a.breakevens],
        "max_profit": None if a.max_profit is None else round(a.max_profit, 2),
        "max_loss": None if a.max_loss is None else round(a.max_loss, 2),
        "pop": None if a.pop is None else round(a.pop, 4),
        "net_premium": round(a.net_premium, 2),
        "greeks": {"delta": round(a.greeks.delta, 4), "gamma": round(a.greeks.gamma, 6),
                   "theta": round(a.greeks.theta, 2), "vega": round(a.greeks.vega, 2)},
        "legs": priced, "source": chains.source, "stale": chains.stale,
    }  # fmt: skip
