"""Issue 20's journal is "a ring plus the database": what the ring no longer holds, and what it held before the
process restarted, is read from the service's database — on SQLite here, on PostgreSQL in tests/e2e/test_postgres.py.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from shared.mesh.journal import Query
from shared.mesh.journal_store import journal_url
from tests.support.journal_store import IIN, assert_the_ring_and_its_database_answer_as_one, journal, numbers, record


def test_a_services_journal_is_a_file_beside_its_database_on_sqlite_and_its_own_database_elsewhere():
    assert journal_url("sqlite:///var/portal/portal.db") == "sqlite:///var/portal/portal.journal.db"
    assert journal_url("postgresql://mesh:pw@db:5432/portal") == "postgresql://mesh:pw@db:5432/portal"


async def test_the_ring_and_its_database_answer_as_one_on_sqlite(tmp_path: Path):
    await assert_the_ring_and_its_database_answer_as_one(f"sqlite:///{tmp_path}/portal.journal.db")


async def test_a_database_that_refuses_the_entries_loses_none_and_says_why(tmp_path: Path):
    """A write that fails keeps its batch for the next try, and the journal's source says why meanwhile."""
    kept = journal(f"sqlite:///{tmp_path}/portal.journal.db")
    await kept.open()
    assert kept.store is not None
    async with kept.store.engine.begin() as conn:
        await conn.execute(text("CREATE TRIGGER full BEFORE INSERT ON journal_entry "
                                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
    record(kept, 1, 5)
    await kept.flush()
    stats = kept.stats()
    assert (stats["stored"], stats["unsaved"]) == (0, 5)
    assert "database or disk is full" in stats["storeError"]
    assert "INSERT" not in stats["storeError"], "nor the refused statement and its parameters (the entries)"
    assert numbers(await kept.find(Query({"iin": IIN}))) == [1, 2, 3, 4, 5], "the ring's and the waiting ones"
    async with kept.store.engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER full"))
    await kept.flush()
    assert (kept.stats()["stored"], kept.stats()["unsaved"], kept.stats()["storeError"]) == (5, 0, None)
    assert numbers(await kept.find(Query({"iin": IIN}))) == [1, 2, 3, 4, 5]
    await kept.close()


async def test_a_database_that_cannot_be_opened_leaves_the_ring_working(tmp_path: Path):
    (tmp_path / "a-file").write_text("not a directory")
    broken = journal(f"sqlite:///{tmp_path}/a-file/portal.journal.db")
    await broken.open()
    record(broken, 1, 2)
    assert numbers(await broken.find(Query({}))) == [1, 2]
    assert broken.stats()["storeError"], "the reason is shown in the journal's sources"
    await broken.close()


async def test_a_query_past_the_ring_finds_what_the_ring_would_whatever_its_values_spell(tmp_path: Path):
    """The database narrows a query by pieces of text before the entries are checked one by one: a value JSON spells
    otherwise than Python (true, a float, an escaped quote, an object) must not be narrowed away."""
    deep = journal(f"sqlite:///{tmp_path}/portal.journal.db", ring=1)
    await deep.open()
    deep.record("http", payload={"ok": True, "n": 5, "f": 1e20, "s": 'a"b\\c', "d": {"a": 1}, "t": "Жезқазған 50%_"},
                outcome="ok")
    deep.record("http", payload={"other": 1}, outcome="ok")  # pushes the first out of the ring
    await deep.flush()
    for wanted in ({"payload.ok": "True"}, {"payload.n": "5"}, {"payload.f": "1e+20"}, {"payload.s": 'a"b\\c'},
                   {"payload.d": "{'a': 1}"}, {"payload.t": "Жезқазған 50%_"}, {"contains": '"n":5'},
                   {"contains": "50%_"}):
        assert len(await deep.find(Query(wanted))) == 1, wanted
    assert await deep.find(Query({"payload.t": "Жезқазған 5%"})) == [], "a LIKE wildcard is a character"
    await deep.close()
