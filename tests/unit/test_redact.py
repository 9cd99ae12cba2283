"""Secrets and infrastructure details out of logs and public answers."""

from __future__ import annotations

import logging

from strikeboard.redact import SecretQueryFilter, redact_query, sanitize_error


def test_sanitize_error_drops_hosts_ports_urls_and_credentials() -> None:
    cases = {
        'OperationalError: connection to server at "127.0.0.1", port 5433 failed: refused':
            "OperationalError: connection to server at <host> failed: refused",
        "could not connect to db.x.ap-south-1.rds.amazonaws.com:5432 (timeout)":
            "could not connect to <host> (timeout)",
        "GET http://10.0.0.1:9000/quote?access_token=abc failed at 10:00:01":
            "GET <url> failed at 10:00:01",
        "Incorrect `api_key` or `access_token`.": "Incorrect `api_key` or `access_token`.",
        "login with password=hunter2": "login with password=<redacted>",
        "[::1]:6379 refused": "<host> refused",
    }  # fmt: skip
    for raw, clean in cases.items():
        assert sanitize_error(raw) == clean
    assert sanitize_error(None) is None and sanitize_error("") is None
    assert len(sanitize_error("x" * 10_000) or "") == 200


def test_query_secrets_are_redacted_in_uvicorn_records() -> None:
    assert (
        redact_query("/ws?api_key=k&access_token=s3cr3t") == "/ws?api_key=k&access_token=<redacted>"
    )
    assert redact_query("/cb?request_token=rt&action=login&state=st") == (
        "/cb?request_token=<redacted>&action=login&state=<redacted>"
    )
    # uvicorn's access line: its arguments carry the request target.
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/ws?access_token=s3cr3t", "1.1", 101),
                               None)  # fmt: skip
    assert SecretQueryFilter().filter(record)
    assert "s3cr3t" not in record.getMessage() and "access_token=<redacted>" in record.getMessage()
