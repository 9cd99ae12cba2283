"""The Kite token in the cloud: the secret read with moto, its placeholder values, and the
reader's schedule (backoff while waiting, at once on the login's notice) on an injected clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from strikeboard.kite.credentials import (
    MAX_READ_DELAY_S,
    CredentialsError,
    ReadBackoff,
    SecretTokenReader,
    read_secret_token,
    store_access_token,
    token_of,
)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="ap-south-1")


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "Zx9!generated-by-CloudFormation",  # sm.Secret's default: not JSON
        '{"access_token": "", "placeholder": "k2J9"}',  # the Data stack's first value
        '{"api_key": "k"}',
        '{"access_token": null}',
        '{"access_token": 42}',
        '["access_token"]',
    ],
)
def test_a_secret_without_a_token_is_waiting(raw: str | None) -> None:
    assert token_of(raw) == ""


def test_the_token_is_read_from_json() -> None:
    assert token_of('{"access_token": "t0k", "placeholder": "x"}') == "t0k"


def test_placeholder_then_a_stored_token(secrets: Any) -> None:
    secrets.create_secret(
        Name="kite", SecretString=json.dumps({"access_token": "", "placeholder": "x1"})
    )
    assert read_secret_token("kite", secrets) == ""
    store_access_token("kite", "fresh", secrets)
    value = json.loads(secrets.get_secret_value(SecretId="kite")["SecretString"])
    assert value == {"access_token": "fresh"}  # the token only: the API key is config
    assert read_secret_token("kite", secrets) == "fresh"


def test_an_unreadable_secret_is_a_clear_error(secrets: Any) -> None:
    with pytest.raises(CredentialsError, match="cannot read secret 'nope': ResourceNotFound"):
        read_secret_token("nope", secrets)
    secrets.create_secret(Name="empty")  # a secret with no value at all
    with pytest.raises(CredentialsError, match="'empty'"):
        read_secret_token("empty", secrets)


def test_backoff_doubles_to_a_minute_and_resets() -> None:
    backoff = ReadBackoff()
    assert [backoff.next_delay() for _ in range(7)] == [5, 10, 20, 40, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 5
    with pytest.raises(ValueError, match="first_s"):
        ReadBackoff(first_s=0)
    with pytest.raises(ValueError, match="first_s"):
        ReadBackoff(first_s=10, max_s=5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Secret:
    """The secret's current token, counting reads; `fail` raises as an outage would."""

    def __init__(self) -> None:
        self.token = ""
        self.reads = 0
        self.fail = False

    def __call__(self) -> str:
        self.reads += 1
        if self.fail:
            raise CredentialsError("cannot read secret 'kite': AccessDeniedException")
        return self.token


def reads_at(reader: SecretTokenReader, secret: Secret, clock: Clock, until: int) -> list[int]:
    """Call the reader once a second (as the feed's main loop does) for `until` seconds; the
    seconds at which the secret was read."""
    start, seen = clock.now, []
    for second in range(until):
        clock.now = start + second
        before = secret.reads
        reader()
        if secret.reads > before:
            seen.append(second)
    return seen


def test_waiting_reads_the_secret_with_backoff_not_every_second() -> None:
    clock, secret = Clock(), Secret()
    reader = SecretTokenReader(secret, lambda: None, clock=clock)
    assert reads_at(reader, secret, clock, 200) == [0, 5, 15, 35, 75, 135, 195]


def test_a_token_stored_without_a_notice_is_found_at_the_next_read() -> None:
    clock, secret = Clock(), Secret()
    reader = SecretTokenReader(secret, lambda: None, clock=clock)
    reads_at(reader, secret, clock, 40)  # read at 0, 5, 15, 35: next at 75
    secret.token = "fresh"
    clock.now += 1
    assert reader() == ""  # not due yet
    clock.now = 1000 + 75
    assert reader() == "fresh"
    # Kite refuses it: the search starts again at 5 s, not at a minute.
    assert reads_at(reader, secret, clock, 16) == [5, 15]


def test_without_a_notice_a_token_is_found_within_a_minute_of_being_stored() -> None:
    """The cloud's Kite login Lambda has no Redis, hence no notice: the backoff alone finds
    the token. Stored at any second of a wait (the feed calls about once a second), it is read
    at most MAX_READ_DELAY_S - 1 seconds later: one stored a second after a read waits for
    the next, a minute after that read."""
    delays = []
    for stored_at in range(400):
        clock, secret = Clock(), Secret()
        reader = SecretTokenReader(secret, lambda: None, clock=clock)
        start, second = clock.now, 0
        while True:
            clock.now = start + second
            if second == stored_at:
                secret.token = "fresh"
            if reader() == "fresh":
                break
            second += 1
        delays.append(second - stored_at)
    assert max(delays) == MAX_READ_DELAY_S - 1
    assert delays.index(max(delays)) == 76  # reads at 0, 5, 15, 35, 75, then a minute apart


def test_the_logins_notice_makes_it_read_at_once() -> None:
    clock, secret = Clock(), Secret()
    notice: list[str | None] = [None]
    reader = SecretTokenReader(secret, lambda: notice[0], clock=clock)
    reads_at(reader, secret, clock, 100)  # deep in the backoff: next read 35 s away
    secret.token, notice[0] = "fresh", "1"
    assert reader() == "fresh"
    assert secret.reads == 6
    assert reader() == "fresh" and secret.reads == 6  # the same notice: no new read


def test_a_feed_started_after_the_notice_reads_the_secret_first() -> None:
    clock, secret = Clock(), Secret()
    secret.token = "stored-before-start"
    reader = SecretTokenReader(secret, lambda: "7", clock=clock)
    assert reader() == "stored-before-start"


def test_outages_keep_the_last_token_and_never_log_it(caplog: pytest.LogCaptureFixture) -> None:
    clock, secret = Clock(), Secret()
    secret.token = "s3cr3t-token"

    def notice() -> str | None:
        raise ConnectionError("Redis down")

    reader = SecretTokenReader(secret, notice, clock=clock)
    assert reader() == "s3cr3t-token"  # Redis down: the schedule alone still reads
    secret.fail = True
    clock.now += 5
    with caplog.at_level(logging.DEBUG):
        assert reader() == "s3cr3t-token"
    assert "AccessDeniedException" in caplog.text
    assert "s3cr3t" not in caplog.text
