"""The archiver: moves spooled records into PostgreSQL, exactly once, surviving outages.

Spool records are tagged by their first byte: `KIND_TICKS` (a `TICK_DTYPE` array's bytes) or
`KIND_MINUTE` (a JSON document of minute rows: chain, aggregates, candles). The archiver reads
the records after the checkpoint, writes them (ticks of many records in one COPY), and only
then commits the spool offset. A crash between the PostgreSQL commit and the checkpoint
replays the records, which the archive's ON CONFLICT keys make a no-op. On an outage it
retries with exponential backoff while the feed keeps appending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import orjson

from strikeboard.store import ticks as tick_records
from strikeboard.store.archive import Archive
from strikeboard.store.errors import ArchiveUnavailableError
from strikeboard.store.spool import Record, Spool, SpoolLag
from strikeboard.store.ticks import TickArray

log = logging.getLogger(__name__)

KIND_TICKS: Final = b"T"
KIND_MINUTE: Final = b"M"


def encode_ticks(ticks: TickArray) -> bytes:
    """A spool record holding a tick array."""
    return KIND_TICKS + tick_records.to_bytes(ticks)


def encode_minute(
    chain: Sequence[Sequence[Any]] = (),
    aggregates: Sequence[Sequence[Any]] = (),
    candles: Sequence[Sequence[Any]] = (),
    gaps: Sequence[Sequence[Any]] = (),
) -> bytes:
    """A spool record of minute rows (JSON values; dates and times as ISO strings) in the
    column orders of `archive.CHAIN_COLUMNS`, `CHAIN_AGG_COLUMNS`, `CANDLE_COLUMNS` and
    `GAP_COLUMNS`."""
    document = {"chain": list(chain), "aggregates": list(aggregates), "candles": list(candles),
                "gaps": list(gaps)}  # fmt: skip
    return KIND_MINUTE + orjson.dumps(document, default=str)


@dataclass(frozen=True)
class ArchiverStatus:
    """For the health document."""

    state: str  # "ok", "retrying" or "stopped"
    lag: SpoolLag
    archived_rows: int  # tick rows newly inserted since start
    skipped_records: int
    last_error: str | None


class Archiver:
    """Drains a `Spool` into an `Archive`; `run_once` for one step, `start` for a thread."""

    def __init__(
        self, spool: Spool, archive: Archive, max_records: int = 64,
        max_bytes: int = 64 << 20, poll_s: float = 0.05, backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
    ) -> None:  # fmt: skip
        self.spool = spool
        self.archive = archive
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.poll_s = poll_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.archived_rows = 0
        self.skipped_records = 0
        self.last_error: str | None = None
        self._retrying = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _decode(self, records: list[Record]) -> tuple[list[TickArray], list[dict[str, Any]]]:
        arrays: list[TickArray] = []
        minutes: list[dict[str, Any]] = []
        for record in records:
            kind, body = record.payload[:1], record.payload[1:]
            try:
                if kind == KIND_TICKS:
                    arrays.append(tick_records.from_bytes(body))
                elif kind == KIND_MINUTE:
                    # orjson: a minute of 9,000 chain rows parses in a third of json's time,
                    # which the feed's ingest thread would otherwise wait out for the GIL.
                    minutes.append(orjson.loads(body))
                elif record.payload:
                    raise ValueError(f"unknown record kind {kind!r}")
            except ValueError as exc:
                # A record this version cannot read would block the log forever: count it,
                # log it, move on (it stays nowhere else, so this is loud).
                self.skipped_records += 1
                log.error("archiver: skipping unreadable record at %d: %s", record.offset, exc)
        return arrays, minutes

    def run_once(self) -> int:
        """Archive the next records after the checkpoint; returns how many were handled (0 when
        the spool is drained). Raises `ArchiveUnavailableError` / `StoreError` on failure,
        leaving the checkpoint where it was."""
        records = self.spool.read(max_records=self.max_records, max_bytes=self.max_bytes)
        if not records:
            return 0
        arrays, minutes = self._decode(records)
        if arrays:
            batch = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            self.archived_rows += self.archive.write_ticks(batch)
        for doc in minutes:
            self.archive.write_chain_minute(doc.get("chain", []), doc.get("aggregates", []))
            self.archive.upsert_candles(doc.get("candles", []))
            self.archive.record_gaps(doc.get("gaps", []))
        self.spool.commit(records[-1].next_offset)
        return len(records)

    def drain(self) -> int:
        """Run until the spool is drained (or an error is raised); returns records handled."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    # -- background thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="archiver", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the thread after its current step (the spool keeps what was not archived).
        Returns False when the step (a PostgreSQL call) outlasted ``timeout``: the thread may
        still commit the checkpoint, so the spool must stay open (locked) until it ends."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self) -> None:
        delay = self.backoff_s
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception as exc:  # outage, database error or a bug: never let it die
                # The data stays spooled: back off and try again.
                self._retrying = True
                self.last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, ArchiveUnavailableError):
                    log.warning("archiver: %s; retrying in %.1f s", exc, delay)
                else:
                    log.error("archiver: %s; retrying in %.1f s", exc, delay, exc_info=exc)
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if self._retrying:
                log.info("archiver: PostgreSQL back; catching up %s", self.spool.lag())
            self._retrying = False
            delay = self.backoff_s
            if handled == 0:
                self._stop.wait(self.poll_s)

    def status(self) -> ArchiverStatus:
        alive = self._thread is not None and self._thread.is_alive()
        state = "stopped" if not alive else ("retrying" if self._retrying else "ok")
        return ArchiverStatus(
            state, self.spool.lag(), self.archived_rows, self.skipped_records, self.last_error
        )

    def wait_drained(self, timeout: float) -> bool:
        """Block until the spool is fully acknowledged (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool.committed >= self.spool.end:
                return True
            time.sleep(0.02)
        return self.spool.committed >= self.spool.end
