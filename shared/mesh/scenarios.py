"""Scenarios per flow: a registered outcome (ГБД ФЛ answers «нет данных», ИС МИО refuses on a named ground, …) that
one flow names, so tests running side by side on the same district never force each other's outcomes (issue 20).

Why a flow carries an id and not its rules: the gateway is the only party trusted to say what a scenario forces.
The admin registers a scenario at the gateway (``POST /admin/scenarios``: an unguessable id, its rules, a TTL); a
submission names it (HTTP ``X-Mesh-Scenario``), the member's messages of that flow carry the id in an AMQP header
(``x-mesh-scenario``, outside the signed envelope, as ``traceparent`` travels), and the gateway, having checked the id,
delivers the rules beside it (``x-mesh-scenario-rules``) on what it seals. A member acts on rules only as the gateway
delivered them: an id alone forces nothing, and no caller can name rules of its own.

Within a member the scenario of the message being handled is a context variable (``using``), set by the consumer
(``shared.mesh.dead_letters.guarded``) and by what outlives the message (ИС МИО keeps a case's scenario with the
application, as it keeps its trace); every message made while it is set carries its id (``with_scenario``, called by
``OutgoingMessage``), exactly as a message made in a span carries its trace.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from shared.errors import MeshError

HTTP_HEADER = "X-Mesh-Scenario"  # on a submission to the portal or ИС ЦОН
H_SCENARIO = "x-mesh-scenario"  # AMQP: the id a member's message names
H_SCENARIO_RULES = "x-mesh-scenario-rules"  # AMQP: the rules, set by the gateway on what it delivers
ID_PATTERN = re.compile(r"^scn-[A-Za-z0-9_-]{22}$")

# The grounds ИС МИО's simulated staff refuse on (their texts are ИС МИО's own: its domain's FORCED_GROUNDS).
MIO_GROUNDS = ("identity", "deceased", "under-16", "already-registered", "already-unemployed", "employed",
               "student", "pensioner", "no-card")
_STEP = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
RULE_GRAMMAR = ("gbdfl:no-data", "gbdfl:timeout", "mio:refuse:<ground>", "mio:overdue:<step>", "nuc:revoked")


@dataclass(frozen=True)
class Rule:
    system: str  # gbdfl, mio, nuc
    kind: str  # no-data, timeout, refuse, overdue, revoked
    argument: str | None = None  # the ground, the step

    def __str__(self) -> str:
        return ":".join(p for p in (self.system, self.kind, self.argument) if p is not None)


def _unknown(text: str, why: str) -> MeshError:
    return MeshError("SCENARIO_RULE_UNKNOWN", f"{text!r}: {why}; the rules are {', '.join(RULE_GRAMMAR)} "
                     f"(grounds: {', '.join(MIO_GROUNDS)})")


def parse_rule(text: str) -> Rule:
    """One rule as the admin writes it (``gbdfl:no-data``, ``mio:refuse:employed``), or ``SCENARIO_RULE_UNKNOWN``."""
    system, _, rest = text.strip().partition(":")
    kind, _, argument = rest.partition(":")
    plain = {("gbdfl", "no-data"), ("gbdfl", "timeout"), ("nuc", "revoked")}
    if (system, kind) in plain and not argument:
        return Rule(system, kind)
    if (system, kind) == ("mio", "refuse"):
        if argument not in MIO_GROUNDS:
            raise _unknown(text, "not a ground ИС МИО refuses on")
        return Rule(system, kind, argument)
    if (system, kind) == ("mio", "overdue"):
        if not _STEP.match(argument):
            raise _unknown(text, "not a step id (a regulation's step, e.g. register, decide)")
        return Rule(system, kind, argument)
    raise _unknown(text, "not a rule of the mesh")


def parse_rules(texts: list[str]) -> tuple[Rule, ...]:
    """Every rule, at most one per system and kind (two answers for one question would contradict each other)."""
    rules = tuple(parse_rule(t) for t in texts)
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        if (rule.system, rule.kind) in seen or (rule.system == "gbdfl" and ("gbdfl", "*") in seen):
            raise _unknown(str(rule), "a second rule for the same answer")
        seen.add((rule.system, rule.kind))
        if rule.system == "gbdfl":  # no-data and timeout are two answers to one question
            seen.add(("gbdfl", "*"))
    return rules


@dataclass(frozen=True)
class FlowScenario:
    """The scenario a flow runs under: its id and (as the gateway delivered them) its rules."""

    id: str
    rules: tuple[Rule, ...] = ()

    def rule(self, system: str, kind: str) -> Rule | None:
        return next((r for r in self.rules if r.system == system and r.kind == kind), None)

    def stored(self) -> dict[str, Any]:
        """What a member keeps with what outlives the message (ИС МИО's application)."""
        return {"id": self.id, "rules": [str(r) for r in self.rules]}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> FlowScenario | None:
        if not stored or not isinstance(stored.get("id"), str):
            return None
        return cls(id=stored["id"], rules=_lenient(stored.get("rules")))


def _lenient(texts: Any) -> tuple[Rule, ...]:
    """Rules the gateway delivered (it parsed them when they were registered): one that does not parse here — a
    member older than the gateway — is left out rather than failing the message."""
    rules = []
    for text in texts if isinstance(texts, list) else []:
        with contextlib.suppress(MeshError):
            rules.append(parse_rule(str(text)))
    return tuple(rules)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def scenario_id_of(headers: Mapping[str, Any] | None) -> str | None:
    """The scenario id a message names (AMQP header), if any."""
    return _text((headers or {}).get(H_SCENARIO))


def delivered(headers: Mapping[str, Any] | None) -> FlowScenario | None:
    """The scenario a delivery from the gateway runs under: its id and the rules the gateway put beside it."""
    scenario_id = scenario_id_of(headers)
    if scenario_id is None:
        return None
    raw = _text((headers or {}).get(H_SCENARIO_RULES))
    try:
        texts = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        texts = []
    return FlowScenario(id=scenario_id, rules=_lenient(texts))


def delivery_headers(scenario: FlowScenario) -> dict[str, str]:
    """The headers the gateway sets on what it delivers in ``scenario``'s flow."""
    return {H_SCENARIO: scenario.id, H_SCENARIO_RULES: orjson.dumps([str(r) for r in scenario.rules]).decode()}


_current: contextvars.ContextVar[FlowScenario | None] = contextvars.ContextVar("mesh_scenario", default=None)


def current() -> FlowScenario | None:
    """The scenario of the flow being handled, if any."""
    return _current.get()


def current_rule(system: str, kind: str) -> Rule | None:
    scenario = _current.get()
    return scenario.rule(system, kind) if scenario is not None else None


@contextlib.contextmanager
def using(scenario: FlowScenario | None) -> Iterator[None]:
    """Code run inside (and every task it starts) works in ``scenario``'s flow; None: in no scenario at all, so
    a flow never inherits another's by accident."""
    token = _current.set(scenario)
    try:
        yield
    finally:
        _current.reset(token)


def with_scenario(headers: dict[str, Any]) -> dict[str, Any]:
    """``headers`` naming the current flow's scenario — unless they name one already (a copy, a retry, a row
    staged earlier keeps the flow it was made in). Only the id: the gateway adds the rules it holds."""
    scenario = _current.get()
    if scenario is None or H_SCENARIO in headers:
        return headers
    return {**headers, H_SCENARIO: scenario.id}


def flow_http_headers() -> dict[str, str]:
    """The header naming the current flow's scenario on an HTTP call made in it (a certificate's OCSP check, which
    НУЦ may answer otherwise for the flow: ``nuc:revoked``), or none."""
    scenario = _current.get()
    return {HTTP_HEADER: scenario.id} if scenario is not None else {}


class Withheld(Exception):
    """A synchronous provider forced (``gbdfl:timeout``) to leave a request unanswered: its caller is told
    ``Server.Timeout`` by the gateway at the deadline, as when a provider is slow."""
