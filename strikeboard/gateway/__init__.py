"""The local gateway: one ASGI server standing in for CloudFront + API Gateway (docs/live.md).

It serves the SPA (web/dist), an HTTP app under /api, browser WebSockets at /ws (invoking a
WebSocket route handler with API Gateway-shaped events and sending its $default replies back
as the route response: `route_response`), and the Management API's @connections endpoint the
pusher posts to. The app and the handler are given to it (the Lambdas' `lambdas.http_api:app`
and `lambdas.ws:handler`, wired in by its entry points): the library never imports `lambdas`.
Run: ``python -m strikeboard.gateway --http-app lambdas.http_api:app --ws-handler
lambdas.ws:handler --port 8000`` (what `strikeboard dev` runs).
"""

from strikeboard.gateway.app import Gateway, build_app

__all__ = ["Gateway", "build_app"]
