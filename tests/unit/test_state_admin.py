"""A member service's state kept by ``shared.web.state_admin``: snapshotted and restored value for value (datetimes,
dates, bytes, JSON), a scope deleting only its rows, a snapshot that does not fit changing nothing, and a second
reset while one runs refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Date, LargeBinary
from sqlmodel import Field, SQLModel, func, select

from shared.db import UtcDateTime, create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.web.state_admin import ResetIn, Scoped, StateKeeper, StatePlan, StateSnapshot
from tests.support.snapshot import assert_restored_ids_are_not_taken_again


class Folder(SQLModel, table=True):
    __tablename__ = "state_folder"

    id: int | None = Field(default=None, primary_key=True)
    iin: str = Field(max_length=12)
    district: str = Field(max_length=32)
    opened: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    day: dt.date = Field(sa_column=Column(Date, nullable=False))
    blob: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Sheet(SQLModel, table=True):
    __tablename__ = "state_sheet"

    id: int | None = Field(default=None, primary_key=True)
    folder_id: int


@pytest.fixture
async def keeper(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    await create_tables(engine, models=[Folder, Sheet])
    sessions = make_sessions(engine)
    plan = StatePlan(state=[Folder, Sheet], scopes={
        "iin": [Scoped(Sheet, "folder_id", via=(Folder, "id", "iin")), Scoped(Folder, "iin")],
        "district": [Scoped(Sheet, "folder_id", via=(Folder, "id", "district")), Scoped(Folder, "district")]})
    async with sessions() as session, session.begin():
        for n, (iin, district) in enumerate([("850701300007", "almaty"), ("900101300008", "kyzylorda")], start=1):
            session.add(Folder(id=n, iin=iin, district=district, opened=dt.datetime(2026, 1, n, 9, tzinfo=dt.UTC),
                               day=dt.date(2026, 1, n), blob=bytes([n, 0, 255]), extra={"n": n, "list": [n]}))
            session.add(Sheet(folder_id=n))
    yield StateKeeper(service="probe", sessions=sessions, plan=plan), sessions
    await engine.dispose()


async def _count(sessions: Any, model: type[SQLModel]) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_a_snapshot_restores_every_value_as_it_was(keeper: Any):
    state, sessions = keeper
    taken = await state.export()
    again = StateSnapshot.model_validate_json(taken.model_dump_json(by_alias=True))  # as a file would carry it
    await state.reset(ResetIn())
    assert await _count(sessions, Folder) == 0
    await state.restore(again)
    assert (await state.export()).tables == taken.tables
    async with sessions() as session:
        folder = await session.get(Folder, 1)
    assert folder is not None
    assert (folder.opened, folder.day, folder.blob, folder.extra) == (
        dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC), dt.date(2026, 1, 1), bytes([1, 0, 255]), {"n": 1, "list": [1]})


async def test_a_scope_deletes_its_rows_and_their_children_only(keeper: Any):
    state, sessions = keeper
    answer = await state.reset(ResetIn(iin="850701300007"))
    assert answer.rows == {"state_sheet": 1, "state_folder": 1}
    assert (await _count(sessions, Folder), await _count(sessions, Sheet)) == (1, 1)
    assert (await state.reset(ResetIn(district="almaty"))).rows == {"state_sheet": 0, "state_folder": 0}


async def test_a_snapshot_that_does_not_fit_changes_nothing(keeper: Any):
    state, _ = keeper
    taken = await state.export()
    for bad in ({"state_folder": [{"id": 9, "nope": 1}]}, {"elsewhere": []},
                {"state_folder": [{"id": 9, "iin": "1", "district": "x", "opened": "not a time", "day": "2026-01-01",
                                   "blob": "", "extra": {}}]},
                {"state_folder": [{"id": 9, "iin": "1", "district": "x", "day": {"$t": "date", "v": "never"},
                                   "opened": {"$t": "datetime", "v": "2026-01-01T00:00:00+00:00"},
                                   "blob": {"$t": "bytes", "v": ""}, "extra": {}}]}):
        with pytest.raises(MeshError) as refused:
            await state.restore(StateSnapshot(service="probe", tables=bad))
        assert refused.value.code == "SNAPSHOT_INVALID", bad
    with pytest.raises(MeshError) as foreign:
        await state.restore(StateSnapshot(service="elsewhere", tables={}))
    assert foreign.value.code == "SNAPSHOT_INVALID"
    assert (await state.export()).tables == taken.tables


async def test_a_reset_while_one_runs_is_refused(keeper: Any):
    state, _ = keeper
    async with state._claim():
        with pytest.raises(MeshError) as refused:
            await state.reset(ResetIn())
    assert refused.value.code == "RESET_RUNNING"


async def test_restored_ids_are_not_taken_again_on_sqlite(tmp_path: Path):
    await assert_restored_ids_are_not_taken_again(f"sqlite:///{tmp_path / 'ids.db'}")
