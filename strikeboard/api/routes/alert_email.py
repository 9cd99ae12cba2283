"""The caller's e-mail address for alerts: GET/PUT/DELETE /alerts/email (docs/alerts.md
"E-mail subscriptions"). The SNS side is `strikeboard.api.alert_email`.

Without a topic (ALERTS_TOPIC_ARN empty: local runs), or where the API cannot reach SNS
(ALERTS_EMAIL_SUBSCRIBE=false: isolated subnets without the SNS endpoint), each route answers
409, as `GET /alerts` says with ``email`` and ``email_subscribe``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError

from strikeboard.api import alert_email
from strikeboard.api.alert_models import AlertEmail, AlertEmailIn, email_problem
from strikeboard.api.dependencies import SETTINGS, STORES
from strikeboard.api.errors import ConflictError, NotFoundError
from strikeboard.api.guard import USER
from strikeboard.api.models import Problem
from strikeboard.auth import Principal
from strikeboard.config import Settings
from strikeboard.store import alerts as store_alerts

router = APIRouter(
    prefix="/alerts/email",
    tags=["alerts"],
    responses={
        409: {"model": Problem, "description": "No topic here, or another user has the address."}
    },
)
NOT_CONFIGURED = "e-mail alerts are not configured on this deployment"
NOT_SELF_SERVICE = ("this deployment's API cannot reach SNS (ALERTS_EMAIL_SUBSCRIBE=false): an "
                    "operator subscribes addresses (docs/alerts.md)")  # fmt: skip


def _topic(settings: Settings) -> str:
    if not settings.alerts_topic_arn:
        raise ConflictError(NOT_CONFIGURED)
    if not settings.alerts_email_subscribe:
        raise ConflictError(NOT_SELF_SERVICE)
    return settings.alerts_topic_arn


def _answer(state: alert_email.State, address: str | None, principal: Principal) -> dict[str, Any]:
    return {"state": state, "address": address, "token_address": principal.email or None}


@router.get("", response_model=AlertEmail)
def get_email(principal: USER, settings: SETTINGS, stores: STORES) -> dict[str, Any]:
    """The caller's subscription: none, pending (a confirmation link was mailed) or
    confirmed; and the token's address (the default of PUT)."""
    _topic(settings)
    arn = store_alerts.email_subscription(stores.db.rows, principal.user_id)
    if arn is None:
        return _answer("none", None, principal)
    found = alert_email.describe(stores.sns, arn)
    if found is None:  # unsubscribed from a mail's link, or never confirmed (SNS dropped it)
        store_alerts.drop_email_subscription(stores.db.rows, principal.user_id, arn)
        return _answer("none", None, principal)
    return _answer(found[0], found[1], principal)


@router.put("", response_model=AlertEmail)
def put_email(
    principal: USER, settings: SETTINGS, stores: STORES, body: AlertEmailIn | None = None
) -> dict[str, Any]:
    """Subscribe an address (the body's, else the token's verified e-mail) to the caller's
    e-mailed alerts; it replaces the caller's earlier one. SNS mails a confirmation link
    first: the answer is ``pending`` until it is followed (``confirmed`` at once when the
    address was already subscribed and confirmed). 409: an address another user has, or no
    topic; 422: no address or not an address."""
    topic = _topic(settings)
    address = (body.address if body is not None else None) or principal.email
    if not address:
        raise RequestValidationError([{"loc": ("body", "address"), "msg": "no address: send "
                                       "one (the token carries no verified e-mail)"}])  # fmt: skip
    problem = email_problem(address)  # the token's too: Cognito checks little
    if problem is not None:
        raise RequestValidationError([{"loc": ("body", "address"), "msg": problem}])
    rows, user = stores.db.rows, principal.user_id
    digest = alert_email.address_sha256(address)
    if store_alerts.email_taken(rows, user, digest):
        raise ConflictError(alert_email.TAKEN)
    before = store_alerts.email_subscription(rows, user)
    arn = alert_email.subscribe(stores.sns, topic, user, address)
    if not store_alerts.save_email_subscription(rows, user, arn, digest):
        if arn != before:  # another user took the address meanwhile: undo ours
            alert_email.unsubscribe(stores.sns, user, arn)
        raise ConflictError(alert_email.TAKEN)
    if before is not None and before != arn:  # one address per user: the new one replaces it
        alert_email.unsubscribe(stores.sns, user, before)
    found = alert_email.describe(stores.sns, arn)
    state, subscribed = found if found is not None else ("pending", address)
    return _answer(state, subscribed, principal)


@router.delete("", status_code=204, response_class=Response)
def delete_email(principal: USER, settings: SETTINGS, stores: STORES) -> Response:
    """Unsubscribe the caller's address (404: none)."""
    _topic(settings)
    arn = store_alerts.email_subscription(stores.db.rows, principal.user_id)
    if arn is None:
        raise NotFoundError("no e-mail subscription")
    alert_email.unsubscribe(stores.sns, principal.user_id, arn)
    store_alerts.drop_email_subscription(stores.db.rows, principal.user_id, arn)
    return Response(status_code=204)
