"""The live wire format between the push side and a browser (pure, no I/O; docs/live.md).

Server -> client JSON text messages: ``snapshot``, ``delta``, ``reset`` (re-fetch over REST),
``market``, ``order``, ``alert`` (a fired alert rule of the connection's user), ``pong``,
``error``, ``batch`` (what one push cycle has for a connection, in one message: API Gateway
bills per message) and ``part`` for a post larger than API Gateway accepts in one message
(the WebSocket Lambda's reply, a route response, is always one message: a snapshot too
large for it is answered with a ``reset``). Deltas are
forwarded exactly as the feed published them (see docs/storage.md) unless the pusher had to
coalesce a backlog with `compose_deltas`. A client skips an empty frame (what API Gateway may
send for a route response without a body).

`Follower` is the reference client of one expiry (the SPA implements the same rules): it
applies deltas in seq order, buffers those that arrive before the snapshot, and reports a gap
so that the caller re-fetches the snapshot.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from strikeboard.store import snapshot as snap

JSONDict = dict[str, Any]

MAX_MESSAGE_BYTES: Final = 128 * 1024
"""API Gateway's WebSocket message limit (post_to_connection answers 413 above it)."""
PART_LIMIT_BYTES: Final = 120 * 1024
"""Messages above this are split into parts, leaving room for the part envelope."""


SERVER_MESSAGE_TYPES: Final = frozenset(
    {"snapshot", "delta", "reset", "market", "order", "alert", "pong", "error", "batch", "part"}
)
"""Every ``type`` a server -> client message has (anything else reaching a client is a bug)."""


class MessageError(ValueError):
    """A client message or a part is malformed (maps to an ``error`` message, never a crash)."""


def nesting_depth(text: str, limit: int) -> int:
    """How deeply ``[``/``{`` nest in JSON text, counted without parsing (brackets inside
    strings ignored); stops early, returning ``limit + 1``, once the depth exceeds ``limit``.

    Checked before ``json.loads`` so that a frame nested 1,000 deep costs a linear scan of a
    bounded text instead of a recursive parse (and a RecursionError)."""
    depth = 0
    in_string = escaped = False
    deepest = 0
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return depth
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_client_message(text: str, max_bytes: int, max_depth: int) -> JSONDict:
    """A client frame as a JSON object, or `MessageError` saying what is wrong with it
    (too large, nested too deeply, not JSON, not an object); never any other exception."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MessageError(f"message too large: {size} bytes, at most {max_bytes}")
    if nesting_depth(text, max_depth) > max_depth:
        raise MessageError(f"message nested too deeply: at most {max_depth} levels")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MessageError(f"invalid JSON: {exc}") from exc
    except (RecursionError, ValueError) as exc:  # belt and braces: the scan bounds depth
        raise MessageError(f"invalid JSON: {type(exc).__name__}") from exc
    if not isinstance(body, dict):
        raise MessageError("a message is a JSON object with an 'action'")
    return body


def dumps(message: JSONDict) -> str:
    """Compact JSON text of a message (NaN/inf rejected with `SnapshotError`)."""
    return snap.dumps(message)


def snapshot_message(document: JSONDict) -> str:
    """``{"type": "snapshot", "expiry", "seq", "data"}`` for a document from `read_snapshot`."""
    return dumps(
        {
            "type": "snapshot",
            "underlying": document.get("underlying"),
            "expiry": document.get("expiry"),
            "seq": document.get(snap.SEQ),
            "data": document,
        }
    )


def reset_message(underlying: str, expiry: str, seq: int | None) -> str:
    """Tell a client to re-fetch the expiry's snapshot over REST and continue from its seq."""
    return dumps({"type": "reset", "underlying": underlying, "expiry": expiry, "seq": seq})


def market_message(instruments: JSONDict) -> str:
    return dumps({"type": "market", "data": instruments})


def order_message(update: JSONDict) -> str:
    return dumps({"type": "order", "data": update})


ALERT_FIELDS: Final = (
    "id", "rule_id", "crossing", "kind", "underlying", "expiry", "strike", "option_type", "op",
    "level", "value", "previous", "text", "note", "fired_at",
)  # fmt: skip
"""What an ``alert`` message carries of a fired alert (`strikeboard.store.alerts`' event:
not the user id or the delivery bookkeeping)."""


def alert_message(event: JSONDict) -> str:
    """A fired alert for its user's connections (docs/alerts.md)."""
    return dumps({"type": "alert", "data": {k: event.get(k) for k in ALERT_FIELDS}})


def error_message(text: str) -> str:
    return dumps({"type": "error", "message": text})


PONG: Final = dumps({"type": "pong"})


def batch_message(texts: list[str]) -> str:
    """One message for a cycle's messages (each a JSON text from the builders above or a
    delta as the feed published it): the text itself when alone, else ``{"type": "batch",
    "messages": [...]}`` in order. Joined as text, so a 30 KB delta is not parsed again."""
    if not texts:
        raise ValueError("an empty batch")
    if len(texts) == 1:
        return texts[0]
    return '{"type":"batch","messages":[' + ",".join(texts) + "]}"


def unbatch(message: JSONDict) -> list[JSONDict]:
    """The messages a received message stands for (a ``batch`` in order, else itself)."""
    if message.get("type") != "batch":
        return [message]
    inner = message.get("messages")
    if not isinstance(inner, list) or not all(isinstance(m, dict) for m in inner):
        raise MessageError("a batch without a list of messages")
    if any(m.get("type") == "batch" for m in inner):
        raise MessageError("a batch inside a batch")
    return inner


# -- parts ---------------------------------------------------------------------------------


