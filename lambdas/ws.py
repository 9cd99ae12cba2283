"""API Gateway WebSocket route handlers: $connect, $disconnect and $default.

One Lambda serves the three routes (dispatch on ``requestContext.routeKey``); the local
gateway (`strikeboard.gateway`) invokes the very same `handler` with API Gateway-shaped
events. $connect checks the ``?token=`` query parameter (Cognito JWT or the dev token) and
answers 401 when it is invalid. $default takes JSON text frames::

    {"action": "subscribe", "expiry": "2026-12-01"}     -> a "snapshot" message, then deltas
    {"action": "unsubscribe", "expiry": "2026-12-01"}
    {"action": "ping"}                                  -> {"type": "pong"}; refreshes the TTL

Replies go through the Management API (``post_to_connection``), like the pusher's. Protocol
and registry keys: docs/live.md.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from strikeboard.api import signin_shim  # STOPGAP (h6-spa)
from strikeboard.auth import AuthError, authenticate
from strikeboard.config import Settings, get_settings
from strikeboard.push import messages
from strikeboard.push.poster import ManagementApiPoster, Poster, PostResult
from strikeboard.push.registry import Registry
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.snapshot import SnapshotError

DEFAULT_UNDERLYING = "NIFTY"

logger = Logger(service="strikeboard-ws")
metrics = Metrics(namespace="Strikeboard", service="ws")

Event = dict[str, Any]
Response = dict[str, Any]


@dataclass
class Deps:
    """What the handlers talk to (built once per warm Lambda; injected by tests)."""

    settings: Settings
    registry: Registry
    hot: HotStore
    poster: Poster


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
    try:
        # STOPGAP (h6-spa): the one-time ticket of POST /api/ws/ticket; h5-signin's replaces it.
        if "ticket" in query:
            ticket = signin_shim.redeem_ticket(
                deps.registry.client, deps.settings.redis_key_prefix, query["ticket"]
            )
            if ticket is None:
                raise AuthError("unknown or spent ticket")
            principal = ticket
        else:
            principal = authenticate(query.get("token"), deps.settings)
    except AuthError as exc:
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        logger.info("connection refused", reason=str(exc))
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


def _expiry(body: dict[str, Any]) -> tuple[str, str]:
    underlying = body.get("underlying", DEFAULT_UNDERLYING)
    expiry = body.get("expiry")
    if not isinstance(underlying, str) or not underlying.isalnum():
        raise messages.MessageError("'underlying' must be a name like NIFTY")
    if not isinstance(expiry, str):
        raise messages.MessageError("'expiry' is required: an ISO date such as 2026-12-01")
    try:
        return underlying, date.fromisoformat(expiry).isoformat()
    except ValueError as exc:
        raise messages.MessageError(f"'expiry' {expiry!r} is not an ISO date") from exc


def on_default(event: Event, deps: Deps) -> Response:
    connection_id = event["requestContext"]["connectionId"]
    try:
        body = json.loads(event.get("body") or "")
        if not isinstance(body, dict):
            raise messages.MessageError("a message is a JSON object with an 'action'")
        action = body.get("action")
        if action == "ping":
            if not deps.registry.touch(connection_id):
                _send(deps, connection_id, messages.error_message("unknown connection: reconnect"))
                return _reply(410, "Gone")
            _send(deps, connection_id, messages.PONG)
            return _reply(200)
        if action in ("subscribe", "unsubscribe"):
            underlying, expiry = _expiry(body)
            if action == "unsubscribe":
                deps.registry.unsubscribe(connection_id, underlying, expiry)
                return _reply(200)
            return _subscribe(deps, connection_id, underlying, expiry)
        raise messages.MessageError(
            f"unknown action {action!r}: use subscribe, unsubscribe or ping"
        )
    except (json.JSONDecodeError, messages.MessageError) as exc:
        text = str(exc) if isinstance(exc, messages.MessageError) else f"invalid JSON: {exc}"
        metrics.add_metric(name="BadMessage", unit=MetricUnit.Count, value=1)
        _send(deps, connection_id, messages.error_message(text))
        return _reply(400, text)


def _subscribe(deps: Deps, connection_id: str, underlying: str, expiry: str) -> Response:
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
