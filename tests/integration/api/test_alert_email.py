"""Alert e-mail subscriptions end to end over real PostgreSQL and moto's SNS: the API
(GET/PUT/DELETE /api/alerts/email) only records the user's request, never calling SNS; the
feed's worker (`strikeboard.feed.alert_email`) performs it: Subscribe with a filter policy on
the user id (which does filter: moto's SNS -> SQS delivery honours it), pending -> confirmed,
replacement, unsubscribe, a subscription gone from SNS, SNS failing (the request kept and
retried) or refusing, two workers on one request subscribing once; validation, one user per
address, the token's address as the default, 409 without a topic, no address whole in the
logs nor kept once subscribed."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from conftest import AUTH, Api, _api, make_settings
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.exceptions import InternalError, SNSInvalidParameter
from moto.sns.models import sns_backends

from strikeboard.api.guard import current_user
from strikeboard.auth import Principal
from strikeboard.feed.alert_email import SubscriptionWorker
from strikeboard.feed.alerts import publish_email
from strikeboard.store import alerts as store_alerts
from strikeboard.store.alerts import AlertRepo

REGION = "ap-south-1"
ADDRESS = "trader@example.com"


@pytest.fixture
def sns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("sns", region_name=REGION)


@pytest.fixture
def topic(sns: Any) -> str:
    return str(sns.create_topic(Name="UserAlerts")["TopicArn"])


@pytest.fixture
def api(redis_url: str, redis_prefix: str, database_url: str, data: Any, topic: str,
        ) -> Iterator[Api]:  # fmt: skip
    settings = make_settings(redis_url, redis_prefix, database_url).model_copy(
        update={"alerts_topic_arn": topic}
    )
    yield from _api(settings, data)


class CountingSns:
    """The SNS client the worker gets, counting Subscribe calls; ``gate``: Subscribe waits
    for it (a call in flight while a second worker looks)."""

    def __init__(self, sns: Any) -> None:
        self.sns = sns
        self.subscribes = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def subscribe(self, **kwargs: Any) -> Any:
        self.subscribes += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30), "the test never opened the gate"
        return self.sns.subscribe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sns, name)


@pytest.fixture
def worker(api: Api, sns: Any, topic: str) -> Iterator[SubscriptionWorker]:
    """The feed's worker, run a pass at a time by the tests (`run_once`); every pending or
    confirmed row is due for a refresh at each pass."""
    api.stores.db.rows("SELECT 1")  # the API's pool migrates the database
    made = SubscriptionWorker(AlertRepo(api.settings.database_url), CountingSns(sns), topic,
                              pending_every_s=0, confirmed_every_s=0)  # fmt: skip
    yield made
    made.repo.close()


def put(api: Api, address: str | None = ADDRESS, **extra: Any) -> Any:
    body = {"address": address, **extra} if address is not None else {**extra}
    return api.client.put("/api/alerts/email", headers=AUTH, json=body)


def get(api: Api) -> dict[str, Any]:
    response = api.client.get("/api/alerts/email", headers=AUTH)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    """The topic's subscriptions, each with its attributes."""
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return [sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]
            for s in listed]  # fmt: skip


def stored(api: Api, user: str = "dev") -> dict[str, Any] | None:
    """The user's alert_email row as the table has it."""
    with psycopg.connect(api.settings.database_url) as conn:
        cur = conn.execute("SELECT * FROM alert_email WHERE user_id = %s", (user,))
        row = cur.fetchone()
        assert cur.description is not None
        names = [c.name for c in cur.description]
        return None if row is None else dict(zip(names, row, strict=True))


def due_now(api: Api) -> None:
    """Time passing: every row's retry is due (no test waits for a backoff)."""
    with psycopg.connect(api.settings.database_url) as conn:
        conn.execute("UPDATE alert_email SET next_attempt_at = now()")


def backend() -> Any:
    return sns_backends[DEFAULT_ACCOUNT_ID][REGION]


