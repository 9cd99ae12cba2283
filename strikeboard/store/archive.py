"""PostgreSQL archive: ticks (binary COPY, exactly once), minute chains, candles, instruments.

Ticks go through a per-connection staging table: binary COPY into it, then
``INSERT INTO ticks SELECT ... ON CONFLICT DO NOTHING`` on the primary key
(token, exchange_ts, ingest_seq). Replaying a batch after a crash therefore writes nothing
twice. The COPY payload is built from the tick array with one NumPy cast into PostgreSQL's
binary row layout (no per-row Python). Day partitions of ``ticks`` (IST days) are created on
demand for the days a batch touches, plus the next day ahead.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from strikeboard.chain.document import Chain
from strikeboard.market.calendar import IST
from strikeboard.store.errors import ArchiveUnavailableError, StoreError
from strikeboard.store.migrate import migrate
from strikeboard.store.ticks import DEPTH, TICK_DTYPE, TickArray

_DAY_US: Final = 86_400_000_000
_IST_OFFSET_US: Final = 19_800_000_000
_PG_EPOCH_US: Final = 946_684_800_000_000  # 2000-01-01 UTC in Unix microseconds
_UNIX_ORDINAL: Final = date(1970, 1, 1).toordinal()
_MAX_AHEAD_US: Final = 2 * _DAY_US
_FLOAT8_OID: Final = 701
_INT8_OID: Final = 20
_INT4_OID: Final = 23

TICK_COLUMNS: Final = (
    "token", "exchange_ts", "ingest_seq", "received_ts", "last_price", "last_qty", "avg_price",
    "volume", "buy_qty", "sell_qty", "open", "high", "low", "close", "oi", "oi_day_high",
    "oi_day_low", "bid_price", "bid_qty", "ask_price", "ask_qty", "depth_bid_price",
    "depth_bid_qty", "depth_bid_orders", "depth_ask_price", "depth_ask_qty", "depth_ask_orders",
)  # fmt: skip

CHAIN_COLUMNS: Final = (
    "underlying", "expiry", "minute", "strike", "option_type", "token", "ltp", "bid", "ask",
    "iv", "delta", "gamma", "theta", "vega", "oi", "oi_change", "volume",
)  # fmt: skip
"""Column order of the rows given to `Archive.write_chain_minute`."""

CHAIN_AGG_COLUMNS: Final = (
    "underlying", "expiry", "minute", "spot", "future", "forward", "atm_strike", "atm_iv",
    "straddle", "expected_move", "pcr_oi", "pcr_volume", "max_pain",
)  # fmt: skip
"""Column order of the rows given to `Archive.write_chain_minute` as aggregates."""

LEG_COLUMNS: Final = CHAIN_COLUMNS[5:]
"""The archived leg fields: each column holds the chain document leg's field of its name (the
columns before them are the row's key: underlying, expiry, minute, strike, option_type)."""

AGGREGATE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "spot": ("spot",),
    "future": ("future",),
    "forward": ("forward",),
    "atm_strike": ("atm_strike",),
    "atm_iv": ("aggregates", "atm_iv"),
    "straddle": ("aggregates", "atm_straddle"),
    "expected_move": ("aggregates", "expected_move"),
    "pcr_oi": ("aggregates", "pcr_oi"),
    "pcr_volume": ("aggregates", "pcr_volume"),
    "max_pain": ("aggregates", "max_pain"),
}
"""Each chain_minute_agg value column and where the chain document holds it (the columns
before them are the row's key: underlying, expiry, minute)."""

CANDLE_COLUMNS: Final = ("token", "minute", "open", "high", "low", "close", "volume", "oi")
"""Column order of the rows given to `Archive.upsert_candles`."""

GAP_COLUMNS: Final = ("shard", "started_at", "ended_at", "instruments", "filled")
"""Column order of the rows given to `Archive.record_gaps`."""

INSTRUMENT_COLUMNS: Final = (
    "instrument_token", "exchange_token", "tradingsymbol", "name", "expiry", "strike",
    "instrument_type", "lot_size", "tick_size", "segment", "exchange", "underlying",
)  # fmt: skip
"""Keys read from each Kite instrument dict by `Archive.upsert_instruments` (`underlying`
is Strikeboard's, `market.underlyings.underlying_of`: absent means none)."""


