"""The simulator's REST rate limiter, driven by an injected clock."""

from __future__ import annotations

from strikeboard.sim.limits import HISTORICAL, KITE_LIMITS, OTHER, QUOTE, RateLimiter


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_kite_limits_per_second() -> None:
    assert KITE_LIMITS == {QUOTE: 1, HISTORICAL: 3, OTHER: 10}


def test_quote_admits_one_per_trailing_second() -> None:
    clock = Clock()
    rl = RateLimiter(clock=clock)
    assert rl.admit("k", QUOTE)
    assert not rl.admit("k", QUOTE)
    clock.now += 0.999
    assert not rl.admit("k", QUOTE)
    clock.now += 0.001  # exactly one second after the admitted request
    assert rl.admit("k", QUOTE)


def test_refused_requests_do_not_extend_the_refusal() -> None:
    clock = Clock()
    rl = RateLimiter(clock=clock)
    assert rl.admit("k", QUOTE)
    for _ in range(5):
        clock.now += 0.15
        assert not rl.admit("k", QUOTE)
    clock.now = 101.0
    assert rl.admit("k", QUOTE)


def test_sliding_window_is_stricter_than_a_bucket_or_fixed_window() -> None:
    """Three historical calls late in one second leave none for early in the next."""
    clock = Clock()
    rl = RateLimiter(clock=clock)
    clock.now = 100.9
    assert all(rl.admit("k", HISTORICAL) for _ in range(3))
    clock.now = 101.1  # a new calendar second, a refilled bucket: still the same window
    assert not rl.admit("k", HISTORICAL)
    clock.now = 101.9
    assert rl.admit("k", HISTORICAL)
    # Never more than three admitted in any one-second span.
    times = [100.9, 100.9, 100.9, 101.9]
    assert all(sum(t <= x < t + 1.0 for x in times) <= 3 for t in times)


def test_keys_and_kinds_are_independent() -> None:
    clock = Clock()
    rl = RateLimiter(clock=clock)
    assert rl.admit("a", QUOTE)
    assert rl.admit("b", QUOTE)
    assert rl.admit("a", HISTORICAL)
    assert sum(rl.admit("a", OTHER) for _ in range(12)) == 10
    assert not rl.admit("a", QUOTE)


def test_custom_limits() -> None:
    clock = Clock()
    rl = RateLimiter({QUOTE: 2}, clock=clock)
    assert rl.admit("k", QUOTE) and rl.admit("k", QUOTE)
    assert not rl.admit("k", QUOTE)
    assert rl.admit("x", QUOTE)  # per key
