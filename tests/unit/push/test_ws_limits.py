"""Hostile frames on $default (issue 13): every one is answered with an error message (the
returned body: the route response), the socket stays usable, and nothing a client sends grows
the registry beyond its caps."""

from __future__ import annotations

import gc
import json
import tracemalloc
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from push_helpers import connect_event, load_event, reply_of

from lambdas import ws
from strikeboard.push import messages
from strikeboard.push.registry import Allowance
from tests.support.sim_chain import SimChain

CID = "Pk4p5eeGhcwCF2Q="


class Clock:
    """Time that moves only when a test says so (the rate limit reads it)."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def frame(body: str) -> dict[str, Any]:
    event = load_event("ping")
    event["body"] = body
    return event


@dataclass
class Socket:
    """One connection's frames to the handler, and the replies its client receives."""

    deps: ws.Deps
    received: list[dict[str, Any]] = field(default_factory=list)

    def frame(self, body: str) -> dict[str, Any]:
        response = ws.handle(frame(body), self.deps)
        message = reply_of(response)  # a protocol message or no body: never plain text
        if message is not None:
            self.received.append(message)
        return response

    def send(self, **body: Any) -> dict[str, Any]:
        return self.frame(json.dumps(body))

    def errors(self) -> list[str]:
        return [m["message"] for m in self.received if m["type"] == "error"]


@pytest.fixture
def clock(deps: ws.Deps) -> Clock:
    c = Clock()
    deps.clock = c
    ws.handle(connect_event(deps.hot), deps)
    return c


@pytest.fixture
def socket(deps: ws.Deps, clock: Clock) -> Socket:
    return Socket(deps)


def test_nesting_is_bounded_before_parsing() -> None:
    assert messages.nesting_depth('{"a": [1, {"b": "[[[{{{"}]}', 10) == 3
    assert messages.nesting_depth("[" * 1000, 8) == 9  # stops at the first level too deep
    with pytest.raises(messages.MessageError, match="nested too deeply"):
        messages.parse_client_message("[" * 1000 + "]" * 1000, 4096, 8)
    with pytest.raises(messages.MessageError, match="too large"):
        messages.parse_client_message(" " * 4097, 4096, 8)
    # A parser without the scan would hit RecursionError: it is an error message too.
    with pytest.raises(messages.MessageError, match="invalid JSON"):
        messages.parse_client_message("[" * 100_000, 1 << 20, 1 << 20)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"action": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply"),
        (json.dumps({"action": "ping", "pad": "x" * 5000}), "message too large"),
        (json.dumps({"action": "subscribe", "underlying": "N" * 10_000}), "too large"),
        (
            json.dumps({"action": "subscribe", "underlying": "N" * 3000, "expiry": "2026-12-01"}),
            "'underlying' must be a name",
        ),
        (
            json.dumps({"action": "subscribe", "underlying": "nifty 50", "expiry": "2026-12-01"}),
            "'underlying' must be a name",
        ),
        (
            json.dumps({"action": "subscribe", "underlying": "BANKNIFTY", "expiry": "2026-12-01"}),
            "unknown underlying 'BANKNIFTY'",
        ),
        (json.dumps({"action": "subscribe", "expiry": "2" * 3000}), "not an ISO date"),
        (json.dumps({"action": ["x"] * 500}), "unknown action list"),
        ("[1, 2]", "a JSON object"),
        ("\ud800", "invalid JSON"),
    ],
)
def test_hostile_frames_get_an_error_and_the_socket_stays_usable(
    deps: ws.Deps, socket: Socket, body: str, fragment: str
) -> None:
    response = socket.frame(body)
    assert response["statusCode"] == 400
    (text,) = socket.errors()
    assert fragment in text and len(text) < 300  # the reply does not echo a huge frame
    assert len(response["body"]) < 400
    assert socket.send(action="ping")["statusCode"] == 200
    assert socket.received[-1] == {"type": "pong"}
    assert deps.registry.subscriptions(CID) == []


