"""Scenarios per flow (admin token): register one, read it, list the live ones, remove one (docs/scenarios.md)."""

from __future__ import annotations

from fastapi import APIRouter

from services.shep_gateway.routes.deps import ADMIN_ONLY, ScenariosDep
from services.shep_gateway.routes.scenario_models import ScenarioIn, ScenarioOut, ScenariosOut
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["scenarios"], dependencies=ADMIN_ONLY)


@router.post("/admin/scenarios", response_model=ScenarioOut, status_code=201,
             summary="Register a scenario: outcomes forced for the flows that name it",
             description="Answers its unguessable id; a submission names it in `X-Mesh-Scenario` (the portal, "
                         "ИС ЦОН), and every message of that flow carries it. 422 SCENARIO_RULE_UNKNOWN names the "
                         "rules there are.",
             responses=error_responses("SCENARIO_RULE_UNKNOWN", "SCENARIOS_TOO_MANY"))
async def register(body: ScenarioIn, scenarios: ScenariosDep) -> ScenarioOut:
    return ScenarioOut.of(scenarios.register(body.rules, ttl_s=body.ttl_seconds))


@router.get("/admin/scenarios", response_model=ScenariosOut, summary="The live scenarios")
async def live_scenarios(scenarios: ScenariosDep) -> ScenariosOut:
    return ScenariosOut(scenarios=[ScenarioOut.of(r) for r in scenarios.all()])


@router.get("/admin/scenarios/{scenario_id}", response_model=ScenarioOut, summary="One live scenario",
            description="What a submission's edge asks before it accepts an `X-Mesh-Scenario`.",
            responses=error_responses("SCENARIO_UNKNOWN", "SCENARIO_EXPIRED"))
async def scenario(scenario_id: str, scenarios: ScenariosDep) -> ScenarioOut:
    return ScenarioOut.of(scenarios.live(scenario_id))


@router.delete("/admin/scenarios/{scenario_id}", response_model=ScenarioOut,
               summary="Remove a scenario: it can no longer be named",
               description="A flow that named it goes on as a normal flow (the gateway drops an ended scenario).",
               responses=error_responses("SCENARIO_UNKNOWN", "SCENARIO_EXPIRED"))
async def remove(scenario_id: str, scenarios: ScenariosDep) -> ScenarioOut:
    return ScenarioOut.of(scenarios.remove(scenario_id))
