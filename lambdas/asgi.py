"""What the HTTP Lambdas share: a FastAPI app behind API Gateway HTTP API (payload v2) through
Mangum, one metric set and one log line per call (route, status and path: never the query
string, which can carry the Kite callback's request_token and state)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from mangum import Mangum


def mangum_for(asgi_app: Any) -> Mangum:
    """The Mangum adapter a handler uses (HTTP API payload v2, no lifespan)."""
    return Mangum(asgi_app, lifespan="off", api_gateway_base_path="/")


def serve(
    adapter: Mangum, event: dict[str, Any], context: Any, metrics: Metrics, logger: Logger
) -> dict[str, Any]:
    """API Gateway HTTP API (v2) event -> response, with Requests, ServerErrors and Latency."""
    started = time.perf_counter()
    response: dict[str, Any] = adapter(event, context)
    status = int(response.get("statusCode", 500))
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="Latency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1e3
    )
    logger.info(
        "request",
        extra={
            "route": event.get("routeKey"),
            "status": status,
            "path": event.get("rawPath"),
        },
    )
    return response
