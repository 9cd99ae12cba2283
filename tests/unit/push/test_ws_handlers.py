"""lambdas/ws.py driven by the sample events in events/ws/, with real Redis; its replies are
the bodies it returns (route responses of the two-way $default route)."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from typing import Any

import pytest
from push_helpers import connect_event, load_event, reply_of

from lambdas import ws
from strikeboard.auth import Principal
from strikeboard.config import get_settings
from strikeboard.push import messages
from strikeboard.push.registry import Registry
from strikeboard.store.hot import HotStore
from tests.support.sim_chain import SimChain

CID = "Pk4p5eeGhcwCF2Q="
EXPIRY = "2026-12-01"


@pytest.fixture(scope="module")
def chain() -> SimChain:
    return SimChain(seed=11)


def test_connect_takes_a_one_time_ticket_and_no_token(deps: ws.Deps) -> None:
    # No ticket, an unknown one, or the dev token itself in the URL: all refused.
    for name in ("connect_no_ticket", "connect_bad_ticket", "connect_token", "connect"):
        assert ws.handle(load_event(name), deps) == {"statusCode": 401}  # no socket: no body
    assert deps.registry.connections() == []
    event = connect_event(deps.hot, user=Principal("u-7", "alice"))
    assert ws.handle(event, deps) == {"statusCode": 200}
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


def test_subscribe_answers_with_the_redis_snapshot(deps: ws.Deps, chain: SimChain) -> None:
    document = chain.snapshots()[EXPIRY]
    deps.hot.publish(document)
    ws.handle(connect_event(deps.hot), deps)
    response = ws.handle(load_event("subscribe"), deps)
    assert response["statusCode"] == 200
    assert deps.registry.subscribers("NIFTY", EXPIRY) == [CID]
    assert deps.registry.subscriptions(CID) == [("NIFTY", EXPIRY)]
    message = reply_of(response)
    assert message is not None and message["type"] == "snapshot" and message["expiry"] == EXPIRY
    assert message["data"] == deps.hot.read_snapshot("NIFTY", EXPIRY)
    assert message["seq"] == message["data"]["seq"] == 1

    response = ws.handle(load_event("ping"), deps)
    assert response["statusCode"] == 200 and reply_of(response) == {"type": "pong"}
    # An unsubscribe needs no answer: no body at all.
    assert ws.handle(load_event("unsubscribe"), deps) == {"statusCode": 200}
    assert deps.registry.subscribers("NIFTY", EXPIRY) == []
    assert deps.registry.connections() == [CID]
    assert ws.handle(load_event("disconnect"), deps) == {"statusCode": 200}
    assert deps.registry.connections() == [] and deps.registry.principal(CID) is None


def test_subscribe_without_a_live_chain_says_reset(deps: ws.Deps) -> None:
    ws.handle(connect_event(deps.hot), deps)
    response = ws.handle(load_event("subscribe"), deps)
    assert reply_of(response) == {"type": "reset", "underlying": "NIFTY", "expiry": EXPIRY,
                                  "seq": None}  # fmt: skip


def test_a_subscription_names_a_followed_underlying_by_default_the_first(
    deps: ws.Deps, chain: SimChain
) -> None:
    """As the REST API: without an underlying, the first of UNDERLYINGS (here SENSEX, not
    NIFTY); one not followed is refused with a message naming the followed ones, even when
    the hot store holds a chain of it."""
    deps.settings = deps.settings.model_copy(update={"underlyings": "SENSEX,NIFTY"})
    deps.hot.publish(chain.snapshots()[EXPIRY])  # NIFTY's
    ws.handle(connect_event(deps.hot), deps)

    def subscribe(**names: str) -> dict[str, Any]:
        event = load_event("subscribe")
        event["body"] = json.dumps({"action": "subscribe", "expiry": EXPIRY, **names})
        return ws.handle(event, deps)

    assert reply_of(subscribe()) == {"type": "reset", "underlying": "SENSEX", "expiry": EXPIRY,
                                     "seq": None}  # fmt: skip
    named = reply_of(subscribe(underlying="NIFTY"))
    assert named is not None and named["type"] == "snapshot"
    deps.settings = deps.settings.model_copy(update={"underlyings": "SENSEX"})
    refused = subscribe(underlying="NIFTY")
    assert refused["statusCode"] == 400
    assert reply_of(refused) == {
        "type": "error",
        "message": "unknown underlying 'NIFTY': this deployment follows SENSEX",
    }
    assert deps.registry.subscriptions(CID) == [("NIFTY", EXPIRY), ("SENSEX", EXPIRY)]


def wide_snapshot(chain: SimChain) -> dict[str, Any]:
    """One document carrying every expiry's strikes (real rows, keys made unique): ~170 KB,
    more than one message holds."""
    documents = chain.snapshots()
    wide = copy.deepcopy(documents[EXPIRY])
    wide["strikes"] = {f"{k}@{e}": row for e, d in documents.items() for k, row in
                       d["strikes"].items()}  # fmt: skip
    return wide


def test_a_snapshot_too_large_for_one_message_is_answered_with_a_reset(
    deps: ws.Deps, chain: SimChain
) -> None:
    """A route response is one message (the reply cannot be split into parts): the client
    gets a reset carrying the snapshot's seq and re-fetches it over REST; the connection is
    subscribed first, so the deltas after that seq reach it."""
    seq = deps.hot.publish(wide_snapshot(chain))
    document = deps.hot.read_snapshot("NIFTY", EXPIRY)
    assert document is not None
    assert not messages.fits(messages.snapshot_message(document))
    ws.handle(connect_event(deps.hot), deps)
    response = ws.handle(load_event("subscribe"), deps)
    assert response["statusCode"] == 200 and len(response["body"]) < 200
    reset = reply_of(response)
    assert reset == {"type": "reset", "underlying": "NIFTY", "expiry": EXPIRY, "seq": seq}
    assert deps.registry.subscribers("NIFTY", EXPIRY) == [CID]
    # The reference client drops what it had and loads the snapshot fetched over REST.
    follower = messages.Follower()
    assert follower.handle(reset) == "reset" and follower.document is None
    follower.load(document)
    assert follower.seq == seq
    # A snapshot that fits is sent whole (the usual one, ~34 KB).
    deps.hot.publish(chain.snapshots()[EXPIRY], document)
    message = reply_of(ws.handle(load_event("subscribe"), deps))
    assert message is not None and message["type"] == "snapshot" and message["seq"] == seq + 1


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("bad_action", "unknown action 'trade'"),
        ("bad_json", "invalid JSON"),
        ("bad_expiry", "not an ISO date"),
    ],
)
def test_bad_messages_get_an_error_message(deps: ws.Deps, name: str, fragment: str) -> None:
    ws.handle(connect_event(deps.hot), deps)
    response = ws.handle(load_event(name), deps)
    assert response["statusCode"] == 400  # API Gateway still delivers the body
    message = reply_of(response)
    assert message is not None and message["type"] == "error" and fragment in message["message"]


def test_unknown_connection_and_route(deps: ws.Deps) -> None:
    # A $default for a connection the registry forgot (lapsed TTL): told to reconnect.
    for name in ("ping", "subscribe"):
        response = ws.handle(load_event(name), deps)
        assert response["statusCode"] == 410
        assert reply_of(response) == {"type": "error", "message": "unknown connection: reconnect"}
    event = load_event("ping")
    event["requestContext"]["routeKey"] = "$other"
    assert ws.handle(event, deps) == {"statusCode": 400}


def test_no_reply_is_ever_plain_text(deps: ws.Deps, chain: SimChain) -> None:
    """Regression: replies used to be posted while the returned body said "Gone", "rate
    limit: ..." or "Connected" in plain text; now the body IS the reply, so every body is a
    protocol message and a frame that needs no answer returns none."""
    deps.hot.publish(chain.snapshots()[EXPIRY])
    deps.clock = lambda: 1_000_000.0  # time stands still: no token comes back
    bodies: list[str | None] = []

    def run(event: dict[str, Any]) -> dict[str, Any]:
        response = ws.handle(event, deps)
        reply_of(response)  # fails on anything but a protocol message
        bodies.append(response.get("body"))
        return response

    run(load_event("ping"))  # unknown connection yet
    assert run(connect_event(deps.hot)) == {"statusCode": 200}
    for name in ("subscribe", "ping", "bad_action", "bad_json", "bad_expiry", "unsubscribe"):
        run(load_event(name))
    assert bodies[-1] is None  # the unsubscribe
    # A flood: one warning, then the dropped frames get no body.
    deps.limits = replace(deps.limits, rate_per_s=1.0, burst=1)
    dropped = [run(load_event("ping")) for _ in range(4)]
    assert [r["statusCode"] for r in dropped] == [200, 429, 429, 429]
    assert "rate limit" in dropped[1]["body"] and [r.get("body") for r in dropped[2:]] == [None] * 2
    assert run(load_event("disconnect")) == {"statusCode": 200}
    assert sum(body is not None for body in bodies) == 8


def test_redis_down_is_a_503_not_a_crash(deps: ws.Deps) -> None:
    nowhere = "redis://127.0.0.1:1/0"
    down = ws.Deps(
        deps.settings,
        Registry.from_url(nowhere, timeout=0.2),
        HotStore.from_url(nowhere, timeout=0.2),
    )
    assert ws.handle(connect_event(deps.hot), down) == {"statusCode": 503}
    response = ws.handle(load_event("subscribe"), down)
    assert response["statusCode"] == 503
    assert reply_of(response) == {"type": "error",
                                  "message": "service unavailable: try again shortly"}  # fmt: skip


def test_lambda_entry_point_builds_its_clients_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_KEY_PREFIX", redis_prefix)
    monkeypatch.setenv("DEV_TOKEN", "sample-dev-token")
    monkeypatch.setenv("COGNITO_ISSUER", "")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("PUSH_ENDPOINT_URL", raising=False)  # not needed: replies are returned
    get_settings.cache_clear()
    ws.reset()
    try:
        hot = HotStore.from_url(redis_url, redis_prefix)
        event = connect_event(hot)
        hot.close()
        assert ws.handler(event, None) == {"statusCode": 200}
        assert ws.handler(load_event("ping"), None) == {"statusCode": 200, "body": messages.PONG}
        assert ws.default_deps() is ws.default_deps()  # built once per warm Lambda
        assert ws.handler(load_event("connect_token"), None) == {"statusCode": 401}
    finally:
        ws.reset()
        get_settings.cache_clear()
