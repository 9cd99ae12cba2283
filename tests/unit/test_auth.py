from __future__ import annotations

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

RESOURCES = Path(moto.__file__).parent / "cognitoidp" / "resources"
ISSUER = "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_test"


def _jwks(name: str) -> dict[str, Any]:
    return dict(json.loads(gzip.decompress((RESOURCES / name).read_bytes())))


def _token(**claims: Any) -> str:
    private = _jwks("jwks-private.json.gz")
    key = jwt.PyJWK(private).key if "kty" in private else jwt.PyJWK(private["keys"][0]).key
    kid = private.get("kid") or private["keys"][0]["kid"]
    body = {"sub": "u-1", "iss": ISSUER, "client_id": "app", "exp": time.time() + 60,
            "username": "trader"} | claims  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


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
    for bad in (_token(exp=time.time() - 1), _token(iss="https://evil"), _token(client_id="x"),
                _token()[:-4] + "AAAA"):  # fmt: skip
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


def test_the_dev_user_is_an_admin() -> None:
    settings = Settings(dev_token=SecretStr("s3cret"), admin_group="kite-admins")
    assert authenticate("Bearer s3cret", settings).in_group("kite-admins")
