"""schemathesis over the OpenAPI spec, with a valid token, over stores filled with real data:

- positive data: no 5xx and no response that breaks the schema, for every operation;
- negative data (values the schema forbids: wrong types, out-of-range numbers, bad dates and
  patterns, missing required parameters, malformed bodies): refused with a 4xx, never a 5xx,
  and no traceback in any answer (issue 13).

Bounded and deterministic: at most 30 examples per operation and mode, derandomized (the same
cases on every run), no example database. (The Kite login routes are left out: they call Kite
itself; tests/integration/api/test_handlers.py covers them.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from conftest import AUTH, Api
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, negative_data_rejection, not_a_server_error
from schemathesis.core.transport import Response

from strikeboard.api.app import create_app
from strikeboard.config import Settings

MAX_EXAMPLES = 30
SPEC = create_app(Settings()).openapi()
OPERATIONS = [
    (path, method.upper())
    for path, methods in SPEC["paths"].items()
    if not path.startswith("/api/auth/")
    for method in methods
]
# Negative data needs something to negate: a parameter or a body.
WITH_INPUT = [
    (path, method)
    for path, method in OPERATIONS
    if SPEC["paths"][path][method.lower()].get("parameters")
    or "requestBody" in SPEC["paths"][path][method.lower()]
]
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/')


def no_traceback(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """No stack trace (or source path) leaks into an answer."""
    text = response.content.decode("utf-8", "replace")
    leaked = [marker for marker in TRACEBACK_MARKERS if marker in text]
    assert not leaked, f"traceback in the answer: {text[:300]}"
    return None


settings_bounded = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_server_errors_and_responses_match_the_schema(api: Api, path: str, method: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app)
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings_bounded
    def run(case: Any) -> None:
        case.call_and_validate(headers=AUTH, additional_checks=[no_traceback])

    run()


@pytest.mark.parametrize(("path", "method"), WITH_INPUT)
def test_negative_data_is_refused_with_a_4xx(
    api: Api, path: str, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app)
    operation = schema[path][method]
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    @settings_bounded
    def run(case: Any) -> None:
        response = case.call(headers=AUTH)
        statuses[response.status_code] += 1
        # negative_data_rejection: a case the schema forbids must get a 4xx (not a 2xx).
        case.validate_response(
            response,
            checks=[not_a_server_error, negative_data_rejection, no_traceback],
            headers=AUTH,
        )

    run()
    assert 0 < statuses.total() <= MAX_EXAMPLES * 2  # bounded (shrinking adds a few at most)
    outcomes = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
    with capsys.disabled():
        print(f"\n[negative data] {method} {path}: {statuses.total()} cases; {outcomes}")
