"""The caller's e-mail address for alerts: GET/PUT/DELETE /alerts/email (docs/alerts.md
"E-mail subscriptions").

The API never calls SNS: its Lambda runs in isolated subnets, which do not reach it. PUT and
DELETE record the request in ``alert_email`` (`strikeboard.store.alerts`); the feed's
subscription worker (`strikeboard.feed.alert_email`), which reaches SNS, performs it within
seconds and keeps the row's state (requested -> pending -> confirmed) as SNS has it; GET reads
the row. Without a topic (ALERTS_TOPIC_ARN empty: local runs) each route answers 409.

Addresses are personal data: never logged; the plain address is stored only until the feed
has subscribed it (then a masked form and a SHA-256, the key of "one user per address").
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError

from strikeboard.api.alert_models import AlertEmail, AlertEmailIn, email_problem
from strikeboard.api.dependencies import SETTINGS, STORES
from strikeboard.api.errors import ConflictError, NotFoundError, UnavailableError
from strikeboard.api.guard import USER
from strikeboard.api.models import Problem
from strikeboard.auth import Principal
from strikeboard.config import Settings
from strikeboard.redact import mask_email
from strikeboard.store import alerts as store_alerts
from strikeboard.store.alerts import EmailRow, Rows

router = APIRouter(
    prefix="/alerts/email",
    tags=["alerts"],
    responses={
        409: {"model": Problem, "description": "No topic here, or another user has the address."}
    },
)
NOT_CONFIGURED: Final = "e-mail alerts are not configured on this deployment"
TAKEN: Final = "this address already receives another account's alerts"
RETRYING: Final = "the server could not reach SNS yet: it tries again"
TRIES: Final = 3
"""Reads and guarded writes of one request: the feed's worker may change the row between
them (it holds the row while it calls SNS), a few times at most."""


def _need_topic(settings: Settings) -> None:
    if not settings.alerts_topic_arn:
        raise ConflictError(NOT_CONFIGURED)


def _answer(row: EmailRow | None, principal: Principal) -> dict[str, Any]:
    token = principal.email or None
    if row is None or row.state == "unsubscribe_requested":
        return {"state": "none", "address": None, "token_address": token}
    if row.state == "refused":
        return {"state": "none", "address": None, "token_address": token,
                "problem": row.last_error or "SNS refused the address"}  # fmt: skip
    if row.state == "requested":
        return {"state": "requested", "address": row.address, "token_address": token,
                "problem": RETRYING if row.attempts else None}  # fmt: skip
    return {"state": row.state, "address": row.address_hint, "token_address": token}


@router.get("", response_model=AlertEmail)
def get_email(principal: USER, settings: SETTINGS, stores: STORES) -> dict[str, Any]:
    """The caller's subscription as the feed last found it in SNS: none, requested (the
    feed subscribes it within seconds), pending (a confirmation link was mailed) or
    confirmed; and the token's address (the default of PUT). No SNS call."""
    _need_topic(settings)
    return _answer(store_alerts.email_request(stores.db.rows, principal.user_id), principal)


def _address(body: AlertEmailIn | None, principal: Principal) -> str:
    address = (body.address if body is not None else None) or principal.email
    if not address:
        raise RequestValidationError([{"loc": ("body", "address"), "msg": "no address: send "
                                       "one (the token carries no verified e-mail)"}])  # fmt: skip
    problem = email_problem(address)  # the token's too: Cognito checks little
    if problem is not None:
        raise RequestValidationError([{"loc": ("body", "address"), "msg": problem}])
    return address


def _request(rows: Rows, user: str, address: str, digest: str) -> EmailRow | None:
    """Record the request over the row as read (again when the worker moved it); the row
    after."""
    for _ in range(TRIES):
        before = store_alerts.email_request(rows, user)
        if before is not None and before.address_sha256 == digest:
            if before.state in ("requested", "pending", "confirmed"):
                return before  # the same address: nothing to do
            if before.state == "unsubscribe_requested":  # not performed yet: take it back
                if store_alerts.keep_email(rows, before):
                    return store_alerts.email_request(rows, user)
                continue
        done = store_alerts.request_email(rows, user, address, mask_email(address), before)
        if done == "taken":
            raise ConflictError(TAKEN)
        if done == "done":
            return store_alerts.email_request(rows, user)
    raise UnavailableError("the e-mail subscription is changing: try again")


@router.put("", response_model=AlertEmail, status_code=202)
def put_email(
    principal: USER, settings: SETTINGS, stores: STORES, body: AlertEmailIn | None = None
) -> dict[str, Any]:
    """Ask for an address (the body's, else the token's verified e-mail) to get the caller's
    e-mailed alerts; it replaces the caller's earlier one. 202: recorded, ``requested``; the
    feed subscribes it within seconds and SNS mails a confirmation link (``pending`` until it
    is followed). The address already subscribed answers its state. 409: an address another
    user has, or no topic; 422: no address or not an address."""
    _need_topic(settings)
    address = _address(body, principal)
    rows, user = stores.db.rows, principal.user_id
    digest = store_alerts.address_sha256(address)
    if store_alerts.email_taken(rows, user, digest):
        raise ConflictError(TAKEN)
    return _answer(_request(rows, user, address, digest), principal)


@router.delete("", status_code=204, response_class=Response)
def delete_email(principal: USER, settings: SETTINGS, stores: STORES) -> Response:
    """Unsubscribe the caller's address: recorded, the feed unsubscribes it within seconds
    (a request it had not performed is simply dropped). 404: none."""
    _need_topic(settings)
    rows = stores.db.rows
    for _ in range(TRIES):
        before = store_alerts.email_request(rows, principal.user_id)
        if before is None or before.state == "unsubscribe_requested":
            raise NotFoundError("no e-mail subscription")
        if store_alerts.unrequest_email(rows, before):
            return Response(status_code=204)
    raise UnavailableError("the e-mail subscription is changing: try again")
