"""Builds the feed and its adapters (Kite REST, Redis, PostgreSQL, spool, archiver, publisher)
from a `FeedConfig`: the one place where the feed's connections are made."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from strikeboard.feed.feed import Feed, FeedAdapters, FeedConfig
from strikeboard.feed.publisher import PublisherProcess
from strikeboard.kite.credentials import SecretTokenReader, read_secret_token
from strikeboard.kite.rest import KiteRest
from strikeboard.store.archive import Archive
from strikeboard.store.archiver import Archiver
from strikeboard.store.errors import StoreError
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool

log = logging.getLogger("strikeboard.feed")


def build_feed(
    config: FeedConfig,
    *,
    now: Callable[[], datetime],
    market_open: Callable[[datetime], bool],
    is_trading_day: Callable[[date], bool],
    secret_name: str = "",
    env_token: str = "",
    secrets_client: Any = None,
) -> Feed:
    """Where the feed looks for a token while it has none that works: with `secret_name`
    (the cloud) the Secrets Manager secret, read with backoff and at once on the login's Redis
    notice; else (locally) the Redis key the local login writes, then `env_token`
    (KITE_ACCESS_TOKEN). `config.access_token` empty: no Kite call before one is found."""
    hot = HotStore.from_url(config.redis_url, config.redis_prefix)
    # First, before any connection: a feed that cannot have the spool must not open Kite's.
    spool = Spool(config.spool_dir, fsync=config.spool_fsync, owner=config.spool_owner,
                  lock_wait_s=config.spool_lock_wait_s)  # fmt: skip
    adapters = FeedAdapters(
        rest=KiteRest(config.api_key, config.access_token, root=config.api_url),
        hot=hot,
        archive=Archive(config.database_url, auto_migrate=True),
        # The archiver thread gets a connection of its own (an Archive is not thread-safe).
        archiver=Archiver(spool, Archive(config.database_url, auto_migrate=True)),
        spool=spool,
        publisher=PublisherProcess(
            config.redis_url,
            config.redis_prefix,
            [u.name for u in config.universe.underlyings],
            config.pricing,
            config.log_level,
            config.alerts,
        ),
    )

    return Feed(config, adapters, now=now, market_open=market_open,
                read_token=token_source(hot, secret_name, env_token, secrets_client),
                is_trading_day=is_trading_day)  # fmt: skip


def token_source(
    hot: HotStore, secret_name: str, env_token: str, secrets_client: Any = None
) -> Callable[[], str]:
    """The feed's `read_token` (called by its main thread about once a second while it
    waits): the cloud secret when `secret_name` is set, else the local login's key."""
    if secret_name:
        return SecretTokenReader(
            lambda: read_secret_token(secret_name, secrets_client), hot.read_token_notice
        )

    def local() -> str:
        try:
            stored = hot.read_access_token()
        except StoreError as exc:  # health already says Redis is down
            log.debug("Kite token not read from Redis: %s", exc)
            stored = None
        return stored or env_token

    return local
