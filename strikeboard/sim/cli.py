"""`strikeboard sim`: serve the Kite-compatible market simulator on one port (network I/O)."""

from __future__ import annotations

import argparse
import datetime as dt

from strikeboard.sim.engine import SimConfig
from strikeboard.sim.server import ServerOptions, serve
from strikeboard.sim.universe import SIM_UNDERLYINGS, UniverseConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The simulator's flags (shared by `strikeboard sim` and `python -m strikeboard.sim`)."""
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port for REST (http://HOST:PORT) and the ticker (ws://HOST:PORT/ws)",
    )
    p.add_argument(
        "--api-key", default="sim_api_key", help="accepted api_key (default sim_api_key)"
    )
    p.add_argument(
        "--access-token",
        default="sim_access_token",
        help="accepted access_token (default sim_access_token)",
    )
    p.add_argument(
        "--api-secret",
        default="sim_api_secret",
        help="api_secret for the login checksum (default sim_api_secret)",
    )
    p.add_argument(
        "--seed", type=int, default=1, help="random seed: same seed + clock -> same prices"
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="market-clock multiplier (60 runs an hour a minute; default 1)",
    )
    p.add_argument(
        "--start",
        type=dt.time.fromisoformat,
        default=None,
        help="market time to start at, HH:MM[:SS] IST (default 09:15)",
    )
    p.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        default=None,
        help="trading date YYYY-MM-DD (default today's trading day in IST)",
    )
    p.add_argument(
        "--days",
        type=int,
        default=None,
        help="trading days to run from --date, each starting at 08:00 IST of its morning "
        "(default: unbounded; after the last day's close the clock runs on, no new day starts)",
    )
    p.add_argument("--lot-size", type=int, default=65, help="NIFTY lot size (default 65)")
    p.add_argument(
        "--underlyings",
        default=",".join(SIM_UNDERLYINGS),
        help="underlyings to list and stream, NIFTY first (default: all of "
        f"{','.join(SIM_UNDERLYINGS)})",
    )
    p.add_argument(
        "--every-second",
        action="store_true",
        help="benchmark knob: every instrument ticks once per market second",
    )
    p.add_argument(
        "--no-rate-limits",
        dest="rate_limits",
        action="store_false",
        help="benchmarks only: switch off Kite's per-api_key REST rate limits (429s)",
    )
    p.add_argument(
        "--redirect-url",
        default="",
        help="the app's registered Kite redirect URL: /connect/login sends the browser there "
        "with request_token (default: none, answered as JSON)",
    )
    p.add_argument(
        "--message-every",
        type=int,
        default=30,
        help="a broadcast `message` text frame about once per N simulated minutes (0: never)",
    )


def build(args: argparse.Namespace) -> tuple[SimConfig, ServerOptions]:
    """The market and server settings of parsed simulator flags (`run`, and the end-to-end
    bench, which starts the simulator `strikeboard dev` would, in its own process)."""
    if args.days is not None and args.days < 1:
        raise SystemExit("--days must be at least 1")
    names = tuple(n.strip().upper() for n in args.underlyings.split(",") if n.strip())
    try:
        universe = UniverseConfig(lot_size=args.lot_size, underlyings=names)
    except ValueError as exc:
        raise SystemExit(f"--underlyings: {exc}") from None
    config = SimConfig(seed=args.seed, day=args.date, lot_size=args.lot_size, universe=universe,
                       every_second=args.every_second, days=args.days)  # fmt: skip
    options = ServerOptions(
        api_key=args.api_key,
        access_token=args.access_token,
        api_secret=args.api_secret,
        speed=args.speed,
        start=args.start,
        rate_limits=args.rate_limits,
        message_every=args.message_every,
        redirect_url=args.redirect_url,
    )
    return config, options


def run(args: argparse.Namespace) -> int:
    """Start the simulator in the foreground until interrupted."""
    serve(args.host, args.port, *build(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `sim` subcommand (the lead's strikeboard/cli.py calls this)."""
    p = subparsers.add_parser("sim", help="run the Kite-compatible market simulator",
                              description=__doc__)  # fmt: skip
    add_arguments(p)
    p.set_defaults(run=run)