def aggregate_row(document: Mapping[str, Any], minute: str) -> tuple[Any, ...]:
    """The chain_minute_agg row (`CHAIN_AGG_COLUMNS` order) of a chain document."""
    values: dict[str, Any] = {"underlying": document["underlying"],
                              "expiry": document["expiry"], "minute": minute}  # fmt: skip
    for name, path in AGGREGATE_FIELDS.items():
        node: Any = document
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        values[name] = node
    return tuple(values[c] for c in CHAIN_AGG_COLUMNS)


def document_values(aggregates: Mapping[str, Any]) -> dict[str, Any]:
    """A chain_minute_agg row (by column name) as the chain document's values: the header's
    by their names, and under "aggregates" the aggregates' (absent columns: None)."""
    out: dict[str, Any] = {"aggregates": {}}
    for name, path in AGGREGATE_FIELDS.items():
        node = out
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = aggregates.get(name)
    return out


def chain_rows(chain: Chain, minute: str) -> list[tuple[Any, ...]]:
    """The chain_minute rows (`CHAIN_COLUMNS` order) of a built chain: one per leg, the calls
    then the puts."""
    doc = chain.document
    rows: list[tuple[Any, ...]] = []
    strikes = chain.columns.strikes.tolist()
    n = len(strikes)
    for side in chain.columns.sides:
        by_name: dict[str, Sequence[Any]] = {
            "underlying": [doc["underlying"]] * n, "expiry": [doc["expiry"]] * n,
            "minute": [minute] * n, "strike": strikes, "option_type": [side] * n,
            **{name: chain.values(side, name) for name in LEG_COLUMNS},
        }  # fmt: skip
        present = chain.columns.sides[side].present.tolist()
        columns = [by_name[c] for c in CHAIN_COLUMNS]
        rows += [row for row, p in zip(zip(*columns, strict=True), present, strict=True) if p]
    return rows


def _array_field(elem: str) -> list[tuple[Any, ...]]:
    """Binary layout of a 1-D array field of DEPTH elements (length prefix included)."""
    return [
        ("len", ">i4"), ("ndim", ">i4"), ("hasnull", ">i4"), ("oid", ">u4"), ("dim", ">i4"),
        ("lbound", ">i4"), ("elems", [("elen", ">i4"), ("v", elem)], (DEPTH,)),
    ]  # fmt: skip


def _build_row_dtype() -> tuple[np.dtype[np.void], dict[str, tuple[int, int, str]]]:
    fields: list[tuple[Any, ...]] = [("nfields", ">i2")]
    scalar_types = {"f8": ">f8", "i8": ">i8", "i4": ">i4"}
    arrays: dict[str, tuple[int, int, str]] = {}
    for column in TICK_COLUMNS:
        if column.startswith("depth_"):
            source = column.removeprefix("depth_")
            base = TICK_DTYPE[source].base
            kind = base.kind + str(base.itemsize)
            oid = {"f8": _FLOAT8_OID, "i8": _INT8_OID, "i4": _INT4_OID}[kind]
            size = base.itemsize
            fields.append((column, _array_field(scalar_types[kind])))
            arrays[column] = (oid, 20 + DEPTH * (4 + size), source)
        else:
            value = ">i8" if column in _INT_COLS else ">f8"
            fields.append((column, [("len", ">i4"), ("v", value)]))
    return np.dtype(fields), arrays


_INT_COLS: Final = frozenset(
    name for name in TICK_COLUMNS if not name.startswith("depth_")
    and name not in ("last_price", "avg_price", "open", "high", "low", "close", "bid_price",
                     "ask_price")
)  # fmt: skip
_ROW_DTYPE, _ARRAYS = _build_row_dtype()
_COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER: Final = struct.pack(">h", -1)


