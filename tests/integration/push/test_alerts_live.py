"""An alert end to end in a simulated session: a rule made through the API, the simulator's
spot crossing its level, the feed's evaluator recording it once, the pusher posting it to the
owner's WebSocket connection and to nobody else's, and GET /api/alerts/events listing it for a
page opened afterwards.

simulator -> feed (publisher process + alert evaluator) -> PostgreSQL + Redis -> pusher ->
local gateway -> WebSocket clients of two users."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from test_gateway_live import Client, Live, eventually, live  # noqa: F401 (the fixture)

from feed_container.factory import build_feed
from strikeboard.api.app import create_app
from strikeboard.auth import Principal
from strikeboard.config import Settings
from strikeboard.feed.alerts import AlertsConfig
from strikeboard.feed.feed import Feed, FeedConfig
from strikeboard.market.calendar import CALENDAR, market_open
from strikeboard.market.universe import UniverseConfig
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import Running, ServerOptions, run_simulator

DAY = dt.date(2026, 11, 25)
SPEED = 20.0
ARMING_S = 300
"""Market seconds the rule has to be loaded and see spot before the level may be crossed
(15 s of wall time at SPEED; the evaluator reloads rules every 0.5 s here)."""
WINDOW_S = 1500
TOKEN = "alerts-dev-token"


def plan_level(sim: Running) -> tuple[str, float]:
    """An op and a level that spot stays short of for ARMING_S market seconds from now and
    then crosses within WINDOW_S (the simulator's path is known in advance)."""
    now = int(sim.call(lambda: sim.server.sim.sec))
    spot = sim.server.sim.path.spot
    early, late = spot[now : now + ARMING_S], spot[now + ARMING_S : now + WINDOW_S]
    up = float(np.max(late) - np.max(early))
    down = float(np.min(early) - np.min(late))
    assert max(up, down) > 2.0, "the simulated spot should move a few points in 20 minutes"
    if up >= down:
        return "crosses_above", round(float(np.max(early)) + up / 2, 2)
    return "crosses_below", round(float(np.min(early)) - down / 2, 2)


def start_feed(sim: Running, database_url: str, redis_url: str, prefix: str, tmp: Path) -> Feed:
    config = FeedConfig(
        api_key="sim_api_key", access_token="sim_access_token", api_url=sim.root,
        ticker_url=sim.ws_root, redis_url=redis_url, database_url=database_url,
        spool_dir=tmp / "spool", redis_prefix=prefix, spool_fsync=False,
        universe=UniverseConfig(weekly_expiries=1, include_monthly=False, strikes_each_side=3),
        alerts=AlertsConfig(database_url, redis_url, prefix, refresh_s=0.5),
    )  # fmt: skip
    feed = build_feed(config, now=sim.server.market_now, market_open=market_open,
                      is_trading_day=CALENDAR.is_trading_day)  # fmt: skip
    feed.start()
    return feed


def alerts_of(client: Client) -> list[dict[str, Any]]:
    return [m for m in client.received if m["type"] == "alert"]


@pytest.mark.slow
@pytest.mark.asyncio
async def test_spot_crossing_a_level_fires_once_to_its_owner_only(
    live: Live,  # noqa: F811 (the fixture imported above)
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    settings = Settings(redis_url=redis_url, redis_key_prefix=redis_prefix,
                        database_url=database_url, dev_token=SecretStr(TOKEN),
                        cognito_issuer="", kite_api_key="", kite_secret_name="")  # fmt: skip
    auth = {"Authorization": f"Bearer {TOKEN}"}
    options = ServerOptions(speed=SPEED, start=dt.time(10, 0))
    with (run_simulator(config=SimConfig(seed=11, day=DAY), options=options) as sim,
          TestClient(create_app(settings, clock=sim.server.market_now)) as api):  # fmt: skip
        feed = start_feed(sim, database_url, redis_url, redis_prefix, tmp_path)
        try:
            owner = await live.client(Principal("dev", "dev"))  # the dev token's user
            other = await live.client(Principal("bob", "bob"))
            await eventually(lambda: bool(live.hot.expiries("NIFTY")), 60)

            op, level = plan_level(sim)
            created = await asyncio.to_thread(api.post, "/api/alerts", headers=auth,
                                              json={"kind": "spot", "op": op, "level": level,
                                                    "hysteresis": 1_000})  # fmt: skip
            assert created.status_code == 201, created.text
            rule = created.json()

            def stored() -> tuple[Any, ...]:
                with psycopg.connect(database_url) as conn:
                    row = conn.execute("SELECT armed, crossings FROM alert_rules WHERE id = %s",
                                       (rule["id"],)).fetchone()  # fmt: skip
                    count = conn.execute("SELECT count(*) FROM alert_events").fetchone()
                assert row is not None and count is not None
                return (*row, count[0])

            # Picked up without a restart, and armed (spot on the near side) before it crosses.
            await eventually(lambda: stored()[0] is True, ARMING_S / SPEED)
            await eventually(lambda: stored()[1] == 1, WINDOW_S / SPEED + 30)
            await eventually(lambda: bool(alerts_of(owner)), 10)
            # The rest of the window: spot stays across (the hysteresis keeps it disarmed).
            end = sim.server.market_now() + dt.timedelta(seconds=WINDOW_S - ARMING_S)
            await eventually(lambda: sim.server.market_now() > end, WINDOW_S / SPEED + 30)
            await asyncio.sleep(1.0)
            # The feed's health counts it (docs/alerts.md "Health"; the publisher process sends
            # its counters with each cycle's result).
            await eventually(lambda: feed.health()["alerts"]["pushed"] == 1, 10)
            counts = feed.health()["alerts"]
            assert counts["rules"] == 1 and counts["fired"] == 1 and counts["evaluated"] > 0
            assert counts["failed"] == 0 and counts["dropped"] == 0 and counts["emailed"] == 0
        finally:
            await asyncio.to_thread(feed.stop)

        assert stored() == (False, 1, 1)
        (alert,) = alerts_of(owner)
        assert alert["data"]["rule_id"] == rule["id"] and alert["data"]["crossing"] == 1
        assert alert["data"]["text"].startswith(f"NIFTY spot crossed {op.split('_')[1]}")
        assert alerts_of(other) == []
        assert other.received, "the other user's connection was live (it got market data)"
        # A page opened afterwards lists it.
        page = api.get("/api/alerts/events", headers=auth).json()
        assert [e["id"] for e in page["events"]] == [alert["data"]["id"]]
        assert page["events"][0]["pushed_at"] is not None
