"""Fixtures of the push tests: moto's Management API (the pusher's; see push_helpers), the
WebSocket handlers' deps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from push_helpers import ENDPOINT, REGION, MotoApi, MotoOrigin
from pydantic import SecretStr

from lambdas import ws
from strikeboard.config import Settings
from strikeboard.push.httpposter import HttpPoster
from strikeboard.push.registry import Registry
from strikeboard.push.sigv4 import Signer, botocore_credentials
from strikeboard.store.hot import HotStore


@pytest.fixture
def moto_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoApi]:
    """moto's Management API and the pusher's poster posting to it (signed with the
    environment's credentials, as in the cloud)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        origin = MotoOrigin(ENDPOINT)
        poster = HttpPoster(origin, Signer(REGION, botocore_credentials(local=False)))
        yield MotoApi(ENDPOINT, poster, origin)


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
