"""The feed's e-mail subscription worker without SNS or PostgreSQL: what `perform` makes of
each request and of SNS's answers (a fake client), the backoff, and a worker without a topic
or a database."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from strikeboard.feed import alert_email
from strikeboard.feed.alert_email import SubscriptionWorker, backoff_s, perform
from strikeboard.store.alerts import AlertRepo, EmailOutcome, EmailRow
from strikeboard.store.errors import StoreError

TOPIC = "arn:aws:sns:ap-south-1:123456789012:UserAlerts"
OLD = f"{TOPIC}:old"


def error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Op")


class FakeSns:
    """Records the calls; ``fail``: an action -> the exception it raises."""

    def __init__(self, **fail: Exception) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.pending = True

    def _call(self, action: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((action, kwargs))
        if action in self.fail:
            raise self.fail[action]

    def subscribe(self, **kwargs: Any) -> dict[str, Any]:
        self._call("subscribe", kwargs)
        return {"SubscriptionArn": f"{TOPIC}:new"}

    def unsubscribe(self, **kwargs: Any) -> None:
        self._call("unsubscribe", kwargs)

    def get_subscription_attributes(self, **kwargs: Any) -> dict[str, Any]:
        self._call("get_subscription_attributes", kwargs)
        return {"Attributes": {"PendingConfirmation": str(self.pending).lower()}}


def row(state: str, arn: str | None = None, address: str | None = None,
        attempts: int = 0) -> EmailRow:  # fmt: skip
    return EmailRow("ana", state, address, "t***@example.com", "ab12", arn, attempts)


def test_a_request_replaces_the_old_subscription_then_subscribes_with_the_filter() -> None:
    sns = FakeSns()
    got = perform(sns, TOPIC, row("requested", OLD, "trader@example.com"))
    assert got == EmailOutcome("pending", f"{TOPIC}:new")
    assert [c[0] for c in sns.calls] == ["unsubscribe", "subscribe"]
    made = sns.calls[1][1]
    assert made["Protocol"] == "email" and made["Endpoint"] == "trader@example.com"
    assert made["Attributes"] == {"FilterPolicy": '{"user_id": ["ana"]}'}
    assert made["ReturnSubscriptionArn"] is True


def test_a_failed_subscribe_after_the_old_one_went_keeps_the_request_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The old subscription is gone: the retry must not name it (nor the log the address)."""
    down = EndpointConnectionError(endpoint_url="https://sns.ap-south-1.amazonaws.com")
    got = perform(FakeSns(subscribe=down), TOPIC, row("requested", OLD, "trader@example.com", 2))
    assert got.state == "requested" and got.subscription_arn is None
    assert got.retry_in_s == backoff_s(2) == 20.0 and "subscribing failed" in got.error
    failed = perform(FakeSns(unsubscribe=error("Throttling")), TOPIC,
                     row("requested", OLD, "trader@example.com"))  # fmt: skip
    assert failed.subscription_arn == OLD and failed.retry_in_s == 5.0
    assert "trader@example.com" not in caplog.text


def test_sns_refusing_is_for_good_and_names_the_reason() -> None:
    taken = error("InvalidParameter", "Subscription already exists with different attributes")
    got = perform(FakeSns(subscribe=taken), TOPIC, row("requested", None, "t@example.com"))
    assert got.state == "refused" and "another filter" in got.error and got.retry_in_s == 0
    invalid = error("InvalidParameter", "Invalid parameter: Email address")
    got = perform(FakeSns(subscribe=invalid), TOPIC, row("requested", None, "t@example.com"))
    assert got == EmailOutcome("refused", None, error=alert_email.REFUSED_INVALID)


def test_refresh_unsubscribe_and_gone() -> None:
    sns = FakeSns()
    assert perform(sns, TOPIC, row("pending", OLD)) == EmailOutcome("pending", OLD)
    sns.pending = False
    assert perform(sns, TOPIC, row("pending", OLD)) == EmailOutcome("confirmed", OLD)
    gone = FakeSns(get_subscription_attributes=error("NotFound"))
    assert perform(gone, TOPIC, row("confirmed", OLD)) == EmailOutcome("none")
    assert perform(sns, TOPIC, row("unsubscribe_requested", OLD)) == EmailOutcome("none")
    # SNS refusing to delete a pending one: left to expire, forgotten all the same.
    kept = FakeSns(unsubscribe=error("InvalidParameter"))
    assert perform(kept, TOPIC, row("unsubscribe_requested", OLD)) == EmailOutcome("none")
    busy = perform(FakeSns(unsubscribe=error("Throttling")), TOPIC,
                   row("unsubscribe_requested", OLD, attempts=10))  # fmt: skip
    assert busy.state == "unsubscribe_requested" and busy.retry_in_s == 300.0


def test_backoff_doubles_to_five_minutes() -> None:
    assert [backoff_s(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert backoff_s(10_000) == 300


def test_no_topic_no_worker_and_a_database_down_is_raised_to_the_thread() -> None:
    assert alert_email.maybe_start("postgresql://postgres@127.0.0.1:1/none", "") is None
    worker = SubscriptionWorker(AlertRepo("postgresql://postgres@127.0.0.1:1/none"),
                                FakeSns(), TOPIC)  # fmt: skip
    with pytest.raises(StoreError):
        worker.run_once()
