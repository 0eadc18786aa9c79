"""The journal's database: what a process's ring (``shared.mesh.journal``) no longer holds, and what it held before
the process restarted.

The ring answers the test that is running; the database answers the question asked afterwards — a case explained
after a busy hour pushed it out of the ring, or after the service was killed and started again. Entries are
written in batches by one background task (``Journal.open`` starts it), never in the request or the delivery they
record: a request pays for an append to a list, not for a write.

Bounds, stated: the newest ``rows`` entries of the service (``MESH_JOURNAL_ROWS``, default 50,000; 0: no
database, the ring only) and, while the database cannot be written, at most ``UNSAVED_MAX`` entries waiting (the
oldest of them are counted in ``unsaved_dropped``, never silently). Each entry is the ring's own dict as JSON, its
payload already bounded and without secrets; the columns beside it are what a query narrows by.

Where: on SQLite a file of its own beside the service's database (``NAME.journal.db``), so its writer never queues
with the service's units of work; on PostgreSQL a table in the service's database. Every row names its service and
the process that wrote it, so one database may hold several services' journals and several replicas' entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import make_engine

DEFAULT_ROWS = 50_000
UNSAVED_MAX = 50_000
"""Entries kept waiting for a database that cannot be written (down, full): beyond it the oldest go."""
BATCH = 1000
READ_PAGE = 2000

# The filters a query narrows the table by, each a column of its own (the rest are checked on the entries read):
# camelCase filter name -> (column name, longest value kept).
FILTER_COLUMNS = {"kind": ("kind", 16), "outcome": ("outcome", 32), "code": ("code", 64),
                  "correlationId": ("correlation_id", 64), "applicationNumber": ("application_number", 64),
                  "iin": ("iin", 16), "messageId": ("message_id", 64), "serviceId": ("service_id", 64),
                  "messageType": ("message_type", 16), "channel": ("channel", 8), "sender": ("sender", 64),
                  "recipient": ("recipient", 64)}
INDEXED = ("correlationId", "applicationNumber", "iin", "messageId")

METADATA = MetaData()
JOURNAL_ENTRY = Table(
    "journal_entry", METADATA,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("service", String(32), nullable=False),
    Column("process", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at_ts", Float, nullable=False),
    Column("mesh_at_ts", Float, nullable=False),
    *(Column(column, String(size)) for column, size in FILTER_COLUMNS.values()),
    Column("entry", Text, nullable=False),
    Index("ix_journal_entry_service_id", "service", "id"),
    # with the service and the id: a look-up by one of them is read newest first from its index alone
    *(Index(f"ix_journal_entry_{FILTER_COLUMNS[name][0]}", FILTER_COLUMNS[name][0], "service", "id")
      for name in INDEXED),
)


def journal_url(database_url: str) -> str:
    """Where a service whose state is at ``database_url`` keeps its journal: a sibling SQLite file, or (any other
    database) the same database."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return database_url
    path = Path(parsed.database)
    return parsed.set(database=str(path.with_name(f"{path.stem}.journal.db"))).render_as_string(hide_password=False)


def _text(value: Any, size: int) -> str | None:
    return None if value is None else str(value)[:size]


