"""The daily Kite login: exchange a request_token for an access token and put it where the
feed reads it. In the cloud (KITE_SECRET_NAME set) the Secrets Manager secret is the source of
truth; a Redis notice then tells the feed to re-read it at once. Locally: a Redis key. The token
is never logged."""

from __future__ import annotations

import logging

from strikeboard.api.service import BadRequestError
from strikeboard.api.stores import Stores, UnavailableError
from strikeboard.config import Settings
from strikeboard.store.errors import StoreError

log = logging.getLogger("strikeboard.api")


def exchange_and_store(settings: Settings, stores: Stores, request_token: str) -> None:
    """`BadRequestError` when Kite refuses the request token, `UnavailableError` when Kite or the
    token's destination cannot be reached or login is not configured."""
    secret = settings.kite_api_secret.get_secret_value()
    if not settings.kite_api_key or not secret:
        raise UnavailableError("Kite login is not configured: set KITE_API_KEY and KITE_API_SECRET")
    # kiteconnect's package imports its ticker (Twisted, autobahn: ~1 s) and the credentials
    # module boto3 (~0.5 s): only this daily login needs them, not the API's cold start.
    from kiteconnect import KiteConnect  # noqa: PLC0415
    from kiteconnect import exceptions as kite_errors  # noqa: PLC0415

    from strikeboard.kite.credentials import store_access_token  # noqa: PLC0415

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
        try:
            stores.hot.bump_token_notice()
        except StoreError as exc:  # the token is stored: the feed's next backoff read finds it
            log.warning("Kite token stored, but the feed was not notified (Redis): %s", exc)
        return
    try:
        stores.hot.write_access_token(access_token)
    except StoreError as exc:
        raise UnavailableError("could not store the Kite token: Redis is unavailable") from exc
