"""Scenarios (issue 20): the admin registers one (its rules, a TTL) and removes it; a submission's edge asks whether
an id is live (``GET /admin/scenarios/{id}``); at ingress the gateway checks the id a message names and, routing
it, delivers the scenario's rules beside the id — the one place rules come from (``shared.mesh.scenarios``).

At ingress an id that was never registered refuses the message (``Client.ScenarioUnknown``: a forged or mistyped id
must not quietly run as a normal flow and pass a test for the wrong reason). An id that ended — expired or removed —
is dropped instead: the flow began under a live scenario (its edge checked that), and the late messages of a case
(ИС МИО's notices after the test removed its scenario) must still reach the citizen; they go on as a normal flow's.
"""

from __future__ import annotations

from services.shep_gateway.domain import Refusal
from services.shep_gateway.scenario_book import Registered, ScenarioBook
from services.shep_gateway.usecases.examined import Examined
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.scenarios import delivery_headers, parse_rules, scenario_id_of

log = get_logger(__name__)


class Scenarios:
    def __init__(self, *, book: ScenarioBook) -> None:
        self._book = book

    def end_all(self) -> int:
        return self._book.end_all()

    def register(self, rules: list[str], *, ttl_s: float) -> Registered:
        parsed = parse_rules(rules)  # SCENARIO_RULE_UNKNOWN before anything is kept
        if self._book.full():
            raise MeshError("SCENARIOS_TOO_MANY", "the gateway holds as many live scenarios as it will: remove "
                            "some (DELETE /admin/scenarios/{id}) or let them expire")
        registered = self._book.add(parsed, ttl_s=ttl_s)
        log.info("scenario_registered", scenario=registered.id, rules=[str(r) for r in parsed], ttlSeconds=ttl_s)
        return registered

    def live(self, scenario_id: str) -> Registered:
        """The live scenario of this id, or ``SCENARIO_EXPIRED`` (ended: expired or removed) / ``SCENARIO_UNKNOWN``."""
        found = self._book.live(scenario_id)
        if found is None:
            raise self._not_live(scenario_id)
        return found

    def remove(self, scenario_id: str) -> Registered:
        found = self._book.remove(scenario_id)
        if found is None:
            raise self._not_live(scenario_id)
        log.info("scenario_removed", scenario=scenario_id)
        return found

    def _not_live(self, scenario_id: str) -> MeshError:
        """Which: ended (expired or removed), or never registered."""
        if self._book.ended(scenario_id):
            return MeshError("SCENARIO_EXPIRED", f"scenario {scenario_id} has expired or was removed")
        return MeshError("SCENARIO_UNKNOWN", f"no scenario {scenario_id} is registered at the gateway")

    def all(self) -> list[Registered]:
        return self._book.all()

    # ---- at ingress ----------------------------------------------------------------------------------------------
    def refusal(self, item: Examined) -> Refusal | None:
        """A message naming a scenario id the gateway never registered is refused; one that ended is let through
        without it (``delivery_headers`` leaves it out)."""
        scenario_id = scenario_id_of(item.delivery.headers)
        if scenario_id is None:
            return None
        if self._book.live(scenario_id) is not None:
            item.checks["scenario"] = "live"
            return None
        if self._book.ended(scenario_id):
            item.checks["scenario"] = "ended"
            return None
        item.checks["scenario"] = "unknown"
        return Refusal("Client.ScenarioUnknown", f"the message names scenario {scenario_id!r}, which the gateway "
                       "never registered (POST /admin/scenarios)")

    def delivery_headers(self, item: Examined) -> dict[str, str]:
        """The scenario id and its rules for what the gateway delivers of ``item`` — nothing when it names none or
        one that ended."""
        scenario_id = scenario_id_of(item.delivery.headers)
        found = self._book.live(scenario_id) if scenario_id is not None else None
        return delivery_headers(found.scenario) if found is not None else {}
