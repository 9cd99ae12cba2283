"""API Gateway WebSocket route handlers: $connect, $disconnect and $default.

One Lambda serves the three routes (dispatch on ``requestContext.routeKey``); the local
gateway (`strikeboard.gateway`) invokes the very same `handler` with API Gateway-shaped
events. $connect takes no token: only ``?ticket=``, a one-time ticket from
``POST /api/ws/ticket`` (30 s), redeemed here (a missing, unknown, expired or reused ticket is
answered 401, which refuses the handshake). $default takes JSON text frames::

    {"action": "subscribe", "expiry": "2026-12-01"}     -> a "snapshot" message, then deltas
    {"action": "unsubscribe", "expiry": "2026-12-01"}
    {"action": "ping"}                                  -> {"type": "pong"}; refreshes the TTL

Replies go through the Management API (``post_to_connection``), like the pusher's. Every
frame is bounded (`Limits`: size, nesting, rate, subscriptions, names known to the hot store);
a frame outside them is answered ``{"type": "error", "message"}`` and the socket stays usable.
Protocol, limits and registry keys: docs/live.md.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from strikeboard.config import Settings, get_settings
from strikeboard.push import messages
from strikeboard.push.poster import ManagementApiPoster, Poster, PostResult
from strikeboard.push.registry import Allowance, Registry
from strikeboard.store.auth_state import AuthState
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.snapshot import SnapshotError

DEFAULT_UNDERLYING = "NIFTY"
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
    poster: Poster
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.time


_deps: dict[str, Deps] = {}


def endpoint_of(event: Event, settings: Settings) -> str:
    """The Management API endpoint: PUSH_ENDPOINT_URL, else this API's own domain/stage."""
    if settings.push_endpoint_url:
        return settings.push_endpoint_url
    ctx = event.get("requestContext") or {}
    return f"https://{ctx.get('domainName', '')}/{ctx.get('stage', '')}"


def default_deps(event: Event) -> Deps:
    """Clients from the settings, cached per endpoint across warm invocations."""
    settings = get_settings()
    endpoint = endpoint_of(event, settings)
    deps = _deps.get(endpoint)
    if deps is None:
        deps = Deps(
            settings=settings,
            registry=Registry.from_url(
                settings.redis_url, settings.redis_key_prefix, settings.ws_connection_ttl_s
            ),
            hot=HotStore.from_url(settings.redis_url, settings.redis_key_prefix),
            poster=ManagementApiPoster.from_endpoint(endpoint, concurrency=4),
        )
        _deps[endpoint] = deps
    return deps


def reset() -> None:
    """Forget cached clients (tests that change the settings)."""
    for deps in _deps.values():
        deps.registry.close()
        deps.hot.close()
    _deps.clear()


def _reply(status: int, body: str = "") -> Response:
    return {"statusCode": status, "body": body}


def _send(deps: Deps, connection_id: str, text: str) -> PostResult:
    result = PostResult.OK
    for piece in messages.split(text, uuid.uuid4().hex[:12]):
        result = deps.poster.post(connection_id, piece.encode())
        if result is not PostResult.OK:
            break
    if result is PostResult.GONE:
        deps.registry.disconnect(connection_id)
    elif result is PostResult.FAILED:
        logger.warning("post_to_connection failed", connection_id=connection_id)
    return result


def on_connect(event: Event, deps: Deps) -> Response:
    ctx = event["requestContext"]
    query = event.get("queryStringParameters") or {}
    principal = AuthState.of(deps.hot).redeem_ticket(query.get("ticket"))
    if principal is None:
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        reason = "unknown, expired or used ticket" if query.get("ticket") else "no ticket"
        logger.info("connection refused", reason=reason)
        return _reply(401, "Unauthorized")
    identity = ctx.get("identity") or {}
    deps.registry.connect(
        ctx["connectionId"],
        principal,
        source_ip=str(identity.get("sourceIp") or ""),
        user_agent=str(identity.get("userAgent") or ""),
    )
    metrics.add_metric(name="Connect", unit=MetricUnit.Count, value=1)
    logger.info("connected", user=principal.user_id)
    return _reply(200, "Connected")


def on_disconnect(event: Event, deps: Deps) -> Response:
    deps.registry.disconnect(event["requestContext"]["connectionId"])
    metrics.add_metric(name="Disconnect", unit=MetricUnit.Count, value=1)
    return _reply(200, "Disconnected")


