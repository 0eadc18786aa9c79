"""Named snapshots of the mesh (issue 20): every member service's state in one JSON archive, kept by the gateway
under a name, downloaded to a file, uploaded into another (fresh) mesh and restored there — so every test can start
from the same state.

The archive holds each member's ``GET /admin/state/snapshot`` (shared/web/state_admin.py) and how far the mesh clock
was ahead of real time. Not in it: НУЦ's CA and certificates, the members' keys, the gateway's registry and message
log — a fresh mesh has its own, and a restored case is judged under them. A restore is a whole reset whose members
take the archive's state instead of their seed, and whose clock goes as far ahead as the archive's was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from sqlmodel import col, select

from services.shep_gateway.store import MeshSnapshotRow
from services.shep_gateway.usecases.clock_validity import refuse_outside
from services.shep_gateway.usecases.mesh_reset import MeshReset, ServiceOutcome
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger

log = get_logger(__name__)
ARCHIVE_FORMAT = "egov-mesh-snapshot/1"


def counts(archive: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {service: {table: len(rows) for table, rows in part.get("tables", {}).items()}
            for service, part in archive.get("services", {}).items()}


class MeshSnapshots:
    def __init__(self, *, sessions: Sessions, reset: MeshReset) -> None:
        self._sessions = sessions
        self._reset = reset

    async def take(self, name: str) -> MeshSnapshotRow:
        """Every member's state now, kept under ``name`` (replacing a snapshot of that name)."""
        members, clock = self._reset.members, self._reset.clock.clock
        async with self._reset.exclusive(), self._reset.paused():
            parts = await asyncio.gather(*(members.call(n, "GET", "/admin/state/snapshot") for n in members.names))
            ahead = (clock.now() - clock.real_now()).total_seconds()
        archive = {"format": ARCHIVE_FORMAT, "name": name, "meshAheadSeconds": max(ahead, 0.0),
                   "services": dict(zip(members.names, parts, strict=True))}
        return await self.store(name, archive)

    async def store(self, name: str, archive: dict[str, Any]) -> MeshSnapshotRow:
        archive = archive | {"name": name}
        row = MeshSnapshotRow(name=name, taken_at=dt.datetime.now(dt.UTC), archive=archive)
        async with self._sessions() as session, session.begin():
            await session.merge(row)
        log.info("mesh_snapshot_stored", services=len(archive.get("services", {})))
        return row

    async def get(self, name: str) -> MeshSnapshotRow:
        async with self._sessions() as session:
            row = await session.get(MeshSnapshotRow, name)
        if row is None:
            raise MeshError("SNAPSHOT_NOT_FOUND", f"the gateway keeps no snapshot {name!r}")
        return row

    async def names(self) -> list[MeshSnapshotRow]:
        async with self._sessions() as session:
            return list((await session.exec(select(MeshSnapshotRow).order_by(col(MeshSnapshotRow.name)))).all())

    async def restore(self, name: str) -> tuple[float, dict[str, ServiceOutcome]]:
        """The mesh as the snapshot has it; every member's part checked by the member before anything changes there
        (``SNAPSHOT_INVALID``: nothing changed), the clock judged before anything changes at all."""
        archive = (await self.get(name)).archive
        reset, ahead = self._reset, float(archive.get("meshAheadSeconds") or 0.0)
        clock = reset.clock
        refuse_outside(await clock.validities(), at=clock.clock.real_now() + dt.timedelta(seconds=ahead))
        parts: dict[str, Any] = archive.get("services", {})
        async with reset.exclusive(), reset.paused():
            started = time.perf_counter()
            own = await reset.reset_own()
            await clock.change(advance_s=None, advance_working_days=None, speed=None, reset=True, force=True)
            if ahead > 0:
                await clock.change(advance_s=ahead, advance_working_days=None, speed=None, reset=False, force=True)
            outcomes = {"shep_gateway": ServiceOutcome(duration_ms=_ms(started), rows=own)}

            async def one(member: str) -> ServiceOutcome:
                if member not in parts:  # a service the snapshot did not know starts from its seed
                    answer = await reset.members.call(member, "POST", "/admin/state/reset", {})
                else:
                    answer = await reset.members.call(member, "PUT", "/admin/state/snapshot", parts[member])
                return ServiceOutcome(duration_ms=answer["durationMs"], rows=answer["rows"])
            names = reset.members.names
            outcomes |= dict(zip(names, await asyncio.gather(*(one(n) for n in names)), strict=True))
        for member, ok in (await reset.members.ready(names) | {"shep_gateway": await reset.ready_here()}).items():
            outcomes[member].ready = ok
        return _ms(started), outcomes


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
