"""The Kite login's signed state: it verifies only as issued, by this deployment's key, before
its expiry, and names the admin who started the login."""

from __future__ import annotations

import base64
import re

import pytest

from strikeboard.api.kite_state import (
    MAX_STATE_CHARS,
    MAX_SUBJECT_BYTES,
    STATE_TTL_S,
    ExpiredStateError,
    InvalidStateError,
    StateSigner,
    state_key,
)

KEY = state_key("sim_api_secret")
ADMIN = "0c5e2f4a-7b1d-4a8e-9f3c-2d6b8e1a4c7f"  # a Cognito sub


class Clock:
    def __init__(self, now: float = 1_795_582_032.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_state_round_trips_and_is_url_and_cookie_safe() -> None:
    signer = StateSigner(KEY, clock=Clock())
    state = signer.issue(ADMIN)
    assert signer.verify(state) == ADMIN
    # One value for the cookie and the query: no character that either would need to escape.
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", state) and len(state) <= MAX_STATE_CHARS
    assert signer.issue(ADMIN) != state  # a fresh nonce each time
    assert signer.verify(signer.issue("dev")) == "dev"
    assert signer.verify(signer.issue("ünïcode user")) == "ünïcode user"


def test_it_expires_after_its_ttl_by_the_injected_clock() -> None:
    clock = Clock()
    signer = StateSigner(KEY, clock=clock)
    state = signer.issue(ADMIN)
    start = int(clock.now)
    clock.now = start + STATE_TTL_S - 0.001
    assert signer.verify(state) == ADMIN
    clock.now = start + STATE_TTL_S
    with pytest.raises(ExpiredStateError):
        signer.verify(state)
    short = StateSigner(KEY, ttl_s=30, clock=clock)
    fresh = short.issue(ADMIN)
    clock.now += 30
    with pytest.raises(ExpiredStateError):
        short.verify(fresh)


def test_every_single_character_change_is_refused() -> None:
    signer = StateSigner(KEY, clock=Clock())
    state = signer.issue(ADMIN)
    for i, char in enumerate(state):
        for other in {"A", "z", "0", "-", "."} - {char}:
            with pytest.raises(InvalidStateError):
                signer.verify(state[:i] + other + state[i + 1 :])
    for cut in range(len(state)):
        with pytest.raises(InvalidStateError):
            signer.verify(state[:cut])


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_another_admin_or_a_later_expiry_cannot_be_written_in() -> None:
    clock = Clock()
    signer = StateSigner(KEY, clock=clock)
    version, nonce, expires, subject, mac = signer.issue(ADMIN).split(".")
    assert subject == _b64(ADMIN)
    other = ".".join([version, nonce, expires, _b64("another-admin"), mac])
    later = ".".join([version, nonce, str(int(expires) + 3600), subject, mac])
    for forged in (other, later):
        with pytest.raises(InvalidStateError):
            signer.verify(forged)
    # Even once the real one has expired, the extended one is refused as not ours.
    clock.now += STATE_TTL_S
    with pytest.raises(InvalidStateError):
        signer.verify(later)


def test_only_this_deployments_key_verifies_it() -> None:
    state = StateSigner(KEY, clock=Clock()).issue(ADMIN)
    for secret in ("another_api_secret", "sim_api_secret "):
        with pytest.raises(InvalidStateError):
            StateSigner(state_key(secret), clock=Clock()).verify(state)
    # The key is derived, not the secret itself (which also signs Kite's checksums).
    assert KEY != b"sim_api_secret" and len(KEY) == 32


@pytest.mark.parametrize(
    "state",
    ["", "v1", "v1....", "v2.a.1.b.c", "v1.a.1.b.c.d", "v1.a b.1.b.c", "v1.ä.1.b.c",
     "x" * (MAX_STATE_CHARS + 1)],
)  # fmt: skip
def test_malformed_states_are_refused(state: str) -> None:
    with pytest.raises(InvalidStateError):
        StateSigner(KEY, clock=Clock()).verify(state)


def test_bad_construction_and_subjects_are_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        state_key("")
    with pytest.raises(ValueError, match="32 bytes"):
        StateSigner(b"short")
    with pytest.raises(ValueError, match="ttl_s"):
        StateSigner(KEY, ttl_s=0)
    signer = StateSigner(KEY, clock=Clock())
    with pytest.raises(ValueError, match="subject"):
        signer.issue("")
    with pytest.raises(ValueError, match="subject"):
        signer.issue("u" * (MAX_SUBJECT_BYTES + 1))
    longest = signer.issue("u" * MAX_SUBJECT_BYTES)
    assert len(longest) <= MAX_STATE_CHARS and signer.verify(longest) == "u" * MAX_SUBJECT_BYTES
