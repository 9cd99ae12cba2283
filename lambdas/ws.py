"""API Gateway WebSocket route handlers: $connect, $disconnect and $default.

One Lambda serves the three routes (dispatch on ``requestContext.routeKey``); the local
gateway (`strikeboard.gateway`) invokes the very same `handler` with API Gateway-shaped
events. $connect takes no token: only ``?ticket=``, a one-time ticket from
``POST /api/ws/ticket`` (30 s), redeemed here (a missing, unknown, expired or reused ticket is
answered 401, which refuses the handshake). $default takes JSON text frames::

    {"action": "subscribe", "expiry": "2026-12-01"}     -> a "snapshot" message, then deltas
    {"action": "unsubscribe", "expiry": "2026-12-01"}
    {"action": "ping"}                                  -> {"type": "pong"}; refreshes the TTL

A (un)subscribe may name an ``underlying``: one of UNDERLYINGS (another is refused as the REST
API refuses it), by default the first configured.

Replies are the route response of $default, a two-way route (CDK ``returnResponse: true``):
the ``body`` returned here is the one message API Gateway sends back to the client, so this
Lambda never calls the Management API and needs no internet egress (no NAT). Every body is a
protocol message of `strikeboard.push.messages`; a frame that needs no answer (unsubscribe, a
frame dropped by the rate limit after its one warning) returns none. $connect and $disconnect
cannot reply (the socket is not open yet, or no longer): they return a status only. A snapshot
too large for one message is answered with a ``reset`` carrying its seq: the client re-fetches
it over REST. Every frame is bounded (`Limits`: size, nesting, rate, subscriptions, names
known to the hot store); a frame outside them is answered ``{"type": "error", "message"}``
and the socket stays usable. Protocol, limits and registry keys: docs/live.md.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from strikeboard.config import Settings, get_settings
from strikeboard.market.underlyings import UnknownUnderlyingError, followed_name
from strikeboard.push import messages
from strikeboard.push.registry import Allowance, Registry
from strikeboard.store.auth_state import AuthState
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.snapshot import SEQ, SnapshotError

UNDERLYING_NAME: Final = re.compile(r"[A-Z][A-Z0-9&-]{0,19}")  # as the REST API's pattern

logger = Logger(service="strikeboard-ws")
metrics = Metrics(namespace="Strikeboard", service="ws")

Event = dict[str, Any]
Response = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """Bounds on what one connection may send ($default). API Gateway's own limits (128 KB
    messages, 32 KB frames) are far above these; the protocol's frames are under 100 bytes."""

    max_message_bytes: int = 4096
    max_depth: int = 8  # {"action": ...} is 1 deep: the protocol never nests
    max_subscriptions: int = 20  # a page shows one expiry; the feed serves about six
    rate_per_s: float = 10.0  # messages a second, sustained ...
    burst: int = 20  # ... with bursts of this many (a reconnect resubscribing)


@dataclass
class Deps:
    """What the handlers talk to (built once per warm Lambda; injected by tests)."""

    settings: Settings
    registry: Registry
    hot: HotStore
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time


_deps: list[Deps] = []  # at most one: built on the first invocation of a warm Lambda


def default_deps() -> Deps:
    """Clients from the settings, kept across warm invocations."""
    if not _deps:
        settings = get_settings()
        _deps.append(
            Deps(
                settings=settings,
                registry=Registry.from_url(
                    settings.redis_url, settings.redis_key_prefix, settings.ws_connection_ttl_s
                ),
                hot=HotStore.from_url(settings.redis_url, settings.redis_key_prefix),
            )
        )
    return _deps[0]


def reset() -> None:
    """Forget cached clients (tests that change the settings)."""
    for deps in _deps:
        deps.registry.close()
        deps.hot.close()
    _deps.clear()


