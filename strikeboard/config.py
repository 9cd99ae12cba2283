"""The one settings object, read from the environment (and a `.env` file when present).

Every variable is documented in the README's Configuration table. Secrets are `SecretStr`, so
they never show in logs, reprs or error messages.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from strikeboard.market import clock
from strikeboard.market.underlyings import Underlying, parse_underlyings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Stores
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the hot data.")
    redis_key_prefix: str = Field("sb:", description="Prefix of every Redis key Strikeboard owns.")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres", description="PostgreSQL for history."
    )

    # Kite
    kite_api_key: str = Field("", description="Kite Connect API key.")
    kite_access_token: SecretStr = Field(SecretStr(""), description="Kite access token (daily).")
    kite_api_secret: SecretStr = Field(SecretStr(""), description="Kite API secret (login flow).")
    kite_secret_name: str = Field(
        "", description="AWS Secrets Manager secret holding api_key/access_token (cloud)."
    )
    kite_api_url: str = Field("https://api.kite.trade", description="Kite Connect REST root.")
    kite_ticker_url: str = Field("wss://ws.kite.trade", description="Kite Ticker WebSocket root.")

    # Auth
    cognito_issuer: str = Field(
        "", description="Cognito user pool issuer URL (cloud); empty = local dev token auth."
    )
    cognito_client_id: str = Field("", description="Cognito app client id tokens must carry.")
    cognito_domain: str = Field(
        "",
        description="Cognito hosted UI base URL (https://PREFIX.auth.REGION.amazoncognito.com); "
        "with COGNITO_CLIENT_ID it switches the SPA to the hosted sign-in (GET /api/auth/config).",
    )
    admin_group: str = Field(
        "admin", description="Cognito group whose members may run the daily Kite login."
    )
    dev_token: SecretStr = Field(
        SecretStr(""), description="Local bearer token (make dev prints it); empty = none."
    )
    api_docs: bool = Field(
        True,
        description="Serve the Swagger page /api/docs (it loads swagger-ui from jsDelivr): on "
        "locally, off in the cloud (the stacks set API_DOCS=false); /api/openapi.json stays.",
    )

    # Feed
    spool_dir: Path = Field(Path(".local/spool"), description="Durable spool before PostgreSQL.")
    feed_drain_s: float = Field(
        40.0, ge=0, le=110,
        description="Seconds the feed spends stopping on SIGTERM (ticker closed, the rest "
        "spooled, the spool archived) before it exits 0 leaving the rest for the next feed; "
        "below the ECS stop timeout (60 s) with room for the last PostgreSQL call.",
    )  # fmt: skip
    spool_lock_wait_s: float = Field(
        300.0, ge=0,
        description="Seconds a starting feed waits for another feed (one still stopping) to "
        "release SPOOL_DIR before it exits with code 3: one feed per spool.",
    )  # fmt: skip
    underlyings: str = Field(
        "NIFTY",
        description="Comma-separated underlyings to follow, in priority order (the first is "
        "the default view and is trimmed last): any of NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY, "
        "SENSEX, BANKEX (strikeboard/market/underlyings.py). The feed, the jobs and the API all "
        "read it.",
    )
    cycle_ms: int = Field(250, ge=50, le=10_000, description="Chain recompute period (ms).")
    weekly_expiries: int = Field(4, ge=0, le=20, description="Nearest weekly expiries subscribed.")
    include_monthly: bool = Field(True, description="Also subscribe the current monthly expiry.")
    strikes_each_side: int = Field(
        25, ge=0, description="Strikes either side of the ATM per expiry (0 = every strike)."
    )
    risk_free_rate: float = Field(
        0.065, ge=-0.05, le=0.5, description="Continuous rate for discounting (forward IVs)."
    )
    iv_leg: Literal["otm", "call", "put"] = Field(
        "otm", description="Which leg's IV a strike shows."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every process."
    )

    # Push (WebSocket registry, pusher, local gateway)
    push_endpoint_url: str = Field(
        "",
        description="API Gateway Management API endpoint the pusher posts to "
        "(https://{api-id}.execute-api.{region}.amazonaws.com/{stage}; locally the gateway's "
        "URL). Empty in a WebSocket Lambda = derived from the event's domainName and stage.",
    )
    push_concurrency: int = Field(
        256,
        ge=1,
        le=1024,
        description="Posts in flight per pusher process. A cycle's posts leave at once: 1,000 "
        "answered within ~100 ms over a 20 ms round trip to API Gateway need ~200 in flight (64 "
        "delivered 64-73 % at 1,000 x 4 Hz in bench_push with BENCH_POST_RTT_MS=20).",
    )
    push_poster: Literal["http", "boto3"] = Field(
        "http",
        description="How the pusher posts: its own SigV4 + keep-alive HTTP client (http), or "
        "boto3's post_to_connection (boto3: ~10x the CPU a post; the bench's reference).",
    )
    push_workers: int = Field(
        1, ge=1, le=32, description="Pusher processes, each posting to its share of connections."
    )
    push_market_hz: float = Field(
        4.0, gt=0, le=50, description="Most market pushes per second to every connection."
    )
    ws_connection_ttl_s: int = Field(
        900, ge=30, description="Registry TTL of a WebSocket connection, refreshed by activity."
    )

    # Alerts (docs/alerts.md)
    alerts_enabled: bool = Field(
        True, description="Evaluate the users' alert rules in the feed's publisher process."
    )
    alerts_topic_arn: str = Field(
        "",
        description="SNS topic the feed publishes e-mail alerts to (rules with email: true), "
        "with a user_id message attribute for the subscriptions' filter policies, which the "
        "feed also makes for the users (PUT /api/alerts/email); empty = no e-mail (the cloud "
        "stack sets it).",
    )
    alerts_refresh_s: float = Field(
        2.0, gt=0, le=300,
        description="How often the feed looks for created or deleted alert rules (seconds).",
    )  # fmt: skip
    alerts_max_rules: int = Field(
        50, ge=1, le=10_000, description="Alert rules a user may have (POST /api/alerts: 422)."
    )
    alerts_events_retention_days: int = Field(
        90, ge=1, le=36_500,
        description="Fired alerts older than this are deleted by the retention job (days).",
    )  # fmt: skip

    # HTTP API and scheduled jobs
    api_spa_url: str = Field(
        "/", description="Where the Kite login callback sends the browser back to (the SPA)."
    )
    api_stale_after_s: float = Field(
        30.0, gt=0, description="A live snapshot older than this (seconds) is flagged stale."
    )
    tick_retention_days: int = Field(
        30, ge=1, description="Days of tick partitions the cleanup job keeps."
    )
    chain_retention_days: int = Field(
        400, ge=1, description="Days of chain_minute rows the cleanup job keeps."
    )

    # Operations (cloud): the schedule that starts and stops the feed (lambdas.feed_schedule)
    feed_cluster: str = Field("", description="ECS cluster of the feed service (cloud).")
    feed_service: str = Field("", description="ECS feed service the schedule starts/stops.")
    alarm_prefix: str = Field(
        "", description="Prefix of the market-hours alarm names the schedule arms and disarms."
    )
    heartbeat_file: Path | None = Field(
        None,
        description="A file the feed/pusher touches from its main loop, for the container "
        "health check (`python -m strikeboard.heartbeat`); unset = none.",
    )

    # Market clock (local stack and tests only; production leaves it empty)
    market_clock: str = Field(
        "",
        description="Local/test only: `<ISO market time>@<Unix wall time>`, the market's "
        "time at that wall-clock instant (`strikeboard dev` sets it from the simulator); "
        "empty = the wall clock.",
    )
    market_clock_speed: float = Field(
        1.0, gt=0, le=100_000, description="Market seconds per wall second from MARKET_CLOCK."
    )

    @field_validator("alerts_topic_arn")
    @classmethod
    def _check_topic_arn(cls, value: str) -> str:
        if value:
            topic_region(value)  # a ValueError saying what is wrong with it
        return value

    @field_validator("underlyings")
    @classmethod
    def _check_underlyings(cls, value: str) -> str:
        return ",".join(u.name for u in parse_underlyings(value))  # unknown: a ValueError

    @property
    def underlying_list(self) -> tuple[Underlying, ...]:
        """The configured underlyings, in priority order."""
        return parse_underlyings(self.underlyings)

    @field_validator("market_clock")
    @classmethod
    def _check_market_clock(cls, value: str) -> str:
        clock.parse(value)  # a ValueError saying what is wrong with it
        return value


def topic_region(topic_arn: str) -> str:
    """The region of an SNS topic ARN (``arn:PARTITION:sns:REGION:ACCOUNT:NAME``)."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not all(parts[3:]):
        raise ValueError(f"not an SNS topic ARN: {topic_arn!r}")
    return parts[3]


def settings_or_exit(process: str) -> Settings:
    """The settings for a process entry point: a bad value ends it with one plain message
    naming the variable (exit 2), not a traceback."""
    try:
        return get_settings()
    except ValueError as exc:
        print(f"{process}: bad configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
