"""The journal's database behind its ring, exercised the same way on SQLite (tests/usecases/test_journal_store.py)
and on PostgreSQL (tests/e2e/test_postgres.py)."""

from __future__ import annotations

from shared.mesh.journal import Journal, Query
from shared.mesh.journal_store import JournalStore

IIN = "850701300007"


def journal(url: str, *, ring: int = 3, rows: int = 100, service: str = "portal") -> Journal:
    # flush_s: the writer's batching wait; the tests write with flush() themselves, and a long wait keeps the
    # background writer out of their way
    return Journal(service=service, ring=ring, store=JournalStore(url=url, service=service, rows=rows), flush_s=3600)


def record(target: Journal, first: int, last: int, **fields: str) -> None:
    for n in range(first, last + 1):
        target.record("http", payload={"n": n, "iin": IIN}, outcome="ok", route="/t", **fields)


def numbers(entries: list[dict]) -> list[int]:
    return [e["payload"]["n"] for e in entries]


async def assert_the_ring_and_its_database_answer_as_one(url: str) -> None:
    """Past the ring, across a restart, pruned to its rows, emptied by a reset — on the database at ``url``."""
    first = journal(url, rows=8)
    await first.open()
    await first.clear()  # what an earlier run on this database left
    record(first, 1, 5)
    assert numbers(await first.find(Query({"iin": IIN}))) == [1, 2, 3, 4, 5], "unwritten: from memory"
    await first.flush()
    record(first, 6, 7)  # in the ring and not yet written, while 3 and 4 are only in the database
    assert first.stats() | {"payloadBytes": 0} == {
        "service": "portal", "entries": 3, "ring": 3, "head": 7, "dropped": 4, "payloadBytes": 0, "stored": 5,
        "rows": 8, "unsaved": 2, "unsavedDropped": 0, "storeError": None}
    assert numbers(await first.find(Query({"iin": IIN, "kind": "http"}))) == [1, 2, 3, 4, 5, 6, 7]
    assert numbers(await first.find(Query({"afterSeq": "5"}))) == [6, 7]
    assert numbers(await first.find(Query({"payload.n": "3"}))) == [3], "a payload field, read from the database"
    assert numbers(await first.find(Query({"contains": '"n":4', "member": "nobody"}))) == []
    assert numbers(await first.find(Query({"contains": '"n":4'}))) == [4]
    await first.close()  # writes what is left

    again = journal(url, rows=8)  # the service started again: a new process, the same database
    await again.open()
    assert again.stats()["head"] == 7, "its head is the last run's: a wait's cursor from before stays one"
    record(again, 8, 8)
    [newest] = again.entries()
    assert newest["seq"] == 8, "numbered on from the last run: a cursor into it stays one"
    assert numbers(await again.find(Query({"iin": IIN}))) == [1, 2, 3, 4, 5, 6, 7, 8]
    record(again, 9, 20)
    await again.flush()
    assert again.stats()["stored"] == 8, "pruned to its rows, the oldest gone"
    assert numbers(await again.find(Query({}))) == [13, 14, 15, 16, 17, 18, 19, 20]

    other = journal(url, service="mio_workstation")  # one database, two services' journals
    await other.open()
    record(other, 100, 100)
    await other.flush()
    assert await again.clear() == 8, "a reset empties the database too"
    assert await again.find(Query({})) == []
    assert numbers(await other.find(Query({}))) == [100], "and only its own service's"
    await other.close()
    await again.close()
