"""Who is calling: a Cognito user-pool JWT (cloud) or the local dev token (`make dev`).

Both HTTP and WebSocket entry points call `authenticate(token)`; nothing but health serves
data without it. In the cloud the HTTP API's JWT authorizer has checked the token already,
and this check is the same one for the WebSocket $connect route, which has no JWT authorizer.
"""

from __future__ import annotations

import hmac
import json
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from strikeboard.config import Settings

DEV_USER = "dev"


class AuthError(ValueError):
    """The token is missing, malformed, expired or not ours (maps to 401)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str


@lru_cache(maxsize=4)
def _jwks(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


def verify_cognito(
    token: str, *, issuer: str, audience: str | None, jwks: dict[str, Any]
) -> Principal:
    """Check a Cognito JWT's signature (RS256, the pool's JWKS), expiry, issuer and client."""
    try:
        header = jwt.get_unverified_header(token)
        keys = {k["kid"]: k for k in jwks.get("keys", [])}
        key = jwt.PyJWK(keys[header["kid"]]).key
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                            options={"verify_aud": False})  # fmt: skip
    except (jwt.PyJWTError, KeyError) as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    # Cognito access tokens carry client_id, id tokens aud: accept either for our client.
    client = claims.get("client_id") or claims.get("aud")
    if audience and client != audience:
        raise AuthError("token issued for another client")
    return Principal(str(claims["sub"]), str(claims.get("username") or claims.get("email") or ""))


def authenticate(
    token: str | None, settings: Settings, jwks: dict[str, Any] | None = None
) -> Principal:
    """The caller of a request, or AuthError."""
    if not token:
        raise AuthError("missing token")
    token = token.removeprefix("Bearer ").strip()
    if settings.cognito_issuer:
        keys = (
            jwks if jwks is not None else _jwks(f"{settings.cognito_issuer}/.well-known/jwks.json")
        )
        return verify_cognito(token, issuer=settings.cognito_issuer,
                              audience=settings.cognito_client_id or None, jwks=keys)  # fmt: skip
    expected = settings.dev_token.get_secret_value()
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return Principal(DEV_USER, DEV_USER)
    raise AuthError("invalid token")
