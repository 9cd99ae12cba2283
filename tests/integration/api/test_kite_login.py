"""The Kite login routes against the Kite-compatible simulator (real kiteconnect client): only
an admin starts it, the callback stores the token only with the signed state bound to this
browser's login, and every refusal leaves the stored token as it was. The same routes run on
the main API (Redis: the local token, the cloud notice) and on the Kite login Lambda's app
(no Redis or PostgreSQL at all)."""

from __future__ import annotations

import gzip
import importlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import httpx
import jwt
import moto
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from pydantic import SecretStr
from test_handlers import FakeContext

import lambdas.kite_login
from lambdas import http_api
from strikeboard import auth
from strikeboard.api.app import create_app
from strikeboard.api.kite_state import STATE_TTL_S, StateSigner, state_key
from strikeboard.api.routes.kite_login import (
    EXPIRED,
    INVALID,
    OTHER_BROWSER,
    STATE_COOKIE,
    create_kite_login_app,
)
from strikeboard.api.stores import Stores
from strikeboard.config import Settings, get_settings
from strikeboard.sim.server import Running, ServerOptions, run_simulator
from strikeboard.store.hot import HotStore

DEV = {"Authorization": "Bearer t"}
CALLBACK = "http://testserver/api/auth/kite/callback"
OLD = "yesterdays-token"
SECRET = "strikeboard/kite"
ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_test"
JWKS = Path(moto.__file__).parent / "cognitoidp" / "resources"
EVENTS = Path(__file__).resolve().parents[3] / "events" / "http"
SIGNER = StateSigner(state_key("sim_api_secret"))


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


def _kite_client(settings: Settings, clock: Callable[[], float] = time.time) -> TestClient:
    return TestClient(create_kite_login_app(settings, clock), follow_redirects=False)


@pytest.fixture
def hot(redis_url: str, redis_prefix: str) -> Iterator[HotStore]:
    store = HotStore.from_url(redis_url, redis_prefix)
    store.write_access_token(OLD)  # what the feed runs on until a good login replaces it
    yield store
    store.close()


@pytest.fixture
def client(sim: Running, redis_url: str, redis_prefix: str, hot: HotStore) -> TestClient:
    return _client(_settings(sim, redis_url, redis_prefix))


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Secrets Manager (moto) with the Kite secret as a first deploy leaves it."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        sm = boto3.client("secretsmanager")
        sm.create_secret(Name=SECRET, SecretString="{}")
        yield sm


def _stored(sm: Any) -> dict[str, Any]:
    stored: dict[str, Any] = json.loads(sm.get_secret_value(SecretId=SECRET)["SecretString"])
    return stored


def _start(client: TestClient, headers: dict[str, str] = DEV) -> tuple[str, dict[str, str]]:
    """POST /api/auth/kite/login, then Kite's (the simulator's) login page: the state from
    the cookie and the callback's query parameters Kite redirects the browser with."""
    started = client.post("/api/auth/kite/login", headers=headers)
    assert started.status_code == 200, started.text
    url = httpx.URL(started.json()["url"])
    assert url.path == "/connect/login" and url.params["v"] == "3"
    assert url.params["api_key"] == "sim_api_key"
    state = client.cookies[STATE_COOKIE]
    assert url.params["redirect_params"] == f"state={state}"
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/api/auth/kite" in cookie
    assert f"Max-Age={STATE_TTL_S}" in cookie
    assert "Secure" not in cookie  # plain http here; https (CloudFront) sets it
    login = httpx.get(str(url))
    assert login.status_code == 302
    back = httpx.URL(login.headers["location"])
    assert str(back.copy_with(query=None)) == CALLBACK
    return state, dict(back.params)


def _callback(client: TestClient, params: dict[str, str], **kw: Any) -> httpx.Response:
    return client.get("/api/auth/kite/callback", params=params, **kw)


def _put_back(client: TestClient, state: str) -> None:
    client.cookies.set(STATE_COOKIE, state, path="/api/auth/kite")


def _clears_cookie(response: httpx.Response) -> bool:
    cookie = response.headers.get("set-cookie", "")
    return cookie.startswith(f"{STATE_COOKIE}=") and "Max-Age=0" in cookie


