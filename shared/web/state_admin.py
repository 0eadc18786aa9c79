"""A member service's state, put back to its seed or to a snapshot (issue 20, the tester's toolbox).

Every member service hands its tables to a ``StateKeeper`` in three kinds: *state* (what tests make: accounts,
applications, tickets, mail — reset and snapshotted), *transient* (outbox, inbox, sessions, idempotency keys —
reset, never snapshotted: they mean nothing to another mesh) and, by omission, *kept* (its system keys and
certificates, the staff and operators НУЦ certified: a reset keeps them, as the issue asks, so nobody re-enrols).
A whole reset empties state and transient tables, drains the service's own queues, and runs its seeding again;
numbers (applications, tickets, documents) start again because their counters are state. A scoped reset deletes
the rows of one citizen (``iin``) or one district the service's rules name, nothing else.

A snapshot is the state tables as JSON, rows by table; restoring one replaces those tables in one transaction, so a
snapshot that does not fit (an unknown table or column, a value of the wrong type) changes nothing. Why JSON rows
and not a database dump: the same snapshot must restore into SQLite (``make run``) and PostgreSQL (compose), and a
tester can read it.

The gateway orchestrates a whole-mesh reset over these routes (services/shep_gateway/usecases/mesh_reset.py).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import Integer, delete, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.bus import Bus
from shared.web.models import CamelModel, ClosedModel
from shared.web.openapi_errors import error_responses

log = get_logger(__name__)
SNAPSHOT_FORMAT = "egov-mesh-state/1"
ScopeRule = Callable[[AsyncSession, str], Awaitable[int]]


@dataclass(frozen=True)
class Scoped:
    """The rows of ``table`` in a scope: ``column`` holds the scope's value — or, with ``via`` (parent table, the
    parent's key column that ``column`` refers to, the parent's scope column), the key of a parent row that does."""

    table: type[SQLModel]
    column: str
    via: tuple[type[SQLModel], str, str] | None = None

    async def __call__(self, session: AsyncSession, value: str) -> int:
        target = self.table.__table__.c[self.column]  # type: ignore[attr-defined]
        if self.via is None:
            where = target == value
        else:
            parent, key, scope = self.via
            columns = parent.__table__.c  # type: ignore[attr-defined]
            where = target.in_(select(columns[key]).where(columns[scope] == value))
        result = await session.exec(delete(self.table).where(where))
        return int(result.rowcount or 0)


@dataclass
class StatePlan:
    """What a service's reset and snapshot cover; ``state`` in insert order (parents before children)."""

    state: list[type[SQLModel]]
    transient: list[type[SQLModel]] = field(default_factory=list)
    scopes: dict[str, list[ScopeRule]] = field(default_factory=dict)
    reseed: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    refreshed: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    queues: list[tuple[Bus, str]] = field(default_factory=list)  # each queue with the connection allowed to read it
    exported: dict[str, Any] = field(default_factory=dict)  # table name → the WHERE of the rows a snapshot takes
    restore_base: Callable[[dict[str, list[dict[str, Any]]]], Awaitable[None]] | None = None
    reset_state: Callable[[], Awaitable[None]] | None = None  # a whole reset of the state tables the service's own way


class ResetIn(ClosedModel):
    iin: str | None = Field(default=None, pattern=r"^\d{12}$", description="only this citizen's rows")
    district: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,31}$",
                                 description="only this district's rows")


class ResetOut(CamelModel):
    service: str
    scope: str = Field(description="all | iin | district")
    rows: dict[str, int] = Field(description="rows deleted, by table")
    drained: int = Field(description="messages taken out of the service's queues")
    duration_ms: float


class StateSnapshot(CamelModel):
    """A service's state tables, rows by table; datetimes, dates and bytes as ``{"$t": kind, "v": text}``."""

    format: str = Field(default=SNAPSHOT_FORMAT, pattern=r"^egov-mesh-state/1$")
    service: str = Field(max_length=32)
    tables: dict[str, list[dict[str, Any]]]


class RestoredOut(CamelModel):
    service: str
    rows: dict[str, int] = Field(description="rows restored, by table")
    duration_ms: float


