"""The additive migration every service runs at start (``shared.db.create_tables``) on a database an older version
left under var/: a table that gained a column, an index, or lost one of its indexes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, inspect

from shared.db import create_tables, make_engine


def _version(*, new: bool) -> SimpleNamespace:
    """The table ``parcel`` as an older version declared it (an index on each column) and as a newer one does (one
    index on both, and a column more)."""
    columns = [Column("id", Integer, primary_key=True), Column("state", String(16)), Column("due_at", Float)]
    if new:
        return SimpleNamespace(__table__=Table("parcel", MetaData(), *columns, Column("note", String(64)),
                                               Index("ix_parcel_due", "state", "due_at")))
    return SimpleNamespace(__table__=Table("parcel", MetaData(), *columns, Index("ix_parcel_state", "state"),
                                           Index("ix_parcel_due_at", "due_at")))


async def _indexes_and_columns(engine) -> tuple[set[str], set[str]]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: ({i["name"] for i in inspect(sync).get_indexes("parcel")},
                                                 {c["name"] for c in inspect(sync).get_columns("parcel")}))


async def test_a_newer_table_gains_its_column_and_index_and_loses_the_indexes_it_no_longer_declares(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        await create_tables(engine, models=[_version(new=False)])
        assert await _indexes_and_columns(engine) == ({"ix_parcel_state", "ix_parcel_due_at"},
                                                      {"id", "state", "due_at"})
        await create_tables(engine, models=[_version(new=True)])
        assert await _indexes_and_columns(engine) == ({"ix_parcel_due"}, {"id", "state", "due_at", "note"})
        await create_tables(engine, models=[_version(new=True)])  # a second start changes nothing
        assert await _indexes_and_columns(engine) == ({"ix_parcel_due"}, {"id", "state", "due_at", "note"})
    finally:
        await engine.dispose()