def fits(text: str, limit: int = PART_LIMIT_BYTES) -> bool:
    """Whether ``text`` goes as one message (else `split` it, or, for a route response, which
    is one message, send something smaller)."""
    return len(text.encode()) <= limit


def split(text: str, part_id: str, limit: int = PART_LIMIT_BYTES) -> list[str]:
    """``[text]`` when it fits in ``limit`` UTF-8 bytes, else ``part`` messages that each do.

    Each part is ``{"type": "part", "id", "index", "count", "chunk"}``; the client
    concatenates the chunks in index order and parses the result (`Assembler`).
    """
    if fits(text, limit):
        return [text]
    envelope = len(dumps({"type": "part", "id": part_id, "index": 0, "count": 0, "chunk": ""}))
    budget = limit - envelope - 24  # room for index/count digits
    if budget < 64:
        raise ValueError("limit too small for a part envelope")
    chunks: list[str] = []
    start = 0
    size = budget
    while start < len(text):
        piece = text[start : start + size]
        encoded = len(json.dumps(piece).encode())
        if encoded > budget:
            # Escaping (quotes, backslashes, non-ASCII) grew the chunk: shrink and retry.
            size = max(1, size * budget // encoded - 8)
            continue
        chunks.append(piece)
        start += len(piece)
        size = budget
    count = len(chunks)
    return [
        dumps({"type": "part", "id": part_id, "index": i, "count": count, "chunk": chunk})
        for i, chunk in enumerate(chunks)
    ]


@dataclass
class Assembler:
    """Joins ``part`` messages back into the message they came from (client side)."""

    _pending: dict[str, dict[int, str]] = field(default_factory=dict)

    def feed(self, part: JSONDict) -> JSONDict | None:
        """Add one part; the whole message once its last part has arrived, else None."""
        try:
            pid, index, count, chunk = part["id"], part["index"], part["count"], part["chunk"]
        except KeyError as exc:
            raise MessageError(f"part without {exc}") from exc
        if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
            raise MessageError("part index/count out of range")
        if not isinstance(chunk, str):
            raise MessageError("part chunk must be a string")
        chunks = self._pending.setdefault(str(pid), {})
        chunks[index] = chunk
        if len(chunks) < count:
            return None
        del self._pending[str(pid)]
        return snap.loads("".join(chunks[i] for i in range(count)))


# -- delta composition -----------------------------------------------------------------------


def compose_deltas(first: JSONDict, second: JSONDict, *, consume: bool = False) -> JSONDict:
    """One delta with the effect of ``first`` then ``second`` (``second.base == first.seq``).

    Holds for deltas made by `diff_snapshot` (which unsets a path whenever a dict and a
    scalar replace each other): ``apply(apply(s, a), b) == apply(s, compose(a, b))``. The
    pusher uses it to send one message instead of a backlog. ``consume``: ``first`` is the
    caller's own copy (parsed for this), built upon instead of copied; the result may share
    parts of ``second`` either way.
    """
    if first.get("seq") is None or second.get("base") != first.get("seq"):
        raise MessageError("deltas do not follow each other")
    changes = first.get("set", {}) if consume else copy.deepcopy(first.get("set", {}))
    unset = [list(p) for p in first.get("unset", [])]
    for path in second.get("unset", []):
        snap.remove_path(changes, list(path))
        if list(path) not in unset:
            unset.append(list(path))
    snap.merge_into(changes, second.get("set", {}))
    out: JSONDict = {
        "seq": second["seq"],
        "base": first.get("base"),
        "type": "delta",
        "underlying": second.get("underlying", first.get("underlying")),
        "expiry": second.get("expiry", first.get("expiry")),
        "set": changes,
    }
    if unset:
        out["unset"] = unset
    return out


# -- reference client ------------------------------------------------------------------------

Outcome = Literal["snapshot", "applied", "buffered", "stale", "gap", "reset"]


@dataclass
class Follower:
    """The live document of one expiry as a client rebuilds it from messages.

    ``gap`` and ``reset`` mean: fetch the snapshot (GET /api/chain/{expiry}) and `load` it;
    deltas that arrive meanwhile are buffered and applied on top when they follow on.
    """

    document: JSONDict | None = None
    seq: int | None = None
    _buffer: list[JSONDict] = field(default_factory=list)

    def load(self, document: JSONDict) -> None:
        """Start from a full snapshot (its ``seq`` included), then replay what followed."""
        self.document = copy.deepcopy(document)
        self.seq = int(document[snap.SEQ])
        buffered, self._buffer = self._buffer, []
        for delta in sorted(buffered, key=lambda d: int(d["seq"])):
            if int(delta["seq"]) > self.seq and self.handle(delta) == "gap":
                break

    def handle(self, message: JSONDict) -> Outcome:
        """Apply one server message of this expiry; what happened."""
        kind = message.get("type")
        if kind == "snapshot":
            self.load(message["data"])
            return "snapshot"
        if kind not in ("delta", "reset"):
            raise MessageError(f"not a chain message: {kind!r}")
        raw_seq = message.get("seq")
        if kind == "reset":
            # A reset older than what we hold (it raced our snapshot) changes nothing.
            if raw_seq is not None and self.seq is not None and int(raw_seq) <= self.seq:
                return "stale"
            self.document = None
            return "reset"
        if raw_seq is None:
            raise MessageError("a delta without a seq")
        seq, base = int(raw_seq), message.get("base")
        if self.document is None or self.seq is None:
            self._buffer.append(message)
            return "buffered"
        if seq <= self.seq:
            return "stale"
        if base != self.seq:
            self.document = None
            self._buffer.append(message)
            return "gap"
        self.document = snap.apply_delta(self.document, message)
        self.seq = seq
        return "applied"