def _name(model: type[SQLModel]) -> str:
    return str(model.__tablename__)


def encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$t": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$t": "date", "v": value.isoformat()}
    if isinstance(value, bytes):
        return {"$t": "bytes", "v": base64.b64encode(value).decode()}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$t", "v"} and isinstance(value["v"], str):
        kind, text = value["$t"], value["v"]
        if kind == "datetime":
            return dt.datetime.fromisoformat(text)
        if kind == "date":
            return dt.date.fromisoformat(text)
        if kind == "bytes":
            return base64.b64decode(text, validate=True)
    return value


class StateKeeper:
    def __init__(self, *, service: str, sessions: Sessions, plan: StatePlan) -> None:
        self.service = service
        self._sessions = sessions
        self._plan = plan
        self._busy = asyncio.Lock()
        self._tables = {_name(m): m for m in plan.state}

    def _claim(self) -> asyncio.Lock:
        if self._busy.locked():
            raise MeshError("RESET_RUNNING", f"{self.service} is already resetting or restoring its state")
        return self._busy

    async def reset(self, scope: ResetIn) -> ResetOut:
        started = time.perf_counter()
        async with self._claim():
            kind, value = ("iin", scope.iin) if scope.iin else ("district", scope.district) if scope.district \
                else ("all", None)
            drained = 0
            if value is None:
                rows = await self._delete_all()
                drained = await self._drain()
                for step in self._plan.reseed:
                    await step()
            else:
                rows = await self._delete_scope(kind, value)
            for step in self._plan.refreshed:
                await step()
        log.info("state_reset", scope=kind, rows=sum(rows.values()), drained=drained)
        return ResetOut(service=self.service, scope=kind, rows=rows, drained=drained,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1))

    async def _delete_all(self) -> dict[str, int]:
        rows: dict[str, int] = {}
        emptied = self._plan.transient if self._plan.reset_state else [*reversed(self._plan.state),
                                                                         *self._plan.transient]
        if self._plan.reset_state is not None:
            await self._plan.reset_state()
        async with self._sessions() as session, session.begin():
            for model in emptied:  # children before parents
                result = await session.exec(delete(model))
                rows[_name(model)] = int(result.rowcount or 0)
        return rows

    async def _delete_scope(self, kind: str, value: str) -> dict[str, int]:
        rows: dict[str, int] = {}
        async with self._sessions() as session, session.begin():
            for rule in self._plan.scopes.get(kind, []):
                name = _name(rule.table) if isinstance(rule, Scoped) else getattr(rule, "__name__", "rule")
                rows[name] = rows.get(name, 0) + await rule(session, value)
        return rows

    async def _drain(self) -> int:
        """What waits in the service's own queues was meant for the state just deleted."""
        drained = 0
        for bus, queue in self._plan.queues:
            while (delivery := await bus.get(queue=queue)) is not None:
                await delivery.ack()
                drained += 1
        return drained

    async def export(self) -> StateSnapshot:
        tables: dict[str, list[dict[str, Any]]] = {}
        async with self._sessions() as session:
            for name, model in self._tables.items():
                query = select(model.__table__)  # type: ignore[attr-defined]
                if name in self._plan.exported:
                    query = query.where(self._plan.exported[name])
                result = await (await session.connection()).execute(query)  # Core rows: no ORM session API
                tables[name] = [{k: encode(v) for k, v in row._mapping.items()} for row in result]
        return StateSnapshot(service=self.service, tables=tables)

    async def restore(self, snapshot: StateSnapshot) -> RestoredOut:
        started = time.perf_counter()
        if snapshot.service != self.service:
            raise MeshError("SNAPSHOT_INVALID", f"a snapshot of {snapshot.service}, not of {self.service}")
        unknown = sorted(set(snapshot.tables) - set(self._tables))
        if unknown:
            raise MeshError("SNAPSHOT_INVALID", f"{self.service} has no state table {unknown[0]!r}")
        rows = {name: [self._row(name, row) for row in given] for name, given in snapshot.tables.items()}
        async with self._claim():
            try:
                if self._plan.restore_base is not None:
                    await self._plan.restore_base(rows)
                async with self._sessions() as session, session.begin():
                    await self._replace(session, rows)
            except (SQLAlchemyError, ValueError, TypeError, AttributeError) as exc:
                raise MeshError("SNAPSHOT_INVALID", f"the snapshot does not fit {self.service}'s tables: "
                                f"{type(exc).__name__}") from None
            await self._drain()
            for step in self._plan.refreshed:
                await step()
        log.info("state_restored", rows=sum(len(r) for r in rows.values()))
        return RestoredOut(service=self.service, rows={name: len(r) for name, r in rows.items()},
                           duration_ms=round((time.perf_counter() - started) * 1000, 1))

    def _row(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        columns = self._tables[table].__table__.c  # type: ignore[attr-defined]
        unknown = set(row) - set(columns.keys())
        if unknown:
            raise MeshError("SNAPSHOT_INVALID", f"table {table} has no column {sorted(unknown)[0]!r}")
        try:
            return {k: decode(v) for k, v in row.items()}
        except ValueError:
            raise MeshError("SNAPSHOT_INVALID", f"a value in table {table} is not what its $t says") from None

    async def _replace(self, session: AsyncSession, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Tables a snapshot takes whole are emptied; tables it takes in part (``exported``) lose only the rows it
        brings again (ГБД ФЛ: the seeded population is made again, the snapshot brings the people tests changed)."""
        partial = [m for n, m in self._tables.items() if n in self._plan.exported]
        for model in [*reversed(self._plan.state), *self._plan.transient]:
            name = _name(model)
            if model in partial:
                await _delete_keys(session, model, rows.get(name, []))
            else:
                await session.exec(delete(model))
        for name, model in self._tables.items():
            if rows.get(name):
                await (await session.connection()).execute(model.__table__.insert(),  # type: ignore[attr-defined]
                                                            rows[name])
        await _sequences_past_rows(session, [self._tables[name] for name in rows])


async def _sequences_past_rows(session: AsyncSession, models: list[type[SQLModel]]) -> None:
    """PostgreSQL: a row inserted with its id does not move the id's sequence, so the next row made would take an id
    a restored row has (a duplicate key). Each serial id's sequence goes past the largest id now in its table."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    for model in models:
        table = model.__table__  # type: ignore[attr-defined]
        serial = [c for c in table.primary_key.columns if c.autoincrement is True or (
            c.autoincrement == "auto" and isinstance(c.type, Integer) and len(table.primary_key.columns) == 1)]
        for column in serial:
            await (await session.connection()).execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "  # noqa: S608 - our names
                f'coalesce((SELECT max("{column.name}") FROM "{table.name}"), 0) + 1, false)'))


