"""Kite Connect's per-api_key REST rate limits as sliding one-second windows (pure; no I/O).

The clock is injectable so tests can drive it; the server uses time.monotonic.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final

QUOTE: Final = "quote"
HISTORICAL: Final = "historical"
OTHER: Final = "other"

KITE_LIMITS: Final = {QUOTE: 1, HISTORICAL: 3, OTHER: 10}
"""Requests per second per api_key, from kite.trade/docs/connect/v3/exceptions/#api-rate-limit."""

WINDOW: Final = 1.0
"""Seconds: Kite's limits are per second."""


class RateLimiter:
    """At most `limits[kind]` admitted requests per api_key in ANY trailing one-second window.

    A sliding window (a log of admission times) rather than a token bucket: a bucket of depth
    r refilling at r/s admits up to 2r requests within one second (a full bucket plus its
    refill), and a fixed per-second window admits 2r across a second boundary; the sliding
    window admits at most r in every one-second span, so it is at least as strict as any
    reading of "r requests per second". Refused requests are not logged: they do not prolong
    the refusal (Kite documents only requests/second).
    """

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        window: float = WINDOW,
    ) -> None:
        self.limits = dict(KITE_LIMITS if limits is None else limits)
        self.clock = clock
        self.window = window
        self._log: dict[tuple[str, str], deque[float]] = {}

    def admit(self, api_key: str, kind: str) -> bool:
        """Record and allow one request, or refuse it (False) if the window is full."""
        limit = self.limits[kind]
        now = self.clock()
        log = self._log.setdefault((api_key, kind), deque())
        while log and log[0] <= now - self.window:
            log.popleft()
        if len(log) >= limit:
            return False
        log.append(now)
        return True
