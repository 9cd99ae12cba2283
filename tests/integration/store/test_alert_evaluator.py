"""The alert evaluator (`strikeboard.feed.alerts`) on real chain documents (the simulator's,
priced as the feed prices them) against real PostgreSQL and Redis, SNS from moto: each
crossing recorded exactly once whatever restarts, crashes or second evaluators do; the fire
pushed to Redis for its user and e-mailed to its user's subscription only."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import psycopg
import pytest
import redis
from moto import mock_aws

from strikeboard.chain.alerts import Kind, Op, Rule, RuleState, Target, step
from strikeboard.feed.alerts import AlertEvaluator
from strikeboard.market.calendar import IST
from strikeboard.store import alerts as store
from strikeboard.store.alerts import AlertRepo
from strikeboard.store.hot import HotStore
from tests.support.sim_chain import SimChain

AT = datetime(2026, 11, 25, 10, 0, tzinfo=IST)
REGION = "ap-south-1"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.02)


@dataclass
class Path:
    """Chain documents of one expiry, and a pair of them between which a number moved."""

    docs: list[dict[str, Any]]

    def moving(self, read: Callable[[dict[str, Any]], float | None]) -> tuple[int, float, Op]:
        """The first i where ``read`` moves from docs[i] to docs[i + 1]; a level between the
        two values and the direction of the move."""
        for i in range(len(self.docs) - 1):
            a, b = read(self.docs[i]), read(self.docs[i + 1])
            if a is not None and b is not None and a != b:
                return i, (a + b) / 2, Op.CROSSES_ABOVE if b > a else Op.CROSSES_BELOW
        raise AssertionError("nothing moved in the path")


@pytest.fixture(scope="module")
def path() -> Path:
    chain = SimChain(seed=5)
    expiry = chain.expiries[0]
    return Path([chain.step(7)[expiry] for _ in range(12)])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


@pytest.fixture
def rows(migrated_url: str) -> Callable[[str, Any], list[tuple[Any, ...]]]:
    def run(query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(migrated_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    return run


class Rig:
    def __init__(self, url: str, redis_url: str, prefix: str) -> None:
        self.url, self.redis_url, self.prefix = url, redis_url, prefix
        self.evaluators: list[AlertEvaluator] = []

    def evaluator(self, *, redis_url: str | None = None, sns: Any = None, topic_arn: str = "",
                  start: bool = True) -> AlertEvaluator:  # fmt: skip
        ev = AlertEvaluator(AlertRepo(self.url), HotStore.from_url(redis_url or self.redis_url,
                            self.prefix), sns=sns, topic_arn=topic_arn, refresh_s=0.1)  # fmt: skip
        if start:
            ev.start()
            wait_for(lambda: ev.stats.ready, what="rules loaded")
        self.evaluators.append(ev)
        return ev

    def close(self) -> None:
        for ev in self.evaluators:
            ev.stop(1.0)


@pytest.fixture
def rig(migrated_url: str, redis_url: str, redis_prefix: str) -> Iterator[Rig]:
    r = Rig(migrated_url, redis_url, redis_prefix)
    yield r
    r.close()


def add(rows: Callable[..., Any], user: str, target: Target, op: Op, level: float,
        email: bool = False) -> int:  # fmt: skip
    made = store.create_rule(rows, user, target, op, level, email=email, cap=100)
    assert made is not None
    return int(made["id"])


def events(rows: Callable[..., Any], rule_id: int | None = None) -> list[dict[str, Any]]:
    columns = ", ".join(store.EVENT_COLUMNS)
    found = rows(f"SELECT {columns} FROM alert_events WHERE %s::bigint IS NULL OR rule_id = %s"
                 " ORDER BY id", (rule_id, rule_id))  # fmt: skip
    return [store.event_document(r) for r in found]


def spot_rule(rows: Callable[..., Any], path: Path) -> tuple[int, int]:
    """A spot rule of alice's whose level spot crosses from path.docs[i] to [i + 1]: (id, i)."""
    spot = Target(Kind.SPOT, path.docs[0]["underlying"])
    i, level, op = path.moving(spot.read)
    return add(rows, "alice", spot, op, level), i


