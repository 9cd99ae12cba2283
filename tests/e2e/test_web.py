"""The SPA's tests inside `make test`: Vitest (unit) and the browser end-to-end run.

Both run through npm in web/ (Node 20+, `npm ci` done by these tests when node_modules is
missing); the end-to-end run needs Debian's Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# On CI (.ci/run installs Chromium; Node comes with the machine) a missing tool is a failure,
# not a skip: the browser tests must have run.
ON_CI = bool(os.environ.get("CI"))
needs_npm = pytest.mark.skipif(
    shutil.which("npm") is None and not ON_CI, reason="npm is not installed"
)


def _npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    if not (WEB / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True,
                       env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})  # fmt: skip
    return subprocess.run(["npm", *args], cwd=WEB, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


@needs_npm
def test_vitest() -> None:
    result = _npm("test", "--silent", timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not ON_CI, reason=f"no Chromium at {CHROMIUM}"
)


@pytest.fixture(scope="module")
def built_spa() -> None:
    """web/dist from the current sources, built once for the browser tests of this module."""
    build = _npm("run", "build", timeout=300)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_dashboard_end_to_end(built_spa: None) -> None:
    result = _npm("run", "e2e", timeout=900)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_signin_end_to_end(built_spa: None) -> None:
    """Sign-in against the local OAuth stand-in (tests/e2e/oauth_standin.py), silent refresh of
    5-second access tokens, ticket sockets, sign-out (tests/e2e/signin.e2e.mjs)."""
    result = _npm("run", "e2e:signin", timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_strategy_builder_end_to_end(built_spa: None) -> None:
    """A straddle built from the chain shows breakevens at strike -/+ premium at expiry; save,
    reload, share link; web/screenshots/strategy.png (tests/e2e/strategy.e2e.mjs)."""
    result = _npm("run", "e2e:strategy", timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]
