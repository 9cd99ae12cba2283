"""schemathesis over the OpenAPI spec, with a valid token: no 5xx and no response that breaks
the schema, for every operation, over stores filled with real data. (The Kite login routes
are left out: they call Kite itself; tests/integration/api/test_handlers.py covers them.)"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import AUTH, Api
from hypothesis import HealthCheck, given, settings

from strikeboard.api.app import create_app
from strikeboard.config import Settings

OPERATIONS = [
    (path, method.upper())
    for path, methods in create_app(Settings()).openapi()["paths"].items()
    if not path.startswith("/api/auth/")
    for method in methods
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_server_errors_and_responses_match_the_schema(api: Api, path: str, method: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app)
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        case.call_and_validate(headers=AUTH)

    run()
