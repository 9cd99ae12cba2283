"""The Kite login routes against the Kite-compatible simulator (real kiteconnect client): only
an admin starts it, the callback stores the token only with the state bound to this browser's
login, and every refusal leaves the stored token as it was."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import jwt
import moto
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from pydantic import SecretStr
from test_handlers import FakeContext

from lambdas import http_api
from strikeboard import auth
from strikeboard.api.app import create_app
from strikeboard.api.auth_routes import STATE_COOKIE
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.sim.server import Running, ServerOptions, run_simulator
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore

DEV = {"Authorization": "Bearer t"}
CALLBACK = "http://testserver/api/auth/kite/callback"
OLD = "yesterdays-token"
ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_test"
JWKS = Path(moto.__file__).parent / "cognitoidp" / "resources"
EVENTS = Path(__file__).resolve().parents[3] / "events" / "http"


@pytest.fixture(scope="module")
def sim() -> Iterator[Running]:
    # The registered redirect URL is the API's callback, as on Kite's developer console.
    with run_simulator(options=ServerOptions(redirect_url=CALLBACK)) as running:
        yield running


def _settings(sim: Running, redis_url: str, prefix: str, **extra: Any) -> Settings:
    base: dict[str, Any] = dict(
        redis_url=redis_url, redis_key_prefix=prefix, kite_api_key="sim_api_key",
        kite_api_secret=SecretStr("sim_api_secret"), kite_api_url=sim.root,
        kite_secret_name="", api_spa_url="/", dev_token=SecretStr("t"), cognito_issuer="",
    )  # fmt: skip
    return Settings(**(base | extra))


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, Stores(settings)), follow_redirects=False)


@pytest.fixture
def hot(redis_url: str, redis_prefix: str) -> Iterator[HotStore]:
    store = HotStore.from_url(redis_url, redis_prefix)
    store.write_access_token(OLD)  # what the feed runs on until a good login replaces it
    yield store
    store.close()


@pytest.fixture
def client(sim: Running, redis_url: str, redis_prefix: str, hot: HotStore) -> TestClient:
    return _client(_settings(sim, redis_url, redis_prefix))


def _start(client: TestClient) -> tuple[str, dict[str, str]]:
    """POST /api/auth/kite/login, then Kite's (the simulator's) login page: the state from
    the cookie and the callback's query parameters Kite redirects the browser with."""
    started = client.post("/api/auth/kite/login", headers=DEV)
    assert started.status_code == 200, started.text
    url = httpx.URL(started.json()["url"])
    assert url.path == "/connect/login" and url.params["v"] == "3"
    assert url.params["api_key"] == "sim_api_key"
    state = client.cookies[STATE_COOKIE]
    assert url.params["redirect_params"] == f"state={state}"
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/api/auth/kite" in cookie
    assert "Secure" not in cookie  # plain http here; https (CloudFront) sets it
    login = httpx.get(str(url))
    assert login.status_code == 302
    back = httpx.URL(login.headers["location"])
    assert str(back.copy_with(query=None)) == CALLBACK
    return state, dict(back.params)


def _callback(client: TestClient, params: dict[str, str], **kw: Any) -> httpx.Response:
    return client.get("/api/auth/kite/callback", params=params, **kw)


def test_login_stores_a_working_access_token(
    client: TestClient, sim: Running, hot: HotStore
) -> None:
    state, params = _start(client)
    assert params["state"] == state and params["status"] == "success"
    done = _callback(client, params)
    assert done.status_code == 302 and done.headers["location"] == "/?kite=ok"
    assert STATE_COOKIE not in client.cookies  # cleared
    access = hot.read_access_token()
    assert access and access != OLD and access in sim.server.valid_tokens
    # The same callback again (a replayed URL, the cookie put back): the state is spent.
    client.cookies.set(STATE_COOKIE, state, path="/api/auth/kite")
    again = _callback(client, params)
    assert again.status_code == 403 and "already used" in again.json()["detail"]
    assert access not in again.text and hot.read_access_token() == access


def test_callback_without_the_right_state_changes_nothing(
    client: TestClient, hot: HotStore
) -> None:
    state, params = _start(client)
    missing = {k: v for k, v in params.items() if k != "state"}
    refused = _callback(client, missing)
    assert refused.status_code == 400 and "no state" in refused.json()["detail"]
    wrong = _callback(client, params | {"state": state[::-1]})
    assert wrong.status_code == 403 and "does not match" in wrong.json()["detail"]
    # A browser sent here by an attacker's login: its cookie (if any) is not this state.
    other = _client(client.app.state.settings)
    assert _callback(other, params).status_code == 403
    other.cookies.set(STATE_COOKIE, "x" * 43, path="/api/auth/kite")
    assert _callback(other, params).status_code == 403
    # A cookie and a state that agree but were never issued (forged, or expired in Redis).
    forged = "F" * 43
    client.cookies.set(STATE_COOKIE, forged, path="/api/auth/kite")
    expired = _callback(client, params | {"state": forged})
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    assert hot.read_access_token() == OLD
    # Those refusals left this browser's own pending login alone: it still completes.
    client.cookies.set(STATE_COOKIE, state, path="/api/auth/kite")
    assert _callback(client, params).status_code == 302
    hot.write_access_token(OLD)
    # The browser gets a page, not JSON.
    page = _callback(client, missing, headers={"accept": "text/html,*/*"})
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "Kite login refused" in page.text and "no state" in page.text
    assert hot.read_access_token() == OLD


