"""Sign-in: the SPA's auth settings, tokens only in the Authorization header (never the URL),
and the one-time `/ws` tickets."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import AUTH, TOKEN, FixedClock, make_settings
from fastapi.testclient import TestClient

from strikeboard.api.app import create_app
from strikeboard.api.stores import Stores
from strikeboard.config import Settings
from strikeboard.store.auth_state import AuthState
from strikeboard.store.hot import HotStore

PUBLIC = {
    ("GET", "/api/health"), ("GET", "/api/auth/config"), ("GET", "/api/auth/kite/callback"),
    ("GET", "/api/openapi.json"), ("GET", "/api/docs"),
}  # fmt: skip


@pytest.fixture
def settings(redis_url: str, redis_prefix: str, database_url: str) -> Settings:
    return make_settings(redis_url, redis_prefix, database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    stores = Stores(settings, timeout=1.0)
    with TestClient(create_app(settings, stores, FixedClock()), follow_redirects=False) as c:
        yield c
    stores.close()


def test_auth_config_dev_and_cognito(client: TestClient, settings: Settings) -> None:
    assert client.get("/api/auth/config").json() == {"mode": "dev"}
    domain = "https://sb-123.auth.ap-south-1.amazoncognito.com"
    cloud = settings.model_copy(update={"cognito_domain": domain + "/",
                                        "cognito_client_id": "abc123"})  # fmt: skip
    with TestClient(create_app(cloud, Stores(cloud), FixedClock())) as c:
        body = c.get("/api/auth/config").json()
    assert body == {
        "mode": "cognito",
        "authorize_url": f"{domain}/oauth2/authorize",
        "token_url": f"{domain}/oauth2/token",
        "logout_url": f"{domain}/logout",
        "client_id": "abc123",
        "scopes": ["openid", "email", "profile"],
        "redirect_path": "/auth/callback",
    }


def _sample_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "2026-12-01", path)


def test_no_route_takes_a_token_from_the_query_string(client: TestClient) -> None:
    """Every route but the public few answers 401 to a valid token in the URL, and takes the
    very same token from the Authorization header."""
    paths = client.get("/api/openapi.json").json()["paths"]
    routes = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    routes += [("GET", "/api/openapi.json"), ("GET", "/api/docs")]
    guarded = [(m, p) for m, p in routes if (m, p) not in PUBLIC]
    assert {(m, p) for m, p in routes} >= PUBLIC and len(guarded) >= 15
    for method, path in guarded:
        url = _sample_path(path)
        for query in ({"token": TOKEN}, {"access_token": TOKEN}, {"ticket": TOKEN}):
            response = client.request(method, url, params=query)
            assert response.status_code == 401, (method, path, query)
            assert response.headers["www-authenticate"] == "Bearer"
        with_header = client.request(method, url, headers=AUTH)
        assert with_header.status_code != 401, (method, path)
    # A bare token (no scheme) is refused: only `Bearer` names one (issue 13).
    assert client.get("/api/preferences", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/api/preferences", headers={"Authorization": "Bearer "}).status_code == 401


def test_ws_ticket_is_one_time_and_short_lived(client: TestClient, settings: Settings) -> None:
    assert client.post("/api/ws/ticket").status_code == 401
    first = client.post("/api/ws/ticket", headers=AUTH)
    assert first.status_code == 200
    body = first.json()
    assert body["expires_in"] == 30 and re.fullmatch(r"[A-Za-z0-9_-]{40,}", body["ticket"])
    second = client.post("/api/ws/ticket", headers=AUTH).json()["ticket"]
    assert second != body["ticket"]
    hot = HotStore.from_url(settings.redis_url, settings.redis_key_prefix)
    try:
        assert 0 < hot.client.ttl(hot.keys.ws_ticket(body["ticket"])) <= 30
        state = AuthState.of(hot)
        principal = state.redeem_ticket(body["ticket"])
        assert principal is not None and principal.user_id == "dev"
        assert state.redeem_ticket(body["ticket"]) is None  # used
        for bad in (None, "", "short", "has:colon-and-more-than-16", "*" * 43):
            assert state.redeem_ticket(bad) is None
    finally:
        hot.close()


def test_ws_ticket_without_redis_is_a_503(database_url: str) -> None:
    settings = make_settings("redis://127.0.0.1:1/0", "x:", database_url)
    stores = Stores(settings, timeout=0.2)
    with TestClient(create_app(settings, stores, FixedClock())) as c:
        response = c.post("/api/ws/ticket", headers=AUTH)
    stores.close()
    assert response.status_code == 503 and "Redis" in response.json()["detail"]
