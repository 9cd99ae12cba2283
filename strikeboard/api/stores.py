"""The Redis, PostgreSQL and SNS handles of an API process (one per Lambda container),
created lazily from settings: Redis on first use, PostgreSQL's pool on the first query
(`strikeboard.store.database`), the SNS client (e-mail alert subscriptions) on the first call
that needs it. Outages raise the stores' own errors, which the app answers 503.
"""

from __future__ import annotations

import threading
from typing import Any

from strikeboard.config import Settings, topic_region
from strikeboard.store.database import Database
from strikeboard.store.hot import HotStore


class Stores:
    """The process's HotStore and PostgreSQL pool (thread-safe lazy construction)."""

    def __init__(self, settings: Settings, pool_size: int = 4, timeout: float = 2.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.db = Database(settings.database_url, pool_size, timeout)
        self._lock = threading.Lock()
        self._hot: HotStore | None = None
        self._sns: Any = None

    @property
    def hot(self) -> HotStore:
        with self._lock:
            if self._hot is None:
                s = self.settings
                self._hot = HotStore.from_url(s.redis_url, s.redis_key_prefix, self.timeout)
            return self._hot

    @property
    def sns(self) -> Any:
        """A boto3 SNS client in ALERTS_TOPIC_ARN's region (the settings must have a topic).
        boto3 is imported here, not at module level: ~0.5 s of every cold start otherwise,
        for a route few requests take."""
        with self._lock:
            if self._sns is None:
                import boto3  # noqa: PLC0415
                from botocore.config import Config  # noqa: PLC0415

                # Short timeouts and few retries: a request must not outlive the API's 29 s.
                config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2})
                self._sns = boto3.client("sns", region_name=topic_region(
                    self.settings.alerts_topic_arn), config=config)  # fmt: skip
            return self._sns

    def close(self) -> None:
        with self._lock:
            if self._hot is not None:
                self._hot.close()
                self._hot = None
        self.db.close()
