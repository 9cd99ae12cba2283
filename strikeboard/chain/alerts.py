"""Alert rules and their evaluation against the live chain documents (pure: no I/O, no clock).

A rule watches one number of the chain: the spot of an underlying, a contract's LTP, IV, OI or
change in OI (underlying, expiry, strike, CE/PE), or an expiry's PCR (OI) or max pain; and fires
when that number *crosses* a level, above or below. Each rule fires once per crossing:

- the first value seen only tells on which side the number is (a rule made while spot is
  already above its level does not fire for that: it fires when spot next crosses it);
- a rule that fired is disarmed while the value stays across, and re-armed once it has gone
  back beyond the level by ``hysteresis`` (0: back below the level itself, for a
  crosses-above rule), so a number hovering around its level fires once, not on every tick;
- a missing value (None: no trade yet, an IV that did not solve) changes nothing.

`step` is that state machine for one rule and one value; `AlertBook` holds a set of rules with
their states, indexed by the document they read, and evaluates the documents of a cycle. What
changed (a fire, or a rule armed or disarmed) comes back as `Change`s for the caller to
persist: the state is what a restarted evaluator continues from (docs/alerts.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "CONTRACT_KINDS",
    "EXPIRY_KINDS",
    "AlertBook",
    "Change",
    "Kind",
    "Op",
    "Rule",
    "RuleError",
    "RuleState",
    "Target",
    "describe",
    "step",
    "strike_key",
]

JSONDict = dict[str, Any]


class Kind(StrEnum):
    """What a rule watches."""

    SPOT = "spot"
    LTP = "ltp"
    IV = "iv"
    OI = "oi"
    OI_CHANGE = "oi_change"
    PCR = "pcr"
    MAX_PAIN = "max_pain"


class Op(StrEnum):
    CROSSES_ABOVE = "crosses_above"
    CROSSES_BELOW = "crosses_below"


CONTRACT_KINDS: Final = frozenset({Kind.LTP, Kind.IV, Kind.OI, Kind.OI_CHANGE})
"""Kinds read from one leg: they need an expiry, a strike and an option type."""
EXPIRY_KINDS: Final = frozenset({Kind.PCR, Kind.MAX_PAIN})
"""Kinds read from an expiry's aggregates: they need an expiry, no strike."""
_AGGREGATE: Final = {Kind.PCR: "pcr_oi", Kind.MAX_PAIN: "max_pain"}
_LEG_FIELD: Final = {Kind.LTP: "ltp", Kind.IV: "iv", Kind.OI: "oi", Kind.OI_CHANGE: "oi_change"}
_LABEL: Final = {Kind.SPOT: "spot", Kind.LTP: "LTP", Kind.IV: "IV", Kind.OI: "OI",
                 Kind.OI_CHANGE: "change in OI", Kind.PCR: "PCR (OI)",
                 Kind.MAX_PAIN: "max pain"}  # fmt: skip


_SPOT, _AGG, _LEG = 0, 1, 2


class RuleError(ValueError):
    """A rule that cannot be evaluated (a strike without an expiry, an unknown kind...)."""


def strike_key(strike: float) -> str:
    """A strike's key in a chain document's ``strikes`` (as `chain.snapshot` writes it)."""
    return f"{strike:g}"


