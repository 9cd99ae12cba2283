"""Builds the feed and its adapters (Kite REST, Redis, PostgreSQL, spool, archiver, publisher)
from a `FeedConfig`: the one place where the feed's connections are made."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from strikeboard.feed.feed import Feed, FeedAdapters, FeedConfig
from strikeboard.feed.publisher import PublisherProcess
from strikeboard.kite.rest import KiteRest
from strikeboard.store.archive import Archive
from strikeboard.store.archiver import Archiver
from strikeboard.store.hot import HotStore
from strikeboard.store.spool import Spool


def build_feed(
    config: FeedConfig,
    *,
    now: Callable[[], datetime],
    market_open: Callable[[datetime], bool],
    is_trading_day: Callable[[date], bool],
    stored_token: Callable[[], str] | None = None,
) -> Feed:
    """`stored_token`: where the cloud login leaves a new token (Secrets Manager); the local
    login leaves it in Redis, which is always read first."""
    hot = HotStore.from_url(config.redis_url, config.redis_prefix)
    spool = Spool(config.spool_dir, fsync=config.spool_fsync)
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
            config.universe.underlying,
            config.pricing,
            config.log_level,
        ),
    )

    def read_token() -> str:
        return hot.read_access_token() or (stored_token() if stored_token else "")

    return Feed(config, adapters, now=now, read_token=read_token, market_open=market_open,
                is_trading_day=is_trading_day)  # fmt: skip
