"""The market's clock: the wall clock in production; locally, whatever time the simulator's
market is at, shared by every process of the stack.

One setting anchors it (``MARKET_CLOCK``, see strikeboard/config.py): ``<market time>@<wall
time>``, an ISO datetime with its offset and the Unix time (seconds) at which the market clock
read it, e.g. ``2026-11-25T10:00:00+05:30@1796212800.25``; from there it runs
``MARKET_CLOCK_SPEED`` market seconds per wall second. Every process given the same anchor
agrees on the market's time to the precision of its own wall clock, whenever it started.
Empty (production): the wall clock itself.

Pure: parsing and arithmetic, no I/O and no settings; the wall clock is a parameter (default
`time.time`). Which uses are market time and which are wall time: docs/market.md.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from strikeboard.market.calendar import IST


@dataclass(frozen=True)
class MarketClock:
    """Market time from the wall clock: ``market_at`` (Unix seconds; None = the wall clock
    itself) at wall time ``wall_at``, running ``speed`` times as fast since."""

    market_at: float | None = None
    wall_at: float = 0.0
    speed: float = 1.0
    wall: Callable[[], float] = _time.time

    @property
    def is_wall(self) -> bool:
        """True when this is the plain wall clock (no anchor)."""
        return self.market_at is None

    def time(self) -> float:
        """The market's Unix time (seconds)."""
        now = self.wall()
        if self.market_at is None:
            return now
        return self.market_at + (now - self.wall_at) * self.speed

    def now(self) -> datetime:
        """The market's time, aware, in IST."""
        return datetime.fromtimestamp(self.time(), IST)


def anchor(market: datetime, wall_at: float) -> str:
    """The ``MARKET_CLOCK`` text for a market clock reading ``market`` (aware) at Unix time
    ``wall_at``."""
    if market.tzinfo is None:
        raise ValueError(f"the market time {market.isoformat()} has no UTC offset")
    return f"{market.astimezone(IST).isoformat()}@{wall_at:.3f}"


def parse(text: str, speed: float = 1.0, wall: Callable[[], float] = _time.time) -> MarketClock:
    """The clock of a ``MARKET_CLOCK`` value and speed; empty text = the wall clock (the
    speed is then ignored). Raises `ValueError` with a readable message."""
    text = text.strip()
    if not text:
        return MarketClock(wall=wall)
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"the market clock's speed must be positive, got {speed}")
    market_text, sep, wall_text = text.rpartition("@")
    if not sep:
        raise ValueError(
            f"{text!r} is not <ISO market time>@<Unix wall time>, "
            "e.g. 2026-11-25T10:00:00+05:30@1796212800"
        )
    try:
        market = datetime.fromisoformat(market_text)
        wall_at = float(wall_text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not <ISO market time>@<Unix wall time>, "
            "e.g. 2026-11-25T10:00:00+05:30@1796212800"
        ) from None
    if market.tzinfo is None:
        raise ValueError(f"the market time in {text!r} needs its UTC offset, e.g. +05:30")
    if not math.isfinite(wall_at):
        raise ValueError(f"the wall time in {text!r} is not a number")
    return MarketClock(market.timestamp(), wall_at, speed, wall)
