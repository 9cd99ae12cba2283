"""The Redis hot store against a real Redis."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from strikeboard import devservices
from strikeboard.store.errors import HotStoreUnavailableError
from strikeboard.store.hot import HotStore
from strikeboard.store.snapshot import SnapshotError, apply_delta
from strikeboard.store.ticks import TickArray


def chain(version: int, expiry: str = "2026-11-26", strikes: int = 20) -> dict[str, Any]:
    """A snapshot whose every number depends on ``version`` (so a torn read would show)."""
    legs = {
        str(25000 + 50 * i): {
            side: {"ltp": float(version + i), "oi": version * 10 + i, "iv": None, "v": version}
            for side in ("CE", "PE")
        }
        for i in range(strikes)
    }
    return {
        "underlying": "NIFTY",
        "expiry": expiry,
        "ts": 1_795_579_200.0 + version,
        "spot": 25500.0 + version,
        "version": version,
        "aggregates": {"pcr_oi": 1.0, "max_pain": 25500.0 + (version % 3) * 50},
        "strikes": legs,
    }


def test_publish_then_read_back(hot: HotStore) -> None:
    first = chain(1)
    seq1 = hot.publish(first)
    second = chain(2)
    seq2 = hot.publish(second, previous=first)
    assert seq2 == seq1 + 1
    got = hot.read_snapshot("NIFTY", "2026-11-26")
    assert got == {**second, "seq": seq2}
    assert hot.expiries("NIFTY") == ["2026-11-26"]
    hot.publish(chain(1, expiry="2026-12-03"))
    hot.publish(chain(1, expiry="2026-11-19"))
    assert hot.expiries("NIFTY") == ["2026-11-19", "2026-11-26", "2026-12-03"]
    hot.retire_expiry("NIFTY", "2026-11-19")
    assert hot.expiries("NIFTY") == ["2026-11-26", "2026-12-03"]
    assert hot.read_snapshot("NIFTY", "2026-11-19") is None


def test_deltas_are_published_and_replayable(hot: HotStore, redis_url: str) -> None:
    subscriber = redis.Redis.from_url(redis_url).pubsub()  # type: ignore[no-untyped-call]
    subscriber.subscribe(hot.keys.channel("NIFTY", "2026-11-26"))
    assert subscriber.get_message(timeout=2)["type"] == "subscribe"

    previous = chain(0)
    base_seq = hot.publish(previous)
    for version in range(1, 6):
        current = chain(version)
        if version == 3:
            del current["strikes"]["25000"]  # a strike leaves the window
        hot.publish(current, previous)
        previous = current

    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while len(received) < 6 and time.monotonic() < deadline:
        message = subscriber.get_message(timeout=0.5)
        if message and message["type"] == "message":
            received.append(json.loads(message["data"]))
    subscriber.close()
    assert [m["type"] for m in received] == ["reset"] + ["delta"] * 5
    assert [m["seq"] for m in received] == list(range(base_seq, base_seq + 6))

    # A client holding the first snapshot catches up from the stream and ends up current.
    state = {**chain(0), "seq": base_seq}
    catch_up = hot.deltas_since("NIFTY", "2026-11-26", base_seq)
    assert catch_up == received[1:]
    for delta in catch_up or []:
        assert delta["base"] == state["seq"]
        state = apply_delta(state, delta)
    assert state == hot.read_snapshot("NIFTY", "2026-11-26")
    assert hot.deltas_since("NIFTY", "2026-11-26", base_seq + 5) == []
    assert hot.deltas_since("NIFTY", "2026-11-26", base_seq + 99) is None  # from the future
    assert hot.deltas_since("NIFTY", "2026-12-31", 3) is None  # an unknown stream
    # A delta changes only what changed: one strike leg's fields, not the whole chain.
    assert set(received[2]["set"]) == {"ts", "spot", "version", "aggregates", "strikes"}


def test_gap_beyond_the_stream_asks_for_a_snapshot(hot: HotStore) -> None:
    previous = chain(0, strikes=1)
    hot.publish(previous)
    for version in range(1, 1300):  # more than the stream keeps (MAXLEN ~ 1000)
        current = chain(version, strikes=1)
        hot.publish(current, previous)
        previous = current
    assert hot.deltas_since("NIFTY", "2026-11-26", 1) is None


def test_readers_never_see_a_torn_snapshot(hot: HotStore) -> None:
    stop = threading.Event()
    torn: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            got = hot.read_snapshot("NIFTY", "2026-11-26")
            if got is None:
                continue
            version = got["version"]
            if got["spot"] != 25500.0 + version or any(
                leg["v"] != version for legs in got["strikes"].values() for leg in legs.values()
            ):
                torn.append(f"seq {got['seq']}")

    previous = chain(0, strikes=100)
    hot.publish(previous)
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    seqs = []
    for version in range(1, 60):
        current = chain(version, strikes=100)
        seqs.append(hot.publish(current, previous))
        previous = current
    stop.set()
    for t in threads:
        t.join()
    assert torn == []
    assert seqs == sorted(set(seqs))


def test_market_ticks_health_and_load_state(
    hot: HotStore, redis_client: redis.Redis, make_ticks: Any
) -> None:
    hot.write_market({"spot": {"ltp": 25510.5, "ts": 1.0}, "vix": {"ltp": 12.3, "ts": 1.0}})
    hot.write_market({"spot": {"ltp": 25511.0, "ts": 2.0}})
    assert hot.read_market() == {
        "spot": {"ltp": 25511.0, "ts": 2.0},
        "vix": {"ltp": 12.3, "ts": 1.0},
    }

    batch: TickArray = make_ticks(50)
    for _ in range(3):
        hot.append_ticks(batch)
    recent = hot.recent_ticks(2)
    assert len(recent) == 2
    assert recent[-1]["token"] == batch["token"].tolist()
    assert recent[-1]["bid"] == batch["bid_price"][:, 0].tolist()

    hot.write_health({"shards": ["ok"], "ticks_per_s": 9000.0}, ttl_s=5)
    assert hot.read_health() == {"shards": ["ok"], "ticks_per_s": 9000.0}
    assert 0 < redis_client.ttl(hot.keys.health()) <= 5

    first = chain(1)
    hot.publish(first)
    hot.publish(chain(2), first)
    hot.publish(chain(7, expiry="2026-12-03"))
    # A restarted feed: a new store object reads everything back and continues the seqs.
    restarted = HotStore(redis_client, hot.keys.prefix)
    state = restarted.load_state(["NIFTY"])
    assert set(state.snapshots) == {("NIFTY", "2026-11-26"), ("NIFTY", "2026-12-03")}
    assert state.snapshots[("NIFTY", "2026-11-26")]["version"] == 2
    assert state.market["vix"]["ltp"] == 12.3
    seq = state.snapshots[("NIFTY", "2026-11-26")]["seq"]
    assert restarted.publish(chain(3), chain(2)) == seq + 1


def test_every_key_has_a_ttl(hot: HotStore, redis_client: redis.Redis, make_ticks: Any) -> None:
    hot.append_ticks(make_ticks(3))
    first = chain(1)
    hot.publish(first)
    hot.publish(chain(2), first)
    hot.write_market({"spot": {"ltp": 1.0}})
    hot.write_health({"ok": True})
    keys = list(redis_client.scan_iter(match=f"{hot.keys.prefix}*"))
    assert len(keys) == 7
    for key in keys:
        assert redis_client.ttl(key) > 0, key


def test_bad_documents_raise_clear_errors(hot: HotStore) -> None:
    with pytest.raises(SnapshotError, match="underlying"):
        hot.publish({"expiry": "2026-11-26"})
    with pytest.raises(SnapshotError, match="JSON"):
        hot.publish({**chain(1), "spot": object()})
    assert hot.read_snapshot("NIFTY", "2026-11-26") is None


def test_redis_down_raises_the_documented_error_quickly() -> None:
    store = HotStore.from_url(f"redis://127.0.0.1:{devservices.free_port()}/0", "sb:", 0.5)
    start = time.monotonic()
    with pytest.raises(HotStoreUnavailableError):
        store.publish(chain(1))
    with pytest.raises(HotStoreUnavailableError):
        store.write_health({"ok": True})
    assert not store.ping()
    # Not a timing assertion on the code under test's speed: a guard that no retry loop hides.
    assert time.monotonic() - start < 30


def test_redis_lost_and_back_then_rebuild(tmp_path: Path) -> None:
    snapshots = [chain(1), chain(1, expiry="2026-12-03")]
    with devservices.private_redis(tmp_path / "r1") as url:
        store = HotStore.from_url(url, "sb:", 0.5)
        seqs = store.rebuild(snapshots, {"spot": {"ltp": 1.0}})
        port = url.rsplit(":", 1)[1].split("/")[0]
    # The server is gone: the writer raises the documented error, the caller carries on.
    with pytest.raises(HotStoreUnavailableError):
        store.publish(chain(2), snapshots[0])
    # Redis returns empty on the same port; the feed rebuilds its hot keys.
    proc_root = tmp_path / "r2"
    proc_root.mkdir()

    server = subprocess.Popen(
        ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", str(proc_root)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not store.ping() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.read_snapshot("NIFTY", "2026-11-26") is None
        again = store.rebuild([chain(2), snapshots[1]], {"spot": {"ltp": 2.0}})
        # Seqs keep increasing across the loss: clients never see one go backwards.
        assert all(a > s for a, s in zip(again, seqs, strict=True))
        got = store.read_snapshot("NIFTY", "2026-11-26")
        assert got is not None and got["version"] == 2
        assert store.expiries("NIFTY") == ["2026-11-26", "2026-12-03"]
    finally:
        server.terminate()
        server.wait(10)
        store.close()
