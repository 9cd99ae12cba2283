"""A Lambda's cold start imports only what its requests use: no numba/llvmlite/scipy (the
feed's compiled pricing), no Twisted/autobahn/kiteconnect (the Kite ticker). Each handler is
imported by a clean interpreter with the settings a deployed function has; the stores'
addresses are closed ports, so an import that reached for the network would fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numba", "llvmlite", "scipy", "twisted", "autobahn", "kiteconnect")
LAMBDA_SETTINGS = {
    # what infra/stacks/api.py and jobs.py give the functions (values made up, none reachable)
    "AWS_LAMBDA_FUNCTION_NAME": "strikeboard-test",
    "AWS_REGION": "ap-south-1",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "DATABASE_URL": "postgresql://strikeboard@127.0.0.1:1/strikeboard",
    "PGPASSWORD": "not-a-password",
    "KITE_SECRET_NAME": "strikeboard/kite",
    "KITE_API_KEY": "test-key",
    "KITE_API_SECRET": "test-secret",
    "COGNITO_ISSUER": "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_test",
    "COGNITO_CLIENT_ID": "test-client",
    "PUSH_ENDPOINT_URL": "https://abc123.execute-api.ap-south-1.amazonaws.com/prod",
    "POWERTOOLS_SERVICE_NAME": "strikeboard-test",
    "LOG_LEVEL": "INFO",
}
PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
for name in filter(None, sys.argv[2].split(",")):  # what its requests import later
    importlib.import_module(name)
print(json.dumps({"handlers": [n for n in dir(module) if n.endswith("handler")],
                  "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[3:]))}))
"""


STORE_DRIVERS = ("redis", "psycopg", "psycopg_pool")


def _probe(module: str, watched: tuple[str, ...], also: tuple[str, ...] = ()) -> dict[str, Any]:
    """Import `module` (then the modules `also`) in a clean interpreter; its handlers and
    which of the `watched` top-level packages got loaded."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **LAMBDA_SETTINGS}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, ",".join(also), *watched],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        timeout=300,  # a hang guard only: an import normally takes seconds
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "module",
    ["lambdas.http_api", "lambdas.ws", "lambdas.jobs", "lambdas.feed_schedule",
     "lambdas.kite_login"],
)  # fmt: skip
def test_handler_imports_without_the_feeds_heavy_packages(module: str) -> None:
    result = _probe(module, HEAVY)
    assert result["handlers"], f"{module} defines no handler"
    assert result["loaded"] == [], f"{module} imported {result['loaded']}"


def test_the_kite_login_lambda_loads_no_store_driver() -> None:
    """It runs outside the VPC: neither its import nor what a login imports later (the Kite
    client, the Secrets Manager writer) loads a Redis or PostgreSQL client, so none can be
    opened. The main API's handler does load them (the probe sees them)."""
    lazy = ("kiteconnect", "strikeboard.kite.credentials", "strikeboard.api.kite_login")
    assert _probe("lambdas.kite_login", STORE_DRIVERS, lazy)["loaded"] == []
    assert _probe("lambdas.http_api", STORE_DRIVERS)["loaded"] == sorted(STORE_DRIVERS)
