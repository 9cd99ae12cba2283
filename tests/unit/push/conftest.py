"""Fixtures of the push tests: moto's Management API (the pusher's; see push_helpers), the
WebSocket handlers' deps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from push_helpers import ENDPOINT, MotoApi
from pydantic import SecretStr

from lambdas import ws
from strikeboard.config import Settings
from strikeboard.push.poster import ManagementApiPoster
from strikeboard.push.registry import Registry
from strikeboard.store.hot import HotStore


@pytest.fixture
def moto_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoApi]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield MotoApi(ENDPOINT, ManagementApiPoster.from_endpoint(ENDPOINT, concurrency=8))


@pytest.fixture
def deps(redis_url: str, redis_prefix: str) -> Iterator[ws.Deps]:
    settings = Settings(dev_token=SecretStr("sample-dev-token"), redis_url=redis_url,
                        redis_key_prefix=redis_prefix, cognito_issuer="")  # fmt: skip
    d = ws.Deps(
        settings=settings,
        registry=Registry.from_url(redis_url, redis_prefix, ttl_s=60),
        hot=HotStore.from_url(redis_url, redis_prefix),
    )
    yield d
    d.registry.close()
    d.hot.close()
