from __future__ import annotations

import functools
import gzip
import json
import time
from pathlib import Path
from typing import Any

import jwt
import moto
import pytest
from pydantic import SecretStr

from strikeboard.auth import AuthError, Principal, authenticate, principal_from_claims
from strikeboard.config import Settings

NOW = time.time()  # PyJWT checks exp against the wall clock; tokens are signed relative to it
RESOURCES = Path(moto.__file__).parent / "cognitoidp" / "resources"
ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_test"


@functools.cache
def _jwks(name: str) -> dict[str, Any]:
    return dict(json.loads(gzip.decompress((RESOURCES / name).read_bytes())))


def _token(**claims: Any) -> str:
    private = _jwks("jwks-private.json.gz")
    key = jwt.PyJWK(private).key if "kty" in private else jwt.PyJWK(private["keys"][0]).key
    kid = private.get("kid") or private["keys"][0]["kid"]
    body = {"sub": "u-1", "iss": ISSUER, "client_id": "app", "exp": NOW + 3600, "iat": NOW,
            "token_use": "access", "username": "trader"} | claims  # fmt: skip
    # A claim given as None is left out (to test tokens that lack it).
    body = {k: v for k, v in body.items() if v is not None}
    return "Bearer " + jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def test_dev_token() -> None:
    settings = Settings(dev_token=SecretStr("s3cret"))
    assert authenticate("Bearer s3cret", settings).user_id == "dev"
    for bad in ("", None, "Bearer nope"):
        with pytest.raises(AuthError):
            authenticate(bad, settings)
    with pytest.raises(AuthError):  # no dev token configured: nothing is accepted
        authenticate("", Settings(dev_token=SecretStr("")))


def test_cognito_jwt() -> None:
    settings = Settings(cognito_issuer=ISSUER, cognito_client_id="app")
    jwks = _jwks("jwks-public.json.gz")
    assert authenticate(_token(), settings, jwks).username == "trader"
    for bad in (_token(exp=time.time() - 120), _token(iss="https://evil"), _token(client_id="x"),
                _token()[:-4] + "AAAA", _token().removeprefix("Bearer ")):  # fmt: skip
        with pytest.raises(AuthError):
            authenticate(bad, settings, jwks)


def test_groups_and_names_from_cognito_tokens_and_api_gateway_claims() -> None:
    settings = Settings(cognito_issuer=ISSUER, cognito_client_id="app")
    jwks = _jwks("jwks-public.json.gz")
    admin = authenticate(_token(**{"cognito:groups": ["ops", "admin"]}), settings, jwks)
    assert admin.groups == ("ops", "admin") and admin.in_group("admin")
    member = authenticate(_token(), settings, jwks)
    assert member.groups == () and not member.in_group("admin") and not member.in_group("")
    # An ID token: aud instead of client_id, cognito:username instead of username.
    id_token = _token(client_id=None, aud="app", token_use="id", username=None,
                      **{"cognito:username": "ana"})  # fmt: skip
    assert authenticate(id_token, settings, jwks).username == "ana"
    with pytest.raises(AuthError, match="access or ID"):
        authenticate(_token(token_use="refresh"), settings, jwks)
    # API Gateway's JWT authorizer hands array claims over flattened: "[admin ops]".
    flat = principal_from_claims({"sub": "u-2", "username": "bo", "cognito:groups": "[admin ops]"})
    assert flat == Principal("u-2", "bo", ("admin", "ops"))
    assert principal_from_claims({"sub": "u-3", "cognito:groups": "[]"}).groups == ()


def test_the_email_claim_only_when_verified() -> None:
    """The alerts' e-mail subscription defaults to the token's address (ID tokens carry it;
    API Gateway flattens email_verified to the string "true")."""
    claims = {"sub": "u-4", "username": "cy", "email": "cy@example.com"}
    assert principal_from_claims({**claims, "email_verified": True}).email == "cy@example.com"
    assert principal_from_claims({**claims, "email_verified": "true"}).email == "cy@example.com"
    assert principal_from_claims({**claims, "email_verified": "false"}).email == ""
    assert principal_from_claims(claims).email == ""


def test_the_dev_user_is_an_admin() -> None:
    settings = Settings(dev_token=SecretStr("s3cret"), admin_group="kite-admins")
    assert authenticate("Bearer s3cret", settings).in_group("kite-admins")


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("no sub (was a KeyError, a 500)", {"sub": None}),
        ("empty sub", {"sub": ""}),
        ("no exp (was accepted)", {"exp": None}),
        ("no iat", {"iat": None}),
        ("iat in the future", {"iat": NOW + 1800}),
        ("no token_use", {"token_use": None}),
        ("a refresh token", {"token_use": "refresh"}),
        ("no iss", {"iss": None}),
        ("another issuer", {"iss": "https://evil"}),
        ("access token without client_id", {"client_id": None}),
        ("access token for another client", {"client_id": "x"}),
        ("ID token without aud", {"token_use": "id", "client_id": None}),
        ("ID token for another client", {"token_use": "id", "client_id": None, "aud": "x"}),
        ("ID token carrying only client_id", {"token_use": "id"}),
        ("expired", {"exp": NOW - 120}),
    ],
)
def test_every_claim_failure_is_an_auth_error(case: str, claims: dict[str, Any]) -> None:
    settings = Settings(cognito_issuer=ISSUER, cognito_client_id="app")
    with pytest.raises(AuthError):
        authenticate(_token(**claims), settings, _jwks("jwks-public.json.gz"))


def test_only_the_bearer_scheme_is_accepted() -> None:
    settings = Settings(dev_token=SecretStr("s3cret"))
    assert authenticate("bearer s3cret", settings).user_id == "dev"  # RFC 7235: any case
    for bad in ("s3cret", "Basic s3cret", "Token s3cret", "Bearer", "Bearer  ", "Bearers3cret"):
        with pytest.raises(AuthError):
            authenticate(bad, settings)


def test_unknown_key_or_garbage_is_an_auth_error() -> None:
    settings = Settings(cognito_issuer=ISSUER, cognito_client_id="app")
    for jwks in ({"keys": []}, {"keys": [{"kid": "x"}]}, {}):
        with pytest.raises(AuthError):
            authenticate(_token(), settings, jwks)
    for bad in ("Bearer x.y.z", "Bearer " + "a" * 5000, "Bearer ..."):
        with pytest.raises(AuthError):
            authenticate(bad, settings, _jwks("jwks-public.json.gz"))


def test_a_little_clock_skew_is_tolerated() -> None:
    """Cognito's clock may run a moment ahead of ours: a fresh token is not refused."""
    settings = Settings(cognito_issuer=ISSUER, cognito_client_id="app")
    token = _token(iat=NOW + 5)
    assert authenticate(token, settings, _jwks("jwks-public.json.gz")).user_id == "u-1"