def test_a_cancelled_login_spends_the_state_and_stores_nothing(
    client: TestClient, hot: HotStore
) -> None:
    state, params = _start(client)
    cancelled = _callback(client, params | {"status": "cancelled"})
    assert cancelled.status_code == 400 and "did not succeed" in cancelled.json()["detail"]
    assert hot.read_access_token() == OLD
    assert AuthState.of(hot).redeem_kite_state(state) is None


def test_the_state_expires_with_its_ttl(client: TestClient, hot: HotStore) -> None:
    state, params = _start(client)
    key = hot.keys.kite_state(state)
    assert 0 < hot.client.ttl(key) <= 600
    hot.client.pexpire(key, 1)  # as Redis does ten minutes on
    while hot.client.exists(key):
        time.sleep(0.001)
    assert _callback(client, params).status_code == 403
    assert hot.read_access_token() == OLD


def _cognito_token(**claims: Any) -> str:
    private = json.loads(gzip.decompress((JWKS / "jwks-private.json.gz").read_bytes()))
    key = jwt.PyJWK(private).key if "kty" in private else jwt.PyJWK(private["keys"][0]).key
    kid = private.get("kid") or private["keys"][0]["kid"]
    now = time.time()
    body = {"sub": "u-9", "iss": ISSUER, "client_id": "app", "token_use": "access",
            "iat": now, "exp": now + 300, "username": "member"} | claims  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def test_only_the_admin_group_starts_a_login(
    sim: Running, redis_url: str, redis_prefix: str, hot: HotStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    public = json.loads(gzip.decompress((JWKS / "jwks-public.json.gz").read_bytes()))
    monkeypatch.setattr(auth, "_jwks", lambda _url: public)
    cloud = _client(_settings(sim, redis_url, redis_prefix, cognito_issuer=ISSUER,
                              cognito_client_id="app", dev_token=SecretStr("")))  # fmt: skip
    for token in (_cognito_token(), _cognito_token(**{"cognito:groups": ["readers"]})):
        refused = cloud.post("/api/auth/kite/login", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        assert STATE_COOKIE not in cloud.cookies
    assert cloud.post("/api/auth/kite/login", headers=DEV).status_code == 401  # no dev token
    admin = _cognito_token(**{"cognito:groups": ["readers", "admin"]})
    started = cloud.post("/api/auth/kite/login", headers={"Authorization": f"Bearer {admin}"})
    assert started.status_code == 200 and cloud.cookies[STATE_COOKIE]
    assert AuthState.of(hot).redeem_kite_state(cloud.cookies[STATE_COOKIE]) == "u-9"
    assert hot.read_access_token() == OLD


def test_login_stores_the_token_in_secrets_manager_in_the_cloud(
    sim: Running, redis_url: str, redis_prefix: str, hot: HotStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager")
        sm.create_secret(Name="strikeboard/kite", SecretString="{}")
        settings = _settings(sim, redis_url, redis_prefix, kite_secret_name="strikeboard/kite")
        client = _client(settings)
        state, params = _start(client)
        _callback(client, params | {"state": "nope"})
        assert json.loads(sm.get_secret_value(SecretId="strikeboard/kite")["SecretString"]) == {}
        assert _callback(client, params).status_code == 302
        stored = json.loads(sm.get_secret_value(SecretId="strikeboard/kite")["SecretString"])
    assert set(stored) == {"access_token"}  # the API key is config, not in the secret
    assert stored["access_token"] in sim.server.valid_tokens
    assert state
    # Then the notice that makes the feed re-read the secret at once; Redis keeps no new token.
    assert hot.read_token_notice() == "1" and hot.read_access_token() == OLD


def test_through_the_lambda_handler_the_cookie_is_secure_and_comes_back(
    sim: Running, redis_url: str, redis_prefix: str, hot: HotStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """API Gateway (payload v2) puts cookies in their own field both ways; over https (as
    behind CloudFront) the state cookie is Secure."""
    settings = _settings(sim, redis_url, redis_prefix)
    monkeypatch.setattr(http_api, "_mangum", http_api.mangum_for(create_app(settings)))
    event = json.loads((EVENTS / "auth_kite_login.json").read_text())
    started = http_api.handler(event, FakeContext())
    assert started["statusCode"] == 200
    [cookie] = started["cookies"]
    assert cookie.startswith(f"{STATE_COOKIE}=") and "Secure" in cookie and "HttpOnly" in cookie
    state = cookie.split(";")[0].split("=", 1)[1]
    assert f"state%3D{state}" in json.loads(started["body"])["url"]
    assert AuthState.of(hot).redeem_kite_state(state) == event["requestContext"]["authorizer"][
        "jwt"]["claims"]["sub"]  # fmt: skip
    # A callback with that (now spent) state through the handler: refused, token unchanged.
    callback = json.loads((EVENTS / "auth_kite_callback_no_state.json").read_text())
    callback["cookies"] = [f"{STATE_COOKIE}={state}"]
    callback["queryStringParameters"]["state"] = state
    callback["rawQueryString"] += f"&state={state}"
    refused = http_api.handler(callback, FakeContext())
    assert refused["statusCode"] == 403 and hot.read_access_token() == OLD