def _reply(status: int, message: str | None = None) -> Response:
    """A Lambda proxy response. On $default, ``message`` (a protocol JSON text) is what the
    client receives, whatever the status (API Gateway delivers a 4xx's body too: the status
    only shows in logs); without one there is no body (API Gateway may still send an empty
    frame, which clients skip)."""
    response: Response = {"statusCode": status}
    if message is not None:
        response["body"] = message
    return response


def _error(status: int, text: str) -> Response:
    return _reply(status, messages.error_message(text))


GONE: Final = "unknown connection: reconnect"


def on_connect(event: Event, deps: Deps) -> Response:
    ctx = event["requestContext"]
    query = event.get("queryStringParameters") or {}
    principal = AuthState.of(deps.hot).redeem_ticket(query.get("ticket"))
    if principal is None:
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        reason = "unknown, expired or used ticket" if query.get("ticket") else "no ticket"
        logger.info("connection refused", reason=reason)
        return _reply(401)  # refuses the handshake: there is no socket to send a body to
    identity = ctx.get("identity") or {}
    deps.registry.connect(
        ctx["connectionId"],
        principal,
        source_ip=str(identity.get("sourceIp") or ""),
        user_agent=str(identity.get("userAgent") or ""),
    )
    metrics.add_metric(name="Connect", unit=MetricUnit.Count, value=1)
    logger.info("connected", user=principal.user_id)
    return _reply(200)


def on_disconnect(event: Event, deps: Deps) -> Response:
    deps.registry.disconnect(event["requestContext"]["connectionId"])
    metrics.add_metric(name="Disconnect", unit=MetricUnit.Count, value=1)
    return _reply(200)  # the socket is already closed


def _names(body: dict[str, Any], default: str) -> tuple[str, str]:
    """The (underlying, expiry) of a (un)subscribe, well-formed and bounded; without an
    underlying, ``default``."""
    underlying = body.get("underlying", default)
    expiry = body.get("expiry")
    if not isinstance(underlying, str) or not UNDERLYING_NAME.fullmatch(underlying):
        raise messages.MessageError(
            "'underlying' must be a name like NIFTY (capitals, digits, & or -; 1-20 characters)"
        )
    if not isinstance(expiry, str):
        raise messages.MessageError("'expiry' is required: an ISO date such as 2026-12-01")
    if len(expiry) != 10:
        raise messages.MessageError(f"'expiry' {expiry[:20]!r} is not an ISO date")
    try:
        return underlying, date.fromisoformat(expiry).isoformat()
    except ValueError as exc:
        raise messages.MessageError(f"'expiry' {expiry!r} is not an ISO date") from exc


def _check_known(deps: Deps, underlying: str, expiry: str) -> None:
    """Subscriptions only to what the feed serves: an underlying of UNDERLYINGS (the REST
    API's rule) and one of its live expiries. With nothing live (after hours, feed down) any
    date is accepted: the reply is a reset."""
    try:
        followed_name(deps.settings.underlying_list, underlying)
    except UnknownUnderlyingError as exc:
        raise messages.MessageError(str(exc)) from None
    live = deps.hot.expiries(underlying)
    if live and expiry not in live:
        raise messages.MessageError(
            f"unknown expiry {expiry} of {underlying}: live expiries are {', '.join(live)}"
        )


def _bad_message(text: str) -> Response:
    metrics.add_metric(name="BadMessage", unit=MetricUnit.Count, value=1)
    return _error(400, text)


