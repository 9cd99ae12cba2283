"""Alert rules, fired alerts and e-mail subscriptions in PostgreSQL (tables of migrations
0005-0007, docs/alerts.md).

Two users of the tables: the API (a user's rules and events; functions over any ``rows``
callable, such as `strikeboard.api.stores.Stores.rows`) and the evaluator in the feed's
publisher process (`AlertRepo`, over a connection of its own).

Exactly once: a fire is recorded in ONE transaction with the rule's new state, guarded by the
crossing count the evaluator started from (``WHERE crossings = before``), and the event's
``(rule_id, crossing)`` is unique. A restarted evaluator continues from the stored state, so a
fire it recorded is not fired again; one it decided but had not recorded is decided again from
the same stored state, with the same crossing number, if the value is still across.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

import psycopg
from psycopg.rows import TupleRow

from strikeboard.chain.alerts import Change, Kind, Op, Rule, RuleError, RuleState, Target, describe
from strikeboard.store.errors import ArchiveUnavailableError, StoreError
from strikeboard.store.migrate import migrate

__all__ = [
    "EMAIL_STATES",
    "EVENT_COLUMNS",
    "RULE_COLUMNS",
    "AlertRepo",
    "EmailOutcome",
    "EmailRow",
    "Recorded",
    "address_sha256",
    "create_rule",
    "delete_events_before",
    "delete_rule",
    "email_request",
    "email_taken",
    "event_document",
    "keep_email",
    "list_events",
    "list_rules",
    "request_email",
    "rule_document",
    "unrequest_email",
]

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

RULE_COLUMNS: Final = (
    "id", "user_id", "kind", "underlying", "expiry", "strike", "option_type", "op", "level",
    "hysteresis", "email", "note", "created_at", "armed", "side", "last_value", "observed_at",
    "crossings",
)  # fmt: skip
EVENT_COLUMNS: Final = (
    "id", "rule_id", "crossing", "user_id", "kind", "underlying", "expiry", "strike",
    "option_type", "op", "level", "value", "previous", "text", "note", "email", "fired_at",
    "created_at", "pushed_at", "emailed_at",
)  # fmt: skip
_RULES = ", ".join(RULE_COLUMNS)
_EVENTS = ", ".join(EVENT_COLUMNS)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _number(value: Any) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def rule_document(row: Sequence[Any]) -> dict[str, Any]:
    """A rule row (RULE_COLUMNS order) as the API answers it (dates and times ISO)."""
    doc = {name: _iso(value) for name, value in zip(RULE_COLUMNS, row, strict=True)}
    for name in ("strike", "level", "hysteresis", "last_value"):
        doc[name] = _number(doc[name])
    return doc


def event_document(row: Sequence[Any]) -> dict[str, Any]:
    """An event row (EVENT_COLUMNS order) as the API and the live message carry it."""
    doc = {name: _iso(value) for name, value in zip(EVENT_COLUMNS, row, strict=True)}
    for name in ("strike", "level", "value", "previous"):
        doc[name] = _number(doc[name])
    return doc


def rule_of(row: Sequence[Any]) -> tuple[Rule, RuleState]:
    """The evaluator's rule and stored state from a rule row (RULE_COLUMNS order)."""
    d = dict(zip(RULE_COLUMNS, row, strict=True))
    expiry = d["expiry"].isoformat() if d["expiry"] is not None else None
    target = Target(Kind(d["kind"]), d["underlying"], expiry, d["strike"], d["option_type"])
    rule = Rule(int(d["id"]), d["user_id"], target, Op(d["op"]), float(d["level"]),
                float(d["hysteresis"]), bool(d["email"]))  # fmt: skip
    return rule, RuleState(d["armed"], int(d["crossings"]), d["last_value"])


# -- the API's ------------------------------------------------------------------------------


def list_rules(rows: Rows, user_id: str) -> list[dict[str, Any]]:
    """The user's rules, oldest first."""
    found = rows(f"SELECT {_RULES} FROM alert_rules WHERE user_id = %s ORDER BY id", (user_id,))
    return [rule_document(r) for r in found]


