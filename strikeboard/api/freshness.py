"""How fresh live data is: the feed writes its health document (TTL 15 s) with the age of its
last tick; live answers are stale when that age, plus the document's own, is over
API_STALE_AFTER_S, or when there is no health at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

TICKS_STALE_AFTER_S: Final = 5.0
"""/api/health degrades when the newest tick is older than this in market hours."""


@dataclass(frozen=True)
class Freshness:
    stale: bool
    age_s: float | None


def feed_freshness(health: dict[str, Any] | None, stale_after_s: float, now: float) -> Freshness:
    """Live data is fresh while the feed writes health (TTL 15 s) and ticks are recent;
    ``now`` is Unix time (the health document's clock)."""
    if health is None:
        return Freshness(True, None)
    age = health.get("last_tick_age_s")
    written = health.get("ts")
    if not isinstance(age, int | float):
        return Freshness(True, None)
    if isinstance(written, int | float):
        age = age + max(0.0, now - written)
    return Freshness(bool(age > stale_after_s), round(float(age), 3))
