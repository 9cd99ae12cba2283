"""The connection registry: lapse times, pruning, key names."""

from __future__ import annotations

import pytest

from strikeboard.auth import Principal
from strikeboard.push.keys import PushKeys
from strikeboard.push.registry import Registry

USER = Principal("u1", "alice")


def test_connections_lapse_unless_touched(redis_url: str, redis_prefix: str) -> None:
    registry = Registry.from_url(redis_url, redis_prefix, ttl_s=100)
    registry.connect("a=", USER, now=1000.0)
    registry.connect("b=", USER, now=1000.0)
    assert registry.subscribe("a=", "NIFTY", "2026-12-01", now=1000.0)
    assert registry.subscribe("b=", "NIFTY", "2026-12-01", now=1000.0)
    assert registry.touch("b=", now=1080.0)  # b is active, a is silent
    assert registry.subscribers("NIFTY", "2026-12-01", now=1099.0) == ["a=", "b="]
    assert registry.subscribers("NIFTY", "2026-12-01", now=1101.0) == ["b="]
    assert registry.connections(now=1101.0) == ["b="]
    assert registry.prune(now=1101.0) == 2  # a= from both sorted sets
    assert registry.subscribers("NIFTY", "2026-12-01", now=0) == ["b="]
    # Every key carries the TTL too, so nothing outlives a vanished writer.
    ttl = registry.client.ttl(registry.keys.subscribers("NIFTY", "2026-12-01"))
    assert 0 < ttl <= 100
    assert not registry.subscribe("ghost=", "NIFTY", "2026-12-01")
    assert not registry.touch("ghost=")
    registry.close()


def test_key_components_are_validated() -> None:
    keys = PushKeys("p:")
    assert keys.subscribers("NIFTY", "2026-12-01") == "p:ws:subs:NIFTY:2026-12-01"
    assert keys.connection("Pk4p5eeGhcwCF2Q=") == "p:ws:conn:Pk4p5eeGhcwCF2Q="
    for bad in ("", "a:b", "a b"):
        with pytest.raises(ValueError, match="invalid key component"):
            keys.connection(bad)
    with pytest.raises(ValueError):
        keys.subscribers("NIFTY", "tomorrow")
