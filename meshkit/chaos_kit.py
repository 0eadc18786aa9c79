"""Fault injection in the scripting kit (``Mesh.chaos``; docs/chaos.md): the gateway's ``/admin/chaos/…``, which takes
rules for its pipeline and for every service's HTTP edge.

``mesh.chaos(...)`` puts a rule in place and returns its ``ChaosRule``, a context manager that removes it on exit — so
a fault a script or a test injects never outlives the block that wanted it::

    with mesh.chaos(kind="drop", recipient="portal", message_type="NOTIFICATION", times=1, seed=7) as rule:
        ...
        rule.fired()   # the journal's fault entries of this rule

Match fields are keyword arguments in Python's spelling (``service_id=`` → ``serviceId``); the fault's parameters
go in ``fault={…}`` (``{"delayMs": 200}``, ``{"code": "Server.ProviderError"}``)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from meshkit.sdk import KitError
from meshkit.sdk import _checked as checked
from shared.logging import camel

MATCH_FIELDS = ("service_id", "sender", "recipient", "message_type", "correlation_id", "district", "route", "method")


def rule_body(*, kind: str, where: str = "gateway", fault: dict[str, Any] | None = None, probability: float = 1.0,
              times: int | None = None, for_s: float | None = None, seed: int | None = None,
              rule_id: str | None = None, **match: Any) -> dict[str, Any]:
    """The rule's JSON from a script's keyword arguments; a match field the rule does not have is passed on as it is
    (the gateway refuses it: ``CHAOS_RULE_FIELD_UNKNOWN``)."""
    body: dict[str, Any] = {"where": where, "fault": {"kind": kind, **(fault or {})}, "probability": probability,
                            "match": {camel(key): str(value) for key, value in match.items() if value is not None}}
    extra = {"times": times, "forS": for_s, "seed": seed, "id": rule_id}
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


class ChaosKit:
    """The mesh's fault-injection rules, through its gateway (``url``) with the admin token (``headers``)."""

    def __init__(self, http: httpx.Client, *, url: str, headers: dict[str, str]) -> None:
        self._http = http
        self._url = url.rstrip("/") + "/admin/chaos"
        self._headers = headers

    def add(self, body: dict[str, Any]) -> ChaosRule:
        answer: dict[str, Any] = checked(self._http.post(self._url + "/rules", json=body, headers=self._headers))
        return ChaosRule(self, answer)

    def rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = checked(self._http.get(self._url + "/rules", headers=self._headers))["rules"]
        return rules

    def remove(self, rule_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = checked(self._http.delete(f"{self._url}/rules/{rule_id}", headers=self._headers))
        return answer

    def clear(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = checked(self._http.delete(self._url + "/rules", headers=self._headers))["rules"]
        return rules

    def fired(self, rule_id: str | None = None, *, limit: int = 200) -> list[dict[str, Any]]:
        params = {"limit": str(limit)} | ({"ruleId": rule_id} if rule_id else {})
        fired: list[dict[str, Any]] = checked(self._http.get(self._url + "/fired", params=params,
                                                             headers=self._headers))["fired"]
        return fired


class ChaosRule:
    """A rule in place; ``with`` it to have it removed when the block ends (however it ends)."""

    def __init__(self, kit: ChaosKit, answer: dict[str, Any]) -> None:
        self._kit = kit
        self.answer = answer
        self.id: str = answer["id"]
        self.seed: int = answer["seed"]

    def now(self) -> dict[str, Any]:
        """The rule as the mesh has it now (matched, fired, active, held)."""
        return next(rule for rule in self._kit.rules() if rule["id"] == self.id)

    def fired(self) -> list[dict[str, Any]]:
        """The journal's fault entries of this rule, oldest first."""
        return self._kit.fired(self.id)

    def remove(self) -> dict[str, Any]:
        return self._kit.remove(self.id)

    def __enter__(self) -> ChaosRule:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            self.remove()
        except KitError as exc:
            if exc.code != "CHAOS_RULE_NOT_FOUND":  # removed inside the block already: nothing to do
                raise
