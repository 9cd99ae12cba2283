"""The daily Kite login: exchange a request_token for an access token and put it where the
feed reads it. In the cloud (KITE_SECRET_NAME set) the Secrets Manager secret is the source of
truth; when the app has Redis (`RedisTokens`), a Redis notice then tells the feed to re-read it
at once (without it the feed's backoff reads find it within a minute:
`strikeboard.kite.credentials`). Locally: a Redis key. The token is never logged.

No store driver is imported here: the Kite login Lambda runs outside the VPC, without Redis.
"""

from __future__ import annotations

import logging
from typing import Protocol

from strikeboard.api.errors import BadRequestError, UnavailableError
from strikeboard.config import Settings

log = logging.getLogger("strikeboard.api")

NOT_CONFIGURED = "Kite login is not configured: set KITE_API_KEY and KITE_API_SECRET"
NO_DESTINATION = "Kite login is not configured: set KITE_SECRET_NAME (this server has no Redis)"


class TokenRedis(Protocol):
    """The Redis side of the login, in an app that has Redis; both raise `UnavailableError`
    when it is down."""

    def write_access_token(self, access_token: str) -> None:
        """Store the token where the local feed reads it (no cloud secret)."""

    def bump_token_notice(self) -> None:
        """Tell the feed a new token is in the Kite secret."""


def check_configured(settings: Settings, redis: TokenRedis | None) -> None:
    """`UnavailableError` unless a login could complete: the app's key and secret, and a place
    for the token (the cloud secret, else Redis). Checked before the request_token is spent."""
    if not settings.kite_api_key or not settings.kite_api_secret.get_secret_value():
        raise UnavailableError(NOT_CONFIGURED)
    if not settings.kite_secret_name and redis is None:
        raise UnavailableError(NO_DESTINATION)


def exchange_and_store(settings: Settings, request_token: str, redis: TokenRedis | None) -> None:
    """`BadRequestError` when Kite refuses the request token, `UnavailableError` when Kite or the
    token's destination cannot be reached or login is not configured. `redis` None: no notice
    (the feed finds the secret's new token on its backoff schedule)."""
    check_configured(settings, redis)
    # kiteconnect's package imports its ticker (Twisted, autobahn: ~1 s) and the credentials
    # module boto3 (~0.5 s): only this daily login needs them, not the API's cold start.
    from kiteconnect import KiteConnect  # noqa: PLC0415
    from kiteconnect import exceptions as kite_errors  # noqa: PLC0415

    from strikeboard.kite.credentials import store_access_token  # noqa: PLC0415

    secret = settings.kite_api_secret.get_secret_value()
    kite = KiteConnect(settings.kite_api_key, root=settings.kite_api_url, timeout=10)
    try:
        session = kite.generate_session(request_token, api_secret=secret)
    except (kite_errors.TokenException, kite_errors.InputException) as exc:
        raise BadRequestError(f"Kite refused the request token: {exc}") from exc
    except (kite_errors.KiteException, OSError) as exc:  # requests' errors are OSErrors
        raise UnavailableError(f"Kite could not be reached: {type(exc).__name__}") from exc
    access_token = str(session["access_token"])
    if settings.kite_secret_name:
        try:
            store_access_token(settings.kite_secret_name, access_token)
        except Exception as exc:  # botocore raises many types; the message must not leak it
            raise UnavailableError(f"could not store the Kite token: {type(exc).__name__}") from exc
        if redis is not None:
            try:
                redis.bump_token_notice()
            except UnavailableError as exc:  # stored: the feed's next backoff read finds it
                log.warning("Kite token stored, but the feed was not notified (Redis): %s", exc)
        return
    if redis is None:  # ruled out by check_configured; for the type checker
        raise UnavailableError(NO_DESTINATION)
    redis.write_access_token(access_token)
