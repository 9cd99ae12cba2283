"""Real chain snapshots from the simulator, stepped second by second, without any server.

For tests, benchmarks and demos of the push path: the simulator's wire ticks go through the
codec into a `ChainState` and `expiry_snapshot` prices them exactly as the feed does, so the
documents and their deltas have the real shape and sizes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from strikeboard.chain.snapshot import PricingParams, expiry_snapshot, market_document
from strikeboard.chain.state import ChainState, Field
from strikeboard.market import codec, layouts
from strikeboard.market.universe import (
    NIFTY_50_TOKEN,
    Catalog,
    UniverseConfig,
    parse_instruments_csv,
    select_universe,
)
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import MODE_FULL, SimServer
from strikeboard.sim.universe import instruments_csv

JSONDict = dict[str, Any]


class SimChain:
    """A simulated NIFTY market priced into expiry snapshots at each `step`."""

    def __init__(
        self,
        seed: int = 3,
        day: dt.date = dt.date(2026, 11, 25),
        start_sec: int = 3600,
        universe: UniverseConfig | None = None,
        rate: float = 0.065,
    ) -> None:
        self.server = SimServer(SimConfig(seed=seed, day=day))
        self.sim = self.server.sim
        self.sim.advance_to(start_sec)
        catalog = Catalog(
            parse_instruments_csv(instruments_csv(self.sim.instruments)),
            universe or UniverseConfig(),
        )
        spot = float(self.sim.ltp[self.sim.by_token[NIFTY_50_TOKEN]])
        selected = select_universe(catalog, spot, day)
        self.state = ChainState()
        self.state.set_universe(selected.instruments)
        self.index = np.array([self.sim.by_token[t] for t in sorted(selected.tokens)])
        self.params = PricingParams(rate=rate)
        self._apply(self.index)
        sim = self.sim
        oi_prev = {int(sim.token[i]): float(sim.oi_prev[i]) for i in self.index}
        self.state.set_values(Field.OI_PREV, oi_prev)

    def _apply(self, idx: np.ndarray) -> None:
        if len(idx):
            groups = self.server.encode(idx, np.full(len(idx), MODE_FULL))
            self.state.apply(codec.decode(layouts.frame_many(groups)))

    @property
    def expiries(self) -> list[str]:
        return [e.expiry.isoformat() for e in self.state.expiries]

    def snapshots(self) -> dict[str, JSONDict]:
        """The current priced snapshot of every expiry, by ISO expiry."""
        now = self.sim.market_time()
        out: dict[str, JSONDict] = {}
        for index in self.state.expiries:
            document = expiry_snapshot(self.state, index, now, self.params)
            if document is not None:
                out[index.expiry.isoformat()] = document
        return out

    def step(self, seconds: int = 1) -> dict[str, JSONDict]:
        """Advance the market, apply the ticks that happened, return the new snapshots."""
        ticked = self.sim.advance_to(self.sim.sec + seconds)
        if len(ticked):
            self._apply(np.intersect1d(ticked, self.index))
        return self.snapshots()

    def market(self) -> dict[str, JSONDict]:
        """The market document (spot, futures, VIX) as the feed writes it."""
        return market_document(self.state)

    def order_update(self) -> JSONDict:
        """A Kite order postback of the simulator's shape."""
        return self.server.order_update()