def test_only_live_expiries_are_subscribed(deps: ws.Deps, socket: Socket) -> None:
    chain = SimChain(seed=11)
    for document in chain.snapshots().values():
        deps.hot.publish(document)
    live = deps.hot.expiries("NIFTY")
    assert socket.send(action="subscribe", expiry=live[0])["statusCode"] == 200
    assert socket.send(action="subscribe", expiry="2031-01-02")["statusCode"] == 400
    assert "unknown expiry 2031-01-02" in socket.errors()[-1]
    assert deps.registry.subscriptions(CID) == [("NIFTY", live[0])]
    # Unsubscribing needs no live chain (the expiry may have just been retired).
    assert socket.send(action="unsubscribe", expiry="2031-01-02") == {"statusCode": 200}


def test_subscriptions_per_connection_are_capped(
    deps: ws.Deps, socket: Socket, clock: Clock
) -> None:
    cap = deps.limits.max_subscriptions
    statuses = []
    for day in range(cap + 5):  # nothing live: any date is accepted, answered with a reset
        clock.t += 1.0  # within the rate
        statuses.append(socket.send(action="subscribe", expiry=f"2027-01-{day + 1:02d}"))
    assert [r["statusCode"] for r in statuses] == [200] * cap + [400] * 5
    assert len(deps.registry.subscriptions(CID)) == cap
    assert f"at most {cap} subscriptions" in socket.errors()[0]
    # Re-subscribing to one it holds is fine; after an unsubscribe there is room again.
    clock.t += 1.0
    assert socket.send(action="subscribe", expiry="2027-01-01")["statusCode"] == 200
    clock.t += 1.0
    socket.send(action="unsubscribe", expiry="2027-01-01")
    clock.t += 1.0
    assert socket.send(action="subscribe", expiry="2027-02-01")["statusCode"] == 200


def test_the_message_rate_is_capped_and_told_once(
    deps: ws.Deps, socket: Socket, clock: Clock
) -> None:
    limits = replace(deps.limits, rate_per_s=10.0, burst=20)
    deps.limits = limits
    responses = [socket.send(action="ping") for _ in range(50)]
    assert [r["statusCode"] for r in responses] == [200] * 20 + [429] * 30
    assert len(socket.errors()) == 1 and "rate limit" in socket.errors()[0]
    # 20 pongs and one warning; the other dropped frames return no body at all.
    assert len(socket.received) == 21
    assert all("body" not in r for r in responses[21:])
    clock.t += 0.15  # one token back (and a half)
    assert [socket.send(action="ping")["statusCode"] for _ in range(2)] == [200, 429]
    assert deps.registry.take_token(CID, 10.0, 20, clock.t) is Allowance.DROP
    assert deps.registry.take_token("ghost=", 10.0, 20, clock.t) is Allowance.UNKNOWN


def test_a_thousand_bogus_subscriptions_are_capped_and_gone_after_disconnect(
    deps: ws.Deps, socket: Socket, clock: Clock
) -> None:
    # The probe's flood: 1,000 subscribes as fast as a socket takes them, then it leaves.
    for i in range(1000):
        clock.t += 0.001
        socket.send(action="subscribe", expiry=f"20{27 + i // 365}-01-01", underlying="NIFTY")
    held = deps.registry.subscriptions(CID)
    assert 0 < len(held) <= deps.limits.max_subscriptions
    # Replies only to what the rate let through in that second (and one notice per refusal
    # run): the dropped frames of the flood get no body.
    allowed = deps.limits.burst + deps.limits.rate_per_s * 1.0
    assert len(socket.received) <= 2 * allowed
    assert ws.handle(load_event("disconnect"), deps)["statusCode"] == 200
    assert deps.registry.subscriptions(CID) == [] and deps.registry.connections() == []
    assert list(deps.registry.client.scan_iter(match=f"{deps.registry.keys.prefix}ws:*")) == []


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
FRAMES = st.one_of(
    st.text(max_size=200),
    JSONISH.map(json.dumps),
    st.fixed_dictionaries(
        {"action": st.sampled_from(["subscribe", "unsubscribe", "ping", "x"])},
        optional={"underlying": JSONISH, "expiry": JSONISH | st.dates().map(str)},
    ).map(json.dumps),
    st.integers(1, 2000).map(lambda n: "[" * n),
)


