"""The feed's one Kite Connect REST client: rate-limited, batched and retried (does network I/O).

HTTP and response parsing stay with the official `kiteconnect.KiteConnect`; this wraps each call in
a per-endpoint-group token bucket and a bounded retry with exponential backoff and full jitter.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from strikeboard.market.calendar import IST

log = logging.getLogger(__name__)

T = TypeVar("T")


class Group(StrEnum):
    """Kite's rate-limit groups (https://kite.trade/docs/connect/v3/exceptions/#api-rate-limit)."""

    QUOTE = "quote"  # /quote, /quote/ltp, /quote/ohlc
    HISTORICAL = "historical"  # /instruments/historical/...
    OTHER = "other"  # everything else (instruments, profile, ...)


KITE_RATES: Final[Mapping[Group, float]] = {
    Group.QUOTE: 1.0,
    Group.HISTORICAL: 3.0,
    Group.OTHER: 10.0,
}
"""Kite's documented requests/second per api_key; above them it answers 429 "Too many requests"."""

# Kite's caps on instruments per call (https://kite.trade/docs/connect/v3/market-quotes/).
QUOTE_BATCH: Final = 500
LTP_BATCH: Final = 1000
OHLC_BATCH: Final = 1000

# How far back previous_close_oi looks for the last session: covers a long weekend plus the
# longest run of NSE holidays.
PREVIOUS_SESSION_LOOKBACK: Final = dt.timedelta(days=10)


# The subclasses are named for what happened (no Error suffix), hence their noqa: N818.
class KiteError(Exception):
    """Base of this client's errors; `__cause__` is the kiteconnect or requests error."""


class TokenExpired(KiteError):  # noqa: N818
    """Kite said TokenException (403): the access token expired or was revoked.

    Never retried: only a fresh login fixes it (then `set_access_token`).
    """


class KiteRejected(KiteError):  # noqa: N818
    """Kite refused the request (input, permission, order, 4xx): retrying would not help."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class KiteUnavailable(KiteError):  # noqa: N818
    """Every attempt failed transiently (429, 5xx, network): Kite is unreachable or overloaded."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class GroupStatus:
    """Counters of one rate-limit group since the client was made."""

    rate: float  # requests/s this client allows itself
    requests: int  # HTTP requests sent, retries included
    throttled: int  # 429 answers seen
    retries: int  # requests repeated after a transient failure
    failures: int  # calls that ended in an exception
    bucket_wait_s: float  # time spent waiting for the bucket
    backoff_s: float  # time spent backing off between retries


@dataclass(frozen=True)
class RestStatus:
    """Health of the REST client: per-group counters and the last error."""

    quote: GroupStatus
    historical: GroupStatus
    other: GroupStatus
    token_expired: bool  # the last TokenException has not been followed by set_access_token
    last_error: str | None

    @property
    def groups(self) -> tuple[GroupStatus, ...]:
        return (self.quote, self.historical, self.other)

    @property
    def requests(self) -> int:
        return sum(g.requests for g in self.groups)

    @property
    def throttled(self) -> int:
        return sum(g.throttled for g in self.groups)

    @property
    def retries(self) -> int:
        return sum(g.retries for g in self.groups)

    @property
    def bucket_wait_s(self) -> float:
        return sum(g.bucket_wait_s for g in self.groups)


class _Bucket:
    """One group's token bucket and counters, under one lock.

    Our own rather than pyrate-limiter's: its Limiter sleeps with `time.sleep` bound at import
    (only its clock is injectable), and the tests run in fake time with an injected sleep.

    Reservation style: a caller takes a token under the lock, letting the count go negative
    (a queue of future slots), and sleeps outside the lock, so concurrent callers get distinct
    slots `interval` apart without one sleeping thread holding the others' lock.
    """

    def __init__(self, rate: float, interval: float, burst: int, clock: Callable[[], float]):
        self.rate = rate
        self._refill = 1.0 / interval  # tokens per second
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._stamp = clock()
        self.requests = self.throttled = self.retries = self.failures = 0
        self.bucket_wait_s = self.backoff_s = 0.0

    def reserve(self) -> float:
        """Take a token; return how long to wait before sending (0 if one is free now)."""
        with self._lock:
            now = self._clock()
            if now > self._stamp:
                self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._refill)
                self._stamp = now
            self._tokens -= 1.0
            # Slots are counted from the bucket's own latest time, so a caller whose clock
            # reading lags it (only possible with per-thread fake clocks) still gets its own slot.
            wait = self._stamp - now + max(0.0, -self._tokens / self._refill)
            self.bucket_wait_s += wait
            return wait

    def count(
        self,
        *,
        requests: int = 0,
        throttled: int = 0,
        retries: int = 0,
        failures: int = 0,
        backoff_s: float = 0.0,
    ) -> None:
        with self._lock:
            self.requests += requests
            self.throttled += throttled
            self.retries += retries
            self.failures += failures
            self.backoff_s += backoff_s

    def status(self) -> GroupStatus:
        with self._lock:
            return GroupStatus(
                rate=self.rate,
                requests=self.requests,
                throttled=self.throttled,
                retries=self.retries,
                failures=self.failures,
                bucket_wait_s=self.bucket_wait_s,
                backoff_s=self.backoff_s,
            )


