"""The SPA's tests inside `make test`: Vitest (unit) and the browser end-to-end specs.

Both run through npm in web/ (Node 20+, `npm ci` done by these tests when node_modules is
missing). The end-to-end specs (web/e2e/*.spec.ts) run in Playwright's runner, one pytest test
per spec file, driving Debian's Chromium at /usr/bin/chromium (or CHROMIUM_PATH); a failure
prints the failed checks from the runner's JSON report and where their traces are.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

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


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _specs(suite: dict[str, Any]) -> list[dict[str, Any]]:
    """Every spec (a test) of a JSON report's suite, nested describes included."""
    out = list(suite.get("specs", []))
    for child in suite.get("suites", []):
        out += _specs(child)
    return out


def _message(error: dict[str, Any]) -> list[str]:
    return ANSI.sub("", error.get("message", "")).splitlines()


def failures(report: dict[str, Any]) -> list[str]:
    """What went wrong in a Playwright JSON report: each failed or flaky test's errors (the
    first lines), trace and stack output, and the run's own errors (a fixture, the config)."""
    lines: list[str] = []
    for spec in (s for suite in report.get("suites", []) for s in _specs(suite)):
        for t in spec.get("tests", []):
            if t.get("status") not in ("unexpected", "flaky"):
                continue
            for n, r in enumerate(t.get("results", [])):
                if r.get("status") in ("passed", "skipped"):
                    continue
                lines.append(f"{t['status'].upper()} {spec['title']} (try {n + 1}: {r['status']})")
                for e in r.get("errors", []):
                    lines += ["    " + ln for ln in _message(e)[:12]]
                for a in r.get("attachments", []):
                    if a.get("name") == "trace" and a.get("path"):
                        lines.append(f"    trace: {a['path']}")
                    elif a.get("name") == "strikeboard dev" and a.get("body"):
                        body = base64.b64decode(a["body"]).decode(errors="replace")
                        lines += ["    stack: " + ln for ln in body.splitlines()]
    for e in report.get("errors", []):
        lines += ["RUN ERROR " + ln for ln in _message(e)[:20]]
    return lines


def run_spec(name: str, timeout: float) -> None:
    """`npm run e2e:<name>`: the spec in Playwright's runner; asserts it passed."""
    report_file = WEB / "test-results" / name / "report.json"
    report_file.unlink(missing_ok=True)
    result = _npm("run", f"e2e:{name}", timeout=timeout)
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    found = failures(report)
    if found:  # flaky tests pass on their retry: said in the output all the same
        print("\n".join(found))
    stats = report.get("stats", {})
    assert result.returncode == 0 and stats.get("unexpected", 1) == 0, "\n".join(
        [*found, f"stats: {stats}", f"report: web/playwright-report/{name}/index.html",
         "--- output ---", result.stdout[-6000:], result.stderr[-3000:]]
    )  # fmt: skip


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_alerts_end_to_end(built_spa: None) -> None:
    """A spot alert set from the SPA fires once (a toast, a row, one event); a page opened
    again lists it, and one that fired while no page was open; web/screenshots/alerts.png
    (web/e2e/alerts.spec.ts)."""
    run_spec("alerts", timeout=600)


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_dashboard_end_to_end(built_spa: None) -> None:
    """The dashboard against `strikeboard dev` (web/e2e/dashboard.spec.ts)."""
    run_spec("dashboard", timeout=1200)


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_signin_end_to_end(built_spa: None) -> None:
    """Sign-in against the local OAuth stand-in (tests/e2e/oauth_standin.py), silent refresh of
    5-second access tokens, ticket sockets, sign-out (web/e2e/signin.spec.ts)."""
    run_spec("signin", timeout=600)


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_strategy_builder_end_to_end(built_spa: None) -> None:
    """A straddle built from the chain shows breakevens at strike -/+ premium at expiry; save,
    reload, share link; web/screenshots/strategy.png (web/e2e/strategy.spec.ts)."""
    run_spec("strategy", timeout=600)


@needs_npm
@needs_chromium
@pytest.mark.slow
def test_trader_tools_end_to_end(built_spa: None) -> None:
    """A replay at 60x moves the chain minute by minute as the API's chain of each minute; the
    strike drill-down and the surface tab with data; web/screenshots/replay.png
    (web/e2e/tools.spec.ts)."""
    run_spec("tools", timeout=600)