FUZZ_EXAMPLES = 200
RETAINED_BOUND = 64 * 1024
"""Bytes the handler may still hold after all the fuzzed frames (gc'd). Measured: a few KB
(the metrics buffer, Python's caches); keeping each frame's event would be about 170 KB."""
FRAME_PEAK_BOUND = 256 * 1024
"""Bytes handling one frame may allocate at its peak: frames are at most a few KB (the limit
is 4 KB); a parser that expanded them would be far above. Measured: about 40 KB."""


@dataclass
class Measured:
    """What the fuzzed frames cost the handler: memory still held after all of them, and the
    largest peak of one."""

    frames: int = 0
    retained: int = 0
    frame_peak: int = 0


def fuzz(deps: ws.Deps, clock: Clock) -> list[str]:
    """FUZZ_EXAMPLES random frames through the handler: nothing escapes, every reply is a
    protocol message, the subscriptions stay capped. Returns the frames."""
    bodies: list[str] = []

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(body=FRAMES)
    def run(body: str) -> None:
        bodies.append(body)
        clock.t += 1.0  # the rate limit is tested above; here every frame is handled
        response = ws.handle(frame(body), deps)  # raises nothing
        assert response["statusCode"] in (200, 400)
        reply = reply_of(response)  # a protocol message, or no body (an unsubscribe)
        assert reply is None or reply["type"] in ("error", "pong", "reset", "snapshot")
        assert len(deps.registry.subscriptions(CID)) <= deps.limits.max_subscriptions

    run()
    return bodies


def measure(deps: ws.Deps, clock: Clock, bodies: list[str]) -> Measured:
    """The frames through the handler again, under tracemalloc (hypothesis, which fills its
    own caches as it goes and is slow under tracing, is not running meanwhile)."""
    result = Measured(frames=len(bodies))
    events = [frame(body) for body in bodies]
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.take_snapshot()
        for event in events:
            clock.t += 1.0
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            ws.handle(event, deps)
            result.frame_peak = max(result.frame_peak, tracemalloc.get_traced_memory()[1] - before)
        gc.collect()
        end = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    own = (tracemalloc.Filter(False, tracemalloc.__file__),)
    diff = end.filter_traces(own).compare_to(start.filter_traces(own), "filename")
    result.retained = sum(stat.size_diff for stat in diff)
    return result


def test_fuzzed_frames_never_escape_and_memory_stays_bounded(
    deps: ws.Deps, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = fuzz(deps, clock)
    measured = measure(deps, clock, bodies)
    with capsys.disabled():
        print(f"\n[ws fuzz] {measured.frames} frames; retained "
              f"{measured.retained / 1024:.1f} KB (bound {RETAINED_BOUND // 1024} KB); "
              f"largest per-frame peak {measured.frame_peak / 1024:.1f} KB "
              f"(bound {FRAME_PEAK_BOUND // 1024} KB)")  # fmt: skip
    assert measured.frames >= FUZZ_EXAMPLES // 2  # hypothesis ran them (it may dedupe a few)
    assert measured.retained <= RETAINED_BOUND
    assert measured.frame_peak <= FRAME_PEAK_BOUND


def test_the_memory_bound_catches_a_handler_that_keeps_every_frame(
    deps: ws.Deps, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound can fail: a handler that keeps each message (a log of them, say) grows
    without bound and is caught."""
    kept: list[str] = []
    on_default = ws.ROUTES["$default"]

    def keeping(event: dict[str, Any], d: ws.Deps) -> dict[str, Any]:
        kept.append(json.dumps(event))
        return on_default(event, d)

    bodies = fuzz(deps, clock)
    monkeypatch.setitem(ws.ROUTES, "$default", keeping)
    measured = measure(deps, clock, bodies)
    assert measured.retained > RETAINED_BOUND, measured