def _is_transient(exc: BaseException) -> bool:
    """Errors that Kite documents as passing (429, 5xx, OMS unreachable) and network failures."""
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    # ChunkedEncodingError: the connection dropped mid-body.
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return True
    # NetworkException: 429 and "API could not reach the OMS"; DataException: the OMS answered
    # garbage, or a gateway answered a non-JSON error page (kiteconnect raises it then).
    if isinstance(exc, kite_errors.NetworkException | kite_errors.DataException):
        return True
    return isinstance(exc, kite_errors.GeneralException) and int(exc.code) >= 500


def _describe(exc: BaseException) -> str:
    """'NetworkException 429: Too many requests', cut short (a DataException quotes the body)."""
    code = getattr(exc, "code", None)
    text = f"{type(exc).__name__}{f' {code}' if code is not None else ''}: {exc}"
    return text if len(text) <= 200 else text[:199] + "…"


def _kite_time(value: dt.datetime | dt.date, end_of_day: bool) -> dt.datetime:
    """A naive IST datetime, the only form kiteconnect formats as Kite expects."""
    if isinstance(value, dt.datetime):
        return value.astimezone(IST).replace(tzinfo=None) if value.tzinfo else value
    return dt.datetime.combine(value, dt.time(23, 59, 59) if end_of_day else dt.time(0, 0))


