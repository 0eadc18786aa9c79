"""Fault injection (issue 20): the rules, how a request or a message is matched against them, and when a rule fires —
the one rule book of a process, shared by the gateway's pipeline (``services.shep_gateway.usecases.chaos``) and every
service's HTTP edge (``shared.web.chaos_http``). Every fault fired is a journal entry (kind ``fault``).

It lives in ``mesh`` (not ``web``) because the gateway's pipeline fires its rules far from any HTTP request, and the
journal it records into is here too.

A rule fires with its ``probability``, drawn from a generator of its own seeded by ``seed`` (one is chosen and
answered back when none is given): the same rules over the same traffic fire on the same messages, so a run repeats.
``times`` ends a rule after that many matches (fired or not: "the next N"); ``forS`` after that many seconds of wall
time — not the mesh clock, which tests jump by days: a fault's life is the test run's, not the simulated calendar's.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from shared.errors import MeshError
from shared.mesh.journal import Journal

KINDS = ("delay", "drop", "duplicate", "reorder", "corrupt-signature", "tamper-payload", "error", "down", "slow")
INGRESS_KINDS = frozenset({"corrupt-signature", "tamper-payload", "error"})
"""Fired on a message as it enters the gateway, before its checks: the gateway's own checks then refuse it."""
DELIVERY_KINDS = frozenset({"delay", "drop", "duplicate", "reorder", "down", "slow"})
"""Fired on a delivery as the gateway publishes it to its recipient, after it was logged and tracked."""
EDGE_KINDS = frozenset({"delay", "slow", "error"})
"""What an HTTP edge can do to a request: hold it, or answer for the route."""
GATEWAY_MATCH = frozenset({"serviceId", "sender", "recipient", "messageType", "correlationId", "district"})
EDGE_MATCH = frozenset({"route", "method", "correlationId"})
MAX_DELAY_MS = 600_000
SLOW_DEFAULT_MS = 2000
REORDER_HOLD_MS = 5000
GATEWAY = "gateway"
EDGE_PREFIX = "http:"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True,
                              serialize_by_alias=True)


class Distribution(_Closed):
    """A delay drawn per fired fault: ``uniform`` between ``minMs`` and ``maxMs``, or ``exponential`` with mean
    ``meanMs`` (capped at ``maxMs``)."""

    kind: Literal["uniform", "exponential"]
    min_ms: int = Field(default=0, ge=0, le=MAX_DELAY_MS)
    max_ms: int = Field(default=MAX_DELAY_MS, ge=0, le=MAX_DELAY_MS)
    mean_ms: int | None = Field(default=None, gt=0, le=MAX_DELAY_MS)


class FaultIn(_Closed):
    kind: Literal["delay", "drop", "duplicate", "reorder", "corrupt-signature", "tamper-payload", "error", "down",
                  "slow"]
    delay_ms: int | None = Field(default=None, ge=0, le=MAX_DELAY_MS, description="delay, slow: a fixed delay")
    distribution: Distribution | None = Field(default=None, description="delay, slow: a drawn delay")
    hold_ms: int | None = Field(default=None, gt=0, le=MAX_DELAY_MS,
                                description="reorder: the longest a delivery is held back for the next to pass it")
    code: str | None = Field(default=None, description="error: a catalogued Server.* code")
    status: int | None = Field(default=None, description="error at an HTTP edge: the status (500-599), else the "
                               "code's")


class MatchIn(_Closed):
    """What a rule fires on; every field given must match (AND), compared as text. At the gateway: ``serviceId``,
    ``sender``, ``recipient``, ``messageType``, ``correlationId``, ``district`` (a member of that district sends or
    receives it: ``mio.<district>``); at an HTTP edge: ``route`` (its template), ``method``, ``correlationId`` (the
    ``X-Correlation-Id`` header)."""

    service_id: str | None = None
    sender: str | None = None
    recipient: str | None = None
    message_type: str | None = None
    correlation_id: str | None = None
    district: str | None = None
    route: str | None = None
    method: str | None = None

    def given(self) -> dict[str, str]:
        return {key: value for key, value in self.model_dump(by_alias=True).items() if value is not None}


class RuleIn(_Closed):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    where: str = Field(description="gateway (its pipeline) or http:<service> (that service's HTTP edge)")
    match: MatchIn = Field(default_factory=MatchIn)
    fault: FaultIn
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    times: int | None = Field(default=None, ge=1, description="the rule ends after this many matches")
    for_s: float | None = Field(default=None, gt=0, le=86_400, description="the rule ends after this many seconds "
                                "(wall time)")
    seed: int | None = Field(default=None, description="the rule's random generator (draws and delays); chosen "
                             "and answered when not given")