def observe(ev: AlertEvaluator, *docs: dict[str, Any]) -> None:
    for doc in docs:
        ev.observe([doc], AT)
    wait_for(lambda: ev.pending == 0, what="changes recorded")


def test_each_kind_fires_once_per_crossing_and_is_pushed_to_its_user(
    rig: Rig, rows: Callable[..., Any], path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Rules of every kind, each with a level its number crosses along the path: the events
    recorded are the pure core's fires over the same documents, one per crossing."""
    doc = path.docs[0]
    u, e = doc["underlying"], doc["expiry"]
    atm = float(doc["atm_strike"])
    targets = [Target(Kind.SPOT, u), Target(Kind.LTP, u, e, atm, "CE"),
               Target(Kind.IV, u, e, atm, "PE"), Target(Kind.OI, u, e, atm, "CE"),
               Target(Kind.PCR, u, e)]  # fmt: skip
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe(f"{redis_prefix}alerts")
    ev = rig.evaluator()
    rules = []
    for target in targets:
        _, level, op = path.moving(target.read)
        rule_id = add(rows, "alice", target, op, level)
        rules.append(Rule(rule_id, "alice", target, op, level))
    wait_for(lambda: ev.stats.rules == len(targets), what="new rules picked up")
    observe(ev, *path.docs)
    expected = []
    for rule in rules:
        state = RuleState()
        for d in path.docs:
            state, fired = step(rule, state, rule.target.read(d))
            if fired:
                expected.append((rule.id, state.crossings, state.value))
    assert len({r for r, _, _ in expected}) == len(targets)  # every kind fired at least once
    recorded = [(e["rule_id"], e["crossing"], e["value"]) for e in events(rows)]
    assert sorted(recorded) == sorted(expected)
    stored = rows("SELECT id, crossings FROM alert_rules ORDER BY id")
    assert stored == sorted(Counter(r for r, _, _ in expected).items())
    wait_for(lambda: len(rows("SELECT 1 FROM alert_events WHERE pushed_at IS NOT NULL"))
             == len(expected), what="pushed")  # fmt: skip
    published: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(published) < len(expected) and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message is not None and message["type"] == "message":
            published.append(json.loads(message["data"]))
    assert sorted((p["event"]["rule_id"], p["event"]["crossing"]) for p in published) == sorted(
        (r, c) for r, c, _ in expected
    )
    assert {p["user_id"] for p in published} == {"alice"}
    listener.close()


def test_a_restarted_evaluator_neither_fires_again_nor_loses_a_crossing(
    rig: Rig, rows: Callable[..., Any], path: Path
) -> None:
    rule, i = spot_rule(rows, path)
    before, after = path.docs[i], path.docs[i + 1]

    # Recorded, then restarted: the stored state says "fired", no second event.
    first = rig.evaluator()
    observe(first, before, after)
    first.stop(1.0)
    second = rig.evaluator()
    observe(second, after, after)
    assert [e["crossing"] for e in events(rows, rule)] == [1]

    # Back, and across again: crossing 2.
    observe(second, before, after)
    assert [e["crossing"] for e in events(rows, rule)] == [1, 2]
    second.stop(1.0)

    # Decided but not recorded (the process died before its thread wrote): the next
    # evaluator decides it again from the stored state, with the same crossing number.
    crashed = rig.evaluator(start=False)
    assert crashed.refresh()
    crashed.observe([before], AT)
    crashed.observe([after], AT)
    assert crashed.pending > 0  # never written
    third = rig.evaluator()
    observe(third, before, after)
    assert [e["crossing"] for e in events(rows, rule)] == [1, 2, 3]


def test_two_evaluators_record_one_event_and_the_other_adopts_it(
    rig: Rig, rows: Callable[..., Any], path: Path
) -> None:
    rule, i = spot_rule(rows, path)
    a, b = rig.evaluator(), rig.evaluator()
    for ev in (a, b):
        observe(ev, path.docs[i])
    observe(a, path.docs[i + 1])
    observe(b, path.docs[i + 1])
    assert [e["crossing"] for e in events(rows, rule)] == [1]
    assert b.stats.stale >= 1
    assert b.book.state(rule) is not None and b.book.state(rule).crossings == 1  # type: ignore[union-attr]


def test_a_deleted_rule_stops_firing_and_its_events_stay(
    rig: Rig, rows: Callable[..., Any], path: Path
) -> None:
    rule, i = spot_rule(rows, path)
    ev = rig.evaluator()
    observe(ev, path.docs[i], path.docs[i + 1])
    assert store.delete_rule(rows, "alice", rule)
    wait_for(lambda: ev.stats.rules == 0, what="deletion picked up")
    observe(ev, path.docs[i], path.docs[i + 1])
    assert [e["crossing"] for e in events(rows)] == [1]


def test_a_failed_push_is_swept_later(rig: Rig, rows: Callable[..., Any], path: Path) -> None:
    _, i = spot_rule(rows, path)
    down = rig.evaluator(redis_url=DEAD_REDIS)
    observe(down, path.docs[i], path.docs[i + 1])
    (event,) = events(rows)
    assert event["pushed_at"] is None and down.stats.errors >= 1
    assert down.counts()["failed"] >= 1 and down.counts()["pushed"] == 0
    down.stop(1.0)
    up = rig.evaluator()  # a restart sweeps what recent events are owed
    wait_for(lambda: events(rows)[0]["pushed_at"] is not None, what="swept")
    assert up.stats.pushed == 1


def test_email_goes_to_sns_for_the_rules_that_ask_and_reaches_its_user_only(
    aws: None, rig: Rig, rows: Callable[..., Any], path: Path
) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="strikeboard-user-alerts")["TopicArn"]
    inbox = {}
    for user in ("alice", "bob"):  # each user's subscription filtered on user_id
        url = sqs.create_queue(QueueName=f"mail-{user}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs",
                      Endpoint=arn["Attributes"]["QueueArn"],
                      Attributes={"FilterPolicy": json.dumps({"user_id": [user]})})  # fmt: skip
        inbox[user] = url
    spot = Target(Kind.SPOT, path.docs[0]["underlying"])
    i, level, op = path.moving(spot.read)
    mailed = add(rows, "alice", spot, op, level, email=True)
    add(rows, "alice", spot, op, level, email=False)
    ev = rig.evaluator(sns=sns, topic_arn=topic)
    observe(ev, path.docs[i], path.docs[i + 1])
    wait_for(lambda: ev.stats.emailed == 1, what="e-mailed")
    got = sqs.receive_message(QueueUrl=inbox["alice"], MaxNumberOfMessages=10)["Messages"]
    (body,) = [json.loads(m["Body"]) for m in got]
    assert body["Subject"].startswith("Strikeboard: NIFTY spot crossed")
    assert "crossing 1 of rule" in body["Message"]
    assert body["MessageAttributes"]["user_id"]["Value"] == "alice"
    assert "Messages" not in sqs.receive_message(QueueUrl=inbox["bob"], WaitTimeSeconds=0)
    emailed = rows("SELECT rule_id FROM alert_events WHERE emailed_at IS NOT NULL")
    assert emailed == [(mailed,)]
    # The feed's health counters (docs/alerts.md "Health"): two spot rules read each of the
    # two documents; both fired and were pushed, one e-mailed. A take is what grew since.
    wait_for(lambda: ev.stats.pushed == 2, what="pushed")
    assert ev.take_counts() == {"evaluated": 4, "fired": 2, "pushed": 2, "emailed": 1,
                                "failed": 0, "dropped": 0}  # fmt: skip
    assert set(ev.take_counts().values()) == {0}
