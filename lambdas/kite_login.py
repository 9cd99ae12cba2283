"""The Kite login Lambda: `POST /api/auth/kite/login` and `GET /api/auth/kite/callback` only,
behind API Gateway HTTP API (payload v2) via Mangum, like `lambdas.http_api`.

It runs outside the VPC: it reaches Kite (api.kite.trade) and the public Secrets Manager
endpoint, and never Redis or PostgreSQL (`strikeboard.api.routes.kite_login.create_kite_login_app`
builds no store; nothing it imports opens one). The login's `state` is signed, not stored;
the token goes into the secret KITE_SECRET_NAME and the feed finds it on its backoff reads.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from lambdas.asgi import mangum_for, serve
from strikeboard.api.routes.kite_login import create_kite_login_app
from strikeboard.config import get_settings

logger = Logger(service="strikeboard-kite-login")
metrics = Metrics(namespace="Strikeboard", service="kite-login")

app = create_kite_login_app(get_settings())
_mangum = mangum_for(app)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (v2) event -> response."""
    return serve(_mangum, event, context, metrics, logger)
