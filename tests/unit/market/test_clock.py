"""The market clock: the wall clock unless anchored, then shifted and sped up."""

from __future__ import annotations

import datetime as dt

import pytest

from strikeboard.market import clock
from strikeboard.market.calendar import IST

MORNING = dt.datetime(2026, 11, 25, 10, 0, tzinfo=IST)


class Wall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_empty_is_the_wall_clock() -> None:
    wall = Wall(1_800_000_000.5)
    c = clock.parse("", 30.0, wall)
    assert c.is_wall and c.time() == 1_800_000_000.5
    assert clock.parse("  ").is_wall and clock.MarketClock().is_wall


def test_an_anchor_shifts_the_wall_clock_and_runs_at_its_speed() -> None:
    wall = Wall(1_800_000_000.0)
    text = clock.anchor(MORNING, wall.t)
    assert text == "2026-11-25T10:00:00+05:30@1800000000.000"
    c = clock.parse(text, 30.0, wall)
    assert not c.is_wall and c.now() == MORNING and c.now().tzinfo is IST
    wall.t += 2.0
    assert c.now() == MORNING + dt.timedelta(minutes=1)
    assert c.time() == MORNING.timestamp() + 60.0


def test_any_offset_is_read_and_shown_in_ist() -> None:
    utc = MORNING.astimezone(dt.UTC)
    assert clock.anchor(utc, 5.0) == "2026-11-25T10:00:00+05:30@5.000"
    c = clock.parse(f"{utc.isoformat()}@5", wall=Wall(5.0))
    assert c.now() == MORNING and c.now().utcoffset() == dt.timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("text", "speed", "message"),
    [
        ("2026-11-25T10:00:00+05:30", 1.0, "is not <ISO market time>@<Unix wall time>"),
        ("2026-11-25T10:00:00@1800000000", 1.0, "needs its UTC offset"),
        ("tomorrow@1800000000", 1.0, "is not <ISO market time>@<Unix wall time>"),
        ("2026-11-25T10:00:00+05:30@soon", 1.0, "is not <ISO market time>@<Unix wall time>"),
        ("2026-11-25T10:00:00+05:30@inf", 1.0, "is not a number"),
        ("2026-11-25T10:00:00+05:30@1800000000", 0.0, "must be positive"),
    ],
)
def test_a_bad_anchor_says_what_is_wrong(text: str, speed: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clock.parse(text, speed)


def test_anchor_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        clock.anchor(MORNING.replace(tzinfo=None), 0.0)
