"""The local gateway (docs/live.md): ``python -m strikeboard.gateway --http-app
lambdas.http_api:app --ws-handler lambdas.ws:handler [--port 8000]``.

What it serves is named on the command line, as ``MODULE:ATTRIBUTE`` (uvicorn's form), and
loaded on first use: the library does not import the Lambdas (`strikeboard dev` names them).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import threading
from pathlib import Path
from typing import Any

import uvicorn

from strikeboard.gateway.app import (
    DEFAULT_STATIC_DIR,
    IDLE_TIMEOUT_S,
    Event,
    Gateway,
    LazyApp,
    WsHandler,
    build_app,
)
from strikeboard.gateway.limits import uvicorn_limits


def import_target(spec: str) -> Any:
    """The object ``MODULE:ATTRIBUTE`` names (ImportError, AttributeError or ValueError)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{spec!r} is not MODULE:ATTRIBUTE")
    return getattr(importlib.import_module(module_name), attribute)


def lazy_handler(spec: str) -> WsHandler:
    """The WebSocket handler ``spec`` names, imported on its first event: the gateway starts
    even when it fails to import (the event then fails as an integration failure would)."""
    loaded: list[WsHandler] = []
    lock = threading.Lock()

    def handler(event: Event, context: Any) -> dict[str, Any]:
        if not loaded:
            with lock:
                if not loaded:
                    loaded.append(import_target(spec))
                    gc.freeze()  # see main()
        return loaded[0](event, context)

    return handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m strikeboard.gateway",
        description="Serve the SPA, /api, browser WebSockets at /ws and @connections.",
    )
    target = "MODULE:ATTRIBUTE"
    parser.add_argument("--http-app", required=True, metavar=target,
                        help="the ASGI app under /api, e.g. lambdas.http_api:app")  # fmt: skip
    parser.add_argument("--ws-handler", required=True, metavar=target,
                        help="the WebSocket route handler, e.g. lambdas.ws:handler")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="bind address")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--static-dir", type=Path, default=DEFAULT_STATIC_DIR,
                        help="the built SPA (default web/dist)")  # fmt: skip
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S,
                        help="close WebSockets silent this long, s (API Gateway: 600)")  # fmt: skip
    parser.add_argument("--post-rtt-ms", type=float, default=0.0,
                        help="answer each @connections POST this much later: the pusher's "
                             "round trip to API Gateway in AWS (default 0)")  # fmt: skip
    args = parser.parse_args(argv)
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    # The WebSocket handlers run in this process and reply with their route responses (the
    # pusher, another process, posts to our @connections). No CloudWatch here: no EMF lines
    # on stdout; set before anything reads the settings.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    spec: str = args.http_app
    gateway = Gateway(
        lazy_handler(args.ws_handler),
        http_app=LazyApp(lambda: import_target(spec), spec),
        static_dir=args.static_dir,
        domain_name=f"{local}:{args.port}",
        idle_timeout_s=args.idle_timeout,
        post_rtt_s=args.post_rtt_ms / 1000,
    )
    print(f"Strikeboard gateway on http://{local}:{args.port}  (ws: /ws, api: /api)", flush=True)
    # No permessage-deflate: API Gateway does not compress either, and compressing every
    # delta for every socket would cost more CPU than the rest of the fan-out. Header and
    # handshake deadlines and sizes: strikeboard.gateway.limits.
    # What is imported stays: out of the collector's way (full collections walking it paused
    # the gateway ~50-120 ms at a time under the pusher's posts, which API Gateway does not).
    gc.freeze()
    uvicorn.run(build_app(gateway), host=args.host, port=args.port, log_level="warning",
                access_log=False, ws_per_message_deflate=False,
                **uvicorn_limits())  # fmt: skip


if __name__ == "__main__":
    main()
