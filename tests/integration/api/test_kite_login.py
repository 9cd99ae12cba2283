"""The Kite login routes against the Kite-compatible simulator (real kiteconnect client):
redirect, request_token exchange, and the token stored where the feed reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from pydantic import SecretStr

from strikeboard.api.app import create_app
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.sim.server import Running, run_simulator
from strikeboard.store.hot import HotStore


@pytest.fixture(scope="module")
def sim() -> Iterator[Running]:
    with run_simulator() as running:
        yield running


def _client(sim: Running, redis_url: str, prefix: str, secret_name: str = "") -> TestClient:
    settings = Settings(redis_url=redis_url, redis_key_prefix=prefix, kite_api_key="sim_api_key",
                        kite_api_secret=SecretStr("sim_api_secret"), kite_api_url=sim.root,
                        kite_secret_name=secret_name, api_spa_url="http://spa.test/",
                        dev_token=SecretStr("t"), cognito_issuer="")  # fmt: skip
    return TestClient(create_app(settings, Stores(settings)), follow_redirects=False)


def _request_token(client: TestClient) -> str:
    login = client.get("/api/auth/kite/login")
    assert login.status_code == 302
    location = login.headers["location"]
    assert "/connect/login?api_key=sim_api_key&v=3" in location
    body = httpx.get(location).json()  # the simulator answers with the token (no redirect)
    return str(body["data"]["request_token"])


def test_login_stores_a_working_access_token_in_redis(
    sim: Running, redis_url: str, redis_prefix: str
) -> None:
    client = _client(sim, redis_url, redis_prefix)
    token = _request_token(client)
    response = client.get("/api/auth/kite/callback", params={"request_token": token,
                                                            "status": "success"})  # fmt: skip
    assert response.status_code == 302
    assert response.headers["location"] == "http://spa.test/?kite=ok"
    hot = HotStore.from_url(redis_url, redis_prefix)
    access = hot.read_access_token()
    hot.close()
    assert access and access in sim.server.valid_tokens
    # A request token works once; replaying it is refused with a readable 400.
    again = client.get("/api/auth/kite/callback", params={"request_token": token})
    assert again.status_code == 400 and "refused" in again.json()["detail"]
    assert access not in again.text


def test_login_stores_the_token_in_secrets_manager_in_the_cloud(
    sim: Running, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager")
        sm.create_secret(Name="strikeboard/kite", SecretString="{}")
        client = _client(sim, redis_url, redis_prefix, secret_name="strikeboard/kite")
        token = _request_token(client)
        response = client.get("/api/auth/kite/callback", params={"request_token": token})
        assert response.status_code == 302
        stored = json.loads(sm.get_secret_value(SecretId="strikeboard/kite")["SecretString"])
    assert set(stored) == {"access_token"}  # the API key is config, not in the secret
    assert stored["access_token"] in sim.server.valid_tokens
    # Then the notice that makes the feed re-read the secret at once; Redis keeps no token.
    hot = HotStore.from_url(redis_url, redis_prefix)
    assert hot.read_token_notice() == "1" and hot.read_access_token() is None
    hot.close()
