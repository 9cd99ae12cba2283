"""The caller's alert rules and fired alerts: GET/POST/DELETE /alerts, GET /alerts/events
(docs/alerts.md).

A rule is checked here (422 with the reason: a kind without the fields it reads, a level that
kind cannot take, an expiry already past, more than ALERTS_MAX_RULES rules) and stored; the
feed's evaluator picks it up within ALERTS_REFRESH_S and fires it once per crossing. Rules are
never edited: delete one and create another. Fired alerts stay listed after their rule is
deleted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from strikeboard.api.alert_models import AlertEvent, AlertEvents, AlertRule, AlertRuleIn, AlertRules
from strikeboard.api.dependencies import NOW, SETTINGS, STORES
from strikeboard.api.errors import NotFoundError
from strikeboard.api.followed import followed_name
from strikeboard.api.guard import USER
from strikeboard.chain.alerts import Kind, Op, Target
from strikeboard.store import alerts as store_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _invalid(message: str) -> RequestValidationError:
    """A 422 in the API's one-sentence form (errors.add_error_handlers)."""
    return RequestValidationError([{"loc": ("body",), "msg": message}])


def _public(doc: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k in model.model_fields}


@router.get("", response_model=AlertRules)
def list_alerts(principal: USER, settings: SETTINGS, stores: STORES) -> dict[str, Any]:
    """The caller's rules, oldest first, with the cap and whether e-mail is offered."""
    rules = store_alerts.list_rules(stores.db.rows, principal.user_id)
    return {"rules": [_public(r, AlertRule) for r in rules],
            "max_rules": settings.alerts_max_rules,
            "email": bool(settings.alerts_topic_arn)}  # fmt: skip


@router.post("", response_model=AlertRule, status_code=201)
def create_alert(
    body: AlertRuleIn, principal: USER, settings: SETTINGS, stores: STORES, now: NOW
) -> dict[str, Any]:
    """Store a rule (422: incomplete, a level its kind cannot take, the cap reached, e-mail
    asked where none is configured; 404: an expiry that is past); it is live within
    seconds."""
    underlying = followed_name(settings, body.underlying)
    if body.expiry is not None and body.expiry < now.date():
        raise NotFoundError(f"expiry {body.expiry} is past: nothing left to watch")
    if body.email and not settings.alerts_topic_arn:
        raise _invalid("e-mail alerts are not configured on this deployment")
    target = Target(Kind(body.kind), underlying,
                    body.expiry.isoformat() if body.expiry else None, body.strike,
                    body.option_type)  # fmt: skip
    made = store_alerts.create_rule(
        stores.db.rows, principal.user_id, target, Op(body.op), body.level,
        hysteresis=body.hysteresis, email=body.email, note=body.note,
        cap=settings.alerts_max_rules,
    )  # fmt: skip
    if made is None:
        raise _invalid(f"at most {settings.alerts_max_rules} alert rules: delete one first")
    return _public(made, AlertRule)


@router.delete("/{rule_id}", status_code=204, response_class=Response)
def delete_alert(
    rule_id: Annotated[int, Path(gt=0, lt=2**63)], principal: USER, stores: STORES
) -> Response:
    """Delete one of the caller's rules (its fired alerts stay listed); 404 if none."""
    if not store_alerts.delete_rule(stores.db.rows, principal.user_id, rule_id):
        raise NotFoundError(f"no alert rule {rule_id}")
    return Response(status_code=204)


@router.get("/events", response_model=AlertEvents)
def alert_events(
    principal: USER,
    stores: STORES,
    before: Annotated[
        int | None, Query(gt=0, lt=2**63, description="`next` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The caller's fired alerts, newest first, a page at a time."""
    events, after = store_alerts.list_events(stores.db.rows, principal.user_id, before, limit)
    return {"events": [_public(e, AlertEvent) for e in events], "next": after}
