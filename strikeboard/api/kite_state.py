"""The Kite login's `state`: signed and expiring, so that no server-side store holds it.

`v1.<nonce>.<expires>.<subject>.<mac>`: a random 128-bit nonce, the Unix second it expires,
the admin who started the login (base64url of the user id) and HMAC-SHA256 over the rest,
keyed by a key derived from the Kite API secret (`state_key`). The callback accepts it only
when the browser's HttpOnly cookie holds the same value (double submit: the login is bound to
the browser that started it), the MAC verifies (compared in constant time) and it has not
expired. Single use: the callback clears the cookie; Kite's request_token is single use too.
Pure (no I/O); the clock is injected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Final

STATE_TTL_S: Final = 600
"""Ten minutes for the Kite login page (password, then the TOTP)."""
MAX_STATE_CHARS: Final = 200
"""The callback's `state` query parameter is refused beyond this length."""
MAX_SUBJECT_BYTES: Final = 64
"""A Cognito `sub` is a 36-character UUID; this bound keeps a state under MAX_STATE_CHARS."""
_VERSION: Final = "v1"
_KEY_LABEL: Final = b"strikeboard kite-login state v1"
_PART: Final = re.compile(r"[A-Za-z0-9_-]+")


class StateError(Exception):
    """The state is unusable; the message says why, for the person at the browser."""


class InvalidStateError(StateError):
    """Malformed, or not signed with this deployment's key (forged, altered, or from before
    the Kite API secret changed)."""


class ExpiredStateError(StateError):
    """Signed by us, but past its expiry."""


def state_key(api_secret: str) -> bytes:
    """The signing key: HMAC-SHA256 of a fixed label under the Kite API secret, so that the
    secret itself (which also signs Kite's checksum) never keys anything else."""
    if not api_secret:
        raise ValueError("the Kite API secret is empty")
    return hmac.new(api_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateSigner:
    """Issues and verifies states under one key; `clock` is Unix time (wall clock, never the
    market's simulated one)."""

    def __init__(
        self, key: bytes, ttl_s: int = STATE_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        if len(key) < 32:
            raise ValueError("the state key needs at least 32 bytes")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._key = key
        self.ttl_s = ttl_s
        self._clock = clock

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, subject: str) -> str:
        """A state for one login started by `subject` (the admin's user id)."""
        raw = subject.encode()
        if not raw or len(raw) > MAX_SUBJECT_BYTES:
            raise ValueError(f"the subject must be 1 to {MAX_SUBJECT_BYTES} bytes")
        expires = int(self._clock()) + self.ttl_s
        body = f"{_VERSION}.{secrets.token_urlsafe(16)}.{expires}.{_b64(raw)}"
        return f"{body}.{self._mac(body)}"

    def verify(self, state: str) -> str:
        """The subject of a state this signer issued that has not expired; else
        `InvalidStateError` or `ExpiredStateError`. Nothing in it is trusted before the MAC
        verifies."""
        parts = state.split(".")
        if len(state) > MAX_STATE_CHARS or len(parts) != 5 or parts[0] != _VERSION:
            raise InvalidStateError("malformed state")
        if not all(_PART.fullmatch(p) for p in parts):
            raise InvalidStateError("malformed state")
        body, mac = state.rsplit(".", 1)
        if not hmac.compare_digest(self._mac(body).encode(), mac.encode()):
            raise InvalidStateError("state signature does not verify")
        _, _, expires, subject = parts[:4]
        try:
            deadline = int(expires)
            user = _unb64(subject).decode()
        except (ValueError, binascii.Error) as exc:  # signed, so only a bug of ours
            raise InvalidStateError("malformed state") from exc
        if self._clock() >= deadline:
            raise ExpiredStateError("state expired")
        return user
