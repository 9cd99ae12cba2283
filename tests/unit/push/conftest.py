"""Fixtures of the push tests: moto's Management API (see push_helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from push_helpers import ENDPOINT, MotoApi

from strikeboard.push.poster import ManagementApiPoster


@pytest.fixture
def moto_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoApi]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield MotoApi(ENDPOINT, ManagementApiPoster.from_endpoint(ENDPOINT, concurrency=8))
