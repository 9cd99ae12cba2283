"""The alert evaluator: the users' rules checked against each cycle's chain documents, in the
feed's publisher process (which has every priced document in memory: no parsing, no copy).

The publisher calls `observe` after a cycle's documents are published: the rules reading them
are evaluated there and then (`strikeboard.chain.alerts`, pure, ~1 µs a rule), and what
changed is queued for this object's own thread, which does all the I/O so that a slow or
absent PostgreSQL, Redis or SNS never holds a cycle:

1. record each change in PostgreSQL, in order (`AlertRepo.record`: the rule's state and, for a
   fire, its event, exactly once), retried while PostgreSQL is down;
2. deliver each recorded fire: to Redis (`HotStore.publish_alert`, for the pusher: an
   ``alert`` message to that user's connections) and, when the rule asks for e-mail and
   ALERTS_TOPIC_ARN is set, to SNS (a message attribute ``user_id`` for the subscriptions'
   filter policies); each marked done in PostgreSQL, and retried by a sweep for
   ``delivery_window_s`` if it failed (a restarted evaluator sweeps first);
3. every ``refresh_s``, reload the rules if the set changed (created or deleted through the
   API): no restart needed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import boto3

from strikeboard.chain.alerts import AlertBook, Change
from strikeboard.config import topic_region
from strikeboard.store.alerts import AlertRepo
from strikeboard.store.errors import ArchiveUnavailableError, StoreError
from strikeboard.store.hot import HotStore

log = logging.getLogger("strikeboard.feed.alerts")

STATS_EVERY_S: Final = 60.0
MAX_PENDING: Final = 100_000
"""Changes waiting for PostgreSQL beyond this are dropped (logged): an outage of hours with
every rule flapping; memory stays bounded."""
SUBJECT_MAX: Final = 99  # SNS: "under 100 characters", ASCII
EVALUATOR_COUNTS: Final = ("evaluated", "fired", "pushed", "emailed", "failed", "dropped")
"""The evaluator's counters: rules looked at, fires decided, pushes and e-mails done, failed
attempts (PostgreSQL, Redis or SNS; retried), changes dropped."""
ALERT_COUNTS: Final = (*EVALUATOR_COUNTS, "subscriptions_done", "subscriptions_failed")
"""The feed's health's ``alerts`` counters: the evaluator's, and the e-mail subscription
worker's (`strikeboard.feed.alert_email`: requests and checks performed, SNS or PostgreSQL
failures, each retried)."""


@dataclass(frozen=True)
class AlertsConfig:
    """What the publisher process needs to run the evaluator (picklable: sent at spawn)."""

    database_url: str
    redis_url: str
    redis_prefix: str
    topic_arn: str = ""
    """SNS topic for e-mail alerts; empty: no e-mail."""
    refresh_s: float = 2.0
    delivery_window_s: float = 900.0
    """How long a fire whose delivery failed is retried (older: left to the events list)."""


@dataclass
class AlertStats:
    cycles: int = 0
    observe_cpu_s: float = 0.0
    """CPU time `observe` spent, all cycles together (thread time of the publisher's)."""
    changes: int = 0
    fired: int = 0
    recorded: int = 0
    stale: int = 0
    pushed: int = 0
    emailed: int = 0
    errors: int = 0
    dropped: int = 0
    rules: int = 0
    loads: int = 0
    ready: bool = False
    """The rules were loaded at least once."""
    last_error: str = ""


def sns_client(topic_arn: str) -> Any:
    """A boto3 SNS client in the topic's region (credentials: botocore's chain, the ECS task
    role in the cloud)."""
    return boto3.client("sns", region_name=topic_region(topic_arn))


def email_subject(event: Mapping[str, Any]) -> str:
    text = f"Strikeboard: {event['text']}"
    ascii_text = text.encode("ascii", "replace").decode().replace("\n", " ")
    return ascii_text[:SUBJECT_MAX]


def email_body(event: Mapping[str, Any]) -> str:
    lines = [str(event["text"])]
    if event.get("note"):
        lines.append(f"Note: {event['note']}")
    lines.append(f"Fired at {event['fired_at']} (crossing {event['crossing']} of rule "
                 f"{event['rule_id']}).")  # fmt: skip
    lines += ["", "Strikeboard alerts: manage them in the dashboard."]
    return "\n".join(lines)


def publish_email(sns: Any, topic_arn: str, event: Mapping[str, Any]) -> None:
    """Publish one event to the alerts topic with the ``user_id`` message attribute that the
    subscriptions' filter policies match (`strikeboard.feed.alert_email.filter_policy`)."""
    sns.publish(
        TopicArn=topic_arn, Subject=email_subject(event), Message=email_body(event),
        MessageAttributes={"user_id": {"DataType": "String",
                                       "StringValue": str(event["user_id"])}},
    )  # fmt: skip


class AlertEvaluator:
    """See the module docstring. `observe` from the cycle's thread; `start`/`stop` around."""

    def __init__(
        self, repo: AlertRepo, hot: HotStore, *, sns: Any = None, topic_arn: str = "",
        refresh_s: float = 2.0, delivery_window_s: float = 900.0,
    ) -> None:  # fmt: skip
        self.repo = repo
        self.hot = hot
        self.sns = sns if topic_arn else None
        self.topic_arn = topic_arn
        self.refresh_s = refresh_s
        self.delivery_window_s = delivery_window_s
        self.book = AlertBook()
        self.stats = AlertStats()
        self._lock = threading.Lock()  # the book: cycles observe, the thread reloads it
        self._queue: queue.Queue[tuple[list[Change], datetime]] = queue.Queue()
        self._pending = 0
        self._stop = threading.Event()
        self._refresh_now = threading.Event()
        self._fingerprint: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._unavailable = False
        self._taken = dict.fromkeys(EVALUATOR_COUNTS, 0)

    @classmethod
    def from_config(cls, config: AlertsConfig) -> AlertEvaluator:
        return cls(
            AlertRepo(config.database_url),
            HotStore.from_url(config.redis_url, config.redis_prefix),
            sns=sns_client(config.topic_arn) if config.topic_arn else None,
            topic_arn=config.topic_arn, refresh_s=config.refresh_s,
            delivery_window_s=config.delivery_window_s,
        )  # fmt: skip

    # -- the cycle's side -------------------------------------------------------------------

    def observe(self, docs: Iterable[Mapping[str, Any]], at: datetime) -> int:
        """Evaluate the rules reading these documents (the cycle's changed expiries, priced
        at market time ``at``); the changes go to the thread. Returns how many changed."""
        started = time.thread_time()
        with self._lock:
            changes = self.book.observe(docs)
            if changes and self._pending + len(changes) > MAX_PENDING:
                self.stats.dropped += len(changes)
                log.error("alerts: %d changes dropped, %d already wait for PostgreSQL",
                          len(changes), self._pending)  # fmt: skip
            elif changes:
                self._pending += len(changes)
                self._queue.put((changes, at))
        self.stats.cycles += 1
        self.stats.observe_cpu_s += time.thread_time() - started
        return len(changes)

    def counts(self) -> dict[str, int]:
        """`EVALUATOR_COUNTS` since this evaluator started."""
        s = self.stats
        return {"evaluated": self.book.evaluated, "fired": s.fired, "pushed": s.pushed,
                "emailed": s.emailed, "failed": s.errors, "dropped": s.dropped}  # fmt: skip

    def take_counts(self) -> dict[str, int]:
        """What `counts` gained since the last take (the publisher sends these with each
        cycle's result: the feed's totals survive a restarted publisher process)."""
        now = self.counts()
        gained = {k: now[k] - self._taken[k] for k in EVALUATOR_COUNTS}
        self._taken = now
        return gained

    @property
    def pending(self) -> int:
        """Changes decided and not yet recorded (or given up)."""
        with self._lock:
            return self._pending

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Record what is queued (for at most ``timeout`` s), then stop."""
        self._stop.set()
        self._queue.put(([], datetime.min))  # wake the thread
        if self._thread is not None:
            self._thread.join(timeout)
        self.repo.close()
        self.hot.close()

    def _run(self) -> None:
        next_refresh = next_stats = 0.0
        while True:
            now = time.monotonic()
            if now >= next_refresh or self._refresh_now.is_set():
                self._refresh_now.clear()
                self.refresh()
                self.sweep()
                next_refresh = time.monotonic() + self.refresh_s
            if now >= next_stats:
                if next_stats:
                    self._log_stats()
                next_stats = now + STATS_EVERY_S
            try:
                changes, at = self._queue.get(timeout=max(0.0, next_refresh - time.monotonic()))
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            self._record_all(changes, at)
            if self._stop.is_set() and self._queue.empty():
                return

    def refresh(self) -> bool:
        """Reload the rules if they changed since the last load; False when PostgreSQL is
        unreachable."""
        try:
            fingerprint = self.repo.fingerprint()
            if fingerprint == self._fingerprint:
                return True
            rules = self.repo.load()
        except StoreError as exc:
            self._failed("loading the rules", exc)
            return False
        with self._lock:
            self.book.replace(rules)
        self._fingerprint = fingerprint
        self.stats.rules, self.stats.ready = len(rules), True
        self.stats.loads += 1
        self._recovered()
        return True

    def _record_all(self, changes: list[Change], at: datetime) -> None:
        backoff = 0.2
        for change in changes:
            while True:
                try:
                    recorded = self.repo.record(change, at)
                    break
                except ArchiveUnavailableError as exc:
                    self._failed("recording", exc)
                    # Stopping: what is left is decided again by the next evaluator.
                    if self._stop.wait(backoff):
                        return
                    backoff = min(backoff * 2, 5.0)
                except StoreError as exc:  # not an outage: retrying would not help
                    self._failed("recording", exc)
                    self.stats.dropped += 1
                    recorded = None
                    break
            with self._lock:
                self._pending -= 1
            if recorded is None:
                continue
            self._recovered()
            self.stats.changes += 1
            if recorded.stale:
                self.stats.stale += 1
                with self._lock:
                    if recorded.stored is not None:
                        self.book.reset(change.rule.id, recorded.stored)
                self._refresh_now.set()
            elif recorded.event is not None:
                self.stats.recorded += 1
                self.deliver(recorded.event)
            if change.fired:
                self.stats.fired += 1

    def deliver(self, event: Mapping[str, Any]) -> None:
        """Push (Redis) and e-mail (SNS) one recorded event as far as still owed."""
        event_id = int(event["id"])
        if event.get("pushed_at") is None:
            try:
                self.hot.publish_alert(str(event["user_id"]), dict(event))
                self.repo.mark("pushed_at", [event_id])
                self.stats.pushed += 1
            except StoreError as exc:
                self._failed("pushing", exc)
        if self.sns is not None and event.get("email") and event.get("emailed_at") is None:
            try:
                publish_email(self.sns, self.topic_arn, event)
            except Exception as exc:  # botocore's errors (throttling, network): retried later
                self._failed("e-mailing", exc)
                return
            try:
                self.repo.mark("emailed_at", [event_id])
                self.stats.emailed += 1
            except StoreError as exc:
                self._failed("marking e-mailed", exc)

    def sweep(self) -> None:
        """Deliver what recent events are still owed (a failed push or e-mail, a restart)."""
        try:
            owed = self.repo.undelivered(self.sns is not None, self.delivery_window_s)
        except StoreError as exc:
            self._failed("sweeping", exc)
            return
        for event in owed:
            self.deliver(event)

    def _failed(self, what: str, exc: Exception) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{what}: {exc}"
        if not self._unavailable:  # once per outage, not once per retry
            log.warning("alerts: %s failed: %s", what, exc)
        self._unavailable = True

    def _recovered(self) -> None:
        if self._unavailable:
            log.info("alerts: PostgreSQL and Redis answer again")
        self._unavailable = False

    def _log_stats(self) -> None:
        s = self.stats
        per_cycle = s.observe_cpu_s / s.cycles * 1000 if s.cycles else 0.0
        log.info("alert stats: rules=%d cycles=%d cpu_per_cycle_ms=%.3f fired=%d recorded=%d "
                 "stale=%d pushed=%d emailed=%d errors=%d dropped=%d pending=%d", s.rules,
                 s.cycles, per_cycle, s.fired, s.recorded, s.stale, s.pushed, s.emailed,
                 s.errors, s.dropped, self._pending)  # fmt: skip


def maybe_start(config: AlertsConfig | None) -> AlertEvaluator | None:
    """The publisher process's evaluator (None without a config); started."""
    if config is None:
        return None
    try:
        evaluator = AlertEvaluator.from_config(config)
    except Exception:  # the chain must be priced and published whatever happens to alerts
        log.exception("alerts: the evaluator could not start; running without alerts")
        return None
    evaluator.start()
    return evaluator


def stop_quietly(evaluator: AlertEvaluator | None) -> None:
    if evaluator is not None:
        with contextlib.suppress(Exception):
            evaluator.stop()
