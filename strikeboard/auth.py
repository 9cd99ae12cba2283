"""Who is calling: a Cognito user-pool JWT (cloud) or the local dev token (`make dev`).

REST callers send `Authorization: Bearer <token>` (never a query parameter): in the cloud the
HTTP API's JWT authorizer has checked it already and `principal_from_claims` reads its claims;
elsewhere `authenticate(header)` checks it. The WebSocket `$connect` takes no token at all, only
a one-time ticket bought with one (`strikeboard.store.auth_state`). Members of the admin group
(Cognito `cognito:groups`; the local dev user always) may start the daily Kite login.
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
    groups: tuple[str, ...] = ()
    email: str = ""
    """The token's verified ``email`` claim (Cognito ID tokens carry it, access tokens do
    not); empty when absent or not verified."""

    def in_group(self, group: str) -> bool:
        return bool(group) and group in self.groups


def _groups(value: Any) -> tuple[str, ...]:
    """`cognito:groups` as a tuple: a JSON list in the token; API Gateway's JWT authorizer
    hands array claims to the integration flattened into a string such as "[admin ops]"."""
    if isinstance(value, list):
        return tuple(str(g) for g in value)
    if isinstance(value, str):
        return tuple(g for g in value.strip("[]").replace(",", " ").split() if g)
    return ()


def _verified_email(claims: dict[str, Any]) -> str:
    """The ``email`` claim when Cognito says it is verified (``email_verified``: a boolean in
    the token, the string "true" once API Gateway's authorizer has flattened the claims)."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    if isinstance(email, str) and (verified is True or str(verified).lower() == "true"):
        return email
    return ""


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The caller named by verified Cognito claims (access token: username; ID token:
    cognito:username); KeyError without a subject."""
    name = claims.get("username") or claims.get("cognito:username") or claims.get("email") or ""
    return Principal(str(claims["sub"]), str(name), _groups(claims.get("cognito:groups")),
                     _verified_email(claims))  # fmt: skip


@lru_cache(maxsize=4)
def _jwks(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "token_use")
"""Claims every Cognito token we accept carries (PyJWT checks exp, iat and iss values)."""

TOKEN_USES = ("access", "id")
CLOCK_SKEW_S = 30
"""Leeway on exp and iat: Cognito's clock and ours may differ by a little (a fresh token's iat
a moment "in the future" must not be a 401)."""


def verify_cognito(
    token: str, *, issuer: str, audience: str | None, jwks: dict[str, Any]
) -> Principal:
    """Check a Cognito JWT: signature (RS256, the pool's JWKS), required claims (exp, iat,
    sub, iss, token_use; client_id or aud), expiry, issuer, client and token use. Every
    failure is an AuthError (401), never a KeyError (500)."""
    try:
        header = jwt.get_unverified_header(token)
        keys = {k.get("kid"): k for k in jwks.get("keys", []) if isinstance(k, dict)}
        key = jwt.PyJWK(keys[header.get("kid")]).key
        options: Any = {"verify_aud": False, "require": list(REQUIRED_CLAIMS)}
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer, options=options,
                            leeway=CLOCK_SKEW_S)  # fmt: skip
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    if claims.get("token_use") not in TOKEN_USES:
        raise AuthError("not an access or ID token")
    # Cognito access tokens carry client_id, ID tokens aud: one of them must name our client.
    client = claims.get("client_id") if claims["token_use"] == "access" else claims.get("aud")
    if not isinstance(client, str) or not client:
        raise AuthError("token without a client")
    if audience and client != audience:
        raise AuthError("token issued for another client")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("token without a subject")
    return principal_from_claims(claims)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (the scheme is
    case-insensitive, RFC 7235); AuthError for anything else, a bare token included."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing token: send Authorization: Bearer <token>")
    return token.strip()


def authenticate(
    authorization: str | None, settings: Settings, jwks: dict[str, Any] | None = None
) -> Principal:
    """The caller named by an Authorization header value ("Bearer <token>"), or AuthError."""
    token = bearer_token(authorization)
    if settings.cognito_issuer:
        keys = (
            jwks if jwks is not None else _jwks(f"{settings.cognito_issuer}/.well-known/jwks.json")
        )
        return verify_cognito(token, issuer=settings.cognito_issuer,
                              audience=settings.cognito_client_id or None, jwks=keys)  # fmt: skip
    expected = settings.dev_token.get_secret_value()
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        # The one local user runs the simulator's Kite login too: an admin.
        return Principal(DEV_USER, DEV_USER, (settings.admin_group,))
    raise AuthError("invalid token")
