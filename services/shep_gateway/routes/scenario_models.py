"""The scenario routes' request and answers (closed, camelCase, with examples)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ConfigDict, Field

from services.shep_gateway.scenario_book import Registered
from shared.web.models import CamelModel

EXAMPLE: dict[str, Any] = {"scenarioId": "scn-3q2-7wEh1Zk0bUu9tT1aXg", "rules": ["gbdfl:no-data"], "createdAt":
           "2026-12-05T03:00:00+00:00", "expiresAt": "2026-12-05T04:00:00+00:00"}


class ScenarioIn(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rules": ["mio:refuse:employed"], "ttlSeconds": 3600}]})

    rules: list[str] = Field(min_length=1, max_length=8, description="`gbdfl:no-data`, `gbdfl:timeout`, "
                             "`mio:refuse:<ground>`, `mio:overdue:<step>`, `nuc:revoked` (docs/scenarios.md)")
    ttl_seconds: int = Field(default=3600, ge=1, le=7 * 86400,
                             description="how long (wall clock) the scenario may be named")


class ScenarioOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    scenario_id: str = Field(description="name it in `X-Mesh-Scenario` on a submission (unguessable)")
    rules: list[str]
    created_at: str = Field(description="ISO 8601, wall clock")
    expires_at: str = Field(description="ISO 8601, wall clock")

    @classmethod
    def of(cls, registered: Registered) -> ScenarioOut:
        def iso(at: float) -> str:
            return dt.datetime.fromtimestamp(at, dt.UTC).isoformat()

        return cls(scenario_id=registered.id, rules=[str(r) for r in registered.scenario.rules],
                   created_at=iso(registered.created_at), expires_at=iso(registered.expires_at))


class ScenariosOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scenarios": [EXAMPLE]}]})

    scenarios: list[ScenarioOut]
