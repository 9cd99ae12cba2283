"""An earlier commit of this repository as a directory, to measure it beside the current tree in
the same run (same machine, same load) — not a figure copied from an older README.

`checkout(rev)` extracts the commit's files (``git archive``) into a temporary directory and
removes it afterwards. Nothing is written to the repository's git metadata (no worktree entry
left behind if a run is interrupted). Run the old code with this tree's interpreter and the
directory first on the path: `python_env(tree)` gives the environment, and a child started with
``cwd=tree`` imports the old `strikeboard` and `lambdas` (the locked packages are shared).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """The files of ``rev`` (any git revision) in a temporary directory, for the block."""
    short = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", f"{rev}^{{commit}}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix=f"strikeboard-{short}-"))
    try:
        archive = subprocess.Popen(
            ["git", "-C", str(ROOT), "archive", "--format=tar", short], stdout=subprocess.PIPE
        )
        subprocess.run(["tar", "-x", "-C", str(tmp)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise RuntimeError(f"git archive {short} failed")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def python_env(tree: Path, **extra: str) -> dict[str, str]:
    """This process's environment with ``tree`` ahead of the installed (editable) project."""
    return {**os.environ, "PYTHONPATH": str(tree), **extra}
