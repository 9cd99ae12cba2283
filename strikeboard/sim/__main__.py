"""`python -m strikeboard.sim sim --port 8765`: the simulator without the project CLI."""

from __future__ import annotations

import sys

from strikeboard.sim.cli import build_parser


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the chosen subcommand."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
