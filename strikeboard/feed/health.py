"""The feed's health document (written to Redis each second, read by /api/health) and its
status. Pure: no I/O and no clock (the caller passes `now`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from strikeboard.feed.cycle import CycleCounters
from strikeboard.feed.ingest import IngestCounters
from strikeboard.feed.kite_session import SessionCounters
from strikeboard.kite.ticker import ShardState, ShardStatus
from strikeboard.redact import sanitize_error
from strikeboard.store.archiver import ArchiverStatus

TICKS_STALE_AFTER_S = 5.0
"""In market hours the index ticks every second: older than this, the data on screen is stale."""


@dataclass(frozen=True)
class FeedView:
    """Everything the health document is made of, gathered by the feed."""

    now: float
    market_open: bool
    phase: str
    session_state: str
    token: str
    """`ok`, `waiting` (none stored yet) or `expired` (Kite refused it): `KiteSession`."""
    shards: Sequence[ShardStatus]
    ingest: IngestCounters
    cycle: CycleCounters
    session: SessionCounters
    pending_fills: int
    pending_baselines: int
    archiver: ArchiverStatus
    redis_ok: bool
    redis_errors: int
    instruments: int
    tick_rate: float
    trimmed: int = 0
    """Option instruments the configuration names but Kite's connections cannot carry."""
    underlyings: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Per followed underlying: (instruments subscribed, option instruments trimmed)."""


def problems(view: FeedView) -> list[str]:
    """What is wrong, in words; empty when the feed is healthy."""
    out: list[str] = []
    if view.phase == "starting" and view.token == "ok":
        out.append("starting: loading instruments from Kite")
    if view.token == "waiting":
        out.append("no Kite access token yet: log in to Kite")
    if view.token == "expired":
        out.append("Kite access token expired: log in again")
    down = [s.shard for s in view.shards if s.tokens and s.state != ShardState.CONNECTED]
    if down:
        out.append(f"Kite connection(s) {down} not connected")
    last = view.ingest.last_tick_at
    if view.market_open and (not last or view.now - last > TICKS_STALE_AFTER_S):
        age = f"{view.now - last:.0f} s" if last else "ever"
        out.append(f"no tick for {age} in market hours")
    if not view.redis_ok:
        out.append("Redis unavailable")
    if view.archiver.state != "ok" and view.archiver.lag.records:
        out.append(f"archive {view.archiver.state}: {view.archiver.lag.records} records spooled")
    return out


def health_document(view: FeedView) -> dict[str, Any]:
    found = problems(view)
    i, c, s, a = view.ingest, view.cycle, view.session, view.archiver
    return {
        "ts": view.now,
        "status": "degraded" if found else "ok",
        "problems": found,
        "phase": view.phase,
        "session": view.session_state,
        "market_open": view.market_open,
        "token": view.token,
        "shards": [
            {
                "shard": x.shard,
                "state": x.state.value,
                "tokens": x.tokens,
                "subscribed": x.subscribed,
                "connects": x.connects,
                "disconnects": x.disconnects,
                "stalls": x.stalls,
                "gaps": len(x.gaps),
                "silent_s": round(view.now - x.last_message_at, 3) if x.last_message_at else None,
                # A connected shard's old error is history, not health.
                "error": sanitize_error(x.last_error) if x.state != ShardState.CONNECTED else None,
            }
            for x in view.shards
        ],
        "connected": bool(view.shards)
        and all(x.state == ShardState.CONNECTED for x in view.shards if x.tokens),
        "last_tick_age_s": round(view.now - i.last_tick_at, 3) if i.last_tick_at else None,
        "ticks_per_s": round(view.tick_rate, 1),
        "ticks": i.ticks,
        "messages": i.messages,
        "bad_messages": i.bad_messages,
        "rejects": dict(i.rejects),
        "ingest_wait_ms": round(i.ingest_wait_ms, 2),
        "ingest_ms": round(i.ingest_ms, 2),
        "cycle_ms": round(c.last_cycle_ms, 2),
        "cycle_cpu_ms": round(c.last_cycle_cpu_ms, 2),
        "max_cycle_ms": round(c.max_cycle_ms, 2),
        "redis_ok": view.redis_ok,
        "redis_errors": view.redis_errors,
        "archive": {
            "state": a.state,
            "lag_records": a.lag.records,
            "lag_bytes": a.lag.bytes,
            "lag_s": a.lag.seconds,
            "rows": a.archived_rows,
            # Cleared once the archiver is back: a recovered store shows no stale error.
            "error": sanitize_error(a.last_error) if a.state != "ok" else None,
        },
        "instruments": view.instruments,
        "instruments_trimmed": view.trimmed,
        "underlyings": {
            name: {
                "instruments": n,
                "instruments_trimmed": trimmed,
                "cycle_ms": round(c.underlying_ms.get(name, 0.0), 2),
                "cycle_cpu_ms": round(c.underlying_cpu_ms.get(name, 0.0), 2),
            }
            for name, (n, trimmed) in view.underlyings.items()
        },
        # The users' alert rules (docs/alerts.md): counters since the feed started; rules is
        # null without an evaluator (ALERTS_ENABLED=false) or before the first cycle.
        "alerts": {"rules": c.alert_rules, **c.alerts},
        "gap_fills": s.gap_fills,
        "gap_fills_pending": view.pending_fills,
        "gap_fill_failures": s.fill_failures,
        "baselines_loaded": s.baselines_loaded,
        "baselines_pending": view.pending_baselines,
        "kite_rest_errors": s.rest_errors,
        "kite_rest_error": sanitize_error(s.last_error),
    }
