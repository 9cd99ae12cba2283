"""The HTTP API Lambda: the FastAPI `app` behind API Gateway HTTP API (payload v2) via Mangum.

Routes and models live in `strikeboard.api`; this module only wires them to Lambda with
Powertools logging and metrics. Locally (tests, the gateway) `app` runs without AWS: the
metrics namespace defaults to "Strikeboard" and metrics are only emitted per Lambda call.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from mangum import Mangum

from strikeboard.api.app import create_app
from strikeboard.config import get_settings

logger = Logger(service="strikeboard-api")
metrics = Metrics(namespace="Strikeboard", service="http-api")

# One app, one Redis client and one PostgreSQL pool per Lambda container (created lazily on
# the first request that needs them).
app = create_app(get_settings())


def mangum_for(asgi_app: Any) -> Mangum:
    """The Mangum adapter the handler uses (HTTP API payload v2, no lifespan)."""
    return Mangum(asgi_app, lifespan="off", api_gateway_base_path="/")


_mangum = mangum_for(app)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (v2) event -> response."""
    started = time.perf_counter()
    response: dict[str, Any] = _mangum(event, context)
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
