"""The users' alert e-mail subscriptions, made by the feed (docs/alerts.md "E-mail
subscriptions").

The API Lambda runs in isolated subnets and cannot reach SNS; the feed task can (it already
publishes the alerts' mail). So ``PUT/DELETE /api/alerts/email`` only record the user's
request in ``alert_email`` (`strikeboard.store.alerts.request_email`), and this worker, a
thread of the feed's publisher process beside the evaluator, performs it: every ``every_s``
it takes due rows one at a time (`AlertRepo.work_email`: locked with SKIP LOCKED, so two feed
tasks never both subscribe one request), at most ``batch`` a pass:

- ``requested``: unsubscribe the user's previous subscription if the row names one, then
  Subscribe the address (protocol ``email``, filter policy ``{"user_id": [<user>]}``,
  ReturnSubscriptionArn) -> ``pending`` with its ARN; the plain address is then cleared;
- ``unsubscribe_requested``: Unsubscribe -> the row is deleted;
- ``pending`` (every ``pending_every_s``) and ``confirmed`` (every ``confirmed_every_s``):
  GetSubscriptionAttributes -> ``pending``/``confirmed``; gone from SNS (never confirmed
  within 48 hours, or unsubscribed from a mail's link) -> the row is deleted (``none``).

SNS failing (throttled, unreachable, not allowed) leaves the row as it was, retried after a
backoff of its own (5 s doubling to 5 minutes); SNS refusing the address for good (it has it
with another filter, or finds it invalid) makes the row ``refused``. Nothing here runs on the
cycle's thread. Addresses are logged masked only (`strikeboard.redact.mask_email`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from strikeboard.config import topic_region
from strikeboard.redact import mask_email
from strikeboard.store.alerts import AlertRepo, EmailOutcome, EmailRow
from strikeboard.store.errors import StoreError

log = logging.getLogger("strikeboard.feed.alert_email")

BACKOFF_FIRST_S: Final = 5.0
BACKOFF_MAX_S: Final = 300.0
REFUSED_TAKEN: Final = ("SNS has this address subscribed with another filter (another "
                        "account's, or an operator's)")  # fmt: skip
REFUSED_INVALID: Final = "SNS refused the address"


class SnsFailedError(Exception):
    """SNS did not do it this time (retried); the message names no address."""


class RefusedError(Exception):
    """SNS refuses the address for good (retrying would not help)."""


def filter_policy(user_id: str) -> str:
    """The subscription's filter policy: only messages whose ``user_id`` attribute is this
    user's (what the evaluator sets, `strikeboard.feed.alerts.publish_email`)."""
    return json.dumps({"user_id": [user_id]})


def backoff_s(attempts: int) -> float:
    """The wait before the next try of a row that failed ``attempts`` times before."""
    return float(min(BACKOFF_FIRST_S * 2 ** min(attempts, 16), BACKOFF_MAX_S))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _failed(what: str, exc: Exception, address: str = "") -> SnsFailedError:
    text = str(exc).replace(address, mask_email(address)) if address else str(exc)
    return SnsFailedError(f"{what} failed: {text}")


def subscribe(sns: Any, topic_arn: str, user_id: str, address: str) -> str:
    """Subscribe ``address`` to the user's alerts; the subscription's ARN (pending until the
    link SNS mails is followed; the same address again gives the same subscription)."""
    try:
        made = sns.subscribe(
            TopicArn=topic_arn, Protocol="email", Endpoint=address,
            Attributes={"FilterPolicy": filter_policy(user_id)},
            ReturnSubscriptionArn=True,  # the ARN even while pending: refreshes need it
        )  # fmt: skip
    except ClientError as exc:
        if _code(exc) == "InvalidParameter":
            raise RefusedError(
                REFUSED_TAKEN if "already exists" in str(exc) else REFUSED_INVALID
            ) from None
        raise _failed("subscribing", exc, address) from None
    except BotoCoreError as exc:
        raise _failed("subscribing", exc, address) from None
    return str(made["SubscriptionArn"])


def describe(sns: Any, subscription_arn: str) -> str | None:
    """``pending`` or ``confirmed``; None when SNS has it no more (unsubscribed from a mail's
    link, or never confirmed: SNS deletes those after 48 hours)."""
    try:
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription_arn)
    except ClientError as exc:
        if _code(exc) in ("NotFound", "NotFoundException"):
            return None
        raise _failed("reading the subscription", exc) from None
    except BotoCoreError as exc:
        raise _failed("reading the subscription", exc) from None
    found = attributes.get("Attributes", {})
    pending = str(found.get("PendingConfirmation", "false")).lower() == "true"
    return "pending" if pending else "confirmed"


def unsubscribe(sns: Any, user_id: str, subscription_arn: str) -> None:
    """Delete the subscription (one already gone is fine). One SNS refuses to delete as
    invalid (a subscription still pending confirmation, which the console cannot delete
    either) is left to SNS, which deletes unconfirmed subscriptions after 48 hours: nothing
    is mailed to it unless its link is followed."""
    try:
        sns.unsubscribe(SubscriptionArn=subscription_arn)
    except ClientError as exc:
        if _code(exc) in ("NotFound", "NotFoundException"):
            return
        if _code(exc) == "InvalidParameter":
            log.warning("alerts e-mail: user %s's subscription left to expire: %s", user_id,
                        _code(exc))  # fmt: skip
            return
        raise _failed("unsubscribing", exc) from None
    except BotoCoreError as exc:
        raise _failed("unsubscribing", exc) from None


