"""A submission's ``X-Mesh-Scenario`` (issue 20), checked at the edge before anything is sent.

Why the edge asks the gateway at once rather than leave it to the gateway's ingress: an unknown or expired id must be
answered to the caller with its code and change nothing — no case at the portal or ИС ЦОН, no message — where a
refusal at ingress would come back asynchronously, on a case already made. The gateway checks again at ingress
(``services.shep_gateway.usecases.scenarios``): the edge's word is not what a member acts on.
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Header, Request

from shared.errors import MeshError
from shared.mesh.scenarios import HTTP_HEADER, ID_PATTERN, FlowScenario
from shared.web.openapi_errors import raises

SCENARIO_REFUSALS = ("SCENARIO_UNKNOWN", "SCENARIO_EXPIRED", "Server.DependencyUnavailable")


@raises(*SCENARIO_REFUSALS)
async def scenario_named(request: Request, scenario_id: Annotated[str | None, Header(
        alias=HTTP_HEADER, max_length=64, description="a scenario registered at the gateway (POST /admin/scenarios "
        "there): the outcomes it forces apply to this submission's flow alone (docs/scenarios.md)")] = None,
        ) -> FlowScenario | None:
    """The live scenario the submission names (its id only: the gateway adds its rules to what it delivers), or
    None; ``SCENARIO_UNKNOWN`` / ``SCENARIO_EXPIRED`` as the gateway says."""
    if scenario_id is None:
        return None
    if not ID_PATTERN.match(scenario_id):
        raise MeshError("SCENARIO_UNKNOWN", f"{HTTP_HEADER} is not a scenario id the gateway gives (scn-…)")
    node = request.app.state.node
    mesh = node.settings.mesh
    try:
        reply = await node.http.get(f"{mesh.gateway_url.rstrip('/')}/admin/scenarios/{scenario_id}", timeout=5,
                                    headers={"Authorization": f"Bearer {mesh.admin_token.get_secret_value()}"})
    except httpx.HTTPError as exc:
        raise MeshError("Server.DependencyUnavailable", f"the gateway cannot be asked about the scenario now: "
                        f"{type(exc).__name__}") from None
    if reply.status_code == 200:
        return FlowScenario(id=scenario_id)
    code = reply.json().get("code") if reply.headers.get("content-type", "").startswith("application/json") else None
    if code in ("SCENARIO_UNKNOWN", "SCENARIO_EXPIRED"):
        raise MeshError(code, reply.json().get("message", code))
    raise MeshError("Server.DependencyUnavailable", f"the gateway answered {reply.status_code} on the scenario")


ScenarioNamed = Annotated[FlowScenario | None, Depends(scenario_named)]
