"""A liveness file for container health checks.

The feed and the pusher touch HEARTBEAT_FILE from their main loops; ECS runs
``python -m strikeboard.heartbeat FILE MAX_AGE_S``, which exits 0 while the file is fresher than
``MAX_AGE_S`` and 1 otherwise. A local file, not the feed's health key in Redis: the check
must say whether this process is stuck, not whether Redis is up, and the slim image has no
curl. Standard library only, so the check starts fast.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def beat(path: Path, now: float | None = None) -> None:
    """Mark ``path`` as fresh (create it if needed)."""
    path.touch()
    if now is not None:
        os.utime(path, (now, now))


def age(path: Path, now: float) -> float | None:
    """Seconds since the last beat, None when there has been none."""
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return None


def worker_file(path: Path, worker: int, workers: int) -> Path:
    """The heartbeat file of one of several worker processes: ``FILE.<worker>``."""
    return path if workers == 1 else path.with_name(f"{path.name}.{worker}")


def check(path: Path, max_age_s: float, now: float) -> str | None:
    """Why the process (or one of its workers' ``FILE.<n>``) counts as stuck, or None while
    every heartbeat is fresh."""
    files = [path] if path.exists() else sorted(path.parent.glob(f"{path.name}.*"))
    if not files:
        return f"no heartbeat at {path}"
    for file in files:
        seconds = age(file, now)
        if seconds is None or seconds > max_age_s:
            return f"heartbeat {file} is {seconds or 0:.0f} s old (limit {max_age_s:g} s)"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m strikeboard.heartbeat FILE MAX_AGE_S", file=sys.stderr)
        return 2
    try:
        max_age_s = float(argv[1])
    except ValueError:
        print(f"MAX_AGE_S must be a number of seconds, got {argv[1]!r}", file=sys.stderr)
        return 2
    problem = check(Path(argv[0]), max_age_s, time.time())
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