def perform(sns: Any, topic_arn: str, row: EmailRow) -> EmailOutcome:
    """Do what the row asks of SNS (the module docstring); never raises for SNS's failures."""
    arn = row.subscription_arn
    try:
        if row.state == "unsubscribe_requested":
            if arn is not None:
                unsubscribe(sns, row.user_id, arn)
            log.info("alerts e-mail: user %s unsubscribed", row.user_id)
            return EmailOutcome("none")
        if row.state == "requested":
            if arn is not None:  # one address per user: the new one replaces it
                unsubscribe(sns, row.user_id, arn)
                arn = None  # gone: a failure below must not unsubscribe it again
            address = row.address or ""
            arn = subscribe(sns, topic_arn, row.user_id, address)
            log.info("alerts e-mail: user %s subscribed %s", row.user_id, mask_email(address))
            return EmailOutcome("pending", arn)
        found = describe(sns, arn) if arn is not None else None
        if found is None:
            log.info("alerts e-mail: user %s's subscription is gone from SNS", row.user_id)
            return EmailOutcome("none")
        if found != row.state:
            log.info("alerts e-mail: user %s's subscription is %s", row.user_id, found)
        return EmailOutcome(found, arn)
    except RefusedError as exc:
        log.warning("alerts e-mail: user %s: %s", row.user_id, exc)
        return EmailOutcome("refused", None, error=str(exc))
    except SnsFailedError as exc:
        wait = backoff_s(row.attempts)
        log.warning("alerts e-mail: user %s: %s (try %d, again in %.0f s)", row.user_id, exc,
                    row.attempts + 1, wait)  # fmt: skip
        return EmailOutcome(row.state, arn, retry_in_s=wait, error=str(exc))


def sns_client(topic_arn: str) -> Any:
    """A boto3 SNS client in the topic's region with short timeouts and no retries of its
    own: the row stays locked during a call, and the worker retries with its backoff."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    config = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1})
    return boto3.client("sns", region_name=topic_region(topic_arn), config=config)


@dataclass
class WorkerStats:
    done: int = 0
    """Rows performed (requests and refreshes), failures included."""
    failed: int = 0
    """SNS failures (each retried later) and database failures."""
    passes: int = 0


class SubscriptionWorker:
    """See the module docstring. `run_once` is one pass (tests call it); `start` runs passes
    every ``every_s`` on a thread of its own until `stop`."""

    def __init__(
        self, repo: AlertRepo, sns: Any, topic_arn: str, *, every_s: float = 3.0,
        batch: int = 20, pending_every_s: float = 30.0, confirmed_every_s: float = 6 * 3600.0,
    ) -> None:  # fmt: skip
        self.repo = repo
        self.sns = sns
        self.topic_arn = topic_arn
        self.every_s = every_s
        self.batch = batch
        self.pending_every_s = pending_every_s
        self.confirmed_every_s = confirmed_every_s
        self.stats = WorkerStats()
        self._taken = (0, 0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db_down = False

    def take_counts(self) -> dict[str, int]:
        """Rows performed and failures since the last take, for the feed's health (the
        publisher sends them with its cycle results, as the evaluator's)."""
        done, failed = self.stats.done, self.stats.failed
        gained = {"subscriptions_done": done - self._taken[0],
                  "subscriptions_failed": failed - self._taken[1]}  # fmt: skip
        self._taken = (done, failed)
        return gained

    def run_once(self) -> int:
        """Perform up to ``batch`` due rows; how many. Raises `StoreError` when PostgreSQL
        fails."""
        done = 0
        self.stats.passes += 1
        while done < self.batch and not self._stop.is_set():
            worked = self.repo.work_email(
                lambda row: perform(self.sns, self.topic_arn, row),
                self.pending_every_s, self.confirmed_every_s,
            )  # fmt: skip
            if worked is None:
                break
            done += 1
            self.stats.done += 1
            if worked[1].retry_in_s > 0:
                self.stats.failed += 1
        return done

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-email", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.repo.close()

    def _run(self) -> None:
        wait = self.every_s
        while not self._stop.is_set():
            try:
                self.run_once()
                wait = self.every_s
                if self._db_down:
                    log.info("alerts e-mail: PostgreSQL answers again")
                self._db_down = False
            except StoreError as exc:
                self.stats.failed += 1
                if not self._db_down:  # once per outage
                    log.warning("alerts e-mail: PostgreSQL failed: %s", exc)
                self._db_down = True
                wait = min(max(wait, self.every_s) * 2, 60.0)
            except Exception:  # a bug must not end the thread silently, nor the feed
                self.stats.failed += 1
                log.exception("alerts e-mail: a pass failed")
                wait = min(max(wait, self.every_s) * 2, 60.0)
            self._stop.wait(wait)


def maybe_start(database_url: str, topic_arn: str) -> SubscriptionWorker | None:
    """The publisher process's worker (None without a topic: nothing to subscribe to);
    started."""
    if not topic_arn:
        return None
    try:
        worker = SubscriptionWorker(AlertRepo(database_url), sns_client(topic_arn), topic_arn)
    except Exception:  # the chain must be priced and published whatever happens here
        log.exception("alerts e-mail: the subscription worker could not start")
        return None
    worker.start()
    return worker


def stop_quietly(worker: SubscriptionWorker | None) -> None:
    """Stop the worker, waiting briefly: a request it was performing when the process ends
    is rolled back with its transaction and performed again (Subscribe gives the same
    subscription for the same address)."""
    if worker is not None:
        with contextlib.suppress(Exception):
            worker.stop(2.0)
