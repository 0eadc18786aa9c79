"""Requests and answers of the mesh reset and the named snapshots (issue 20); closed, with examples."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from services.shep_gateway.usecases.mesh_reset import ServiceOutcome
from shared.web.models import CamelModel, ClosedModel
from shared.web.state_admin import StateSnapshot

SNAPSHOT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class MeshResetIn(ClosedModel):
    """Nothing: the whole mesh. One of ``iin``, ``district``, ``service``: only that citizen's, district's or member
    service's state."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"iin": "850701300007"}, {"district": "almaty"},
                                                               {"service": "mio_workstation"}]})

    iin: str | None = Field(default=None, pattern=r"^\d{12}$")
    district: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    service: str | None = Field(default=None, pattern=r"^[a-z][a-z_]{0,31}$")

    @model_validator(mode="after")
    def _one_scope(self) -> MeshResetIn:
        if sum(v is not None for v in (self.iin, self.district, self.service)) > 1:
            raise ValueError("give at most one of iin, district, service")
        return self


class ServiceResetOut(CamelModel):
    duration_ms: float
    rows: dict[str, int] = Field(description="rows deleted or restored, by table")
    drained: int = Field(description="messages thrown away from the service's queues")
    ready: bool = Field(description="its /ready answered 200 after the reset")

    @classmethod
    def of(cls, outcome: ServiceOutcome) -> ServiceResetOut:
        return cls(duration_ms=outcome.duration_ms, rows=outcome.rows, drained=outcome.drained, ready=outcome.ready)


RESET_EXAMPLE: dict[str, Any] = {
    "scope": "all", "durationMs": 412.5, "clockNow": "2026-01-08T00:00:00+00:00",
    "services": {"portal": {"durationMs": 35.2, "rows": {"account": 12}, "drained": 0, "ready": True}}}


class MeshResetOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RESET_EXAMPLE]})

    scope: str = Field(description="all | iin | district | service")
    duration_ms: float = Field(description="the whole reset, every /ready 200 included")
    clock_now: str
    services: dict[str, ServiceResetOut]


class SnapshotName(ClosedModel):
    name: str = Field(pattern=SNAPSHOT_NAME)


class SnapshotOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "two-cases", "takenAt": "2026-01-08T00:00:00+00:00", "meshAheadSeconds": 0.0,
         "rows": {"mio_workstation": {"application": 2}}}]})

    name: str
    taken_at: str
    mesh_ahead_seconds: float
    rows: dict[str, dict[str, int]] = Field(description="rows by service and table")


class SnapshotsOut(CamelModel):
    snapshots: list[SnapshotOut]


class MeshArchive(CamelModel):
    """A snapshot as a file: every member service's state and how far the mesh clock was ahead of real time."""

    format: str = Field(pattern=r"^egov-mesh-snapshot/1$")
    name: str | None = Field(default=None, pattern=SNAPSHOT_NAME)
    mesh_ahead_seconds: float = Field(default=0.0, ge=0, le=10 * 365 * 86400)
    services: dict[str, StateSnapshot]

    @model_validator(mode="after")
    def _parts_named(self) -> MeshArchive:
        for name, part in self.services.items():
            if part.service != name:
                raise ValueError(f"the part under {name!r} is a snapshot of {part.service!r}")
        return self


class RestoredMeshOut(CamelModel):
    name: str
    duration_ms: float
    services: dict[str, ServiceResetOut]
