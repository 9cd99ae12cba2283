"""/api/health is public: anonymous callers see states and counters, never the feed's error
texts (they named the database's host and port); a signed-in caller sees them sanitized."""

from __future__ import annotations

import time

from conftest import AUTH, Api

from strikeboard.store.hot import HotStore

DB_ERROR = ('OperationalError: connection to server at "10.0.3.7", port 5432 failed: '
            "Connection refused")  # fmt: skip


def test_health_hides_error_texts_from_anonymous_callers(api: Api) -> None:
    hot = HotStore.from_url(api.settings.redis_url, api.settings.redis_key_prefix)
    feed = {"ts": time.time(), "token": "ok", "connected": True, "last_tick_age_s": 0.5,
            "status": "degraded", "problems": ["archive retrying: 3 records spooled"],
            "archive": {"state": "retrying", "lag_records": 3, "error": DB_ERROR},
            "shards": [{"shard": 0, "state": "reconnecting", "error": "ws://10.0.3.9:80/ws"}],
            "kite_rest_error": "GET https://api.kite.trade/quote?x=1 timeout"}  # fmt: skip
    try:
        hot.write_health(feed)
        anonymous = api.client.get("/api/health").json()
        assert anonymous["feed"]["archive"] == {"state": "retrying", "lag_records": 3}
        assert anonymous["feed"]["shards"] == [{"shard": 0, "state": "reconnecting"}]
        assert "kite_rest_error" not in anonymous["feed"]
        assert "10.0.3" not in repr(anonymous) and "5432" not in repr(anonymous)
        wrong = api.client.get("/api/health", headers={"Authorization": "Bearer wrong"}).json()
        assert wrong["feed"]["archive"] == anonymous["feed"]["archive"]
        # A signed-in caller gets the reasons, without hosts, ports, URLs or tokens.
        signed_in = api.client.get("/api/health", headers=AUTH).json()["feed"]
        assert signed_in["archive"]["error"] == (
            "OperationalError: connection to server at <host> failed: Connection refused"
        )
        assert signed_in["shards"][0]["error"] == "<url>"
        assert signed_in["kite_rest_error"] == "GET <url> timeout"
    finally:
        hot.close()