@dataclass(frozen=True, slots=True)
class Target:
    """The number a rule watches. ``expiry`` is an ISO date; IV is the document's (a
    fraction: 0.15 is 15 %)."""

    kind: Kind
    underlying: str
    expiry: str | None = None
    strike: float | None = None
    option_type: str | None = None
    # Where `read` looks, worked out once (a cycle reads every rule: ~0.3 µs a rule saved).
    _path: tuple[int, str, str] = field(init=False, repr=False, compare=False, default=(0, "", ""))

    def __post_init__(self) -> None:
        self._check()
        kind = self.kind
        if kind is Kind.SPOT:
            path = (_SPOT, "spot", "")
        elif kind in EXPIRY_KINDS:
            path = (_AGG, _AGGREGATE[kind], "")
        else:
            assert self.strike is not None and self.option_type is not None
            path = (_LEG, strike_key(self.strike), self.option_type)
        object.__setattr__(self, "_path", path)

    def _check(self) -> None:
        kind = self.kind
        if not self.underlying:
            raise RuleError("a rule needs an underlying")
        if kind is Kind.SPOT:
            if self.expiry is not None or self.strike is not None or self.option_type is not None:
                raise RuleError("a spot rule takes no expiry, strike or option_type")
            return
        if self.expiry is None:
            raise RuleError(f"a {kind.value} rule needs an expiry")
        try:
            date.fromisoformat(self.expiry)
        except ValueError:
            raise RuleError(f"expiry {self.expiry!r} is not an ISO date") from None
        if kind in EXPIRY_KINDS:
            if self.strike is not None or self.option_type is not None:
                raise RuleError(f"a {kind.value} rule takes no strike or option_type")
            return
        if self.strike is None or not math.isfinite(self.strike) or self.strike <= 0:
            raise RuleError(f"a {kind.value} rule needs a positive strike")
        if self.option_type not in ("CE", "PE"):
            raise RuleError(f"a {kind.value} rule needs option_type CE or PE")

    @property
    def document(self) -> tuple[str, str] | None:
        """The (underlying, expiry) document it reads; None for spot (any of the underlying)."""
        return None if self.expiry is None else (self.underlying, self.expiry)

    def read(self, doc: Mapping[str, Any]) -> float | None:
        """Its value in a chain document of its underlying (and expiry), None when missing."""
        where, name, side = self._path
        value: Any
        if where == _SPOT:
            value = doc.get(name)
        elif where == _AGG:
            agg = doc.get("aggregates")
            value = agg.get(name) if agg else None
        else:
            strikes = doc.get("strikes")
            row = strikes.get(name) if strikes else None
            leg = row.get(side) if row else None
            value = leg.get(_LEG_FIELD[self.kind]) if leg else None
        kind_of = type(value)  # exact types: a bool is no number here
        if kind_of is float:
            return value if math.isfinite(value) else None
        return float(value) if kind_of is int else None

    def label(self) -> str:
        """E.g. ``NIFTY spot``, ``NIFTY 2026-12-01 24500 CE IV``, ``NIFTY 2026-12-01 PCR (OI)``."""
        parts = [self.underlying]
        if self.expiry is not None:
            parts.append(self.expiry)
        if self.strike is not None:
            parts.append(strike_key(self.strike))
        if self.option_type is not None:
            parts.append(self.option_type)
        parts.append(_LABEL[self.kind])
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    user_id: str
    target: Target
    op: Op
    level: float
    hysteresis: float = 0.0
    """How far back beyond the level the value must go to re-arm the rule (>= 0)."""
    email: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.level):
            raise RuleError("level must be a finite number")
        if not (math.isfinite(self.hysteresis) and self.hysteresis >= 0):
            raise RuleError("hysteresis must be a finite number >= 0")

    def reached(self, value: float) -> bool:
        """The value is across the level (the side a crossing fires on)."""
        return value >= self.level if self.op is Op.CROSSES_ABOVE else value <= self.level

    def rearms(self, value: float) -> bool:
        """The value is back beyond the level by the hysteresis."""
        if self.op is Op.CROSSES_ABOVE:
            return value < self.level - self.hysteresis
        return value > self.level + self.hysteresis


@dataclass(frozen=True, slots=True)
class RuleState:
    """Where a rule stands: ``armed`` None until a first value was seen; ``crossings`` the
    number of times it fired (the next fire is crossing ``crossings + 1``); ``value`` the last
    value seen."""

    armed: bool | None = None
    crossings: int = 0
    value: float | None = None


def step(rule: Rule, state: RuleState, value: float | None) -> tuple[RuleState, bool]:
    """The rule's state after seeing ``value``, and whether it fired."""
    if value is None or not math.isfinite(value):
        return state, False
    if state.armed is None:  # the first look: which side, no fire
        return RuleState(not rule.reached(value), state.crossings, value), False
    if state.armed:
        if rule.reached(value):
            return RuleState(False, state.crossings + 1, value), True
        return RuleState(True, state.crossings, value), False
    return RuleState(rule.rearms(value), state.crossings, value), False


