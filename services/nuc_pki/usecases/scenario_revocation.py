"""НУЦ under a scenario (``nuc:revoked``, docs/scenarios.md): an OCSP request made in a flow whose scenario says so is
answered «revoked» for a person's certificate — an individual's or an employee's, never an information system's,
whose revocation would stop the mesh itself rather than the flow — while the same certificate asked outside the flow
is answered as НУЦ's records say. Nothing is recorded: the certificate is not revoked, the CRL does not list it.

Why НУЦ asks the gateway: OCSP is plain HTTP to НУЦ, not a message the gateway delivers with the rules beside it;
the caller names the scenario (``X-Mesh-Scenario``, from the flow it checks a signature in) and НУЦ reads its rules
from the gateway, which alone says what a scenario forces. If the gateway cannot be asked, or the scenario is not
live, the answer is the records' — a scenario never makes НУЦ say something it cannot vouch for being asked."""

from __future__ import annotations

import httpx

from shared.logging import get_logger
from shared.mesh.scenarios import ID_PATTERN
from shared.pki.cert_profile import Holder

log = get_logger(__name__)
REVOKED_RULE = "nuc:revoked"


class ScenarioRevocations:
    def __init__(self, *, http: httpx.AsyncClient, gateway_url: str, admin_token: str) -> None:
        self._http = http
        self._url = f"{gateway_url.rstrip('/')}/admin/scenarios"
        self._auth = {"Authorization": f"Bearer {admin_token}"}

    async def forces_revoked(self, scenario_id: str | None, *, holder: str) -> bool:
        if not scenario_id or holder == Holder.SYSTEM.value or not ID_PATTERN.match(scenario_id):
            return False
        try:
            reply = await self._http.get(f"{self._url}/{scenario_id}", headers=self._auth, timeout=5)
        except httpx.HTTPError as exc:
            log.warning("scenario_not_asked", scenario=scenario_id, error=type(exc).__name__)
            return False
        forced = reply.status_code == 200 and REVOKED_RULE in reply.json().get("rules", [])
        if forced:
            log.info("ocsp_revoked_by_scenario", scenario=scenario_id, holder=holder)
        return forced
