"""GET/PUT/DELETE /api/alerts/email over real PostgreSQL and moto's SNS: the caller's address
subscribed with a filter policy on their user id (which does filter: moto's SNS -> SQS delivery
honours it), its state from SNS, one address per user and one user per address, validation,
the token's address as the default, 409 without a topic, and no address whole in the logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import AUTH, Api, _api, make_settings
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.exceptions import InternalError, SNSInvalidParameter
from moto.sns.models import sns_backends

from strikeboard.api.alert_email import address_sha256
from strikeboard.api.guard import current_user
from strikeboard.auth import Principal
from strikeboard.feed.alerts import publish_email
from strikeboard.store import alerts as store_alerts

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


def put(api: Api, address: str | None = ADDRESS, **extra: Any) -> Any:
    body = {"address": address, **extra} if address is not None else {**extra}
    return api.client.put("/api/alerts/email", headers=AUTH, json=body)


def subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    """The topic's subscriptions, each with its attributes."""
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return [sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]
            for s in listed]  # fmt: skip


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


def test_subscribe_state_replace_unsubscribe(
    api: Api, sns: Any, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    email = api.client.get("/api/alerts/email", headers=AUTH)
    assert email.status_code == 200, email.text
    assert email.json() == {"state": "none", "address": None, "token_address": None}
    listed = api.client.get("/api/alerts", headers=AUTH).json()
    assert listed["email"] is True and listed["email_subscribe"] is True

    response = put(api)
    assert response.status_code == 200, response.text
    assert response.json()["address"] == ADDRESS
    (sub,) = subscriptions(sns, topic)
    # Exactly the command docs/alerts.md gave operators: e-mail, filtered on the user id.
    assert sub["Protocol"] == "email" and sub["Endpoint"] == ADDRESS
    assert json.loads(sub["FilterPolicy"]) == {"user_id": ["dev"]}
    set_pending(sub["SubscriptionArn"], True)
    got = api.client.get("/api/alerts/email", headers=AUTH).json()
    assert got == {"state": "pending", "address": ADDRESS, "token_address": None}
    set_pending(sub["SubscriptionArn"], False)
    assert api.client.get("/api/alerts/email", headers=AUTH).json()["state"] == "confirmed"

    # The same address again: the same subscription (SNS makes no duplicate), still one.
    assert put(api).status_code == 200
    assert [s["SubscriptionArn"] for s in subscriptions(sns, topic)] == [sub["SubscriptionArn"]]
    # A new address replaces the old subscription: one address per user.
    assert put(api, "desk@example.org").json()["address"] == "desk@example.org"
    (new,) = subscriptions(sns, topic)
    assert (
        new["Endpoint"] == "desk@example.org" and new["SubscriptionArn"] != sub["SubscriptionArn"]
    )

    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 204
    assert subscriptions(sns, topic) == []
    assert api.client.get("/api/alerts/email", headers=AUTH).json()["state"] == "none"
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 404
    # Personal data: masked in the logs, never whole.
    assert "t***@example.com" in caplog.text and "d***@example.org" in caplog.text
    assert ADDRESS not in caplog.text and "desk@example.org" not in caplog.text


def test_a_subscription_gone_from_sns_reads_none(api: Api, sns: Any, topic: str) -> None:
    """Unsubscribed from a mail's link, or never confirmed (SNS deletes those after 48 hours)."""
    put(api)
    (sub,) = subscriptions(sns, topic)
    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    assert api.client.get("/api/alerts/email", headers=AUTH).json()["state"] == "none"
    assert store_alerts.email_subscription(api.stores.db.rows, "dev") is None
    assert put(api).status_code == 200  # and it can be made again
    assert len(subscriptions(sns, topic)) == 1


def test_the_filter_policy_filters(api: Api, sns: Any, topic: str) -> None:
    """The policy the route set, on a queue: another user's alert does not arrive."""
    assert put(api).status_code == 200
    (sub,) = subscriptions(sns, topic)
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


def test_an_address_is_one_users(api: Api, sns: Any, topic: str) -> None:
    theirs = "Shared@Example.com"
    store_alerts.save_email_subscription(api.stores.db.rows, "bob", f"{topic}:b0b",
                                         address_sha256(theirs))  # fmt: skip
    response = put(api, "shared@example.com")
    assert response.status_code == 409 and "another account" in response.json()["detail"]
    assert subscriptions(sns, topic) == []  # refused before SNS was asked


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


def test_the_tokens_address_is_the_default(api: Api, sns: Any, topic: str) -> None:
    ana = Principal("ana-sub", "ana", (), "ana@example.com")
    api.client.app.dependency_overrides[current_user] = lambda: ana  # type: ignore[attr-defined]
    got = api.client.get("/api/alerts/email", headers=AUTH).json()
    assert got == {"state": "none", "address": None, "token_address": "ana@example.com"}
    response = api.client.put("/api/alerts/email", headers=AUTH)  # no body at all
    assert response.status_code == 200, response.text
    assert response.json()["address"] == "ana@example.com"
    (sub,) = subscriptions(sns, topic)
    assert json.loads(sub["FilterPolicy"]) == {"user_id": ["ana-sub"]}


@pytest.mark.parametrize(
    ("update", "reason"),
    [({}, "not configured"),
     ({"alerts_topic_arn": "arn:aws:sns:ap-south-1:123456789012:UserAlerts",
       "alerts_email_subscribe": False}, "cannot reach SNS")],
)  # fmt: skip
def test_without_a_topic_or_a_way_to_sns_409(
    redis_url: str, redis_prefix: str, database_url: str, data: Any,
    update: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    settings = make_settings(redis_url, redis_prefix, database_url).model_copy(update=update)
    for api in _api(settings, data):
        assert api.client.get("/api/alerts", headers=AUTH).json()["email_subscribe"] is False
        for method in ("get", "put", "delete"):
            body = {"address": ADDRESS} if method == "put" else None
            response = api.client.request(method, "/api/alerts/email", headers=AUTH, json=body)
            assert response.status_code == 409, (method, response.text)
            assert reason in response.json()["detail"]


def test_a_subscription_sns_will_not_delete_is_forgotten(
    api: Api, sns: Any, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNS may refuse to delete a subscription still pending confirmation: it deletes those
    itself after 48 hours, and the user is free to subscribe again meanwhile."""
    put(api)
    refuse(monkeypatch, "unsubscribe", SNSInvalidParameter("Invalid parameter: SubscriptionArn"))
    assert api.client.delete("/api/alerts/email", headers=AUTH).status_code == 204
    assert api.client.get("/api/alerts/email", headers=AUTH).json()["state"] == "none"
    assert len(subscriptions(sns, topic)) == 1  # left to SNS


def test_sns_refusing_the_address_or_failing(
    api: Api, sns: Any, topic: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """SNS refuses an endpoint it has with other attributes (another filter: an operator's
    subscription made by hand): 409. SNS failing: 503, nothing stored, the address masked."""
    refuse(monkeypatch, "subscribe", SNSInvalidParameter(
        "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes"))  # fmt: skip
    response = put(api)
    assert response.status_code == 409 and "another account" in response.json()["detail"]
    refuse(monkeypatch, "subscribe", InternalError(f"failed for {ADDRESS}"))
    response = put(api)
    assert response.status_code == 503, response.text
    assert response.json()["detail"] == "e-mail subscriptions unavailable: subscribing failed"
    assert store_alerts.email_subscription(api.stores.db.rows, "dev") is None
    assert "t***@example.com" in caplog.text and ADDRESS not in caplog.text