def test_login_stores_a_working_access_token(
    client: TestClient, sim: Running, hot: HotStore
) -> None:
    state, params = _start(client)
    assert params["state"] == state and params["status"] == "success"
    assert SIGNER.verify(state) == "dev"  # signed, naming the admin who started it
    done = _callback(client, params)
    assert done.status_code == 302 and done.headers["location"] == "/?kite=ok"
    assert STATE_COOKIE not in client.cookies  # cleared: the state is spent in this browser
    access = hot.read_access_token()
    assert access and access != OLD and access in sim.server.valid_tokens
    # The same callback again: without the cookie it is another browser's.
    again = _callback(client, params)
    assert again.status_code == 403 and again.json()["detail"] == OTHER_BROWSER
    # With the cookie put back (the state is still signed and unexpired), Kite refuses the
    # request_token, which it takes once.
    _put_back(client, state)
    replay = _callback(client, params)
    assert replay.status_code == 400 and "Kite refused" in replay.json()["detail"]
    assert access not in replay.text and hot.read_access_token() == access
    # No login state was kept in Redis.
    assert not list(hot.client.scan_iter(match=f"{hot.keys.prefix}kite:state:*"))


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
    # A cookie and a state that agree but that this deployment never signed.
    for forged in ("F" * 43, StateSigner(state_key("another_secret")).issue("dev")):
        _put_back(client, forged)
        bad = _callback(client, params | {"state": forged})
        assert bad.status_code == 403 and bad.json()["detail"] == INVALID
        assert _clears_cookie(bad)  # that cookie is spent
    assert hot.read_access_token() == OLD
    # Those refusals left this browser's own pending login alone: it still completes.
    _put_back(client, state)
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
    _state, params = _start(client)
    cancelled = _callback(client, params | {"status": "cancelled"})
    assert cancelled.status_code == 400 and "did not succeed" in cancelled.json()["detail"]
    assert STATE_COOKIE not in client.cookies
    assert _callback(client, params).status_code == 403  # spent in this browser
    assert hot.read_access_token() == OLD


def test_login_needs_the_api_secret_and_a_place_for_the_token(
    sim: Running, redis_url: str, redis_prefix: str, hot: HotStore
) -> None:
    no_secret = _settings(sim, redis_url, redis_prefix, kite_api_secret=SecretStr(""))
    for client in (_client(no_secret), _kite_client(no_secret)):
        refused = client.post("/api/auth/kite/login", headers=DEV)
        assert refused.status_code == 503 and "KITE_API_SECRET" in refused.json()["detail"]
    # Without Redis the Kite login app can only store into the cloud secret.
    kite_only = _kite_client(_settings(sim, redis_url, redis_prefix))
    refused = kite_only.post("/api/auth/kite/login", headers=DEV)
    assert refused.status_code == 503 and "KITE_SECRET_NAME" in refused.json()["detail"]
    assert STATE_COOKIE not in kite_only.cookies
    assert hot.read_access_token() == OLD


