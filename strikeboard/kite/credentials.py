"""Kite credentials: from the environment (local) or AWS Secrets Manager (cloud).

The secret is a JSON object `{"api_key": "...", "access_token": "..."}`; the login callback
rewrites `access_token` every morning and the feed picks it up without a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from pydantic import SecretStr

from strikeboard.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class CredentialsError(ValueError):
    """No usable Kite credentials were found (the message says where it looked)."""


@dataclass(frozen=True)
class KiteCredentials:
    api_key: str
    access_token: SecretStr

    def __repr__(self) -> str:  # the token must never reach a log line
        return f"KiteCredentials(api_key={self.api_key!r}, access_token='**********')"


def _secrets_client(client: Any) -> SecretsManagerClient:
    return client if client is not None else boto3.client("secretsmanager")


def load_credentials(settings: Settings, client: Any = None) -> KiteCredentials:
    """KITE_API_KEY + KITE_ACCESS_TOKEN when both are set, else the KITE_SECRET_NAME secret."""
    token = settings.kite_access_token.get_secret_value()
    if settings.kite_api_key and token:
        return KiteCredentials(settings.kite_api_key, SecretStr(token))
    if not settings.kite_secret_name:
        raise CredentialsError(
            "no Kite credentials: set KITE_API_KEY and KITE_ACCESS_TOKEN, or KITE_SECRET_NAME"
        )
    sm = _secrets_client(client)
    try:
        raw = sm.get_secret_value(SecretId=settings.kite_secret_name)["SecretString"]
        data = json.loads(raw)
        api_key = str(data.get("api_key") or settings.kite_api_key)
        access_token = str(data.get("access_token") or "")
    except (sm.exceptions.ResourceNotFoundException, json.JSONDecodeError, KeyError) as exc:
        raise CredentialsError(
            f"secret {settings.kite_secret_name!r} is missing or not JSON with api_key and "
            f"access_token ({type(exc).__name__})"
        ) from exc
    if not api_key or not access_token:
        raise CredentialsError(
            f"secret {settings.kite_secret_name!r} has no api_key or no access_token yet "
            "(log in through /api/auth/kite/login)"
        )
    return KiteCredentials(api_key, SecretStr(access_token))


def store_access_token(
    secret_name: str, api_key: str, access_token: str, client: Any = None
) -> None:
    """Write a fresh access token (after the daily login) where the feed reads it."""
    payload = json.dumps({"api_key": api_key, "access_token": access_token})
    _secrets_client(client).put_secret_value(SecretId=secret_name, SecretString=payload)
