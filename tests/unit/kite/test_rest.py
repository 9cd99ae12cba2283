"""KiteRest against HTTP stubs (the real KiteConnect over `responses`), in fake time."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from strikeboard.kite.rest import (
    KiteRejected,
    KiteRest,
    KiteUnavailable,
    TokenExpired,
)
from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import ServerOptions, run_simulator

ROOT = "https://kite.test"
DAY = dt.date(2026, 11, 25)  # a Wednesday; fixed so no test depends on today
EPS = 1e-9


class FakeTime:
    """Virtual monotonic time. Each thread has its own, advanced only by its own sleeps, so
    a request's timestamp is exactly the slot the bucket gave it, whatever the scheduling."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        t: float = getattr(self._local, "t", 0.0)
        return t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0.0
        self._local.t = self.now() + seconds
        with self._lock:
            self.sleeps.append(seconds)


Reply = tuple[int, dict[str, str], str]


def ok(data: Any) -> Reply:
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"status": "success", "data": data}),
    )


def error(status: int, error_type: str, message: str) -> Reply:
    body = {"status": "error", "message": message, "error_type": error_type}
    return status, {"Content-Type": "application/json"}, json.dumps(body)


TOO_MANY = error(429, "NetworkException", "Too many requests")  # Kite's own 429 body
Answer = Callable[[str, dict[str, list[str]]], Reply]


class Stub:
    """One endpoint: records (fake time, query) per request and answers from a script."""

    def __init__(self, fake: FakeTime, answer: Answer) -> None:
        self.fake = fake
        self.answer = answer
        self.calls: list[tuple[float, dict[str, list[str]]]] = []
        self.paths: list[str] = []
        self.auth: list[str] = []  # Authorization header per request
        self.script: list[Reply | Exception] = []  # consumed first, then `answer`

    def __call__(self, request: requests.PreparedRequest) -> Reply:
        url = urlsplit(str(request.url))
        query = parse_qs(url.query)
        self.calls.append((self.fake.now(), query))
        self.paths.append(url.path)
        self.auth.append(str(request.headers.get("Authorization")))
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return self.answer(url.path, query)

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.calls]


def quote_answer(path: str, query: dict[str, list[str]]) -> Reply:
    return ok(
        {k: {"instrument_token": n, "last_price": 100.0 + n} for n, k in enumerate(query["i"])}
    )


def candles_answer(path: str, query: dict[str, list[str]]) -> Reply:
    return ok({"candles": []})


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def quotes(http: responses.RequestsMock, fake: FakeTime) -> Stub:
    stub = Stub(fake, quote_answer)
    for path in ("/quote", "/quote/ltp", "/quote/ohlc"):
        http.add_callback(responses.GET, ROOT + path, callback=stub)
    return stub


@pytest.fixture
def history(http: responses.RequestsMock, fake: FakeTime) -> Stub:
    stub = Stub(fake, candles_answer)
    http.add_callback(
        responses.GET, re.compile(re.escape(ROOT) + r"/instruments/historical/\d+/\w+"), stub
    )
    return stub


def client(fake: FakeTime, **kw: Any) -> KiteRest:
    return KiteRest(
        "key", "token", root=ROOT, clock=fake.now, sleep=fake.sleep, rng=random.Random(7), **kw
    )


def keys(n: int) -> list[str]:
    return [f"NFO:NIFTY{i}" for i in range(n)]


def assert_spaced(times: list[float], gap: float) -> None:
    ordered = sorted(times)
    for a, b in itertools.pairwise(ordered):
        assert b - a >= gap - EPS, (a, b)