def effective_exchange_ts(ticks: TickArray) -> npt.NDArray[np.int64]:
    """The archived exchange timestamp: the tick's own, or ``received_ts`` when it is missing
    (0, as in LTP-mode packets) or more than two days after it (impossible, so corrupt: it must
    not create a partition ahead, which retention would never drop).

    An exchange time long before the receipt time is kept: a simulated or replayed day
    (``strikeboard sim --date``, the tests' fixed days, the dev stack's last trading day on a
    weekend) stamps its ticks with its own date, whatever the wall clock says. A corrupt past
    value is mostly rejected by the validator (timestamp going backwards), and its partition
    would be dropped by retention. A function of the row alone, so a replay maps every tick
    to the same key."""
    exchange = ticks["exchange_ts"].astype(np.int64)
    received = ticks["received_ts"].astype(np.int64)
    bad = (exchange <= 0) | (exchange - received > _MAX_AHEAD_US)
    return np.where(bad, received, exchange)


def copy_payload(ticks: TickArray) -> bytes:
    """The PostgreSQL binary COPY stream (header, rows, trailer) of a tick array."""
    if ticks.dtype != TICK_DTYPE:
        raise ValueError(f"expected TICK_DTYPE, got {ticks.dtype}")
    n = len(ticks)
    rows = np.empty(n, dtype=_ROW_DTYPE)
    rows["nfields"] = len(TICK_COLUMNS)
    exchange = effective_exchange_ts(ticks)
    for column in TICK_COLUMNS:
        if column in _ARRAYS:
            oid, length, source = _ARRAYS[column]
            field = rows[column]
            field["len"] = length
            field["ndim"] = 1
            field["hasnull"] = 0
            field["oid"] = oid
            field["dim"] = DEPTH
            field["lbound"] = 1
            field["elems"]["elen"] = TICK_DTYPE[source].base.itemsize
            field["elems"]["v"] = ticks[source]
            continue
        field = rows[column]
        field["len"] = 8
        if column == "exchange_ts":
            field["v"] = exchange - _PG_EPOCH_US
        elif column == "received_ts":
            field["v"] = ticks["received_ts"] - _PG_EPOCH_US
        elif column in ("bid_price", "ask_price") or column in ("bid_qty", "ask_qty"):
            field["v"] = ticks[column][:, 0]
        else:
            field["v"] = ticks[column]
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def partition_name(day: date) -> str:
    return f"ticks_{day:%Y%m%d}"


