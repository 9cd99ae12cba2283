"""Real market data for the API tests: the simulator's wire ticks through ChainState and
`expiry_snapshot`, exactly as the feed computes them, for a few minutes of one session; then
published to Redis (HotStore) and archived to PostgreSQL (Archive) as the feed would."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import numpy as np

from strikeboard.chain.document import as_json
from strikeboard.chain.snapshot import PricingParams, expiry_chain, market_document
from strikeboard.chain.state import ChainState, Field
from strikeboard.feed.records import to_tick_records
from strikeboard.market import codec, layouts
from strikeboard.market.calendar import IST
from strikeboard.market.underlyings import INDIA_VIX_TOKEN as VIX_TOKEN
from strikeboard.market.underlyings import underlying_of
from strikeboard.market.universe import NIFTY_50_TOKEN as SPOT_TOKEN
from strikeboard.market.universe import (
    Catalog,
    UniverseConfig,
    parse_instruments_csv,
    select_universe,
)
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import MODE_FULL, SimServer
from strikeboard.sim.universe import instruments_csv
from strikeboard.store.archive import Archive, aggregate_row
from strikeboard.store.archive import chain_rows as archive_rows
from strikeboard.store.hot import HotStore
from strikeboard.store.ticks import TickArray

RATE = 0.065
SECONDS = (3600, 3660, 3720)  # 10:15, 10:16, 10:17 IST
DAY = date(2026, 11, 25)
"""The session's day: fixed, never today's (the tests must not depend on the wall clock)."""
NOW = datetime.combine(DAY, time(10, 17, 30), IST)
"""The API's clock during the tests (conftest's `FixedClock`, given to `create_app`):
just after the last minute, market open. With the wall clock, the views that depend on
"now" (unexpired expiries, today's history) changed with the day and the time of day, e.g.
on an expiry day after 15:30 IST that expiry was gone."""
UNDERLYING = "NIFTY"


@dataclass
class MarketData:
    day: date
    minutes: list[datetime]
    snapshots: list[dict[str, dict[str, Any]]]
    """Per minute: expiry ISO -> snapshot document."""
    market: dict[str, dict[str, Any]]
    ticks: list[TickArray]
    chain_rows: list[tuple[Any, ...]] = field(default_factory=list)
    agg_rows: list[tuple[Any, ...]] = field(default_factory=list)
    candles: list[tuple[Any, ...]] = field(default_factory=list)
    instruments: list[dict[str, str]] = field(default_factory=list)

    @property
    def expiries(self) -> list[str]:
        return sorted(self.snapshots[-1])

    @property
    def latest(self) -> dict[str, dict[str, Any]]:
        return self.snapshots[-1]


@lru_cache(maxsize=1)
def build() -> MarketData:
    day = DAY
    server = SimServer(SimConfig(seed=5, day=day, every_second=True))
    sim = server.sim
    text = instruments_csv(sim.instruments)
    catalog = Catalog(parse_instruments_csv(text), UniverseConfig(weekly_expiries=2))
    sim.advance_to(SECONDS[0])
    spot = float(sim.ltp[sim.by_token[SPOT_TOKEN]])
    universe = select_universe(catalog, spot, day)
    state = ChainState()
    state.set_universe(universe.instruments)
    idx = np.array([sim.by_token[t] for t in sorted(universe.tokens)])
    state.set_values(Field.OI_PREV, {int(sim.token[i]): float(sim.oi_prev[i]) for i in idx})
    data = MarketData(day, [], [], {}, [])
    wanted = {str(t) for t in universe.tokens}
    data.instruments = [
        {**r, "underlying": underlying_of(r)}  # as the feed archives them
        for r in csv.DictReader(io.StringIO(text))
        if r["instrument_token"] in wanted
    ]
    seq = 1
    for sec in SECONDS:
        sim.advance_to(sec)
        message = layouts.frame_many(server.encode(idx, np.full(len(idx), MODE_FULL)))
        batch = codec.decode(message)
        state.apply(batch)
        now = sim.market_time(sec)
        received = now.timestamp()
        records = to_tick_records(batch, seq, received)
        seq += len(records)
        data.ticks.append(records)
        stamp = now.replace(second=0, microsecond=0)
        docs = {}
        for index in state.expiries:
            built = expiry_chain(state, index, now, PricingParams(rate=RATE))
            if built is not None:
                chain = built[0]
                docs[chain.document["expiry"]] = as_json(chain.document)
                # The rows the feed archives for a closed minute (`ChainPublisher.minute_rows`).
                data.chain_rows += archive_rows(chain, stamp.isoformat())
                data.agg_rows.append(aggregate_row(chain.document, stamp.isoformat()))
        data.minutes.append(stamp)
        data.snapshots.append(docs)
        market = market_document(state)
        for name, value in market.items():
            token = int(value["token"])
            if token in (SPOT_TOKEN, VIX_TOKEN) or name.startswith("FUT"):
                ltp = float(value["ltp"])
                oi = value.get("oi")
                data.candles.append(
                    (
                        token,
                        stamp.isoformat(),
                        ltp,
                        ltp,
                        ltp,
                        ltp,
                        value.get("volume"),
                        int(oi) if oi is not None and math.isfinite(oi) else None,
                    )
                )
        data.market = market
    return data


def publish(data: MarketData, hot: HotStore) -> None:
    """The latest minute's snapshots and market data in Redis, plus a healthy feed."""
    previous: dict[str, dict[str, Any]] = {}
    for docs in data.snapshots:
        for expiry, doc in docs.items():
            copy = dict(doc)
            hot.publish(copy, previous.get(expiry))
            previous[expiry] = copy
    hot.write_market(data.market)
    hot.write_health(
        {
            "ts": datetime.now().timestamp(),
            "token": "ok",
            "connected": True,
            "last_tick_age_s": 0.2,
            "ticks_per_s": 1500.0,
        },
        ttl_s=600,
    )


def archive(data: MarketData, url: str) -> None:
    """The minutes, candles, instruments and ticks in PostgreSQL."""
    with Archive(url, auto_migrate=True) as db:
        db.upsert_instruments(data.instruments)
        db.write_chain_minute(data.chain_rows, data.agg_rows)
        db.upsert_candles(data.candles)
        for ticks in data.ticks:
            db.write_ticks(ticks)