def create_rule(
    rows: Rows, user_id: str, target: Target, op: Op, level: float, *, hysteresis: float = 0.0,
    email: bool = False, note: str = "", cap: int,
) -> dict[str, Any] | None:  # fmt: skip
    """Store a new rule; None when the user already has ``cap`` rules (one statement: two
    requests racing may both pass the count, which a cap meant as a bound tolerates)."""
    found = rows(
        "INSERT INTO alert_rules (user_id, kind, underlying, expiry, strike, option_type, op,"
        " level, hysteresis, email, note)"
        " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
        " WHERE (SELECT count(*) FROM alert_rules WHERE user_id = %s) < %s"
        f" RETURNING {_RULES}",
        (user_id, target.kind.value, target.underlying, target.expiry, target.strike,
         target.option_type, op.value, level, hysteresis, email, note, user_id, cap),
    )  # fmt: skip
    return rule_document(found[0]) if found else None


def delete_rule(rows: Rows, user_id: str, rule_id: int) -> bool:
    """Delete one of the user's rules (its fired events stay); False when it has none such."""
    found = rows("DELETE FROM alert_rules WHERE id = %s AND user_id = %s RETURNING id",
                 (rule_id, user_id))  # fmt: skip
    return bool(found)


def list_events(
    rows: Rows, user_id: str, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """The user's fired alerts, newest first, ``limit`` a page from ``before`` (an event id,
    exclusive); and the ``before`` of the next page (None: no more)."""
    found = rows(
        f"SELECT {_EVENTS} FROM alert_events WHERE user_id = %s AND (%s::bigint IS NULL"
        " OR id < %s) ORDER BY id DESC LIMIT %s",
        (user_id, before, before, limit + 1),
    )
    page = [event_document(r) for r in found[:limit]]
    return page, (page[-1]["id"] if len(found) > limit else None)


# -- e-mail subscriptions (migrations 0006, 0007) ------------------------------------------
# The API records what the user asks (it cannot reach SNS); the feed's worker performs it
# (`AlertRepo.work_email`, `strikeboard.feed.alert_email`). Every API write is guarded by the
# row as the API read it: a row the worker changed meanwhile is read again, never overwritten.

EMAIL_STATES: Final = ("requested", "pending", "confirmed", "unsubscribe_requested", "refused")
_EMAIL = ("user_id, state, address, address_hint, address_sha256, subscription_arn, attempts,"
          " last_error")  # fmt: skip


@dataclass(frozen=True)
class EmailRow:
    """A user's row of ``alert_email`` (states: migration 0007)."""

    user_id: str
    state: str
    address: str | None
    """The plain address, only while ``requested``."""
    address_hint: str
    """The address masked (t***@example.com), for the panel."""
    address_sha256: str
    subscription_arn: str | None
    attempts: int = 0
    last_error: str = ""


def address_sha256(address: str) -> str:
    """The key of "one user per address": mail systems take ``Trader@Example.com`` and
    ``trader@example.com`` alike."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def _email_row(row: Sequence[Any]) -> EmailRow:
    return EmailRow(str(row[0]), str(row[1]), row[2], str(row[3]), str(row[4]), row[5],
                    int(row[6]), str(row[7]))  # fmt: skip


def email_request(rows: Rows, user_id: str) -> EmailRow | None:
    """The user's row (None: no subscription and nothing asked)."""
    found = rows(f"SELECT {_EMAIL} FROM alert_email WHERE user_id = %s", (user_id,))
    return _email_row(found[0]) if found else None


def email_taken(rows: Rows, user_id: str, address_sha256: str) -> bool:
    """Whether another user's row has this address."""
    found = rows("SELECT 1 FROM alert_email WHERE address_sha256 = %s AND user_id <> %s",
                 (address_sha256, user_id))  # fmt: skip
    return bool(found)


_UNCHANGED = ("user_id = %s AND state = %s AND address_sha256 = %s"
              " AND subscription_arn IS NOT DISTINCT FROM %s")  # fmt: skip


def _was(before: EmailRow) -> tuple[Any, ...]:
    return (before.user_id, before.state, before.address_sha256, before.subscription_arn)


def request_email(
    rows: Rows, user_id: str, address: str, hint: str, before: EmailRow | None
) -> Literal["done", "moved", "taken"]:
    """Ask the feed to subscribe ``address`` for the user (state ``requested``), over
    ``before``, the row as the caller read it (a subscription it still names is replaced:
    the worker unsubscribes it first). ``moved``: the row is no longer ``before`` (read it
    again); ``taken``: another user's row has the address."""
    digest = address_sha256(address)
    try:
        if before is None:
            found = rows(
                "INSERT INTO alert_email (user_id, state, address, address_hint, address_sha256)"
                " VALUES (%s, 'requested', %s, %s, %s) ON CONFLICT (user_id) DO NOTHING"
                " RETURNING 1", (user_id, address, hint, digest))  # fmt: skip
        else:
            arn = None if before.state == "refused" else before.subscription_arn
            found = rows(
                "UPDATE alert_email SET state = 'requested', address = %s, address_hint = %s,"
                " address_sha256 = %s, subscription_arn = %s, attempts = 0, last_error = '',"
                f" next_attempt_at = now(), updated_at = now() WHERE {_UNCHANGED} RETURNING 1",
                (address, hint, digest, arn, *_was(before)))  # fmt: skip
    except psycopg.errors.UniqueViolation:
        return "taken"
    return "done" if found else "moved"


def keep_email(rows: Rows, before: EmailRow) -> bool:
    """Take back an unsubscribe not yet performed (the same address asked again): the
    subscription stays, ``pending`` until the worker has read SNS's state anew; False when
    the row moved."""
    found = rows("UPDATE alert_email SET state = 'pending', checked_at = NULL,"
                 f" next_attempt_at = now(), updated_at = now() WHERE {_UNCHANGED} RETURNING 1",
                 _was(before))  # fmt: skip
    return bool(found)


def unrequest_email(rows: Rows, before: EmailRow) -> bool:
    """Ask the feed to unsubscribe the user: a subscription the row names becomes
    ``unsubscribe_requested``; a request that names none (nothing in SNS yet, or refused) is
    deleted. False when the row moved."""
    if before.subscription_arn is None:
        found = rows(f"DELETE FROM alert_email WHERE {_UNCHANGED} RETURNING 1", _was(before))
    else:
        found = rows("UPDATE alert_email SET state = 'unsubscribe_requested', address = NULL,"
                     " attempts = 0, last_error = '', next_attempt_at = now(),"
                     f" updated_at = now() WHERE {_UNCHANGED} RETURNING 1",
                     _was(before))  # fmt: skip
    return bool(found)


@dataclass(frozen=True)
class EmailOutcome:
    """What the feed's worker did with a row (`AlertRepo.work_email`): the row's new
    ``state`` (``none``: delete the row) with its ``subscription_arn``; or, with ``retry_in_s``,
    a failure to try again then (``error``: why, never the address), the row's state kept."""

    state: str
    subscription_arn: str | None = None
    retry_in_s: float = 0.0
    error: str = ""


# -- retention --------------------------------------------------------------------------------


def delete_events_before(rows: Rows, cutoff: datetime, batch: int = 10_000) -> int:
    """Delete fired alerts created before ``cutoff`` (ALERTS_EVENTS_RETENTION_DAYS), in
    batches (a first run over years of events holds no long lock); how many."""
    deleted = 0
    while True:
        found = rows(
            "DELETE FROM alert_events WHERE id IN (SELECT id FROM alert_events"
            " WHERE created_at < %s ORDER BY id LIMIT %s) RETURNING id",
            (cutoff, batch),
        )
        deleted += len(found)
        if len(found) < batch:
            return deleted


# -- the evaluator's ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What `AlertRepo.record` did with one change: ``event`` when it recorded a fire;
    ``stale`` when the stored rule had moved on (another writer) or is gone (deleted): the
    change was dropped and ``stored`` is the rule's stored state (None: deleted)."""

    event: dict[str, Any] | None = None
    stale: bool = False
    stored: RuleState | None = None


class AlertRepo:
    """The evaluator's access to the alert tables over one connection (reopened after a
    failure). Raises `ArchiveUnavailableError` when PostgreSQL is unreachable and `StoreError`
    for other database errors; each call is one transaction."""

    def __init__(self, url: str, connect_timeout: float = 3.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[TupleRow] | None = None
        self._migrated = False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection[TupleRow]:
        if self._conn is None or self._conn.closed:
            if not self._migrated:  # the feed may start before anything else made the tables
                migrate(self.url)
                self._migrated = True
            try:
                self._conn = psycopg.connect(
                    self.url, connect_timeout=max(1, round(self.connect_timeout))
                )
            except psycopg.OperationalError as exc:
                raise ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}") from exc
        return self._conn

    def _run(self, work: Callable[[psycopg.Connection[TupleRow]], Any]) -> Any:
        conn = self._connection()
        try:
            with conn.transaction():
                return work(conn)
        except psycopg.OperationalError as exc:
            self.close()
            raise ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}") from exc
        except psycopg.Error as exc:
            if conn.closed:
                self.close()
                raise ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}") from exc
            raise StoreError(f"PostgreSQL error: {exc}") from exc

    def fingerprint(self) -> tuple[int, int]:
        """(count, highest id) of the rules: rules are only ever added or deleted, so this
        changes whenever the rule set does."""
        row = self._run(lambda c: c.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM alert_rules").fetchone())  # fmt: skip
        return int(row[0]), int(row[1])

    def load(self) -> list[tuple[Rule, RuleState]]:
        """Every rule with its stored state; a row that is no valid rule (written by hand) is
        skipped."""
        found = self._run(lambda c: c.execute(f"SELECT {_RULES} FROM alert_rules").fetchall())
        out = []
        for row in found:
            try:
                out.append(rule_of(row))
            except (RuleError, ValueError):
                continue
        return out

    def record(self, change: Change, at: datetime) -> Recorded:
        """Store the change at market time ``at``: the rule's new state and, for a fire, its
        event; nothing when the stored rule is not in the state the change started from."""
        rule, before, after = change.rule, change.before, change.after

        def work(conn: psycopg.Connection[TupleRow]) -> Recorded:
            updated = conn.execute(
                "UPDATE alert_rules SET armed = %s, side = %s, last_value = %s,"
                " observed_at = %s, crossings = %s WHERE id = %s AND crossings = %s"
                " RETURNING id",
                (after.armed, change.side, after.value, at, after.crossings, rule.id,
                 before.crossings),
            ).fetchone()  # fmt: skip
            if updated is None:
                row = conn.execute("SELECT armed, crossings, last_value FROM alert_rules"
                                   " WHERE id = %s", (rule.id,)).fetchone()  # fmt: skip
                stored = None if row is None else RuleState(row[0], int(row[1]), row[2])
                return Recorded(stale=True, stored=stored)
            if not change.fired:
                return Recorded()
            assert after.value is not None
            t = rule.target
            inserted = conn.execute(
                "INSERT INTO alert_events (rule_id, crossing, user_id, kind, underlying, expiry,"
                " strike, option_type, op, level, value, previous, text, note, email, fired_at)"
                " SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, r.note, %s, %s"
                " FROM alert_rules r WHERE r.id = %s"
                f" ON CONFLICT (rule_id, crossing) DO NOTHING RETURNING {_EVENTS}",
                (rule.id, after.crossings, rule.user_id, t.kind.value, t.underlying, t.expiry,
                 t.strike, t.option_type, rule.op.value, rule.level, after.value, before.value,
                 describe(rule, after.value), rule.email, at, rule.id),
            ).fetchone()  # fmt: skip
            return Recorded(event=None if inserted is None else event_document(inserted))

        result: Recorded = self._run(work)
        return result

    def undelivered(self, email: bool, window_s: float, limit: int = 500) -> list[dict[str, Any]]:
        """Events of the last ``window_s`` seconds (the database's clock) not yet pushed (or,
        with ``email``, not yet e-mailed when they asked for it), oldest first."""
        found = self._run(lambda c: c.execute(
            f"SELECT {_EVENTS} FROM alert_events WHERE created_at > now() - make_interval("
            "secs => %s) AND (pushed_at IS NULL OR (%s AND email AND emailed_at IS NULL))"
            " ORDER BY id LIMIT %s", (window_s, email, limit)).fetchall())  # fmt: skip
        return [event_document(r) for r in found]

    def mark(self, column: str, ids: Sequence[int]) -> None:
        """Set ``pushed_at`` or ``emailed_at`` of these events to now."""
        if column not in ("pushed_at", "emailed_at"):
            raise ValueError(f"not a delivery column: {column}")
        if ids:
            self._run(lambda c: c.execute(
                f"UPDATE alert_events SET {column} = now() WHERE id = ANY(%s)",
                (list(ids),)))  # fmt: skip

    # -- the e-mail subscription worker's (strikeboard.feed.alert_email) --------------------

    def work_email(
        self, perform: Callable[[EmailRow], EmailOutcome], pending_every_s: float,
        confirmed_every_s: float,
    ) -> tuple[EmailRow, EmailOutcome] | None:  # fmt: skip
        """Take one due row and ``perform`` it, the row locked meanwhile (FOR UPDATE SKIP
        LOCKED: a second worker, a feed being replaced, skips it, and finds it done once this
        commits: one Subscribe per request); store the outcome. Due: a request (requested,
        unsubscribe_requested) whose retry time has come, before a ``pending`` row not read
        from SNS for ``pending_every_s`` and a ``confirmed`` one for ``confirmed_every_s``.
        None when nothing is due. The API's writes to that row wait for the commit (the SNS
        calls have short timeouts) and then find it moved."""

        def work(conn: psycopg.Connection[TupleRow]) -> tuple[EmailRow, EmailOutcome] | None:
            found = conn.execute(
                f"SELECT {_EMAIL} FROM alert_email WHERE next_attempt_at <= now() AND ("
                "state IN ('requested', 'unsubscribe_requested')"
                " OR (state = 'pending' AND (checked_at IS NULL"
                "     OR checked_at < now() - make_interval(secs => %s)))"
                " OR (state = 'confirmed' AND (checked_at IS NULL"
                "     OR checked_at < now() - make_interval(secs => %s))))"
                " ORDER BY state IN ('requested', 'unsubscribe_requested') DESC,"
                " checked_at NULLS FIRST, next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                (pending_every_s, confirmed_every_s),
            ).fetchone()  # fmt: skip
            if found is None:
                return None
            row = _email_row(found)
            outcome = perform(row)
            if outcome.retry_in_s > 0:
                conn.execute(
                    "UPDATE alert_email SET subscription_arn = %s, attempts = attempts + 1,"
                    " last_error = %s, next_attempt_at = now() + make_interval(secs => %s)"
                    " WHERE user_id = %s",
                    (outcome.subscription_arn, outcome.error[:300], outcome.retry_in_s,
                     row.user_id),
                )  # fmt: skip
            elif outcome.state == "none":
                conn.execute("DELETE FROM alert_email WHERE user_id = %s", (row.user_id,))
            else:
                if outcome.state not in EMAIL_STATES:
                    raise ValueError(f"not an e-mail subscription state: {outcome.state}")
                # Subscribed or refused: the plain address is no longer needed.
                conn.execute(
                    "UPDATE alert_email SET state = %s, subscription_arn = %s, address = NULL,"
                    " attempts = 0, last_error = %s, next_attempt_at = now(),"
                    # read from SNS: now; just subscribed: to be read at the next pass
                    " checked_at = CASE WHEN state IN ('pending', 'confirmed') THEN now() END,"
                    " updated_at = now() WHERE user_id = %s",
                    (outcome.state, outcome.subscription_arn, outcome.error[:300],
                     row.user_id),
                )  # fmt: skip
            return row, outcome

        done: tuple[EmailRow, EmailOutcome] | None = self._run(work)
        return done
