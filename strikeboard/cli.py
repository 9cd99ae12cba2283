"""The `strikeboard` command line. Each subcommand lives with the code it runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that each add their subcommands with `register(subparsers)`; imported lazily so that
# `strikeboard --help` stays fast and one broken part does not take the whole CLI down.
COMMAND_MODULES = ("strikeboard.sim.cli", "strikeboard.dev")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strikeboard",
        description="Strikeboard: a live NIFTY option chain (Kite -> Redis/PostgreSQL -> web).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.run(args)
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # bad configuration or arguments: say so plainly, no traceback
        print(f"strikeboard {args.command}: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
