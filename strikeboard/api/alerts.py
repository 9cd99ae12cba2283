"""The caller's alert rules and fired alerts: GET/POST/DELETE /api/alerts, GET
/api/alerts/events (docs/alerts.md).

A rule is checked here (422 with the reason: a kind without the fields it reads, a level that
kind cannot take, an expiry already past, more than ALERTS_MAX_RULES rules) and stored; the
feed's evaluator picks it up within ALERTS_REFRESH_S and fires it once per crossing. Rules are
never edited: delete one and create another. Fired alerts stay listed after their rule is
deleted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from strikeboard.api.errors import NotFoundError
from strikeboard.api.followed import followed_name
from strikeboard.api.guard import USER
from strikeboard.api.models import EXPIRY_CEILING, EXPIRY_FLOOR, UNDERLYING_PATTERN
from strikeboard.api.stores import Stores
from strikeboard.chain.alerts import EXPIRY_KINDS, Kind, Op, RuleError, Target
from strikeboard.config import Settings
from strikeboard.store import alerts as store_alerts

__all__ = ["AlertEvent", "AlertEvents", "AlertRule", "AlertRuleIn", "AlertRules",
           "add_alert_routes"]  # fmt: skip

KINDS = Literal["spot", "ltp", "iv", "oi", "oi_change", "pcr", "max_pain"]
OPS = Literal["crosses_above", "crosses_below"]
MAX_ABS: Final = 1e12
_POSITIVE: Final[dict[str, float]] = {"exclusiveMinimum": 0}
LEVELS: Final[dict[Kind, dict[str, float]]] = {
    Kind.SPOT: _POSITIVE, Kind.LTP: _POSITIVE, Kind.MAX_PAIN: _POSITIVE,
    Kind.IV: {"exclusiveMinimum": 0, "maximum": 5}, Kind.PCR: {"exclusiveMinimum": 0,
    "maximum": 100}, Kind.OI: {"minimum": 0}, Kind.OI_CHANGE: {},
}  # fmt: skip
"""The levels each kind can cross (beyond `AlertRuleIn.level`'s own bounds): in the schema
and checked by `AlertRuleIn` alike."""


def _level_problem(kind: Kind, level: float) -> str | None:
    """Why ``level`` cannot be crossed by a ``kind`` (None: it can)."""
    bounds = LEVELS[kind]
    if level <= bounds.get("exclusiveMinimum", -math.inf) or level < bounds.get(
        "minimum", -math.inf
    ) or level > bounds.get("maximum", math.inf):  # fmt: skip
        if kind is Kind.IV:
            return "an IV level is a fraction above 0 and at most 5 (0.15 is 15 %)"
        low = "above 0" if "exclusiveMinimum" in bounds else "0 or more"
        high = f" and at most {bounds['maximum']:g}" if "maximum" in bounds else ""
        return f"a {kind.value} level must be {low}{high}"
    return None


def _kinds_schema() -> list[dict[str, Any]]:
    """Each kind with the fields it needs and the levels it takes, as JSON schema (so that
    a client, or schemathesis, knows what `AlertRuleIn._complete` accepts)."""
    none = {"type": "null"}
    out = []
    for kind in Kind:
        props: dict[str, Any] = {"kind": {"const": kind.value}, "level": LEVELS[kind]}
        required = ["kind"]
        if kind is Kind.SPOT:
            props |= {"expiry": none, "strike": none, "option_type": none}
        elif kind in EXPIRY_KINDS:
            props |= {"expiry": {"type": "string"}, "strike": none, "option_type": none}
            required.append("expiry")
        else:
            props |= {"expiry": {"type": "string"}, "strike": {"type": "number"},
                      "option_type": {"type": "string"}}  # fmt: skip
            required += ["expiry", "strike", "option_type"]
        out.append({"properties": props, "required": required})
    return out


def _declare_kinds(schema: dict[str, Any]) -> None:
    schema["anyOf"] = _kinds_schema()


class AlertRuleIn(BaseModel):
    """A new rule: what it watches (``kind`` and, for a contract, ``expiry``, ``strike`` and
    ``option_type``; for PCR and max pain, ``expiry``), which way (``op``) across which
    ``level``. IV levels are fractions, as the chain's IVs (0.15 = 15 %)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_declare_kinds)

    kind: KINDS
    underlying: str | None = Field(
        None, pattern=UNDERLYING_PATTERN, description="One of UNDERLYINGS; null: the first."
    )
    expiry: date | None = Field(
        None, ge=EXPIRY_FLOOR, le=EXPIRY_CEILING, description="Contract, PCR and max pain "
        "rules; one that is past is a 404.",
        json_schema_extra={"pattern": r"^(20[0-9]{2}|2100)-"},
    )  # fmt: skip
    strike: float | None = Field(None, gt=0, le=1_000_000, allow_inf_nan=False)
    option_type: Literal["CE", "PE"] | None = None
    op: OPS
    level: float = Field(ge=-MAX_ABS, le=MAX_ABS, allow_inf_nan=False)
    hysteresis: float = Field(
        0.0, ge=0, le=MAX_ABS, allow_inf_nan=False,
        description="How far back beyond the level the value must go before the rule can "
        "fire again (0: back across the level itself).",
    )  # fmt: skip
    email: bool = Field(False, description="Also e-mail it (when the deployment has a topic).")
    note: str = Field("", max_length=80, pattern=r"^[^\x00-\x1f]*$")

    @model_validator(mode="after")
    def _complete(self) -> AlertRuleIn:
        kind = Kind(self.kind)
        try:
            Target(kind, self.underlying or "NIFTY",
                   self.expiry.isoformat() if self.expiry else None, self.strike,
                   self.option_type)  # fmt: skip
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        problem = _level_problem(kind, self.level)
        if problem is not None:
            raise ValueError(problem)
        return self


def _rule_model(followed: list[str], email: bool) -> type[AlertRuleIn]:
    """`AlertRuleIn` with this deployment's choices in its schema: the followed underlyings
    (another is a 400, as everywhere), and e-mail only when there is a topic (else a 422)."""

    def declare(schema: dict[str, Any]) -> None:
        _declare_kinds(schema)
        props = schema["properties"]
        props["underlying"]["anyOf"] = [{"type": "string", "enum": followed}, {"type": "null"}]
        if not email:
            props["email"]["enum"] = [False]

    config = ConfigDict(extra="forbid", json_schema_extra=declare)
    # Named as the base: the schema's component stays "AlertRuleIn".
    namespace = {"model_config": config, "__module__": __name__}
    model: type[AlertRuleIn] = type("AlertRuleIn", (AlertRuleIn,), namespace)
    return model


class _Watched(BaseModel):
    """What a rule watches and how: shared by rules and their fired alerts."""

    kind: KINDS
    underlying: str
    expiry: date | None
    strike: float | None
    option_type: Literal["CE", "PE"] | None
    op: OPS
    level: float


class AlertRule(_Watched):
    """A stored rule and where it stands: ``armed`` (null until the evaluator saw a first
    value; false while the value stays across after a fire), the ``side`` of the level the
    value was on and ``last_value`` as of ``observed_at`` (its last change of state),
    ``crossings`` (times fired)."""

    id: int
    hysteresis: float
    email: bool
    note: str
    created_at: datetime
    armed: bool | None
    side: Literal["above", "below"] | None
    last_value: float | None
    observed_at: datetime | None
    crossings: int


class AlertRules(BaseModel):
    rules: list[AlertRule]
    max_rules: int = Field(description="How many rules a user may have (ALERTS_MAX_RULES).")
    email: bool = Field(description="Whether this deployment e-mails alerts (ALERTS_TOPIC_ARN).")


class AlertEvent(_Watched):
    """A fired alert: the rule as it was, the value that crossed (``previous``: the value
    seen before it), at the market's time ``fired_at``."""

    id: int
    rule_id: int
    crossing: int
    value: float
    previous: float | None
    text: str
    note: str
    email: bool
    fired_at: datetime
    pushed_at: datetime | None
    emailed_at: datetime | None


class AlertEvents(BaseModel):
    events: list[AlertEvent]
    next: int | None = Field(description="Pass as `before` for the next (older) page.")


def _invalid(message: str) -> RequestValidationError:
    """A 422 in the API's one-sentence form (errors.add_error_handlers)."""
    return RequestValidationError([{"loc": ("body",), "msg": message}])


def _public(doc: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k in model.model_fields}


def add_alert_routes(
    api: APIRouter, settings: Settings, store: Stores, clock: Callable[[], datetime]
) -> None:
    """Adds the alert routes to the authenticated router ``api``."""
    email_on = bool(settings.alerts_topic_arn)
    rule_in = _rule_model([u.name for u in settings.underlying_list], email_on)

    @api.get("/alerts", response_model=AlertRules, tags=["alerts"])
    def list_alerts(principal: USER) -> dict[str, Any]:
        """The caller's rules, oldest first, with the cap and whether e-mail is offered."""
        rules = store_alerts.list_rules(store.rows, principal.user_id)
        return {"rules": [_public(r, AlertRule) for r in rules],
                "max_rules": settings.alerts_max_rules, "email": email_on}  # fmt: skip

    def create_alert(body: AlertRuleIn, principal: USER) -> dict[str, Any]:
        """Store a rule (422: incomplete, a level its kind cannot take, the cap reached,
        e-mail asked where none is configured; 404: an expiry that is past); it is live
        within seconds."""
        underlying = followed_name(settings, body.underlying)
        if body.expiry is not None and body.expiry < clock().date():
            raise NotFoundError(f"expiry {body.expiry} is past: nothing left to watch")
        if body.email and not email_on:
            raise _invalid("e-mail alerts are not configured on this deployment")
        target = Target(Kind(body.kind), underlying,
                        body.expiry.isoformat() if body.expiry else None, body.strike,
                        body.option_type)  # fmt: skip
        made = store_alerts.create_rule(
            store.rows, principal.user_id, target, Op(body.op), body.level,
            hysteresis=body.hysteresis, email=body.email, note=body.note,
            cap=settings.alerts_max_rules,
        )  # fmt: skip
        if made is None:
            raise _invalid(f"at most {settings.alerts_max_rules} alert rules: delete one first")
        return _public(made, AlertRule)

    # FastAPI reads the body's model from the annotation: this deployment's (`_rule_model`).
    create_alert.__annotations__["body"] = rule_in
    api.post("/alerts", response_model=AlertRule, status_code=201, tags=["alerts"])(create_alert)

    @api.delete("/alerts/{rule_id}", status_code=204, response_class=Response, tags=["alerts"])
    def delete_alert(rule_id: Annotated[int, Path(gt=0, lt=2**63)], principal: USER) -> Response:
        """Delete one of the caller's rules (its fired alerts stay listed); 404 if none."""
        if not store_alerts.delete_rule(store.rows, principal.user_id, rule_id):
            raise NotFoundError(f"no alert rule {rule_id}")
        return Response(status_code=204)

    @api.get("/alerts/events", response_model=AlertEvents, tags=["alerts"])
    def alert_events(
        principal: USER,
        before: Annotated[
            int | None, Query(gt=0, lt=2**63, description="`next` of the previous page.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """The caller's fired alerts, newest first, a page at a time."""
        events, after = store_alerts.list_events(store.rows, principal.user_id, before, limit)
        return {"events": [_public(e, AlertEvent) for e in events], "next": after}