def set_pending(arn: str, pending: bool) -> None:
    """What SNS says until the mailed link is followed (moto confirms at once)."""
    backend().subscriptions[arn].attributes["PendingConfirmation"] = pending


def refuse(monkeypatch: pytest.MonkeyPatch, action: str, error: Exception) -> None:
    """SNS answering ``action`` with ``error`` (what moto does not do by itself). On the
    class: leaving the mock resets the backend's instance attributes before the undo."""

    def refused(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(type(backend()), action, refused)


def test_requested_subscribed_confirmed_filtered_unsubscribed(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)
    assert get(api) == {"state": "none", "address": None, "token_address": None,
                        "problem": None}  # fmt: skip
    assert "email_subscribe" not in api.client.get("/api/alerts", headers=AUTH).json()

    # The API records the request; SNS is not asked (the Lambda cannot reach it).
    response = put(api)
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "requested" and response.json()["address"] == ADDRESS
    assert subscriptions(sns, topic) == []
    row = stored(api)
    assert row is not None and row["state"] == "requested" and row["address"] == ADDRESS
    assert row["address_sha256"] == store_alerts.address_sha256(ADDRESS)
    assert get(api)["state"] == "requested"

    # The feed's worker subscribes it: e-mail, filtered on the user id, pending.
    assert worker.run_once() >= 1
    (sub,) = subscriptions(sns, topic)
    assert sub["Protocol"] == "email" and sub["Endpoint"] == ADDRESS
    assert json.loads(sub["FilterPolicy"]) == {"user_id": ["dev"]}
    row = stored(api)
    assert row is not None and row["subscription_arn"] == sub["SubscriptionArn"]
    assert row["address"] is None  # the plain address is kept only until subscribed
    set_pending(sub["SubscriptionArn"], True)
    worker.run_once()
    assert get(api) == {"state": "pending", "address": "t***@example.com",
                        "token_address": None, "problem": None}  # fmt: skip
    set_pending(sub["SubscriptionArn"], False)  # the link followed
    worker.run_once()
    assert get(api)["state"] == "confirmed"

    # The filter policy the worker set, on a queue: another user's alert does not arrive.
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="dev-mail")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue["Attributes"]["QueueArn"],
                  Attributes={"FilterPolicy": sub["FilterPolicy"]})  # fmt: skip
    event = {"id": 1, "rule_id": 3, "crossing": 1, "text": "NIFTY spot crossed above 24600",
             "note": "", "fired_at": "2026-11-25T10:41:12+05:30"}  # fmt: skip
    publish_email(sns, topic, {**event, "user_id": "bob", "text": "bob's"})
    publish_email(sns, topic, {**event, "user_id": "dev"})
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["Subject"] for m in got] == [
        "Strikeboard: NIFTY spot crossed above 24600"
    ]
    sqs_sub = next(s for s in subscriptions(sns, topic) if s["Protocol"] == "sqs")
    sns.unsubscribe(SubscriptionArn=sqs_sub["SubscriptionArn"])

    # The same address again: nothing to do; still one subscription.
    assert put(api).json()["state"] == "confirmed"
    worker.run_once()
    assert [s["SubscriptionArn"] for s in subscriptions(sns, topic)] == [sub["SubscriptionArn"]]

    # Unsubscribing: recorded (none at once for the user), performed by the worker.
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 204
    assert get(api)["state"] == "none"
    assert stored(api)["state"] == "unsubscribe_requested"  # type: ignore[index]
    assert len(subscriptions(sns, topic)) == 1
    worker.run_once()
    assert subscriptions(sns, topic) == [] and stored(api) is None
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 404
    assert worker.sns.subscribes == 1
    # Personal data: masked in the logs, never whole.
    assert "t***@example.com" in caplog.text and ADDRESS not in caplog.text