def _candle_day(value: Any) -> dt.date:
    """The trading day of a candle's `date` (kiteconnect parses it as an aware IST datetime)."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(IST) if value.tzinfo else value).date()
    if isinstance(value, dt.date):
        return value
    return dt.datetime.fromisoformat(str(value)).date()


class KiteRest:
    """Kite REST calls for the feed, paced to Kite's limits and retried on transient failures.

    Thread-safe: each rate-limit group has its own bucket and lock; kiteconnect's requests
    session is shared (its connection pool is thread-safe).
    """

    def __init__(
        self,
        api_key: str = "",
        access_token: str = "",
        *,
        root: str | None = None,
        timeout: float = 7.0,
        kite: KiteConnect | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        rates: Mapping[Group, float] = KITE_RATES,
        margin: float = 0.05,
        burst: int = 1,
    ) -> None:
        """`kite` replaces the KiteConnect built from api_key/access_token/root/timeout.

        `max_attempts` bounds the requests per call (the first one included); backoff before
        retry k (1-based) is uniform in [0, min(backoff_cap, backoff_base * 2**(k-1))] s.
        `margin` stretches the spacing between requests by that fraction, as network jitter can
        bunch requests on arrival at Kite. `burst` is the bucket size: 1 spaces requests evenly,
        so no one-second window ever holds more than the documented rate.
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if kite is None:
            kite = KiteConnect(api_key, access_token=access_token or None, root=root,
                               timeout=timeout)  # fmt: skip
        elif access_token:
            kite.set_access_token(access_token)
        self._kite = kite
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._buckets = {
            g: _Bucket(rates[g], (1.0 + margin) / rates[g], burst, clock) for g in Group
        }
        self._state_lock = threading.Lock()
        self._token_expired = False
        self._last_error: str | None = None

    # ----- credentials -------------------------------------------------------------------
    @property
    def api_key(self) -> str:
        return str(self._kite.api_key)

    @property
    def access_token(self) -> str:
        return str(self._kite.access_token or "")

    def set_access_token(self, token: str) -> None:
        """Use a fresh token (after the daily login) for every later request."""
        self._kite.set_access_token(token)
        with self._state_lock:
            self._token_expired = False

    # ----- endpoints ---------------------------------------------------------------------
    def instruments(self, exchange: str) -> list[dict[str, Any]]:
        """The day's instrument dump of one exchange (kiteconnect's parsed CSV rows)."""
        rows: list[dict[str, Any]] = self._call(
            Group.OTHER, f"instruments {exchange}", functools.partial(self._kite.instruments,
                                                                     exchange)
        )  # fmt: skip
        return rows

    def quote(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Full quotes keyed 'EXCHANGE:TRADINGSYMBOL', in batches of QUOTE_BATCH."""
        return self._batched("quote", self._kite.quote, keys, QUOTE_BATCH)

    def ltp(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Last prices, in batches of LTP_BATCH."""
        return self._batched("ltp", self._kite.ltp, keys, LTP_BATCH)

    def ohlc(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """OHLC quotes, in batches of OHLC_BATCH."""
        return self._batched("ohlc", self._kite.ohlc, keys, OHLC_BATCH)

    def historical(
        self,
        token: int,
        from_dt: dt.datetime | dt.date,
        to_dt: dt.datetime | dt.date,
        interval: str,
        oi: bool = False,
    ) -> list[dict[str, Any]]:
        """Candles of one instrument (kiteconnect's dicts: date, open, ..., volume[, oi]).

        A bare date means its whole day; an aware datetime is converted to IST.
        """
        call = functools.partial(
            self._kite.historical_data,
            token,
            _kite_time(from_dt, end_of_day=False),
            _kite_time(to_dt, end_of_day=True),
            interval,
            oi=oi,
        )
        candles: list[dict[str, Any]] = self._call(
            Group.HISTORICAL, f"historical {token} {interval}", call
        )
        return candles

    def previous_close_oi(self, tokens: Iterable[int], day: dt.date) -> dict[int, float]:
        """Each token's open interest at the close of the last session before `day`.

        One historical call (day candles with OI) per token, so 3 tokens a second. A token with
        no earlier session (listed today) or that Kite rejects is left out.
        """
        start = day - PREVIOUS_SESSION_LOOKBACK
        end = day - dt.timedelta(days=1)
        out: dict[int, float] = {}
        for token in dict.fromkeys(tokens):
            try:
                candles = self.historical(token, start, end, "day", oi=True)
            except KiteRejected as exc:
                log.warning("previous close OI of %s: %s", token, exc)
                continue
            # Kite should not return `day` itself for to=day-1, but a candle for today would be
            # today's running OI, not the previous close: filter rather than trust.
            before = [
                c for c in candles if c.get("oi") is not None and _candle_day(c["date"]) < day
            ]
            if before:
                last = max(before, key=lambda c: _candle_day(c["date"]))
                out[token] = float(last["oi"])
        return out

    # ----- health ------------------------------------------------------------------------
    def status(self) -> RestStatus:
        with self._state_lock:
            expired, last = self._token_expired, self._last_error
        return RestStatus(
            quote=self._buckets[Group.QUOTE].status(),
            historical=self._buckets[Group.HISTORICAL].status(),
            other=self._buckets[Group.OTHER].status(),
            token_expired=expired,
            last_error=last,
        )

    # ----- machinery ---------------------------------------------------------------------
    def _batched(
        self,
        what: str,
        fetch: Callable[[list[str]], dict[str, dict[str, Any]]],
        keys: Iterable[str],
        size: int,
    ) -> dict[str, dict[str, Any]]:
        if isinstance(keys, str):  # one key, not its characters
            keys = [keys]
        unique = list(dict.fromkeys(keys))  # a repeated key would waste a slot of the batch
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(unique), size):
            chunk = unique[i : i + size]
            label = f"{what} {i // size + 1}/{-(-len(unique) // size)} ({len(chunk)} keys)"
            out.update(self._call(Group.QUOTE, label, functools.partial(fetch, chunk)))
        return out

    def _call(self, group: Group, what: str, fn: Callable[[], T]) -> T:
        """Send `fn` when the group's bucket allows; retry transient failures with backoff."""
        bucket = self._buckets[group]
        for attempt in range(1, self._max_attempts + 1):
            wait = bucket.reserve()
            if wait > 0.0:
                self._sleep(wait)
            bucket.count(requests=1)
            try:
                return fn()
            except kite_errors.TokenException as exc:
                self._failed(bucket, f"{what}: token rejected: {exc}", token_expired=True)
                raise TokenExpired(f"{what}: access token rejected ({exc})") from exc
            except Exception as exc:
                if isinstance(exc, kite_errors.NetworkException) and exc.code == 429:
                    bucket.count(throttled=1)
                reason = _describe(exc)
                if not _is_transient(exc):
                    self._failed(bucket, f"{what}: {reason}")
                    if isinstance(exc, kite_errors.KiteException):
                        raise KiteRejected(f"{what}: {reason}", exc.code) from exc
                    raise  # a bug or a misconfiguration, not Kite's weather: let it show as is
                if attempt == self._max_attempts:
                    self._failed(bucket, f"{what}: {reason}")
                    raise KiteUnavailable(
                        f"{what}: gave up after {attempt} attempts ({reason})", attempt
                    ) from exc
                # Full jitter: callers that failed together do not retry together.
                ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
                backoff = self._rng.uniform(0.0, ceiling)
                log.warning("%s: attempt %d failed (%s); retrying in %.2fs",
                            what, attempt, reason, backoff)  # fmt: skip
                bucket.count(retries=1, backoff_s=backoff)
                self._sleep(backoff)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _failed(self, bucket: _Bucket, message: str, token_expired: bool = False) -> None:
        bucket.count(failures=1)
        with self._state_lock:
            self._last_error = message
            if token_expired:
                self._token_expired = True
