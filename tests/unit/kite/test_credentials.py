from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from strikeboard.config import Settings
from strikeboard.kite.credentials import CredentialsError, load_credentials, store_access_token


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="ap-south-1")


def test_environment_wins() -> None:
    creds = load_credentials(Settings(kite_api_key="k", kite_access_token=SecretStr("t")))
    assert creds.api_key == "k"
    assert creds.access_token.get_secret_value() == "t"
    assert "t'" not in repr(creds)


def test_secret_is_read_and_rewritten(secrets: Any) -> None:
    secrets.create_secret(Name="kite", SecretString=json.dumps({"api_key": "k"}))
    settings = Settings(kite_secret_name="kite")
    with pytest.raises(CredentialsError, match="no api_key or no access_token"):
        load_credentials(settings, secrets)
    store_access_token("kite", "k", "fresh", secrets)
    assert load_credentials(settings, secrets).access_token.get_secret_value() == "fresh"


def test_missing_secret_is_a_clear_error(secrets: Any) -> None:
    with pytest.raises(CredentialsError, match="'nope' is missing"):
        load_credentials(Settings(kite_secret_name="nope"), secrets)


def test_nothing_configured() -> None:
    with pytest.raises(CredentialsError, match="KITE_API_KEY"):
        load_credentials(Settings(kite_api_key="", kite_access_token=SecretStr("")))
