"""Keeping secrets and infrastructure details out of logs and public answers. Pure."""

from __future__ import annotations

import logging
import re
from typing import Any

ERROR_KEYS = frozenset({"error", "kite_rest_error"})
"""The feed health document's free-text error fields: private (see `health_view`)."""

# Where a service lives is for operators, not for the health page (docs/security.md).
_HOST_AT = r'(server at|host(?:name)?[= ])\s*"?[^\s",)]+"?(,? port \d+)?'
_REDACT = [
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I), "<url>"),
    (re.compile(_HOST_AT, re.I), r"\1 <host>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<host>"),
    (re.compile(r"\[[0-9a-f:]+\](?::\d+)?|(?<![\w:])::1\b", re.I), "<host>"),
    (re.compile(r"\b[\w-]+(?:\.[\w-]+)+:\d+\b"), "<host>"),
    (re.compile(r"\bport \d+", re.I), "port <port>"),
    (re.compile(r"((?:password|secret|token)=)\S+", re.I), r"\1<redacted>"),
]
_MAX_ERROR_CHARS = 200


def sanitize_error(text: str | None) -> str | None:
    """An error message without hosts, ports, URLs or credentials, and bounded."""
    if not text:
        return None
    for pattern, replacement in _REDACT:
        text = pattern.sub(replacement, text)
    return text[:_MAX_ERROR_CHARS]


def health_view(doc: dict[str, Any], *, signed_in: bool) -> dict[str, Any]:
    """The feed's health document for /api/health: for anonymous callers without its error
    texts (states and counters only: what failed, not why nor where); for signed-in callers
    with them sanitized (also those of a feed that wrote them raw)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ERROR_KEYS:
            if signed_in:
                out[key] = sanitize_error(value) if isinstance(value, str) else None
        elif isinstance(value, dict):
            out[key] = health_view(value, signed_in=signed_in)
        elif isinstance(value, list):
            out[key] = [health_view(v, signed_in=signed_in) if isinstance(v, dict) else v
                        for v in value]  # fmt: skip
        else:
            out[key] = value
    return out


def mask_email(address: str) -> str:
    """An e-mail address for a log line: its first character and its domain, never the whole
    local part (``trader@example.com`` -> ``t***@example.com``; docs/security.md)."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


SECRET_PARAMS = re.compile(
    r"((?:access_token|request_token|api_secret|checksum|ticket|token|code|state)=)[^&\s\"']+",
    re.I,
)
"""Query parameters that carry credentials (Kite's tokens, /ws tickets, OAuth codes)."""


def redact_query(text: str) -> str:
    """``text`` with the values of credential-carrying query parameters replaced."""
    return SECRET_PARAMS.sub(r"\1<redacted>", text)


class SecretQueryFilter(logging.Filter):
    """Redacts credential query parameters in a record (uvicorn's access and handshake lines
    carry the request target, e.g. the ticker's ``/ws?api_key=..&access_token=..``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_uvicorn_logs() -> None:
    """Install `SecretQueryFilter` on uvicorn's loggers (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretQueryFilter) for f in logger.filters):
            logger.addFilter(SecretQueryFilter())
