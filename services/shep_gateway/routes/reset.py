"""The whole-mesh reset, scoped resets and named snapshots (issue 20); admin only."""

from __future__ import annotations

import time
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Request

from services.shep_gateway.routes.deps import ADMIN_ONLY
from services.shep_gateway.routes.reset_models import (
    SNAPSHOT_NAME,
    MeshArchive,
    MeshResetIn,
    MeshResetOut,
    RestoredMeshOut,
    ServiceResetOut,
    SnapshotName,
    SnapshotOut,
    SnapshotsOut,
)
from services.shep_gateway.store import MeshSnapshotRow
from services.shep_gateway.usecases.mesh_reset import MeshReset
from services.shep_gateway.usecases.snapshots import MeshSnapshots, counts
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["reset"], dependencies=ADMIN_ONLY)


def mesh_reset_of(request: Request) -> MeshReset:
    return cast(MeshReset, request.app.state.mesh_reset)


def snapshots_of(request: Request) -> MeshSnapshots:
    return cast(MeshSnapshots, request.app.state.snapshots)


MeshResetDep = Annotated[MeshReset, Depends(mesh_reset_of)]
SnapshotsDep = Annotated[MeshSnapshots, Depends(snapshots_of)]
NameParam = Annotated[str, Path(pattern=SNAPSHOT_NAME)]


def _snapshot_out(row: MeshSnapshotRow) -> SnapshotOut:
    return SnapshotOut(name=row.name, taken_at=row.taken_at.isoformat(),
                       mesh_ahead_seconds=float(row.archive.get("meshAheadSeconds") or 0.0),
                       rows=counts(row.archive))


@router.post("/admin/mesh/reset", summary="Reset the whole mesh to its seed (or one citizen's, district's or "
             "service's state); answers once every /ready is 200",
             responses=error_responses("RESET_RUNNING", "RESET_SCOPE_UNKNOWN", "RESET_MEMBER_FAILED",
                                       "CLOCK_OUTSIDE_VALIDITY"))
async def reset(body: MeshResetIn, mesh: MeshResetDep) -> MeshResetOut:
    started = time.perf_counter()
    scope, outcomes = await mesh.reset(iin=body.iin, district=body.district, service=body.service)
    return MeshResetOut(scope=scope, duration_ms=round((time.perf_counter() - started) * 1000, 1),
                        clock_now=mesh.clock.clock.now().isoformat(),
                        services={name: ServiceResetOut.of(o) for name, o in sorted(outcomes.items())})


@router.get("/admin/snapshots", summary="The named snapshots the gateway keeps")
async def snapshots(keeper: SnapshotsDep) -> SnapshotsOut:
    return SnapshotsOut(snapshots=[_snapshot_out(r) for r in await keeper.names()])


@router.post("/admin/snapshots", summary="Take a snapshot of every member service's state, kept under a name",
             responses=error_responses("RESET_RUNNING", "RESET_MEMBER_FAILED"))
async def take(body: SnapshotName, keeper: SnapshotsDep) -> SnapshotOut:
    return _snapshot_out(await keeper.take(body.name))


@router.get("/admin/snapshots/{name}", summary="A snapshot as a file (the archive)",
            responses=error_responses("SNAPSHOT_NOT_FOUND"))
async def archive(name: NameParam, keeper: SnapshotsDep) -> MeshArchive:
    return MeshArchive.model_validate((await keeper.get(name)).archive)


@router.put("/admin/snapshots/{name}", summary="Keep an archive (a snapshot's file, from this mesh or another) "
            "under a name")
async def store(name: NameParam, body: MeshArchive, keeper: SnapshotsDep) -> SnapshotOut:
    return _snapshot_out(await keeper.store(name, body.model_dump(by_alias=True, mode="json")))


@router.post("/admin/snapshots/{name}/restore", summary="Put the whole mesh in a snapshot's state",
             responses=error_responses("SNAPSHOT_NOT_FOUND", "RESET_RUNNING", "RESET_MEMBER_FAILED",
                                       "CLOCK_OUTSIDE_VALIDITY"))
async def restore(name: NameParam, keeper: SnapshotsDep) -> RestoredMeshOut:
    duration_ms, outcomes = await keeper.restore(name)
    return RestoredMeshOut(name=name, duration_ms=duration_ms,
                           services={n: ServiceResetOut.of(o) for n, o in sorted(outcomes.items())})