def test_a_new_address_replaces_the_old_subscription(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker
) -> None:
    put(api)
    worker.run_once()
    (old,) = subscriptions(sns, topic)
    assert put(api, "desk@example.org").json() == {
        "state": "requested", "address": "desk@example.org", "token_address": None,
        "problem": None}  # fmt: skip
    worker.run_once()
    (new,) = subscriptions(sns, topic)  # one address per user: the old one is gone
    assert new["Endpoint"] == "desk@example.org"
    assert new["SubscriptionArn"] != old["SubscriptionArn"]
    assert get(api)["address"] == "d***@example.org"


def test_a_request_not_yet_performed_is_dropped_and_an_unsubscribe_taken_back(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker
) -> None:
    put(api)
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 204
    assert stored(api) is None  # nothing was in SNS: nothing for the worker to do
    worker.run_once()
    assert subscriptions(sns, topic) == []
    put(api)
    worker.run_once()
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 204
    assert put(api).json()["state"] == "pending"  # the same address before the worker came
    worker.run_once()
    assert get(api)["state"] == "confirmed" and len(subscriptions(sns, topic)) == 1
    assert worker.sns.subscribes == 1


def test_a_subscription_gone_from_sns_reads_none(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker
) -> None:
    """Unsubscribed from a mail's link, or never confirmed (SNS deletes those after 48 h)."""
    put(api)
    worker.run_once()
    (sub,) = subscriptions(sns, topic)
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    worker.run_once()
    assert get(api)["state"] == "none" and stored(api) is None
    assert put(api).status_code == 202  # and it can be asked again
    worker.run_once()
    assert len(subscriptions(sns, topic)) == 1


def test_sns_failing_keeps_the_request_and_retries(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    put(api)
    with monkeypatch.context() as m:
        refuse(m, "subscribe", InternalError(f"failed for {ADDRESS}"))
        worker.run_once()
        row = stored(api)
        assert row is not None and row["state"] == "requested" and row["address"] == ADDRESS
        assert row["attempts"] == 1 and "subscribing failed" in row["last_error"]
        assert ADDRESS not in row["last_error"]
        assert get(api)["problem"] == "the server could not reach SNS yet: it tries again"
        assert worker.run_once() == 0  # backing off: not due yet
        due_now(api)
        worker.run_once()
        assert stored(api)["attempts"] == 2  # type: ignore[index]
    assert worker.stats.failed == 2
    # What the feed's health counts (sent with the publisher's cycle results), then nothing new.
    assert worker.take_counts() == {"subscriptions_done": 2, "subscriptions_failed": 2}
    assert worker.take_counts() == {"subscriptions_done": 0, "subscriptions_failed": 0}
    due_now(api)
    worker.run_once()
    assert get(api)["state"] in ("pending", "confirmed") and len(subscriptions(sns, topic)) == 1
    counts = worker.take_counts()  # the subscribe, and the fixture's immediate refreshes
    assert counts["subscriptions_done"] >= 1 and counts["subscriptions_failed"] == 0
    assert "t***@example.com" in caplog.text and ADDRESS not in caplog.text


def test_two_workers_on_one_request_subscribe_once(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker
) -> None:
    """A feed being replaced runs two workers: the request is locked while the first
    subscribes it (the second skips it), and done when the second comes back."""
    second = SubscriptionWorker(AlertRepo(api.settings.database_url), worker.sns, topic,
                                pending_every_s=0, confirmed_every_s=0)  # fmt: skip
    put(api)
    worker.sns.gate = threading.Event()
    first = threading.Thread(target=worker.run_once)
    first.start()
    try:
        assert worker.sns.entered.wait(30)
        assert second.run_once() == 0  # the only row is being performed
    finally:
        worker.sns.gate.set()
        first.join(30)
    second.run_once()  # a refresh of the pending row, no second Subscribe
    assert worker.sns.subscribes == 1 and len(subscriptions(sns, topic)) == 1
    second.repo.close()


def test_an_address_is_one_users(api: Api, sns: Any, topic: str) -> None:
    theirs = "Shared@Example.com"
    assert store_alerts.request_email(api.stores.db.rows, "bob", theirs, "S***@Example.com",
                                      None) == "done"  # fmt: skip
    response = put(api, "shared@example.com")
    assert response.status_code == 409 and "another account" in response.json()["detail"]
    assert stored(api) is None


def test_sns_refusing_the_address(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNS refuses an endpoint it has with other attributes (another filter: an operator's
    subscription made by hand): the request is refused, said in GET, and not retried."""
    put(api)
    refuse(monkeypatch, "subscribe", SNSInvalidParameter(
        "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes"))  # fmt: skip
    worker.run_once()
    got = get(api)
    assert got["state"] == "none" and "another filter" in got["problem"]
    assert stored(api)["address"] is None  # type: ignore[index]
    due_now(api)
    assert worker.run_once() == 0


def test_a_subscription_sns_will_not_delete_is_forgotten(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNS may refuse to delete a subscription still pending confirmation: it deletes those
    itself after 48 hours, and the user is free to subscribe again meanwhile."""
    put(api)
    worker.run_once()
    refuse(monkeypatch, "unsubscribe", SNSInvalidParameter("Invalid parameter: SubscriptionArn"))
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 204
    worker.run_once()
    assert get(api)["state"] == "none" and stored(api) is None
    assert len(subscriptions(sns, topic)) == 1  # left to SNS


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"address": "trader.example.com"}, "not an e-mail address"),
        ({"address": "trader@example"}, "not an e-mail address"),
        ({"address": "tra der@example.com"}, "not an e-mail address"),
        ({"address": "trader@example.com."}, "not an e-mail address"),
        ({"address": "x" * 250 + "@example.com"}, "body.address"),
        ({}, "no address"),
        ({"address": ADDRESS, "user_id": "bob"}, "user_id"),
    ],
)
def test_bad_addresses_are_422(
    api: Api, sns: Any, topic: str, body: dict[str, Any], reason: str
) -> None:
    response = api.client.put("/api/alerts/email", headers=AUTH, json=body)
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    if "address" in body:  # the reason never repeats the address
        assert body["address"] not in response.json()["detail"]
    assert subscriptions(sns, topic) == []