def _names(body: dict[str, Any]) -> tuple[str, str]:
    """The (underlying, expiry) of a (un)subscribe, well-formed and bounded."""
    underlying = body.get("underlying", DEFAULT_UNDERLYING)
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
    """Subscriptions only to what the feed serves: an underlying the hot store has expiries of
    (or the default one, whose chain may merely be down) and one of those expiries. With
    nothing live (after hours, feed down) any date is accepted: the reply is a reset."""
    live = deps.hot.expiries(underlying)
    if not live and underlying != DEFAULT_UNDERLYING:
        raise messages.MessageError(f"unknown underlying {underlying!r}")
    if live and expiry not in live:
        raise messages.MessageError(
            f"unknown expiry {expiry} of {underlying}: live expiries are {', '.join(live)}"
        )


def _bad_message(deps: Deps, connection_id: str, text: str) -> Response:
    metrics.add_metric(name="BadMessage", unit=MetricUnit.Count, value=1)
    _send(deps, connection_id, messages.error_message(text))
    return _reply(400, text)


def on_default(event: Event, deps: Deps) -> Response:
    connection_id = event["requestContext"]["connectionId"]
    limits = deps.limits
    # The rate first: a flood costs one Redis call a frame and no reply beyond the first.
    allowance = deps.registry.take_token(
        connection_id, limits.rate_per_s, limits.burst, deps.clock()
    )
    if allowance is Allowance.UNKNOWN:
        _send(deps, connection_id, messages.error_message("unknown connection: reconnect"))
        return _reply(410, "Gone")
    if allowance is not Allowance.OK:
        metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
        text = f"rate limit: at most {limits.rate_per_s:g} messages a second; message dropped"
        if allowance is Allowance.DROP_AND_TELL:
            _send(deps, connection_id, messages.error_message(text))
        return _reply(429, text)
    raw = event.get("body")
    try:
        body = messages.parse_client_message(
            raw if isinstance(raw, str) else "", limits.max_message_bytes, limits.max_depth
        )
        action = body.get("action")
        if action == "ping":
            if not deps.registry.touch(connection_id):
                _send(deps, connection_id, messages.error_message("unknown connection: reconnect"))
                return _reply(410, "Gone")
            _send(deps, connection_id, messages.PONG)
            return _reply(200)
        if action in ("subscribe", "unsubscribe"):
            underlying, expiry = _names(body)
            if action == "unsubscribe":
                deps.registry.unsubscribe(connection_id, underlying, expiry)
                return _reply(200)
            _check_known(deps, underlying, expiry)
            return _subscribe(deps, connection_id, underlying, expiry)
        shown = repr(action)[:40] if isinstance(action, str) else type(action).__name__
        raise messages.MessageError(f"unknown action {shown}: use subscribe, unsubscribe or ping")
    except messages.MessageError as exc:
        return _bad_message(deps, connection_id, str(exc))


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
        _send(deps, connection_id, messages.error_message("unknown connection: reconnect"))
        return _reply(410, "Gone")
    metrics.add_metric(name="Subscribe", unit=MetricUnit.Count, value=1)
    document = deps.hot.read_snapshot(underlying, expiry)
    if document is None:
        # Nothing live (after hours, feed down): the client uses REST; the feed's first
        # publish is a reset that tells it to re-fetch.
        _send(deps, connection_id, messages.reset_message(underlying, expiry, None))
    else:
        _send(deps, connection_id, messages.snapshot_message(document))
    return _reply(200)


ROUTES = {"$connect": on_connect, "$disconnect": on_disconnect, "$default": on_default}


def handle(event: Event, deps: Deps) -> Response:
    """Route one API Gateway WebSocket event; never raises."""
    ctx = event.get("requestContext") or {}
    route = ROUTES.get(str(ctx.get("routeKey")))
    if route is None or not ctx.get("connectionId"):
        return _reply(400, f"unknown route {ctx.get('routeKey')!r}")
    logger.append_keys(connection_id=ctx["connectionId"], route=ctx["routeKey"])
    try:
        return route(event, deps)
    except (StoreError, SnapshotError) as exc:
        logger.error("store unavailable", error=str(exc))
        metrics.add_metric(name="StoreError", unit=MetricUnit.Count, value=1)
        return _reply(503, "Service unavailable")
    finally:
        logger.remove_keys(["connection_id", "route"])


def handler(event: Event, context: Any) -> Response:
    """The Lambda entry point of every WebSocket route."""
    try:
        return handle(event, default_deps(event))
    finally:
        if metrics.metric_set:
            if is_metrics_disabled():
                metrics.clear_metrics()  # Powertools only clears what it printed
            else:
                metrics.flush_metrics()