def _cognito_token(**claims: Any) -> str:
    private = json.loads(gzip.decompress((JWKS / "jwks-private.json.gz").read_bytes()))
    key = jwt.PyJWK(private).key if "kty" in private else jwt.PyJWK(private["keys"][0]).key
    kid = private.get("kid") or private["keys"][0]["kid"]
    now = time.time()
    body = {"sub": "u-9", "iss": ISSUER, "client_id": "app", "token_use": "access",
            "iat": now, "exp": now + 300, "username": "member"} | claims  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cognito tokens signed with moto's key verify (its JWKS stands in for the pool's)."""
    public = json.loads(gzip.decompress((JWKS / "jwks-public.json.gz").read_bytes()))
    monkeypatch.setattr(auth, "_jwks", lambda _url: public)


def _bearer(**claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {_cognito_token(**claims)}"}


@pytest.mark.usefixtures("cognito")
def test_only_the_admin_group_starts_a_login(
    sim: Running, redis_url: str, redis_prefix: str, hot: HotStore
) -> None:
    settings = _settings(sim, redis_url, redis_prefix, cognito_issuer=ISSUER,
                         cognito_client_id="app", dev_token=SecretStr(""))  # fmt: skip
    cloud = _client(settings)
    for headers in (_bearer(), _bearer(**{"cognito:groups": ["readers"]})):
        refused = cloud.post("/api/auth/kite/login", headers=headers)
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        assert STATE_COOKIE not in cloud.cookies
    assert cloud.post("/api/auth/kite/login", headers=DEV).status_code == 401  # no dev token
    admin = _bearer(**{"cognito:groups": ["readers", "admin"]})
    started = cloud.post("/api/auth/kite/login", headers=admin)
    assert started.status_code == 200 and SIGNER.verify(cloud.cookies[STATE_COOKIE]) == "u-9"
    assert hot.read_access_token() == OLD


@pytest.mark.parametrize("app", ["main", "kite"])
def test_login_stores_the_token_in_secrets_manager_in_the_cloud(
    app: str, sim: Running, redis_url: str, redis_prefix: str, hot: HotStore, secrets: Any
) -> None:
    """The main API (with Redis) and the Kite login app (without) store the same way; only
    the app with Redis leaves the feed a notice."""
    settings = _settings(sim, redis_url, redis_prefix, kite_secret_name=SECRET)
    client = _client(settings) if app == "main" else _kite_client(settings)
    _state, params = _start(client)
    assert _callback(client, params | {"state": "nope"}).status_code == 403
    assert _stored(secrets) == {}
    assert _callback(client, params).status_code == 302
    stored = _stored(secrets)
    assert set(stored) == {"access_token"}  # the API key is config, not in the secret
    assert stored["access_token"] in sim.server.valid_tokens
    # Redis keeps no new token; the notice is there only when the app has Redis.
    assert hot.read_access_token() == OLD
    assert hot.read_token_notice() == ("1" if app == "main" else None)


def test_the_state_expires_by_the_injected_clock(
    sim: Running, redis_url: str, redis_prefix: str, hot: HotStore, secrets: Any
) -> None:
    now = [1_795_582_032.0]
    client = _kite_client(_settings(sim, redis_url, redis_prefix, kite_secret_name=SECRET),
                          lambda: now[0])  # fmt: skip
    _state, params = _start(client)
    now[0] += STATE_TTL_S
    expired = _callback(client, params)
    assert expired.status_code == 403 and expired.json()["detail"] == EXPIRED
    assert STATE_COOKIE not in client.cookies and _stored(secrets) == {}
    # A login finished a moment before its ten minutes are up is stored.
    _state, params = _start(client)
    now[0] += STATE_TTL_S - 1
    assert _callback(client, params).status_code == 302
    assert _stored(secrets)["access_token"] in sim.server.valid_tokens
    assert hot.read_access_token() == OLD and hot.read_token_notice() is None


@pytest.mark.usefixtures("cognito")
def test_another_admins_login_state_works_only_in_their_browser(
    sim: Running, redis_url: str, redis_prefix: str, secrets: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    settings = _settings(sim, redis_url, redis_prefix, kite_secret_name=SECRET,
                         cognito_issuer=ISSUER, cognito_client_id="app",
                         dev_token=SecretStr(""))  # fmt: skip
    app = create_kite_login_app(settings)
    alice = TestClient(app, follow_redirects=False)
    bob = TestClient(app, follow_redirects=False)
    state_a, params_a = _start(alice, _bearer(sub="u-alice", **{"cognito:groups": ["admin"]}))
    state_b, params_b = _start(bob, _bearer(sub="u-bob", **{"cognito:groups": ["admin"]}))
    assert SIGNER.verify(state_a) == "u-alice" and SIGNER.verify(state_b) == "u-bob"
    # Alice's callback URL opened in Bob's browser: not his login; his stays pending.
    crossed = _callback(bob, params_a)
    assert crossed.status_code == 403 and crossed.json()["detail"] == OTHER_BROWSER
    assert bob.cookies[STATE_COOKIE] == state_b
    # Bob rewriting his own state to name Alice breaks its signature.
    version, nonce, expires, _subject, mac = state_b.split(".")
    renamed = ".".join([version, nonce, expires, state_a.split(".")[3], mac])
    _put_back(bob, renamed)
    assert _callback(bob, params_b | {"state": renamed}).json()["detail"] == INVALID
    assert _stored(secrets) == {}
    # Each completes their own; the log names who started the login that was stored.
    _put_back(bob, state_b)
    with caplog.at_level(logging.INFO, logger="strikeboard.api.routes.kite_login"):
        assert _callback(bob, params_b).status_code == 302
        assert _callback(alice, params_a).status_code == 302
    assert [r.getMessage() for r in caplog.records if "Kite token stored" in r.getMessage()] == [
        "Kite token stored (login started by user u-bob)",
        "Kite token stored (login started by user u-alice)",
    ]


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
    sub = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    assert SIGNER.verify(state) == sub
    # A callback with that state but a request_token Kite never issued: Kite refuses it, the
    # state is spent (its cookie cleared, with the attributes it was set with).
    refused = http_api.handler(_callback_event({"request_token": "Xy12AbCdEf34",
                                                "state": state}, state), FakeContext())  # fmt: skip
    assert refused["statusCode"] == 400 and hot.read_access_token() == OLD
    [cleared] = refused["cookies"]
    assert cleared.startswith(f"{STATE_COOKIE}=") and "Max-Age=0" in cleared
    assert "Secure" in cleared and "Path=/api/auth/kite" in cleared


def _callback_event(params: dict[str, str], cookie: str | None) -> dict[str, Any]:
    """API Gateway's event for the browser's GET of Kite's redirect."""
    event: dict[str, Any] = json.loads((EVENTS / "auth_kite_callback_no_state.json").read_text())
    params = {"action": "login", "status": "success"} | params
    event["rawQueryString"] = urlencode(params)
    event["queryStringParameters"] = params
    event["headers"]["accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    if cookie is not None:
        event["cookies"] = [f"{STATE_COOKIE}={cookie}"]
    return event


class Trap:
    """A listening socket that never accepts: a client reaching for it completes its TCP
    handshake into the backlog, where `contacts` finds (and counts) it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.seen = 0

    def contacts(self) -> int:
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return self.seen
            conn.close()
            self.seen += 1


@pytest.fixture
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.sock.close()


@pytest.fixture
def kite_lambda(
    sim: Running, secrets: Any, trap: Trap, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """`lambdas.kite_login` imported afresh with a deployed function's settings (what the
    CDK gives it: no store) plus REDIS_URL and DATABASE_URL pointing at the trap, so that any
    contact with a store would be counted."""
    env = {"KITE_API_KEY": "sim_api_key", "KITE_API_SECRET": "sim_api_secret",
           "KITE_API_URL": sim.root, "KITE_SECRET_NAME": SECRET, "COGNITO_ISSUER": ISSUER,
           "COGNITO_CLIENT_ID": "app", "DEV_TOKEN": "", "API_SPA_URL": "/",
           "REDIS_URL": f"redis://127.0.0.1:{trap.port}/0",
           "DATABASE_URL": f"postgresql://sb@127.0.0.1:{trap.port}/sb"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield importlib.reload(lambdas.kite_login)
    get_settings.cache_clear()


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def test_the_kite_login_lambda_serves_both_routes_without_any_store(
    kite_lambda: Any, sim: Running, secrets: Any, trap: Trap
) -> None:
    """API Gateway HTTP API v2 events through `lambdas.kite_login.handler`: the admin's login
    (claims from the JWT authorizer), Kite's redirect, the token in Secrets Manager; no
    Redis or PostgreSQL contacted."""
    started = kite_lambda.handler(_event("auth_kite_login"), FakeContext())
    assert started["statusCode"] == 200, started
    [cookie] = started["cookies"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    state = cookie.split(";")[0].split("=", 1)[1]
    login = httpx.get(json.loads(started["body"])["url"])
    assert login.status_code == 302
    params = dict(httpx.URL(login.headers["location"]).params)
    assert params["state"] == state
    done = kite_lambda.handler(_callback_event(params, state), FakeContext())
    assert done["statusCode"] == 302 and done["headers"]["location"] == "/?kite=ok"
    [cleared] = done["cookies"]
    assert cleared.startswith(f"{STATE_COOKIE}=") and "Max-Age=0" in cleared
    assert _stored(secrets)["access_token"] in sim.server.valid_tokens
    # The replayed redirect: without the cookie refused; with it, Kite refuses the spent
    # request_token. Pages, as a browser asked for.
    for cookie_back, status, text in ((None, 403, "not started in this browser"),
                                      (state, 400, "Kite refused")):  # fmt: skip
        again = kite_lambda.handler(_callback_event(params, cookie_back), FakeContext())
        assert again["statusCode"] == status and text in again["body"]
        assert again["headers"]["content-type"].startswith("text/html")
    # Not an admin: 403; anything but the two routes: not here (the main API serves it).
    assert kite_lambda.handler(_event("auth_kite_login_not_admin"), FakeContext())[
        "statusCode"] == 403  # fmt: skip
    assert kite_lambda.handler(_event("chain"), FakeContext())["statusCode"] == 404
    assert kite_lambda.handler(_event("health"), FakeContext())["statusCode"] == 401
    assert trap.contacts() == 0
