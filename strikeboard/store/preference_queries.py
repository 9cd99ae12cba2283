"""Each user's preferences (user_preferences): one JSON document per user id, replaced whole.
Errors: `strikeboard.store.database`'s."""

from __future__ import annotations

from typing import Any

from strikeboard.store.database import Database


def read_preferences(db: Database, user_id: str) -> dict[str, Any] | None:
    """The user's stored document, None until one is saved."""
    rows = db.rows("SELECT data FROM user_preferences WHERE user_id = %s", (user_id,))
    return dict(rows[0][0]) if rows else None


def write_preferences(db: Database, user_id: str, data: str) -> None:
    """Replace the user's document with the JSON text ``data``."""
    db.execute(
        "INSERT INTO user_preferences (user_id, data) VALUES (%s, %s::jsonb)"
        " ON CONFLICT (user_id) DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
        (user_id, data),
    )