def parse_rule(raw: Any) -> RuleIn:
    """A rule from a request's JSON, each kind of bad input under its own code and nothing changed: an unknown field
    (``CHAOS_RULE_FIELD_UNKNOWN``), a probability outside 0–1 (``CHAOS_PROBABILITY_OUT_OF_RANGE``), anything else of
    the wrong shape (``CHAOS_RULE_INVALID``)."""
    try:
        rule = RuleIn.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [".".join(str(p) for p in e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
        if unknown:
            raise MeshError("CHAOS_RULE_FIELD_UNKNOWN", f"a rule has no field {', '.join(unknown)}",
                            details={"unknown": unknown}) from None
        if any(tuple(e["loc"]) == ("probability",) for e in errors):
            raise MeshError("CHAOS_PROBABILITY_OUT_OF_RANGE",
                            f"probability must be between 0 and 1, not {raw.get('probability')!r}") from None
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in errors]
        raise MeshError("CHAOS_RULE_INVALID", f"{problems[0]['field']}: {problems[0]['problem']}",
                        details={"problems": problems}) from None
    fault = rule.fault
    if fault.kind == "error" and not fault.code:
        raise MeshError("CHAOS_RULE_INVALID", "an error fault needs its code (a catalogued Server.* code)")
    if fault.kind != "error" and (fault.code or fault.status):
        raise MeshError("CHAOS_RULE_INVALID", f"code and status are an error fault's, not {fault.kind}'s")
    if fault.kind not in ("delay", "slow") and (fault.delay_ms is not None or fault.distribution is not None):
        raise MeshError("CHAOS_RULE_INVALID", f"delayMs and distribution are for delay and slow, not {fault.kind}")
    if fault.kind == "delay" and fault.delay_ms is None and fault.distribution is None:
        raise MeshError("CHAOS_RULE_INVALID", "a delay fault needs delayMs or a distribution")
    if fault.delay_ms is not None and fault.distribution is not None:
        raise MeshError("CHAOS_RULE_INVALID", "delayMs or a distribution, not both")
    spread = fault.distribution
    if spread is not None and spread.kind == "exponential" and spread.mean_ms is None:
        raise MeshError("CHAOS_RULE_INVALID", "an exponential distribution needs meanMs")
    if spread is not None and spread.min_ms > spread.max_ms:
        raise MeshError("CHAOS_RULE_INVALID", "a distribution's minMs is above its maxMs")
    if fault.hold_ms is not None and fault.kind != "reorder":
        raise MeshError("CHAOS_RULE_INVALID", f"holdMs is reorder's, not {fault.kind}'s")
    return rule


def check_error_code(fault: FaultIn, *, catalogue: Iterable[str], edge: bool) -> None:
    """An error fault answers a catalogued ``Server.*`` code (at an HTTP edge, with a 5xx status if one is given)."""
    if fault.kind != "error":
        return
    if fault.code not in set(catalogue) or not str(fault.code).startswith("Server."):
        raise MeshError("CHAOS_ERROR_CODE_UNKNOWN", f"{fault.code!r} is not a catalogued Server.* code")
    if fault.status is not None and (not edge or not 500 <= fault.status <= 599):
        raise MeshError("CHAOS_ERROR_CODE_UNKNOWN", "status is an HTTP edge's error fault's, 500-599"
                        if edge else "status is an HTTP edge's: at the gateway the code is the refusal")


def check_place(rule: RuleIn, *, kinds: frozenset[str], fields: frozenset[str], where: str) -> None:
    """The fault kind and every match field apply at ``where`` (``CHAOS_KIND_NOT_HERE``)."""
    if rule.fault.kind not in kinds:
        raise MeshError("CHAOS_KIND_NOT_HERE", f"{rule.fault.kind} cannot be injected at {where}: there the kinds "
                        f"are {', '.join(sorted(kinds))}")
    wrong = sorted(set(rule.match.given()) - fields)
    if wrong:
        raise MeshError("CHAOS_KIND_NOT_HERE", f"{', '.join(wrong)} cannot be matched at {where}: there the match "
                        f"fields are {', '.join(sorted(fields))}")


def _district_of(member: str | None, district: str) -> bool:
    return member is not None and (member == district or member.endswith(f".{district}"))


def matches(match: dict[str, str], facts: dict[str, str | None]) -> bool:
    """Every field of ``match`` holds for ``facts`` (what is known of the message or request)."""
    for key, wanted in match.items():
        if key == "district":
            if not (_district_of(facts.get("sender"), wanted) or _district_of(facts.get("recipient"), wanted)):
                return False
        elif key == "method":
            if str(facts.get("method") or "").upper() != wanted.upper():
                return False
        elif facts.get(key) != wanted:
            return False
    return True


@dataclass
class Rule:
    """A rule in place: its spec (id and seed filled), its generator, and what it has done."""

    spec: RuleIn
    rng: random.Random
    started: float = field(default_factory=time.monotonic)
    matched: int = 0
    fired: int = 0
    removed: bool = False

    @property
    def id(self) -> str:
        assert self.spec.id is not None
        return self.spec.id

    @property
    def kind(self) -> str:
        return self.spec.fault.kind

    def ends_in_s(self) -> float | None:
        if self.spec.for_s is None:
            return None
        return max(0.0, self.started + self.spec.for_s - time.monotonic())

    @property
    def active(self) -> bool:
        if self.removed or (self.spec.times is not None and self.matched >= self.spec.times):
            return False
        left = self.ends_in_s()
        return left is None or left > 0

    def decide(self) -> bool:
        """One match: counted, and fired with the rule's probability (a ``down`` member is down for every delivery
        while its rule lasts). One draw a match whatever the probability, so the draws line up run after run."""
        self.matched += 1
        draw = self.rng.random()
        fire = self.kind == "down" or draw < self.spec.probability
        if fire:
            self.fired += 1
        return fire

    def delay_s(self) -> float:
        """The delay this firing holds for: fixed, or drawn from the rule's distribution by its generator."""
        fault = self.spec.fault
        if fault.kind == "reorder":
            return (fault.hold_ms or REORDER_HOLD_MS) / 1000
        if fault.delay_ms is not None:
            return fault.delay_ms / 1000
        spread = fault.distribution
        if spread is None:
            return SLOW_DEFAULT_MS / 1000
        if spread.kind == "uniform":
            return self.rng.uniform(spread.min_ms, spread.max_ms) / 1000
        assert spread.mean_ms is not None
        drawn = -math.log(1.0 - self.rng.random()) * spread.mean_ms
        return min(max(drawn, spread.min_ms), spread.max_ms) / 1000

    def summary(self) -> dict[str, Any]:
        return {**self.spec.model_dump(by_alias=True, exclude_none=True), "active": self.active,
                "matched": self.matched, "fired": self.fired, "endsInS": self.ends_in_s()}


class ChaosBook:
    """The rules of one process, in the order they were added (the first that fires wins), and the journal every
    fired fault goes into."""

    def __init__(self, *, journal: Journal) -> None:
        self.journal = journal
        self._rules: dict[str, Rule] = {}
        self.on_end: list[Callable[[Rule], None]] = []  # told when a rule is removed (a down member's held deliveries)

    def add(self, spec: RuleIn) -> Rule:
        rule_id = spec.id or f"fault-{secrets.token_hex(4)}"
        if rule_id in self._rules:
            raise MeshError("CHAOS_RULE_EXISTS", f"a rule {rule_id!r} is in place already: remove it first")
        seed = spec.seed if spec.seed is not None else secrets.randbits(32)
        spec = spec.model_copy(update={"id": rule_id, "seed": seed})
        rule = Rule(spec=spec, rng=random.Random(seed))  # noqa: S311 — a repeatable draw, not a secret
        self._rules[rule_id] = rule
        return rule

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def remove(self, rule_id: str) -> Rule:
        rule = self._rules.pop(rule_id, None)
        if rule is None:
            raise MeshError("CHAOS_RULE_NOT_FOUND", f"no fault-injection rule {rule_id!r}")
        self.ended(rule)
        return rule

    def ended(self, rule: Rule) -> None:
        rule.removed = rule.removed or rule.id not in self._rules
        for listener in self.on_end:
            listener(rule)

    def clear(self) -> list[Rule]:
        return [self.remove(rule_id) for rule_id in list(self._rules)]

    def rules(self) -> list[Rule]:
        return list(self._rules.values())

    def firing(self, *, where: str, kinds: frozenset[str], facts: dict[str, str | None],
               explicit: dict[str, str] | None = None) -> Rule | None:
        """The first active rule at ``where`` of one of ``kinds`` matching ``facts`` that fires now, if any (every
        rule that matched on the way counts the match). ``explicit``: fields a rule must name to fire at all."""
        for rule in list(self._rules.values()):
            if rule.spec.where != where or rule.kind not in kinds or not rule.active:
                continue
            given = rule.spec.match.given()
            if not matches(given, facts) or any(given.get(k) != v for k, v in (explicit or {}).items()):
                continue
            fired = rule.decide()
            if not rule.active:
                self.ended(rule)
            if fired:
                return rule
        return None

    def record(self, rule: Rule, *, stage: str, reason: str, **fields: Any) -> None:
        """The journal entry of a fired fault: the rule, where it fired, and the message or request it hit."""
        self.journal.record("fault", ruleId=rule.id, fault=rule.kind, where=rule.spec.where, stage=stage,
                            reason=reason, outcome="fired", **fields)
