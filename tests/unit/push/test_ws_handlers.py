"""lambdas/ws.py driven by the sample events in events/ws/, with real Redis and moto's
Management API."""

from __future__ import annotations

import time

import pytest
from push_helpers import MotoApi, connect_event, load_event

from lambdas import ws
from strikeboard.auth import Principal
from strikeboard.config import get_settings
from strikeboard.push.registry import Registry
from strikeboard.push.replay import SimChain
from strikeboard.store.hot import HotStore

CID = "Pk4p5eeGhcwCF2Q="
EXPIRY = "2026-12-01"


@pytest.fixture(scope="module")
def chain() -> SimChain:
    return SimChain(seed=11)


def test_connect_takes_a_one_time_ticket_and_no_token(deps: ws.Deps) -> None:
    # No ticket, an unknown one, or the dev token itself in the URL: all refused.
    for name in ("connect_no_ticket", "connect_bad_ticket", "connect_token", "connect"):
        assert ws.handle(load_event(name), deps)["statusCode"] == 401
    assert deps.registry.connections() == []
    event = connect_event(deps.hot, user=Principal("u-7", "alice"))
    assert ws.handle(event, deps)["statusCode"] == 200
    assert deps.registry.connections() == [CID]
    principal = deps.registry.principal(CID)
    assert principal is not None and principal.user_id == "u-7"
    # The same ticket again (a replayed URL): refused.
    deps.registry.disconnect(CID)
    assert ws.handle(event, deps)["statusCode"] == 401
    assert deps.registry.connections() == []


def test_an_expired_ticket_is_refused(deps: ws.Deps) -> None:
    event = connect_event(deps.hot)
    ticket = event["queryStringParameters"]["ticket"]
    key = deps.hot.keys.ws_ticket(ticket)
    assert 0 < deps.hot.client.ttl(key) <= 30
    deps.hot.client.pexpire(key, 1)  # Redis lets it lapse as it would after 30 s
    while deps.hot.client.exists(key):
        time.sleep(0.001)
    assert ws.handle(event, deps)["statusCode"] == 401


def test_subscribe_sends_the_redis_snapshot(
    deps: ws.Deps, moto_api: MotoApi, chain: SimChain
) -> None:
    document = chain.snapshots()[EXPIRY]
    deps.hot.publish(document)
    ws.handle(connect_event(deps.hot), deps)
    assert ws.handle(load_event("subscribe"), deps)["statusCode"] == 200
    assert deps.registry.subscribers("NIFTY", EXPIRY) == [CID]
    assert deps.registry.subscriptions(CID) == [("NIFTY", EXPIRY)]
    (message,) = moto_api.received(CID)
    assert message["type"] == "snapshot" and message["expiry"] == EXPIRY
    assert message["data"] == deps.hot.read_snapshot("NIFTY", EXPIRY)
    assert message["seq"] == message["data"]["seq"] == 1

    assert ws.handle(load_event("ping"), deps)["statusCode"] == 200
    assert moto_api.received(CID)[-1] == {"type": "pong"}
    assert ws.handle(load_event("unsubscribe"), deps)["statusCode"] == 200
    assert deps.registry.subscribers("NIFTY", EXPIRY) == []
    assert deps.registry.connections() == [CID]
    assert ws.handle(load_event("disconnect"), deps)["statusCode"] == 200
    assert deps.registry.connections() == [] and deps.registry.principal(CID) is None


def test_subscribe_without_a_live_chain_says_reset(deps: ws.Deps, moto_api: MotoApi) -> None:
    ws.handle(connect_event(deps.hot), deps)
    ws.handle(load_event("subscribe"), deps)
    assert moto_api.received(CID) == [
        {"type": "reset", "underlying": "NIFTY", "expiry": EXPIRY, "seq": None}
    ]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("bad_action", "unknown action 'trade'"),
        ("bad_json", "invalid JSON"),
        ("bad_expiry", "not an ISO date"),
    ],
)
def test_bad_messages_get_an_error_message(
    deps: ws.Deps, moto_api: MotoApi, name: str, fragment: str
) -> None:
    ws.handle(connect_event(deps.hot), deps)
    response = ws.handle(load_event(name), deps)
    assert response["statusCode"] == 400 and fragment in response["body"]
    (message,) = moto_api.received(CID)
    assert message["type"] == "error" and fragment in message["message"]


def test_unknown_connection_and_route(deps: ws.Deps, moto_api: MotoApi) -> None:
    # A $default for a connection the registry forgot (lapsed TTL): told to reconnect.
    assert ws.handle(load_event("ping"), deps)["statusCode"] == 410
    assert ws.handle(load_event("subscribe"), deps)["statusCode"] == 410
    assert all("reconnect" in m["message"] for m in moto_api.received(CID))
    event = load_event("ping")
    event["requestContext"]["routeKey"] = "$other"
    assert ws.handle(event, deps)["statusCode"] == 400


def test_redis_down_is_a_503_not_a_crash(deps: ws.Deps) -> None:
    nowhere = "redis://127.0.0.1:1/0"
    down = ws.Deps(
        deps.settings,
        Registry.from_url(nowhere, timeout=0.2),
        HotStore.from_url(nowhere, timeout=0.2),
        deps.poster,
    )
    assert ws.handle(connect_event(deps.hot), down)["statusCode"] == 503
    assert ws.handle(load_event("subscribe"), down)["statusCode"] == 503


def test_lambda_entry_point_builds_its_clients_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str, moto_api: MotoApi
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", redis_prefix)
    monkeypatch.setenv("DEV_TOKEN", "sample-dev-token")
    monkeypatch.setenv("COGNITO_ISSUER", "")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("PUSH_ENDPOINT_URL", raising=False)
    get_settings.cache_clear()
    ws.reset()
    try:
        # No PUSH_ENDPOINT_URL: the endpoint is the event's own domain and stage.
        assert ws.endpoint_of(load_event("ping"), get_settings()) == moto_api.endpoint
        hot = HotStore.from_url(redis_url, redis_prefix)
        event = connect_event(hot)
        hot.close()
        assert ws.handler(event, None)["statusCode"] == 200
        assert ws.handler(load_event("ping"), None)["statusCode"] == 200
        assert moto_api.received(CID) == [{"type": "pong"}]
        assert ws.handler(load_event("connect_token"), None)["statusCode"] == 401
    finally:
        ws.reset()
        get_settings.cache_clear()
