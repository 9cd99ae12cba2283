"""The local gateway: one ASGI server standing in for CloudFront + API Gateway (docs/live.md).

It serves the SPA (web/dist), the HTTP app (`lambdas.http_api:app`) under /api, browser
WebSockets at /ws (invoking `lambdas.ws.handler` with API Gateway-shaped events and sending
its $default replies back as the route response: `route_response`), and the Management
API's @connections endpoint the pusher's boto3 client posts to.
Run: ``python -m strikeboard.gateway --port 8000``.
"""

from strikeboard.gateway.app import Gateway, build_app

__all__ = ["Gateway", "build_app"]