def on_default(event: Event, deps: Deps) -> Response:
    connection_id = event["requestContext"]["connectionId"]
    limits = deps.limits
    # The rate first: a flood costs one Redis call a frame and no reply beyond the first.
    allowance = deps.registry.take_token(
        connection_id, limits.rate_per_s, limits.burst, deps.clock()
    )
    if allowance is Allowance.UNKNOWN:
        return _error(410, GONE)
    if allowance is not Allowance.OK:
        metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
        if allowance is Allowance.DROP_AND_TELL:
            text = f"rate limit: at most {limits.rate_per_s:g} messages a second; message dropped"
            return _error(429, text)
        return _reply(429)  # told once already: no body
    raw = event.get("body")
    try:
        body = messages.parse_client_message(
            raw if isinstance(raw, str) else "", limits.max_message_bytes, limits.max_depth
        )
        action = body.get("action")
        if action == "ping":
            if not deps.registry.touch(connection_id):
                return _error(410, GONE)
            return _reply(200, messages.PONG)
        if action in ("subscribe", "unsubscribe"):
            underlying, expiry = _names(body, deps.settings.underlying_list[0].name)
            if action == "unsubscribe":
                deps.registry.unsubscribe(connection_id, underlying, expiry)
                return _reply(200)  # needs no answer
            _check_known(deps, underlying, expiry)
            return _subscribe(deps, connection_id, underlying, expiry)
        shown = repr(action)[:40] if isinstance(action, str) else type(action).__name__
        raise messages.MessageError(f"unknown action {shown}: use subscribe, unsubscribe or ping")
    except messages.MessageError as exc:
        return _bad_message(str(exc))


def _subscribe(deps: Deps, connection_id: str, underlying: str, expiry: str) -> Response:
    held = deps.registry.subscriptions(connection_id)
    cap = deps.limits.max_subscriptions
    if (underlying, expiry) not in held and len(held) >= cap:
        # Checked per message, not atomically: concurrent invocations may overshoot by a few.
        raise messages.MessageError(
            f"at most {cap} subscriptions per connection: unsubscribe first"
        )
    # Register first, then read: every delta after the snapshot's seq then reaches this
    # connection (the client drops those at or below the snapshot's seq).
    if not deps.registry.subscribe(connection_id, underlying, expiry):
        return _error(410, GONE)
    metrics.add_metric(name="Subscribe", unit=MetricUnit.Count, value=1)
    document = deps.hot.read_snapshot(underlying, expiry)
    if document is None:
        # Nothing live (after hours, feed down): the client uses REST; the feed's first
        # publish is a reset that tells it to re-fetch.
        return _reply(200, messages.reset_message(underlying, expiry, None))
    text = messages.snapshot_message(document)
    if not messages.fits(text):
        # A route response is one message: the client re-fetches this snapshot (or a newer
        # one) over REST; the deltas after it reach this connection meanwhile, registered
        # above, and the client applies those newer than what it fetched.
        metrics.add_metric(name="SnapshotTooLarge", unit=MetricUnit.Count, value=1)
        seq = document.get(SEQ)
        text = messages.reset_message(underlying, expiry, None if seq is None else int(seq))
    return _reply(200, text)


ROUTES = {"$connect": on_connect, "$disconnect": on_disconnect, "$default": on_default}


def handle(event: Event, deps: Deps) -> Response:
    """Route one API Gateway WebSocket event; never raises."""
    ctx = event.get("requestContext") or {}
    route = ROUTES.get(str(ctx.get("routeKey")))
    if route is None or not ctx.get("connectionId"):
        logger.warning("unknown route", route=str(ctx.get("routeKey"))[:40])
        return _reply(400)
    logger.append_keys(connection_id=ctx["connectionId"], route=ctx["routeKey"])
    try:
        return route(event, deps)
    except (StoreError, SnapshotError) as exc:
        logger.error("store unavailable", error=str(exc))
        metrics.add_metric(name="StoreError", unit=MetricUnit.Count, value=1)
        if route is on_default:
            return _error(503, "service unavailable: try again shortly")
        return _reply(503)
    finally:
        logger.remove_keys(["connection_id", "route"])


def handler(event: Event, context: Any) -> Response:
    """The Lambda entry point of every WebSocket route."""
    try:
        return handle(event, default_deps())
    finally:
        if metrics.metric_set:
            if is_metrics_disabled():
                metrics.clear_metrics()  # Powertools only clears what it printed
            else:
                metrics.flush_metrics()
