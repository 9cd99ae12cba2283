"""The segment-log spool: durability, torn tails, checkpoints, segment deletion, lag, and
one process at a time."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from strikeboard.store.errors import SpoolError, SpoolLockedError
from strikeboard.store.spool import HEADER, Spool


def payloads(n: int, size: int = 100) -> list[bytes]:
    return [bytes([i % 251]) * size + i.to_bytes(4, "little") for i in range(n)]


def read_all(spool: Spool) -> list[bytes]:
    out: list[bytes] = []
    offset = spool.committed
    while records := spool.read(offset, max_records=7):
        out.extend(r.payload for r in records)
        offset = records[-1].next_offset
    return out


def test_append_read_commit_resume(tmp_path: Path) -> None:
    data = payloads(20)
    with Spool(tmp_path) as spool:
        offsets = [spool.append(p) for p in data]
        assert offsets == sorted(offsets)
        assert read_all(spool) == data
        records = spool.read(max_records=5)
        spool.commit(records[-1].next_offset)
        assert spool.lag().records == 15
    with Spool(tmp_path) as spool:  # restart: resumes from the checkpoint
        assert read_all(spool) == data[5:]
        assert spool.lag().records == 15
        assert spool.lag().bytes == spool.end - spool.committed
        spool.commit(spool.end)
        assert spool.lag().records == 0
        assert spool.lag().seconds == 0.0


def test_drop_without_close_loses_nothing(tmp_path: Path) -> None:
    data = payloads(10)
    spool = Spool(tmp_path)
    for p in data:
        spool.append(p)
    del spool  # a crash: no close, no flush beyond what append already made durable
    with Spool(tmp_path) as again:
        assert read_all(again) == data


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 50])
def test_torn_tail_is_discarded_and_appends_continue(tmp_path: Path, cut: int) -> None:
    data = payloads(5)
    with Spool(tmp_path) as spool:
        for p in data:
            spool.append(p)
        (segment,) = spool.segments()
        size = segment.stat().st_size
    # A crash mid-write of a sixth record: only its first `cut` bytes reached the disk.
    with segment.open("ab") as f:
        f.write((HEADER.pack(104, 0, 0) + b"x" * 104)[:cut])
    with Spool(tmp_path) as spool:
        assert segment.stat().st_size == size
        assert read_all(spool) == data
        spool.append(b"after")
        assert read_all(spool) == [*data, b"after"]


def test_truncated_mid_record_and_garbage_tail(tmp_path: Path) -> None:
    data = payloads(5)
    with Spool(tmp_path) as spool:
        for p in data:
            spool.append(p)
        (segment,) = spool.segments()
    size = segment.stat().st_size
    os.truncate(segment, size - 30)  # the last record loses its end
    with Spool(tmp_path) as spool:
        assert read_all(spool) == data[:4]
    with segment.open("ab") as f:
        f.write(os.urandom(64))  # garbage after the last good record
    with Spool(tmp_path) as spool:
        assert read_all(spool) == data[:4]


def test_segments_roll_and_acknowledged_ones_are_deleted(tmp_path: Path) -> None:
    data = payloads(50, size=1000)
    with Spool(tmp_path, segment_bytes=4096) as spool:
        for p in data:
            spool.append(p)
        assert len(spool.segments()) > 5
        assert read_all(spool) == data
        half = spool.read(max_records=25)
        spool.commit(half[-1].next_offset)
        remaining = spool.segments()
        assert len(remaining) < 10
        assert all(p.exists() for p in remaining)
        assert len(list(tmp_path.glob("*.seg"))) == len(remaining)
    with Spool(tmp_path, segment_bytes=4096) as spool:
        assert read_all(spool) == data[25:]
        spool.commit(spool.end)
        assert len(spool.segments()) == 1


def test_corrupt_record_inside_the_log_is_skipped_not_raised(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=2048) as spool:
        for p in payloads(12, size=500):
            spool.append(p)
        first = spool.segments()[0]
    with first.open("r+b") as f:  # flip a payload byte of the first record
        f.seek(HEADER.size + 10)
        f.write(b"\xff\xfe")
    with Spool(tmp_path, segment_bytes=2048) as spool:
        got = read_all(spool)
        assert spool.corrupt_skipped == 1
        assert b"" in got  # the skipped span is reported as an empty record
        assert len([g for g in got if g]) < 12


def test_bad_input_and_unusable_directory(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        with pytest.raises(ValueError):
            spool.append(b"")
        with pytest.raises(ValueError):
            spool.commit(spool.end + 1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpoolError):
        Spool(tmp_path / "file")
    (tmp_path / "checkpoint").write_text("garbage")
    with pytest.raises(SpoolError, match="checkpoint"):
        Spool(tmp_path)


def test_one_process_at_a_time_and_the_holder_is_named(tmp_path: Path) -> None:
    with Spool(tmp_path, owner="task/feed-1") as first:
        first.append(b"x")
        with pytest.raises(SpoolLockedError, match="task/feed-1"):
            Spool(tmp_path)  # a second feed on the same spool refuses it
        assert first.append(b"y")  # and the holder never noticed
    with Spool(tmp_path, owner="task/feed-2") as second:  # closed: free again
        assert read_all(second) == [b"x", b"y"]
        assert "task/feed-2" in (tmp_path / "lock").read_text()


def test_a_new_feed_waits_for_the_one_still_stopping(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = Spool(tmp_path, owner="old")
    old.append(b"left over")
    got: list[list[bytes]] = []
    new = threading.Thread(
        target=lambda: got.append(read_all(Spool(tmp_path, lock_wait_s=600, lock_poll_s=0.01)))
    )
    with caplog.at_level(logging.WARNING, logger="strikeboard.store.spool"):
        new.start()
        while "in use by old" not in caplog.text:  # it waits (and says so) ...
            assert new.is_alive()
            time.sleep(0.01)
        old.close()  # ... until the old one has stopped
        new.join()
    assert got == [[b"left over"]]


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from strikeboard.store.spool import Spool; "
         f"s = Spool({str(tmp_path)!r}, owner='killed'); print('locked', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(SpoolLockedError, match="killed"):
            Spool(tmp_path)
    finally:
        holder.kill()  # SIGKILL: no close, no clean-up; the kernel drops the lock
        holder.wait()
    Spool(tmp_path).close()
