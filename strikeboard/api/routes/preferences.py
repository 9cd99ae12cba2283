"""The caller's preferences (GET and PUT /api/preferences), one document per user."""

from __future__ import annotations

from fastapi import APIRouter

from strikeboard.api.dependencies import STORES
from strikeboard.api.guard import USER
from strikeboard.api.models import Preferences
from strikeboard.store import preference_queries

router = APIRouter(tags=["preferences"])


@router.get("/preferences", response_model=Preferences)
def get_preferences(principal: USER, stores: STORES) -> Preferences:
    """The caller's preferences (defaults until saved)."""
    stored = preference_queries.read_preferences(stores.db, principal.user_id)
    if stored is None:
        return Preferences()
    try:
        return Preferences.model_validate(stored)
    except ValueError:
        return Preferences()  # saved under an older schema: start again from defaults


@router.put("/preferences", response_model=Preferences)
def put_preferences(body: Preferences, principal: USER, stores: STORES) -> Preferences:
    """Replace the caller's preferences."""
    preference_queries.write_preferences(stores.db, principal.user_id, body.model_dump_json())
    return body