class Archive:
    """Writes history to PostgreSQL over one connection (reconnected lazily after a failure).

    Every method raises `ArchiveUnavailableError` when PostgreSQL cannot be reached (the
    connection is dropped and re-opened on the next call) and `StoreError` for other database
    errors; nothing is half-written (each call is one transaction).
    """

    def __init__(self, url: str, connect_timeout: float = 3.0, auto_migrate: bool = False) -> None:
        """``auto_migrate`` applies pending migrations on the first successful connection,
        so a feed that starts during an outage needs no separate start-up step."""
        self.url = url
        self.connect_timeout = connect_timeout
        self._migrate_pending = auto_migrate
        self._conn: psycopg.Connection[TupleRow] | None = None
        self._partitions: set[date] = set()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> psycopg.Connection[TupleRow]:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(
                    self.url, connect_timeout=max(1, round(self.connect_timeout))
                )
            except psycopg.OperationalError as exc:
                raise ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}") from exc
            self._partitions.clear()
            if self._migrate_pending:
                migrate(self.url)
                self._migrate_pending = False
        return self._conn

    def _fail(self, exc: psycopg.Error) -> StoreError:
        conn = self._conn
        if conn is not None and not conn.closed:
            try:
                conn.rollback()
            except psycopg.Error:
                conn.close()
        if isinstance(exc, psycopg.OperationalError) or conn is None or conn.closed:
            self.close()
            return ArchiveUnavailableError(f"PostgreSQL unavailable: {exc}")
        return StoreError(f"PostgreSQL error: {exc}")

    # -- ticks ------------------------------------------------------------------------------

    def ensure_partitions(self, days: Iterable[date]) -> None:
        """Create the day partitions of ``ticks`` that do not exist yet."""
        missing = sorted(set(days) - self._partitions)
        if not missing:
            return
        conn = self._connection()
        try:
            for day in missing:
                start = datetime(day.year, day.month, day.day, tzinfo=IST)
                stmt = sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF ticks FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier(partition_name(day)),
                    sql.Literal(start),
                    sql.Literal(start + timedelta(days=1)),
                )
                try:
                    with conn.transaction():
                        conn.execute(stmt)
                except psycopg.errors.DuplicateTable:
                    pass  # another process created it between our check and the CREATE
                self._partitions.add(day)
            conn.commit()
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def partitions(self) -> list[date]:
        """The days that have a ticks partition."""
        conn = self._connection()
        try:
            rows = conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'ticks'::regclass ORDER BY 1"
            ).fetchall()
            conn.commit()
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        return [datetime.strptime(r[0], "ticks_%Y%m%d").date() for r in rows]

    def drop_partitions_before(self, day: date) -> list[date]:
        """Drop the ticks partitions of days before ``day`` (retention); returns those days."""
        dropped = [d for d in self.partitions() if d < day]
        conn = self._connection()
        try:
            for d in dropped:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(partition_name(d))))  # fmt: skip
                self._partitions.discard(d)
            conn.commit()
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        return dropped

    def write_ticks(self, ticks: TickArray) -> int:
        """Archive a tick array exactly once; returns the rows newly inserted (0 on replay)."""
        if len(ticks) == 0:
            return 0
        exchange = effective_exchange_ts(ticks)
        ordinals = np.unique((exchange + _IST_OFFSET_US) // _DAY_US)
        days = {date.fromordinal(_UNIX_ORDINAL + int(d)) for d in ordinals}
        days.add(max(days) + timedelta(days=1))  # one day ahead, before midnight comes
        self.ensure_partitions(days)
        payload = copy_payload(ticks)
        conn = self._connection()
        columns = sql.SQL(", ").join(map(sql.Identifier, TICK_COLUMNS))
        try:
            with conn.transaction():
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS ticks_stage (LIKE ticks) ON COMMIT DELETE ROWS"
                )
                with conn.cursor() as cur:
                    copy_sql = sql.SQL("COPY ticks_stage ({}) FROM STDIN (FORMAT BINARY)")
                    with cur.copy(copy_sql.format(columns)) as copy:
                        copy.write(payload)
                    cur.execute(
                        sql.SQL(
                            "INSERT INTO ticks ({0}) SELECT {0} FROM ticks_stage"
                            " ON CONFLICT DO NOTHING"
                        ).format(columns)
                    )
                    inserted = cur.rowcount
            conn.commit()
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        return max(inserted, 0)

    def max_ingest_seq(self) -> int:
        """The highest archived ingest_seq (0 when none): a floor for the feed's counter."""
        return int(self._scalar("SELECT coalesce(max(ingest_seq), 0) FROM ticks") or 0)

    def previous_close_oi(self, tokens: Sequence[int], before: date) -> dict[int, int]:
        """Each contract's OI at the close of the last session archived before the IST day
        ``before``: its rows of that session's last minute, only if that minute is the close
        (15:29 IST or later). A contract that left the strike window earlier that day, or a
        session the feed did not see to its close, is not here: its last row is not its
        closing OI (the caller asks Kite's day candles instead)."""
        start = datetime(before.year, before.month, before.day, tzinfo=IST)
        rows = self._rows(
            "WITH last AS (SELECT max(minute) AS m FROM chain_minute WHERE minute < %s)"
            " SELECT token, oi FROM chain_minute, last"
            " WHERE minute = last.m AND token = ANY(%s) AND oi IS NOT NULL"
            " AND (last.m AT TIME ZONE 'Asia/Kolkata')::time >= '15:29'",
            (start, list(tokens)),
        )
        return {int(token): int(oi) for token, oi in rows}

    def count_ticks(self) -> int:
        return int(self._scalar("SELECT count(*) FROM ticks") or 0)

    def ticks_page(
        self, token: int, start: datetime, end: datetime,
        after: tuple[datetime, int] | None = None, limit: int = 1000,
    ) -> list[tuple[Any, ...]]:  # fmt: skip
        """Ticks of ``token`` in [start, end) ordered by (exchange_ts, ingest_seq), the page
        after the key ``after``; each row is in `TICK_COLUMNS` order."""
        cols = sql.SQL(", ").join(map(sql.Identifier, TICK_COLUMNS))
        key = after or (start, -1)
        query = sql.SQL(
            "SELECT {} FROM ticks WHERE token = %s AND exchange_ts >= %s AND exchange_ts < %s"
            " AND (exchange_ts, ingest_seq) > (%s, %s) ORDER BY exchange_ts, ingest_seq LIMIT %s"
        ).format(cols)
        return self._rows(query, (token, start, end, key[0], key[1], limit))

    # -- minute data ------------------------------------------------------------------------

    def write_chain_minute(
        self, rows: Sequence[Sequence[Any]], aggregates: Sequence[Sequence[Any]] = ()
    ) -> None:
        """Upsert one minute's chain rows (`CHAIN_COLUMNS` order) and per-expiry aggregates
        (`CHAIN_AGG_COLUMNS` order); rewriting a minute replaces its values."""
        self._upsert("chain_minute", CHAIN_COLUMNS, 5, rows)
        self._upsert("chain_minute_agg", CHAIN_AGG_COLUMNS, 3, aggregates)

    def upsert_candles(self, rows: Sequence[Sequence[Any]]) -> None:
        """Upsert one-minute candles (`CANDLE_COLUMNS` order), e.g. as each minute closes."""
        self._upsert("candles_1m", CANDLE_COLUMNS, 2, rows)

    def record_gaps(self, rows: Sequence[Sequence[Any]]) -> None:
        """Record Kite connection outages (`GAP_COLUMNS` order); a replay is a no-op."""
        self._upsert("feed_gaps", GAP_COLUMNS, 2, rows)

    def upsert_instruments(self, instruments: Iterable[Mapping[str, Any]]) -> int:
        """Upsert Kite instrument dicts (kiteconnect's ``instruments()`` rows); first_seen is
        kept, last_seen set to now. Returns the number of rows given."""
        # Kite's CSV dump gives "" where a value is absent (e.g. the expiry of an index).
        rows = [
            tuple(None if item.get(c) == "" else item.get(c) for c in INSTRUMENT_COLUMNS)
            for item in instruments
        ]
        self._upsert("instruments", INSTRUMENT_COLUMNS, 1, rows, touch="last_seen")
        return len(rows)

    def chain_at(self, underlying: str, expiry: date, minute: datetime) -> list[tuple[Any, ...]]:
        """The chain rows of one expiry at one minute, by strike then option type."""
        cols = sql.SQL(", ").join(map(sql.Identifier, CHAIN_COLUMNS))
        query = sql.SQL(
            "SELECT {} FROM chain_minute WHERE underlying = %s AND expiry = %s AND minute = %s"
            " ORDER BY strike, option_type"
        ).format(cols)
        return self._rows(query, (underlying, expiry, minute))

    # -- helpers ----------------------------------------------------------------------------

    def _upsert(
        self, table: str, columns: Sequence[str], n_key: int, rows: Sequence[Sequence[Any]],
        touch: str | None = None,
    ) -> None:  # fmt: skip
        if not rows:
            return
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        key = sql.SQL(", ").join(map(sql.Identifier, columns[:n_key]))
        updates = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[n_key:]]
        if touch:
            updates.append(sql.SQL("{} = now()").format(sql.Identifier(touch)))
        stage = sql.Identifier(f"{table}_stage")
        conn = self._connection()
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)"
                        " ON COMMIT DELETE ROWS"
                    ).format(stage, sql.Identifier(table))
                )
                with conn.cursor() as cur:
                    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, cols)) as copy:
                        for row in rows:
                            copy.write_row(row)
                    # DISTINCT ON keeps the last row of a key given twice in one call.
                    cur.execute(
                        sql.SQL(
                            "INSERT INTO {0} ({1}) SELECT DISTINCT ON ({2}) {1} FROM {3}"
                            " ORDER BY {2}, ctid DESC ON CONFLICT ({2}) DO UPDATE SET {4}"
                        ).format(
                            sql.Identifier(table), cols, key, stage, sql.SQL(", ").join(updates)
                        )
                    )
            conn.commit()
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def _rows(self, query: sql.Composed | str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        conn = self._connection()
        try:
            rows = conn.execute(query, params).fetchall()
            conn.commit()
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        return rows

    def _scalar(self, query: str) -> Any:
        rows = self._rows(query, ())
        return rows[0][0] if rows else None