# ----- pacing ----------------------------------------------------------------------------------
def test_quote_batches_are_paced_by_the_bucket(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    got = rest.quote(keys(3000))
    assert len(quotes.calls) == 6
    assert [len(q["i"]) for _, q in quotes.calls] == [500] * 6
    assert len(got) == 3000
    # 6 requests, the first at once: 5 waits of one second (plus the 5% margin).
    assert 5.0 <= sum(fake.sleeps) <= 5.5
    assert_spaced(quotes.times, 1.0)
    status = rest.status()
    assert status.quote.requests == 6
    assert status.quote.bucket_wait_s == pytest.approx(sum(fake.sleeps))
    assert status.other.requests == status.historical.requests == 0


def test_groups_have_their_own_buckets(quotes: Stub, history: Stub, fake: FakeTime) -> None:
    rest = client(fake, margin=0.0)
    rest.ltp(["NSE:NIFTY 50"])
    for token in (1, 2, 3, 4):
        rest.historical(token, DAY, DAY, "minute")
    # A quote call does not hold back historical ones, which run at 3 a second.
    assert history.times == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    rest.ltp(["NSE:NIFTY 50"])
    assert quotes.times == pytest.approx([0.0, 1.0])


def test_bucket_refills_while_idle(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    rest.ltp(["NSE:NIFTY 50"])
    fake.sleep(30.0)  # the feed idles
    rest.ltp(["NSE:NIFTY 50"])
    assert fake.sleeps == [30.0]  # no bucket wait: the token came back long ago
    assert rest.status().quote.bucket_wait_s == 0.0


def test_two_threads_never_exceed_the_bucket(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake, margin=0.0)
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        for i in range(10):
            rest.ltp([f"NSE:X{i}"])

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(quotes.calls) == 20
    # Every request got its own slot: one a second in fake time, none shared.
    assert sorted(quotes.times) == pytest.approx([float(s) for s in range(20)])
    assert rest.status().quote.requests == 20


# ----- batching --------------------------------------------------------------------------------
def test_1200_keys_make_three_quote_calls_merged(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    wanted = keys(1200)
    got = rest.quote([*wanted, *wanted[:10]])  # repeats are asked once
    assert [len(q["i"]) for _, q in quotes.calls] == [500, 500, 200]
    assert [k for _, q in quotes.calls for k in q["i"]] == wanted
    assert set(got) == set(wanted)
    assert got["NFO:NIFTY0"]["last_price"] == 100.0


def test_ltp_and_ohlc_batch_by_1000(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    assert len(rest.ltp(keys(2500))) == 2500
    assert len(rest.ohlc(keys(1000))) == 1000
    assert [len(q["i"]) for _, q in quotes.calls] == [1000, 1000, 500, 1000]


def test_one_key_as_a_string_and_no_keys(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    assert list(rest.ltp("NSE:NIFTY 50")) == ["NSE:NIFTY 50"]
    assert rest.quote([]) == {}
    assert len(quotes.calls) == 1


# ----- retries ---------------------------------------------------------------------------------
def test_429_storm_is_retried_until_success(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake, max_attempts=6, backoff_base=0.5, backoff_cap=4.0)
    quotes.script = [TOO_MANY] * 4
    got = rest.ltp(["NSE:NIFTY 50"])
    assert "NSE:NIFTY 50" in got
    status = rest.status()
    assert (status.quote.requests, status.quote.throttled, status.quote.retries) == (5, 4, 4)
    assert status.quote.failures == 0
    # Retries still go through the bucket: at least a second apart.
    assert_spaced(quotes.times, 1.0)
    # Each retry waited a jittered backoff, then its bucket slot: nothing else slept.
    assert sum(fake.sleeps) == pytest.approx(status.quote.backoff_s + status.quote.bucket_wait_s)
    assert 0.0 < status.quote.backoff_s <= 0.5 + 1.0 + 2.0 + 4.0


def test_backoff_is_exponential_with_full_jitter(fake: FakeTime, quotes: Stub) -> None:
    class Top(random.Random):  # always the ceiling, to see the exponential envelope
        def uniform(self, a: float, b: float) -> float:
            return b

    rest = KiteRest(
        "key", "token", root=ROOT, clock=fake.now, sleep=fake.sleep, rng=Top(),
        max_attempts=6, backoff_base=0.5, backoff_cap=3.0, margin=0.0,
    )  # fmt: skip
    quotes.script = [TOO_MANY] * 5
    rest.ltp(["NSE:NIFTY 50"])
    # After each backoff the bucket has refilled (the backoff exceeds its one second) except
    # after the first, 0.5 s, which leaves 0.5 s of bucket wait.
    assert fake.sleeps == pytest.approx([0.5, 0.5, 1.0, 2.0, 3.0, 3.0])


def test_exhausted_retries_raise_kite_unavailable(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake, max_attempts=3)
    quotes.script = [TOO_MANY] * 10
    with pytest.raises(KiteUnavailable, match="after 3 attempts") as caught:
        rest.quote(["NSE:NIFTY 50"])
    assert caught.value.attempts == 3
    cause = caught.value.__cause__
    assert isinstance(cause, kite_errors.NetworkException)
    assert cause.code == 429
    status = rest.status()
    assert (status.quote.requests, status.quote.retries, status.quote.failures) == (3, 2, 1)
    assert status.last_error is not None and "429" in status.last_error


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectionError("connection refused"),
        requests.Timeout("read timed out"),
        error(503, "NetworkException", "Upstream OMS unreachable"),
        error(500, "GeneralException", "Something unexpected went wrong"),
        (502, {"Content-Type": "text/html"}, "<html>502 Bad Gateway</html>"),
    ],
    ids=["connection", "timeout", "503", "500", "502-html"],
)
def test_transient_failures_are_retried(
    quotes: Stub, fake: FakeTime, failure: Reply | Exception
) -> None:
    rest = client(fake)
    quotes.script = [failure, failure]
    assert "NSE:NIFTY 50" in rest.ltp(["NSE:NIFTY 50"])
    assert rest.status().quote.retries == 2
    assert rest.status().quote.throttled == 0


def test_token_exception_raises_token_expired_at_once(quotes: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    quotes.script = [error(403, "TokenException", "Incorrect `api_key` or `access_token`.")]
    with pytest.raises(TokenExpired) as caught:
        rest.ltp(["NSE:NIFTY 50"])
    assert isinstance(caught.value.__cause__, kite_errors.TokenException)
    assert len(quotes.calls) == 1
    assert fake.sleeps == []
    status = rest.status()
    assert status.token_expired and status.quote.retries == 0 and status.quote.failures == 1

    rest.set_access_token("fresh")
    assert rest.access_token == "fresh"
    assert not rest.status().token_expired
    rest.ltp(["NSE:NIFTY 50"])
    assert quotes.auth[-1] == "token key:fresh"


@pytest.mark.parametrize(
    ("error_type", "status_code"),
    [("InputException", 400), ("PermissionException", 403), ("OrderException", 500),
     ("GeneralException", 404)],
)  # fmt: skip
def test_refusals_are_not_retried(
    quotes: Stub, fake: FakeTime, error_type: str, status_code: int
) -> None:
    rest = client(fake)
    quotes.script = [error(status_code, error_type, "no")]
    with pytest.raises(KiteRejected) as caught:
        rest.quote(["NSE:NIFTY 50"])
    assert caught.value.code == status_code
    assert type(caught.value.__cause__).__name__ == error_type
    assert len(quotes.calls) == 1
    assert not rest.status().token_expired


# ----- endpoints -------------------------------------------------------------------------------
def test_instruments_parse_the_csv_dump(http: responses.RequestsMock, fake: FakeTime) -> None:
    csv = (
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
        "lot_size,instrument_type,segment,exchange\n"
        "12345,48,NIFTY26NOV24000CE,NIFTY,0,2026-11-26,24000,0.05,75,CE,NFO-OPT,NFO\n"
    )
    http.add(responses.GET, ROOT + "/instruments/NFO", body=csv, content_type="text/csv")
    rest = client(fake)
    rows = rest.instruments("NFO")
    assert rows[0]["instrument_token"] == 12345
    assert rows[0]["expiry"] == dt.date(2026, 11, 26)
    assert rest.status().other.requests == 1


def test_historical_sends_kite_times(history: Stub, fake: FakeTime) -> None:
    rest = client(fake)
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    utc_start = dt.datetime(2026, 11, 24, 3, 45, tzinfo=dt.UTC)  # 09:15 IST
    rest.historical(256265, utc_start, dt.date(2026, 11, 24), "minute", oi=True)
    rest.historical(256265, dt.datetime(2026, 11, 24, 9, 15, tzinfo=ist), DAY, "5minute")
    (_, first), (_, second) = history.calls
    assert first["from"] == ["2026-11-24 09:15:00"]
    assert first["to"] == ["2026-11-24 23:59:59"]
    assert first["oi"] == ["1"]
    assert second["from"] == ["2026-11-24 09:15:00"] and second["oi"] == ["0"]


def test_previous_close_oi_takes_the_last_session_before_day(history: Stub, fake: FakeTime) -> None:
    def candle(day: str, oi: int) -> list[Any]:
        return [f"{day}T00:00:00+0530", 100, 110, 90, 105, 1000, oi]

    per_token: dict[str, Reply] = {
        "101": ok({"candles": [candle("2026-11-20", 5000), candle("2026-11-24", 7500)]}),
        # A candle dated `day` itself is today's running OI, not the previous close.
        "102": ok({"candles": [candle("2026-11-24", 300), candle("2026-11-25", 999)]}),
        "103": ok({"candles": []}),  # listed today: no earlier session
        "104": error(400, "InputException", "invalid token"),
    }
    history.answer = lambda path, query: per_token[path.split("/")[3]]
    rest = client(fake, margin=0.0)
    got = rest.previous_close_oi([101, 102, 103, 104, 101], DAY)
    assert got == {101: 7500.0, 102: 300.0}
    # One day-candle call per distinct token, paced at 3 a second.
    assert history.paths == [f"/instruments/historical/{t}/day" for t in (101, 102, 103, 104)]
    assert history.times == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    for _, query in history.calls:
        assert query["from"] == ["2026-11-15 00:00:00"]
        assert query["to"] == ["2026-11-24 23:59:59"]
        assert query["oi"] == ["1"]


def test_constructor_validates_and_accepts_a_kite(fake: FakeTime) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        KiteRest("key", max_attempts=0)
    kite = KiteConnect("key2", root=ROOT)
    rest = KiteRest(kite=kite, access_token="tok", clock=fake.now, sleep=fake.sleep)
    assert rest.api_key == "key2"
    assert rest.access_token == "tok"


# ----- against the simulator -------------------------------------------------------------------
def test_against_the_simulator(fake: FakeTime) -> None:
    """The same client over real HTTP to the project's Kite simulator. Fake time paces nothing,
    so the simulator's limits are off here (the feed's tests run against them)."""
    opts = ServerOptions(start=dt.time(10, 0), rate_limits=False)
    with run_simulator(config=SimConfig(seed=42, day=DAY), options=opts) as sim:
        rest = KiteRest("sim_api_key", "sim_access_token", root=sim.root,
                        clock=fake.now, sleep=fake.sleep, rng=random.Random(1))  # fmt: skip
        rows = rest.instruments("NFO")
        options = [r for r in rows if r["instrument_type"] in ("CE", "PE")][:600]
        got = rest.quote([f"NFO:{r['tradingsymbol']}" for r in options])
        assert len(got) == len(options) > 500  # two batches, merged
        assert rest.status().quote.requests == 2

        tokens = [int(r["instrument_token"]) for r in options[:3]]
        oi = rest.previous_close_oi(tokens, DAY)
        assert set(oi) == set(tokens)
        assert all(v > 0.0 for v in oi.values()), oi
        assert rest.status().historical.requests == 3

        rest.set_access_token("wrong")
        with pytest.raises(TokenExpired):
            rest.ltp(["NSE:NIFTY 50"])
