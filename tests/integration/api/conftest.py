"""Fixtures: the API app over this test's own Redis prefix and PostgreSQL database, filled
with real simulated market data (market_data.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from strikeboard.api.app import create_app
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.store.hot import HotStore

sys.path.insert(0, str(Path(__file__).parent))
import market_data

TOKEN = "test-dev-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_POSTGRES = "postgresql://postgres@127.0.0.1:1/none"


class FixedClock:
    """The API's clock in these tests (`create_app`'s ``clock``): the session's market time,
    not the wall clock, until a test moves it."""

    def __init__(self, now: datetime = market_data.NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    client: TestClient
    data: market_data.MarketData
    settings: Settings
    stores: Stores
    clock: FixedClock = field(default_factory=FixedClock)


def make_settings(redis_url: str, prefix: str, database_url: str) -> Settings:
    return Settings(redis_url=redis_url, redis_key_prefix=prefix, database_url=database_url,
                    dev_token=SecretStr(TOKEN), cognito_issuer="", kite_api_key="",
                    kite_secret_name="")  # fmt: skip


@pytest.fixture(scope="session")
def data() -> market_data.MarketData:
    return market_data.build()


def _api(settings: Settings, data: market_data.MarketData) -> Iterator[Api]:
    stores = Stores(settings, timeout=1.0)
    clock = FixedClock()
    app = create_app(settings, stores, clock)
    with TestClient(app) as client:
        yield Api(client, data, settings, stores, clock)
    stores.close()


@pytest.fixture
def filled(
    redis_url: str, redis_prefix: str, database_url: str, data: market_data.MarketData
) -> Settings:
    """Settings of stores holding the data: Redis (latest snapshots) and PostgreSQL."""
    hot = HotStore.from_url(redis_url, redis_prefix)
    market_data.publish(data, hot)
    hot.close()
    market_data.archive(data, database_url)
    return make_settings(redis_url, redis_prefix, database_url)


@pytest.fixture
def api(filled: Settings, data: market_data.MarketData) -> Iterator[Api]:
    yield from _api(filled, data)


@pytest.fixture
def archive_only(redis_url: str, redis_prefix: str, database_url: str,
                 data: market_data.MarketData) -> Iterator[Api]:  # fmt: skip
    """Redis reachable but empty (e.g. after a restart); PostgreSQL holds the session."""
    market_data.archive(data, database_url)
    yield from _api(make_settings(redis_url, redis_prefix, database_url), data)


@pytest.fixture
def redis_down(database_url: str, data: market_data.MarketData) -> Iterator[Api]:
    market_data.archive(data, database_url)
    yield from _api(make_settings(DEAD_REDIS, "x:", database_url), data)


@pytest.fixture
def all_down(data: market_data.MarketData) -> Iterator[Api]:
    yield from _api(make_settings(DEAD_REDIS, "x:", DEAD_POSTGRES), data)
