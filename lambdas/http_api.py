"""The HTTP API Lambda: the FastAPI `app` behind API Gateway HTTP API (payload v2) via Mangum.

Routes and models live in `strikeboard.api`; this module only wires them to Lambda with
Powertools logging and metrics (`lambdas.asgi`). Locally (tests, the gateway) `app` runs
without AWS: the metrics namespace defaults to "Strikeboard" and metrics are only emitted per
Lambda call. The Kite login's two routes have a Lambda of their own in the cloud
(`lambdas.kite_login`); this app serves them too, locally.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from lambdas.asgi import mangum_for, serve
from strikeboard.api.app import create_app
from strikeboard.config import get_settings

logger = Logger(service="strikeboard-api")
metrics = Metrics(namespace="Strikeboard", service="http-api")

# One app, one Redis client and one PostgreSQL pool per Lambda container (created lazily on
# the first request that needs them).
app = create_app(get_settings())
_mangum = mangum_for(app)

__all__ = ["app", "handler", "mangum_for"]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (v2) event -> response."""
    return serve(_mangum, event, context, metrics, logger)
