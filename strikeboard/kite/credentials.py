"""Where the feed finds the day's Kite access token (the API key is plain configuration,
KITE_API_KEY: it is in every login URL).

- Cloud: the Secrets Manager secret KITE_SECRET_NAME, `{"access_token": "..."}`, is the source
  of truth. The login rewrites it every morning and then bumps a Redis notice
  (`kite:token_version`); the feed reads the secret on a backoff schedule while it waits and at
  once when the notice changes (`SecretTokenReader`).
- Local: the Redis key the local login writes (`kite:access_token`), else KITE_ACCESS_TOKEN.

A secret with no token yet (the generated placeholder of a first deploy, which is not JSON, or
JSON without `access_token`) means "waiting", never an error. The token is never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger("strikeboard.kite")

FIRST_READ_DELAY_S = 5.0
MAX_READ_DELAY_S = 60.0
"""While the feed waits, the secret is read 5 s after the last read, then 10, 20, 40 and 60 s
apart: a token stored without a notice is found within a minute, at a cost of one read a minute
(Secrets Manager bills per 10,000 calls)."""


class CredentialsError(ValueError):
    """The Kite secret could not be read (the message names it, never its value)."""


def _secrets_client(client: Any) -> SecretsManagerClient:
    return client if client is not None else boto3.client("secretsmanager")


def token_of(raw: str | None) -> str:
    """The access token in a secret's string; "" when there is none yet (not JSON, not an
    object, or no non-empty string `access_token`)."""
    try:
        data = json.loads(raw or "")
    except json.JSONDecodeError:
        return ""
    token = data.get("access_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else ""


def read_secret_token(secret_name: str, client: Any = None) -> str:
    """The token in the secret, "" while it holds none; `CredentialsError` when it cannot be
    read (missing secret, no permission, no network)."""
    sm = _secrets_client(client)
    try:
        value = sm.get_secret_value(SecretId=secret_name)
    except (ClientError, BotoCoreError) as exc:
        # Only the error's code: botocore messages can carry request details.
        code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else ""
        raise CredentialsError(
            f"cannot read secret {secret_name!r}: {code or type(exc).__name__}"
        ) from exc
    return token_of(value.get("SecretString"))


def store_access_token(secret_name: str, access_token: str, client: Any = None) -> None:
    """Write a fresh access token (after the daily login) as the secret's new value."""
    payload = json.dumps({"access_token": access_token})
    _secrets_client(client).put_secret_value(SecretId=secret_name, SecretString=payload)


class ReadBackoff:
    """Delays between reads that brought nothing new: `first_s`, doubling up to `max_s`."""

    def __init__(self, first_s: float = FIRST_READ_DELAY_S, max_s: float = MAX_READ_DELAY_S):
        if not 0 < first_s <= max_s:
            raise ValueError("backoff needs 0 < first_s <= max_s")
        self.first_s, self.max_s = first_s, max_s
        self._next = first_s

    def reset(self) -> None:
        self._next = self.first_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.max_s)
        return delay


class SecretTokenReader:
    """The token in the Kite secret, for a feed that waits for one (called about once a second
    while the feed has no working token; the secret is not read on every call).

    The secret is read on the first call, then after `backoff` delays while it brings no new
    token, and at once whenever `read_notice` (the Redis version key the login bumps) returns
    something new. Between reads it returns the last token read. Not thread-safe: the feed's
    main thread is its one caller.
    """

    def __init__(
        self,
        read_secret: Callable[[], str],
        read_notice: Callable[[], str | None],
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: ReadBackoff | None = None,
    ) -> None:
        self._read_secret = read_secret
        self._read_notice = read_notice
        self._clock = clock
        self.backoff = backoff or ReadBackoff()
        self._token = ""
        self._notice: str | None = None
        self._next_read_at: float | None = None  # None: read on the next call
        self.reads = 0

    def __call__(self) -> str:
        now = self._clock()
        notice = self._notice_now()
        if notice == self._notice and self._next_read_at is not None and now < self._next_read_at:
            return self._token
        self._notice = notice
        self.reads += 1
        try:
            token = self._read_secret()
        except CredentialsError as exc:
            log.warning("Kite token not read (will retry): %s", exc)
            token = self._token
        if token and token != self._token:
            self.backoff.reset()  # a new token: if Kite refuses it, look again soon
        self._token = token
        self._next_read_at = now + self.backoff.next_delay()
        return token

    def _notice_now(self) -> str | None:
        try:
            return self._read_notice()
        except Exception as exc:  # Redis down: the backoff schedule still finds the token
            log.debug("token notice not read: %s", exc)
            return self._notice