class JournalStore:
    """One service's journal rows: written in batches, read newest first, pruned to ``rows``, emptied by a reset."""

    def __init__(self, *, url: str, service: str, rows: int = DEFAULT_ROWS, engine: AsyncEngine | None = None,
                 ) -> None:
        self.url = url
        self.service = service
        self.rows = rows
        self._engine = engine
        self.stored = 0  # rows of this service, as of the last write or prune

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    async def open(self) -> int:
        """Create the table if missing; the highest ``seq`` this service stored (0: none), so a restarted process
        numbers on from it and a wait's ``afterSeq`` stays a cursor."""
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda sync: METADATA.create_all(sync, tables=[JOURNAL_ENTRY]))
            mine = JOURNAL_ENTRY.c.service == self.service
            highest = (await conn.execute(select(func.max(JOURNAL_ENTRY.c.seq)).where(mine))).scalar()
            self.stored = int((await conn.execute(select(func.count()).where(mine))).scalar() or 0)
        return int(highest or 0)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    async def write(self, entries: Sequence[dict[str, Any]], *, process: str) -> None:
        """Append ``entries`` (one transaction a batch), then prune to ``rows`` when a tenth over it."""
        for start in range(0, len(entries), BATCH):
            rows = [{"service": self.service, "process": process, "seq": int(e["seq"]), "at_ts": float(e["atTs"]),
                     "mesh_at_ts": float(e["meshAtTs"]), "entry": orjson.dumps(e, default=str).decode(),
                     **{column: _text(e.get(name), size) for name, (column, size) in FILTER_COLUMNS.items()}}
                    for e in entries[start:start + BATCH]]
            async with self.engine.begin() as conn:
                await conn.execute(insert(JOURNAL_ENTRY), rows)
            self.stored += len(rows)
        if self.stored > self.rows + max(self.rows // 10, 1):
            await self.prune()

    async def prune(self) -> None:
        """Keep this service's newest ``rows`` entries."""
        mine = JOURNAL_ENTRY.c.service == self.service
        async with self.engine.begin() as conn:
            cut = (await conn.execute(select(JOURNAL_ENTRY.c.id).where(mine).order_by(JOURNAL_ENTRY.c.id.desc())
                                      .limit(1).offset(self.rows))).scalar()
            if cut is not None:
                await conn.execute(delete(JOURNAL_ENTRY).where(mine, JOURNAL_ENTRY.c.id <= cut))
            self.stored = int((await conn.execute(select(func.count()).where(mine))).scalar() or 0)

    async def clear(self) -> int:
        """Delete this service's entries (a whole-mesh reset): how many went."""
        async with self.engine.begin() as conn:
            gone = (await conn.execute(delete(JOURNAL_ENTRY).where(JOURNAL_ENTRY.c.service == self.service))).rowcount
        self.stored = 0
        return int(gone or 0)

    async def history(self, equal: dict[str, str], *, member: str | None = None, texts: Sequence[str] = (),
                      wall: tuple[float | None, float | None] = (None, None),
                      mesh: tuple[float | None, float | None] = (None, None), after_seq: int | None = None,
                      process: str, ring_from: int | None) -> list[tuple[str, dict[str, Any]]]:
        """This service's stored entries the ring does not hold — every other process's (an earlier run, a
        replica) and this process's before ``ring_from`` (its ring's oldest ``seq``; None: all of them) — narrowed
        by the equality filters the table has columns for, ``member`` (the sender or the recipient), ``texts``
        (each somewhere in the entry's JSON), the wall-time and mesh-time ranges and ``after_seq`` — a superset of
        the query's matches: the caller checks each entry. Newest first, each with the process that wrote it."""
        c = JOURNAL_ENTRY.c
        # a value longer than its column is kept cut short: such a filter is left to the caller's check
        where = [c.service == self.service, *(c[FILTER_COLUMNS[name][0]] == value for name, value in equal.items()
                                              if name in FILTER_COLUMNS and len(value) <= FILTER_COLUMNS[name][1])]
        if member is not None and len(member) <= FILTER_COLUMNS["sender"][1]:
            where.append(or_(c.sender == member, c.recipient == member))
        where += [c.entry.contains(piece, autoescape=True) for piece in texts]
        if after_seq is not None:
            where.append(c.seq > after_seq)
        if ring_from is not None:
            where.append(or_(c.process != process, c.seq < ring_from))
        for column, (low, high) in ((c.at_ts, wall), (c.mesh_at_ts, mesh)):
            if low is not None:
                where.append(column >= low)
            if high is not None:
                where.append(column <= high)
        found: list[tuple[str, dict[str, Any]]] = []
        last_id: int | None = None
        async with self.engine.connect() as conn:
            while True:  # in pages by id: a deep history is never one result set in memory twice
                page_where = and_(*where, c.id < last_id) if last_id is not None else and_(*where)
                page = (await conn.execute(select(c.id, c.process, c.entry).where(page_where)
                                           .order_by(c.id.desc()).limit(READ_PAGE))).all()
                found.extend((row.process, orjson.loads(row.entry)) for row in page)
                if len(page) < READ_PAGE:
                    return found
                last_id = page[-1].id
