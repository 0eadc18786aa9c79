"""The kit's side of scenarios per flow (docs/scenarios.md): register one at the gateway, name it on a submission,
remove it. ``Mesh.scenario`` (the context manager) and the ``scenario=`` arguments of the kit's submissions use
these; meshctl's ``scenario add|list|remove`` and ``apply --scenario`` too.

Why a context manager that removes what it registered: a test's scenario should not outlive the test (the gateway
bounds how many it holds), and a flow still running after it is removed goes on as a normal flow, never with
another test's outcome."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from shared.mesh.scenarios import HTTP_HEADER

DEFAULT_TTL_S = 3600


@dataclass(frozen=True)
class Scenario:
    """A scenario the gateway registered: name it with ``scenario=`` on a submission (or ``headers``)."""

    id: str
    rules: tuple[str, ...]
    expires_at: str

    @property
    def headers(self) -> dict[str, str]:
        return {HTTP_HEADER: self.id}

    def out(self) -> dict[str, Any]:
        """As the gateway answers it (meshctl prints this)."""
        return {"scenarioId": self.id, "rules": list(self.rules), "expiresAt": self.expires_at}

    @classmethod
    def of(cls, answer: dict[str, Any]) -> Scenario:
        return cls(id=answer["scenarioId"], rules=tuple(answer["rules"]), expires_at=answer["expiresAt"])


def scenario_headers(scenario: Scenario | str | None) -> dict[str, str]:
    """The header naming ``scenario`` (a ``Scenario`` or its id) on a submission; none for None."""
    if scenario is None:
        return {}
    return {HTTP_HEADER: scenario if isinstance(scenario, str) else scenario.id}


class Scenarios:
    """The gateway's scenario routes, with the admin token."""

    def __init__(self, http: httpx.Client, *, gateway: str, admin: dict[str, str],
                 checked: Callable[[httpx.Response], Any]) -> None:
        self._http = http
        self._checked = checked  # the kit's: a refusal raised as KitError with its code
        self._url = f"{gateway.rstrip('/')}/admin/scenarios"
        self._admin = admin

    def add(self, *rules: str, ttl_s: int = DEFAULT_TTL_S) -> Scenario:
        return Scenario.of(self._checked(self._http.post(self._url, headers=self._admin,
                                                    json={"rules": list(rules), "ttlSeconds": ttl_s})))

    def list(self) -> list[Scenario]:
        return [Scenario.of(s) for s in self._checked(self._http.get(self._url, headers=self._admin))["scenarios"]]

    def remove(self, scenario: Scenario | str) -> Scenario:
        scenario_id = scenario if isinstance(scenario, str) else scenario.id
        return Scenario.of(self._checked(self._http.delete(f"{self._url}/{scenario_id}", headers=self._admin)))

    @contextmanager
    def using(self, *rules: str, ttl_s: int = DEFAULT_TTL_S) -> Iterator[Scenario]:
        """A scenario for the block, removed at its end (unless it ended already)."""
        scenario = self.add(*rules, ttl_s=ttl_s)
        try:
            yield scenario
        finally:
            reply = self._http.delete(f"{self._url}/{scenario.id}", headers=self._admin)
            if reply.status_code not in (200, 410):
                reply.raise_for_status()
