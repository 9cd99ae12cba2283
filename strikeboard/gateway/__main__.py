"""``python -m strikeboard.gateway --port 8000``: the local gateway (docs/live.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from strikeboard.gateway.app import DEFAULT_STATIC_DIR, IDLE_TIMEOUT_S, Gateway, build_app
from strikeboard.gateway.limits import uvicorn_limits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m strikeboard.gateway",
        description="Serve the SPA, /api, browser WebSockets at /ws and @connections.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--static-dir", type=Path, default=DEFAULT_STATIC_DIR,
                        help="the built SPA (default web/dist)")  # fmt: skip
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S,
                        help="close WebSockets silent this long, s (API Gateway: 600)")  # fmt: skip
    args = parser.parse_args(argv)
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    # The WebSocket handlers run in this process and reply with their route responses (the
    # pusher, another process, posts to our @connections). No CloudWatch here: no EMF lines
    # on stdout; set before anything reads the settings.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    gateway = Gateway(
        static_dir=args.static_dir,
        domain_name=f"{local}:{args.port}",
        idle_timeout_s=args.idle_timeout,
    )
    print(f"Strikeboard gateway on http://{local}:{args.port}  (ws: /ws, api: /api)", flush=True)
    # No permessage-deflate: API Gateway does not compress either, and compressing every
    # delta for every socket would cost more CPU than the rest of the fan-out. Header and
    # handshake deadlines and sizes: strikeboard.gateway.limits.
    uvicorn.run(build_app(gateway), host=args.host, port=args.port, log_level="warning",
                access_log=False, ws_per_message_deflate=False,
                **uvicorn_limits())  # fmt: skip


if __name__ == "__main__":
    main()
