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

from strikeboard.auth import AuthError, authenticate
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
