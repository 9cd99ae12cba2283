"""A durable spool: an append-only, fsync'ed segment-file log with a committed-offset checkpoint.

The feed appends one record per batch (one ``write`` + one ``fsync``); the archiver reads the
records after the checkpoint, writes them to PostgreSQL, then commits the offset; segments
wholly before the checkpoint are deleted. Offsets are byte positions in the whole log; a
segment file is named after the offset of its first record (``00000000000000123456.seg``).

Record layout: little-endian ``uint32 length, uint32 crc32, int64 append_time_ns`` then the
payload; the CRC covers the time and the payload. On open, a torn or garbage tail (a crash in
the middle of a write) is detected and truncated; a corrupt record inside the log (media
damage) is skipped with the rest of its segment and counted, never raised. Persistent-queue
libraries on PyPI (persist-queue, litequeue) store pickled items one at a time in SQLite or
files; none gives byte offsets, CRC-checked batch records and segment deletion at this rate,
hence this small log.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import fcntl
import io
import logging
import os
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from strikeboard.store.errors import SpoolError, SpoolLockedError

log = logging.getLogger(__name__)

HEADER: Final = struct.Struct("<IIq")
MAX_RECORD: Final = 1 << 30
SEGMENT_SUFFIX: Final = ".seg"
CHECKPOINT: Final = "checkpoint"
LOCK: Final = "lock"
DEFAULT_SEGMENT_BYTES: Final = 64 << 20


@dataclass(frozen=True)
class Record:
    offset: int
    next_offset: int
    time_ns: int
    payload: bytes


@dataclass(frozen=True)
class SpoolLag:
    """What is spooled but not yet acknowledged by the archive."""

    records: int
    bytes: int
    seconds: float


def _crc(time_bytes: bytes, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(time_bytes))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock_directory(directory: Path, owner: str, wait_s: float, poll_s: float) -> io.FileIO:
    """Take the directory's lock, waiting up to ``wait_s`` for its holder to let go; returns
    the open lock file (closing it releases the lock). Raises `SpoolLockedError`."""
    path = directory / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    lock_file = os.fdopen(fd, "r+b", buffering=0)  # closed (lock released) when collected
    deadline = time.monotonic() + wait_s
    noted = 0.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = path.read_text(errors="replace").strip() or "an unnamed process"
            now = time.monotonic()
            if now >= deadline:
                lock_file.close()
                raise SpoolLockedError(
                    f"spool {directory} is in use by {holder}: one feed per spool; waited "
                    f"{wait_s:.0f} s for it to stop"
                ) from None
            if now >= noted:
                log.warning("spool %s is in use by %s; waiting up to %.0f s for it to stop",
                            directory, holder, deadline - now)  # fmt: skip
                noted = now + 30.0
            time.sleep(min(poll_s, max(0.0, deadline - now)))
        except OSError:
            lock_file.close()
            raise
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    name = owner or socket.gethostname()
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{name} (pid {os.getpid()}, since {since})\n".encode(), 0)
    return lock_file


class Spool:
    """The segment log in ``directory`` (created when missing). Thread-safe: one appender
    and one reader (the archiver) may use it concurrently; one process at a time (the lock).

    ``owner`` names this process in the lock file (e.g. the ECS task); ``lock_wait_s`` is how
    long to wait for a previous holder (a feed still draining) before refusing.

    Raises `SpoolError` when the directory cannot be used or a write fails (e.g. disk full),
    `SpoolLockedError` when another process keeps the spool for longer than ``lock_wait_s``.
    """

    def __init__(
        self, directory: str | os.PathLike[str], segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: bool = True, *, owner: str = "", lock_wait_s: float = 0.0,
        lock_poll_s: float = 0.5,
    ) -> None:  # fmt: skip
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._pending: collections.deque[tuple[int, int]] = collections.deque()
        self.corrupt_skipped = 0
        """Records lost to corruption inside the log (never expected; reported on health)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = _lock_directory(self.directory, owner, lock_wait_s, lock_poll_s)
        except OSError as exc:
            raise SpoolError(f"spool directory {self.directory} unusable: {exc}") from exc
        try:
            self._open()
        except BaseException:
            self._lock_file.close()
            raise

    def _open(self) -> None:
        try:
            self._bases = self._scan_segments()
            self._committed = self._read_checkpoint()
            self._end = self._recover()
            self._committed = min(self._committed, self._end)
            if not self._bases:
                self._bases = [self._end]
            self._file = (self.directory / self._name(self._bases[-1])).open("ab", buffering=0)
            self._active_size = self._end - self._bases[-1]
        except OSError as exc:
            raise SpoolError(f"spool directory {self.directory} unusable: {exc}") from exc

    # -- files ------------------------------------------------------------------------------

    @staticmethod
    def _name(base: int) -> str:
        return f"{base:020d}{SEGMENT_SUFFIX}"

    def _scan_segments(self) -> list[int]:
        bases = []
        for path in self.directory.iterdir():
            if path.suffix == SEGMENT_SUFFIX and path.stem.isdigit():
                bases.append(int(path.stem))
        return sorted(bases)

    def _read_checkpoint(self) -> int:
        path = self.directory / CHECKPOINT
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return self._bases[0] if self._bases else 0
        if not text.isdigit():
            raise SpoolError(f"corrupt spool checkpoint {path}: {text[:40]!r}")
        return int(text)

    def _write_checkpoint(self, offset: int) -> None:
        tmp = self.directory / f"{CHECKPOINT}.tmp"
        with tmp.open("w") as f:
            f.write(str(offset))
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        tmp.replace(self.directory / CHECKPOINT)
        if self.fsync:
            _fsync_dir(self.directory)

    def _iter_headers(self, base: int, start: int, verify: bool) -> tuple[int, bool]:
        """Walk the records of one segment from ``start``; note the unacknowledged ones.

        Returns (end offset of the last good record, whether the walk stopped on a bad one).
        """
        path = self.directory / self._name(base)
        with path.open("rb") as f:
            f.seek(start - base)
            pos = start
            while True:
                head = f.read(HEADER.size)
                if not head:
                    return pos, False
                if len(head) < HEADER.size:
                    return pos, True
                length, crc, time_ns = HEADER.unpack(head)
                if length == 0 or length > MAX_RECORD:
                    return pos, True
                if verify:
                    payload = f.read(length)
                    if len(payload) < length or _crc(head[8:], payload) != crc:
                        return pos, True
                else:
                    f.seek(length, os.SEEK_CUR)
                nxt = pos + HEADER.size + length
                if pos >= self._committed:
                    self._pending.append((nxt, time_ns))
                pos = nxt

    def _recover(self) -> int:
        """Find the end of the log, truncating a torn tail; returns the end offset."""
        # Segments wholly before the checkpoint are acknowledged: remove leftovers.
        while len(self._bases) > 1 and self._bases[1] <= self._committed:
            (self.directory / self._name(self._bases.pop(0))).unlink(missing_ok=True)
        if not self._bases:
            return self._committed
        end = self._bases[0]
        for i, base in enumerate(self._bases):
            last = i == len(self._bases) - 1
            # Walk from the segment start: the checkpoint is some record boundary within it.
            end, torn = self._iter_headers(base, base, verify=last)
            if torn:
                log.warning("spool: discarding a torn tail of %s at offset %d", base, end)
                with (self.directory / self._name(base)).open("r+b") as f:
                    f.truncate(end - base)
                    if self.fsync:
                        os.fsync(f.fileno())
            if not last and end != self._bases[i + 1]:
                # Only the active segment may be torn; anything else is damage: keep going.
                log.error("spool: segment %d ends at %d, next starts at %d", base, end,
                          self._bases[i + 1])  # fmt: skip
                end = self._bases[i + 1]
        return end

    # -- writer -----------------------------------------------------------------------------

    def append(self, payload: bytes | memoryview) -> int:
        """Append one record durably (write + fsync); returns its offset."""
        size = len(payload)
        if size == 0 or size > MAX_RECORD:
            raise ValueError(f"record payload must be 1..{MAX_RECORD} bytes, got {size}")
        time_ns = time.time_ns()
        time_bytes = struct.pack("<q", time_ns)
        head = HEADER.pack(size, _crc(time_bytes, payload), time_ns)
        with self._lock:
            try:
                if self._active_size >= self.segment_bytes:
                    self._roll()
                offset = self._end
                written = self._file.write(head + bytes(payload))
                if written != HEADER.size + size:
                    raise OSError(f"short write: {written} of {HEADER.size + size} bytes")
                if self.fsync:
                    os.fsync(self._file.fileno())
            except OSError as exc:
                # Cut the partial record so the next append starts on a record boundary.
                with contextlib.suppress(OSError):
                    self._file.truncate(self._active_size)
                raise SpoolError(f"spool append failed: {exc}") from exc
            self._end = offset + HEADER.size + size
            self._active_size += HEADER.size + size
            self._pending.append((self._end, time_ns))
        return offset

    def _roll(self) -> None:
        self._file.close()
        self._bases.append(self._end)
        self._file = (self.directory / self._name(self._end)).open("ab", buffering=0)
        self._active_size = 0
        if self.fsync:
            _fsync_dir(self.directory)

    # -- reader -----------------------------------------------------------------------------

    @property
    def committed(self) -> int:
        return self._committed

    @property
    def end(self) -> int:
        return self._end

    def read(self, offset: int | None = None, max_records: int = 256,
             max_bytes: int = 64 << 20) -> list[Record]:  # fmt: skip
        """Records from ``offset`` (default: the checkpoint), at most ``max_records`` and
        about ``max_bytes``; only whole, CRC-checked records that were fully appended."""
        with self._lock:
            end = self._end
            bases = list(self._bases)
        pos = self._committed if offset is None else offset
        records: list[Record] = []
        total = 0
        while pos < end and len(records) < max_records and total < max_bytes:
            i = bisect.bisect_right(bases, pos) - 1
            if i < 0:
                raise SpoolError(f"offset {pos} is before the spool's first segment")
            base = bases[i]
            seg_end = bases[i + 1] if i + 1 < len(bases) else end
            with (self.directory / self._name(base)).open("rb") as f:
                f.seek(pos - base)
                while pos < seg_end and len(records) < max_records and total < max_bytes:
                    head = f.read(HEADER.size)
                    length, crc, time_ns = HEADER.unpack(head) if len(head) == HEADER.size else (
                        0, 0, 0)  # fmt: skip
                    payload = f.read(length) if 0 < length <= MAX_RECORD else b""
                    if length == 0 or len(payload) < length or _crc(head[8:], payload) != crc:
                        log.error("spool: corrupt record at %d; skipping to offset %d", pos,
                                  seg_end)  # fmt: skip
                        self.corrupt_skipped += 1
                        records.append(Record(pos, seg_end, 0, b""))
                        pos = seg_end
                        break
                    nxt = pos + HEADER.size + length
                    records.append(Record(pos, nxt, time_ns, payload))
                    total += length
                    pos = nxt
        return records

    def commit(self, offset: int) -> None:
        """Acknowledge everything before ``offset`` (a record boundary from `read`): persist
        the checkpoint and delete the segments that are wholly acknowledged."""
        with self._lock:
            if offset <= self._committed:
                return
            if offset > self._end:
                raise ValueError(f"commit offset {offset} is past the spool end {self._end}")
            try:
                self._write_checkpoint(offset)
            except OSError as exc:
                raise SpoolError(f"spool checkpoint failed: {exc}") from exc
            self._committed = offset
            while self._pending and self._pending[0][0] <= offset:
                self._pending.popleft()
            while len(self._bases) > 1 and self._bases[1] <= offset:
                base = self._bases.pop(0)
                (self.directory / self._name(base)).unlink(missing_ok=True)

    def lag(self) -> SpoolLag:
        """Unacknowledged records, bytes and the age in seconds of the oldest one."""
        with self._lock:
            records = len(self._pending)
            oldest = self._pending[0][1] if self._pending else None
            size = self._end - self._committed
        seconds = 0.0 if oldest is None else max(0.0, (time.time_ns() - oldest) / 1e9)
        return SpoolLag(records, size, seconds)

    def segments(self) -> list[Path]:
        with self._lock:
            return [self.directory / self._name(b) for b in self._bases]

    def close(self) -> None:
        """Close the active segment and release the lock (the next feed may take over)."""
        with self._lock:
            self._file.close()
            self._lock_file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