async def _delete_keys(session: AsyncSession, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    keys = list(model.__table__.primary_key.columns)  # type: ignore[attr-defined]
    for row in rows:
        if all(k.name in row for k in keys):
            await session.exec(delete(model).where(*(k == row[k.name] for k in keys)))


def state_router(keeper: Callable[[], StateKeeper], *, guard: Callable[..., None]) -> APIRouter:
    """``POST /admin/state/reset``, ``GET`` and ``PUT /admin/state/snapshot``: the service's own state."""
    router = APIRouter(tags=["state"], dependencies=[Depends(guard)])

    @router.post("/admin/state/reset", summary="Put this service's state back to its seed: all of it, one citizen's "
                 "or one district's rows (keys and certificates kept)", responses=error_responses("RESET_RUNNING"))
    async def reset(body: ResetIn) -> ResetOut:
        return await keeper().reset(body)

    @router.get("/admin/state/snapshot", summary="This service's state tables as JSON (a snapshot's part)")
    async def export() -> StateSnapshot:
        return await keeper().export()

    @router.put("/admin/state/snapshot", summary="Replace this service's state with a snapshot's part",
                responses=error_responses("SNAPSHOT_INVALID", "RESET_RUNNING"))
    async def restore(body: StateSnapshot) -> RestoredOut:
        return await keeper().restore(body)

    return router