def test_the_tokens_address_is_the_default(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker
) -> None:
    ana = Principal("ana-sub", "ana", (), "ana@example.com")
    api.client.app.dependency_overrides[current_user] = lambda: ana  # type: ignore[attr-defined]
    got = get(api)
    assert got["state"] == "none" and got["token_address"] == "ana@example.com"
    response = api.client.put("/api/alerts/email", headers=AUTH)  # no body at all
    assert response.status_code == 202, response.text
    assert response.json()["address"] == "ana@example.com"
    worker.run_once()
    (sub,) = subscriptions(sns, topic)
    assert json.loads(sub["FilterPolicy"]) == {"user_id": ["ana-sub"]}


def test_without_a_topic_409(
    redis_url: str, redis_prefix: str, database_url: str, data: Any
) -> None:
    settings = make_settings(redis_url, redis_prefix, database_url)
    for api in _api(settings, data):
        assert api.client.get("/api/alerts", headers=AUTH).json()["email"] is False
        for method in ("get", "put", "delete"):
            body = {"address": ADDRESS} if method == "put" else None
            response = api.client.request(method, "/api/alerts/email", headers=AUTH, json=body)
            assert response.status_code == 409, (method, response.text)
            assert "not configured" in response.json()["detail"]


def test_the_workers_thread_performs_requests_by_itself(
    api: Api, sns: Any, topic: str, worker: SubscriptionWorker
) -> None:
    """As in the feed's publisher process: started, it takes a request within a pass."""
    worker.every_s = 0.05
    put(api)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while get(api)["state"] == "requested":
            assert time.monotonic() < deadline, "the worker's thread never subscribed"
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(subscriptions(sns, topic)) == 1 and worker.stats.passes >= 1
