"""The alert routes' models (`strikeboard.api.routes.alerts`, docs/alerts.md).

A rule is checked here (422 with the reason: a kind without the fields it reads, a level that
kind cannot take, an expiry already past, more than ALERTS_MAX_RULES rules) and stored; the
feed's evaluator picks it up within ALERTS_REFRESH_S and fires it once per crossing. Rules are
never edited: delete one and create another. Fired alerts stay listed after their rule is
deleted.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from strikeboard.api.models import EXPIRY_CEILING, EXPIRY_FLOOR, UNDERLYING_PATTERN
from strikeboard.chain.alerts import EXPIRY_KINDS, Kind, RuleError, Target

__all__ = ["AlertEmail", "AlertEmailIn", "AlertEvent", "AlertEvents", "AlertRule",
           "AlertRuleIn", "AlertRules", "declare_rule_choices", "email_problem"]  # fmt: skip

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


def declare_rule_choices(schema: dict[str, Any], followed: list[str], email: bool) -> None:
    """This deployment's choices in the OpenAPI schema's `AlertRuleIn`: the followed
    underlyings (another is a 400, as everywhere), and e-mail only when there is a topic
    (else a 422)."""
    props = schema["components"]["schemas"]["AlertRuleIn"]["properties"]
    props["underlying"]["anyOf"] = [{"type": "string", "enum": followed}, {"type": "null"}]
    if not email:
        props["email"]["enum"] = [False]


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


EMAIL_PATTERN: Final = (
    r"^[^@\s\"(),:;<>\[\\\]]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}$"
)
"""What `AlertEmailIn` takes as an address: a local part without spaces, quotes or brackets,
and a domain of DNS labels (an internationalised one in its xn-- form). Deliberately loose
(SNS and the confirmation mail are the real check), but a typo such as a missing ``@`` or a
trailing dot is a 422 here, not a subscription nobody can confirm."""
_EMAIL = re.compile(EMAIL_PATTERN)


def email_problem(address: str) -> str | None:
    """Why ``address`` cannot be subscribed (None: it can). The reason never repeats the
    address (422 answers are logged by API Gateway)."""
    if len(address) > 254:
        return "an e-mail address has at most 254 characters"
    if not _EMAIL.match(address):
        return "not an e-mail address (name@example.com)"
    return None


class AlertEmailIn(BaseModel):
    """Where to e-mail the caller's alerts (the rules with ``email: true``)."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(
        None, max_length=254, description="The address to subscribe; null: the verified "
        "e-mail of the caller's token (`token_address` of GET /alerts/email).",
        json_schema_extra={"pattern": EMAIL_PATTERN},
    )  # fmt: skip

    @model_validator(mode="after")
    def _address(self) -> AlertEmailIn:
        if self.address is not None:
            self.address = self.address.strip()
            problem = email_problem(self.address)
            if problem is not None:
                raise ValueError(problem)
        return self


class AlertEmail(BaseModel):
    """The caller's e-mail subscription. The API records requests; the feed performs them
    with SNS within seconds (docs/alerts.md "E-mail subscriptions"): ``requested`` (the feed
    has not subscribed the address yet), ``pending`` (SNS mailed a confirmation link that was
    not followed yet: nothing is mailed until it is), ``confirmed``, ``none``."""

    state: Literal["none", "requested", "pending", "confirmed"]
    address: str | None = Field(
        description="The address: whole while requested, masked (t***@example.com) once the "
        "feed has subscribed it (null: none)."
    )
    token_address: str | None = Field(
        description="The verified e-mail of the caller's token, the default of PUT (null: "
        "the token carries none, as Cognito access tokens)."
    )
    problem: str | None = Field(
        None, description="Why the last request is not done: SNS refused the address (state "
        "none), or failed and the feed retries (state requested)."
    )  # fmt: skip
