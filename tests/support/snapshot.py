"""The check that ``shared.db.snapshot`` reads one moment, and that a state restored with its ids
(``shared.web.state_admin``) leaves the next id free, for any database URL (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel, func, select

from shared.db import create_tables, make_engine, make_sessions, snapshot
from shared.web.state_admin import StateKeeper, StatePlan, StateSnapshot


class SnapshotProbe(SQLModel, table=True):
    __tablename__ = "snapshot_probe"

    id: int | None = Field(default=None, primary_key=True)


async def assert_reads_see_one_moment(url: str) -> None:
    """A write committed between two reads of one snapshot is not seen by the second read, nor written by it."""
    engine = make_engine(url)
    await create_tables(engine, models=[SnapshotProbe])
    sessions = make_sessions(engine)
    count = select(func.count()).select_from(SnapshotProbe)
    try:
        async with snapshot(sessions) as reader:
            before = (await reader.exec(count)).one()
            async with sessions() as writer, writer.begin():
                writer.add(SnapshotProbe())
            assert (await reader.exec(count)).one() == before, "the second read saw a later moment"
        async with sessions() as after:
            assert (await after.exec(count)).one() == before + 1, "the write outside the snapshot stands"
    finally:
        await engine.dispose()


async def assert_restored_ids_are_not_taken_again(url: str) -> None:
    """Rows restored into a fresh table with their ids, then a new row: it takes the next id, not a restored one.
    Before: on PostgreSQL the id sequence stayed at 1 and the new row failed on a duplicate key."""
    engine = make_engine(url)
    await create_tables(engine, models=[SnapshotProbe])
    sessions = make_sessions(engine)
    keeper = StateKeeper(service="probe", sessions=sessions, plan=StatePlan(state=[SnapshotProbe]))
    try:
        await keeper.restore(StateSnapshot(service="probe", tables={"snapshot_probe": [{"id": 1}, {"id": 2}]}))
        async with sessions() as session, session.begin():
            made = SnapshotProbe()
            session.add(made)
        assert made.id == 3
    finally:
        await engine.dispose()
