"""The feed's health status: what degrades it, in words."""

from __future__ import annotations

from dataclasses import replace

from strikeboard.feed.cycle import CycleCounters
from strikeboard.feed.health import FeedView, health_document
from strikeboard.feed.ingest import IngestCounters
from strikeboard.feed.kite_session import SessionCounters
from strikeboard.kite.ticker import ShardState, ShardStatus
from strikeboard.store.archiver import ArchiverStatus
from strikeboard.store.spool import SpoolLag

NOW = 1_800_000_000.0


def view(**changes: object) -> FeedView:
    base = FeedView(
        now=NOW, market_open=True, phase="live", session_state="open", token="ok",
        shards=[ShardStatus(0, ShardState.CONNECTED, tokens=10, last_message_at=NOW - 0.5)],
        ingest=IngestCounters(ticks=100, last_tick_at=NOW - 1.0), cycle=CycleCounters(),
        session=SessionCounters(), pending_fills=0, pending_baselines=0,
        archiver=ArchiverStatus("ok", SpoolLag(0, 0, 0.0), 0, 0, None),
        redis_ok=True, redis_errors=0, instruments=10, tick_rate=10.0,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_live_feed_is_ok() -> None:
    doc = health_document(view())
    assert doc["status"] == "ok" and doc["problems"] == [] and doc["connected"]


def test_a_trimmed_universe_is_shown_but_is_no_fault() -> None:
    cycle = CycleCounters(underlying_ms={"SENSEX": 12.345}, underlying_cpu_ms={"SENSEX": 9.876})
    doc = health_document(view(trimmed=1514, underlyings={"NIFTY": (3000, 14),
                                                          "SENSEX": (2000, 1500)},
                               cycle=cycle))  # fmt: skip
    assert doc["instruments_trimmed"] == 1514
    assert doc["underlyings"]["SENSEX"] == {"instruments": 2000, "instruments_trimmed": 1500,
                                            "cycle_ms": 12.35, "cycle_cpu_ms": 9.88}  # fmt: skip
    assert doc["underlyings"]["NIFTY"]["cycle_ms"] == 0.0  # not priced yet
    assert doc["status"] == "ok"  # the configuration asked for more than Kite carries
    assert health_document(view())["instruments_trimmed"] == 0


def test_the_alert_counters() -> None:
    """The evaluator's and the subscription worker's counters (summed over the cycles'
    results by the feed) and the rules."""
    assert health_document(view())["alerts"] == {
        "rules": None, "evaluated": 0, "fired": 0, "pushed": 0, "emailed": 0, "failed": 0,
        "dropped": 0, "subscriptions_done": 0, "subscriptions_failed": 0}  # fmt: skip
    counts = {"evaluated": 5000, "fired": 3, "pushed": 3, "emailed": 1, "failed": 2,
              "dropped": 0, "subscriptions_done": 4, "subscriptions_failed": 1}  # fmt: skip
    doc = health_document(view(cycle=CycleCounters(alerts=counts, alert_rules=250)))
    assert doc["alerts"] == {"rules": 250, **counts} and doc["status"] == "ok"


def test_old_ticks_degrade_only_in_market_hours() -> None:
    stale = IngestCounters(ticks=100, last_tick_at=NOW - 6.0)
    doc = health_document(view(ingest=stale))
    assert doc["status"] == "degraded"
    assert doc["problems"] == ["no tick for 6 s in market hours"]
    assert health_document(view(ingest=stale, market_open=False))["status"] == "ok"
    never = health_document(view(ingest=IngestCounters()))
    assert never["problems"] == ["no tick for ever in market hours"]


def test_token_shards_and_stores_are_named() -> None:
    down = ShardStatus(1, ShardState.RECONNECTING, tokens=5, stalls=2)
    doc = health_document(view(token="expired", redis_ok=False,
                               shards=[view().shards[0], down]))  # fmt: skip
    assert doc["problems"] == [
        "Kite access token expired: log in again",
        "Kite connection(s) [1] not connected",
        "Redis unavailable",
    ]
    assert not doc["connected"] and doc["shards"][1]["stalls"] == 2


def test_a_feed_waiting_for_its_first_token_says_so_and_nothing_else() -> None:
    waiting = view(phase="starting", token="waiting", shards=[], market_open=False)
    doc = health_document(waiting)
    assert doc["status"] == "degraded" and doc["token"] == "waiting"
    assert doc["problems"] == ["no Kite access token yet: log in to Kite"]
    # Once a token is in use, a feed still starting is loading instruments.
    assert health_document(replace(waiting, token="ok"))["problems"] == [
        "starting: loading instruments from Kite"
    ]


def test_the_archive_error_is_sanitized_and_cleared_on_recovery() -> None:
    raw = 'OperationalError: connection to server at "db.internal", port 5432 failed'
    lag = SpoolLag(3, 300, 2.0)
    down = health_document(view(archiver=ArchiverStatus("retrying", lag, 0, 0, raw)))
    assert down["archive"]["error"] == "OperationalError: connection to server at <host> failed"
    # The archiver keeps its last error; once it is ok again the document shows none.
    back = health_document(view(archiver=ArchiverStatus("ok", SpoolLag(0, 0, 0.0), 3, 0, raw)))
    assert back["archive"]["error"] is None
    reconnected = ShardStatus(0, ShardState.CONNECTED, tokens=10, last_message_at=NOW - 0.5,
                              last_error="ws://10.0.0.9/ws: refused")  # fmt: skip
    assert health_document(view(shards=[reconnected]))["shards"][0]["error"] is None