@dataclass(frozen=True, slots=True)
class Change:
    """A rule's state moved: fired (``fired``; its crossing is ``after.crossings``), or armed,
    or disarmed. ``before.value`` is the previous value seen."""

    rule: Rule
    before: RuleState
    after: RuleState
    fired: bool

    @property
    def side(self) -> str:
        """Where the value is against the level: ``above`` (at or over it) or ``below``."""
        value = self.after.value
        return "above" if value is not None and value >= self.rule.level else "below"


def describe(rule: Rule, value: float) -> str:
    """One line for a fired rule, e.g. ``NIFTY spot crossed above 24500 (24512.35)``
    (numbers to 10 significant digits: a price keeps its paise)."""
    verb = "crossed above" if rule.op is Op.CROSSES_ABOVE else "crossed below"
    return f"{rule.target.label()} {verb} {rule.level:.10g} ({value:.10g})"


@dataclass(slots=True)
class _Entry:
    """A rule with its state held loose: a cycle updates ``value`` in place, and builds
    `RuleState`s only for a change."""

    rule: Rule
    armed: bool | None
    crossings: int
    value: float | None

    @classmethod
    def of(cls, rule: Rule, state: RuleState) -> _Entry:
        return cls(rule, state.armed, state.crossings, state.value)

    @property
    def state(self) -> RuleState:
        return RuleState(self.armed, self.crossings, self.value)


@dataclass
class AlertBook:
    """Rules and their states, indexed by the document they read. Not thread-safe."""

    entries: dict[int, _Entry] = field(default_factory=dict)
    _by_doc: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict)
    _by_spot: dict[str, list[_Entry]] = field(default_factory=dict)
    evaluated: int = 0
    """Rules looked at by `observe`, all cycles together (each rule once per document it
    reads): the health's ``alerts.evaluated``."""

    def __len__(self) -> int:
        return len(self.entries)

    def state(self, rule_id: int) -> RuleState | None:
        entry = self.entries.get(rule_id)
        return entry.state if entry else None

    def replace(self, rules: Iterable[tuple[Rule, RuleState]]) -> None:
        """The rule set is now ``rules``. A rule already held keeps its own state (it is at
        least as new as a stored one: the caller persists what this book decided); a new
        one starts from the state given."""
        entries: dict[int, _Entry] = {}
        for rule, state in rules:
            held = self.entries.get(rule.id)
            keep = held is not None and held.rule == rule
            entries[rule.id] = held if keep and held is not None else _Entry.of(rule, state)
        self.entries = entries
        self._by_doc, self._by_spot = {}, {}
        for entry in entries.values():
            target = entry.rule.target
            where = target.document
            if where is None:
                self._by_spot.setdefault(target.underlying, []).append(entry)
            else:
                self._by_doc.setdefault(where, []).append(entry)

    def reset(self, rule_id: int, state: RuleState) -> None:
        """Take the stored state of one rule (another writer moved it)."""
        entry = self.entries.get(rule_id)
        if entry is not None:
            entry.armed, entry.crossings, entry.value = state.armed, state.crossings, state.value

    def observe(self, docs: Iterable[Mapping[str, Any]]) -> list[Change]:
        """Evaluate the rules reading these chain documents (a cycle's changed expiries);
        spot rules once per underlying, from its first document."""
        changes: list[Change] = []
        spot_seen: set[str] = set()
        for doc in docs:
            underlying = doc.get("underlying")
            if not isinstance(underlying, str):
                continue
            targets = self._by_doc.get((underlying, str(doc.get("expiry"))), [])
            if underlying not in spot_seen:
                spot_seen.add(underlying)
                targets = [*targets, *self._by_spot.get(underlying, [])]
            self.evaluated += len(targets)
            for entry in targets:
                rule = entry.rule
                value = rule.target.read(doc)
                if value is None:
                    continue
                armed = entry.armed
                # Most cycles nothing moves: the value stays on its side (what `step` would
                # return, without building its states).
                if (armed is True and not rule.reached(value)) or (
                    armed is False and not rule.rearms(value)
                ):
                    entry.value = value
                    continue
                before = entry.state
                after, fired = step(rule, before, value)
                entry.armed, entry.crossings, entry.value = after.armed, after.crossings, value
                changes.append(Change(rule, before, after, fired))
        return changes
