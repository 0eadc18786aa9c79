"""Database plumbing: one async engine per service, SQLite under var/ for local runs, PostgreSQL when deployed.

``DATABASE_URL`` may be given in its plain form (``postgresql://…``, ``sqlite:///…``); the async driver is
chosen here. Tables are created per service from the list it passes, so importing another module's
models never creates its tables.

**Write transactions are serialised where the database would not do it for us.** Every unit of work opened
with ``session.begin()`` may read, decide and write (a counter, a lock-out, a step's state). On PostgreSQL
such code locks what it reads (``FOR UPDATE``) or writes in one statement (``UPDATE … RETURNING``,
``INSERT … ON CONFLICT``); on SQLite ``FOR UPDATE`` is silently ignored, so ``session.begin()`` starts the
transaction with ``BEGIN IMMEDIATE``: it takes SQLite's write lock before the first read, and two writers —
in one process or in two replicas on one file — cannot interleave. Sessions that only read (no
``begin()``) keep SQLite's ordinary deferred transactions and run beside the writer (WAL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, event, inspect, text, update
from sqlalchemy.dialects import postgresql, registry, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSessionTransaction, async_sessionmaker, create_async_engine
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.logging import get_logger

log = get_logger(__name__)
registry.register("sqlite.meshinline", "shared.sqlite_inline", "InlineSQLiteDialect")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: mesh timestamps carry a time zone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_WRITERS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()
_OWNERS: dict[asyncio.Lock, asyncio.Task[Any] | None] = {}  # which task holds a write lock now
WRITE_LOCK_TIMEOUT_S = 30.0


class WriteLockTimeout(OperationalError):
    """Waited too long for this process's turn to write to its SQLite database (treated as an outage)."""


class _WriteTransaction(AsyncSessionTransaction):
    """``session.begin()``: on SQLite, take the write lock first (``BEGIN IMMEDIATE``), see the module's doc.

    Writers of one process queue on an asyncio lock before they ask SQLite, so they wait their turn in the
    event loop, in order, instead of polling SQLite's busy handler with growing sleeps; SQLite's own lock then
    only arbitrates between processes (replicas on one file).
    """

    _writer_lock: asyncio.Lock | None = None

    async def start(self, is_ctxmanager: bool = False) -> _WriteTransaction:
        bind = self.session.bind
        if bind is not None and bind.dialect.name == "sqlite":
            lock = _WRITERS.setdefault(bind.sync_engine, asyncio.Lock())
            me = asyncio.current_task()
            if lock.locked() and _OWNERS.get(lock) is me:  # it would wait for itself for ever: say so at once
                raise RuntimeError("a write transaction was opened inside another one of the same task")
            try:
                await asyncio.wait_for(lock.acquire(), timeout=WRITE_LOCK_TIMEOUT_S)
            except TimeoutError:
                raise WriteLockTimeout("BEGIN IMMEDIATE", {}, Exception(
                    f"no turn to write within {WRITE_LOCK_TIMEOUT_S:g} s")) from None
            _OWNERS[lock] = me
            self._writer_lock = lock
            try:
                await super().start(is_ctxmanager=is_ctxmanager)
                connection = await self.session.connection()
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                self._release()
                raise
            return self
        await super().start(is_ctxmanager=is_ctxmanager)
        return self

    def _release(self) -> None:
        if self._writer_lock is not None:
            _OWNERS.pop(self._writer_lock, None)
            self._writer_lock.release()
            self._writer_lock = None

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            await super().__aexit__(type_, value, traceback)
        finally:
            self._release()


class MeshSession(AsyncSession):
    """The services' session: ``begin()`` opens a serialised unit of work (see the module's doc)."""

    def begin(self) -> AsyncSessionTransaction:
        return _WriteTransaction(self)


Sessions = async_sessionmaker[MeshSession]


def async_url(url: str) -> str:
    parsed = make_url(url)
    driver = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+meshinline"}
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across process kills (not power loss).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full)
        # In the loop's thread a blocking busy handler would stall the whole service: sqlite_inline waits instead.
        busy_ms = 0 if parsed.get_driver_name() == "meshinline" else 30000
        event.listen(engine.sync_engine, "connect", partial(_sqlite_pragmas, busy_ms=busy_ms))
        return engine
    return create_async_engine(full, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_sessions(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=MeshSession, expire_on_commit=False)


async def create_tables(engine: AsyncEngine, *, models: Iterable[type[SQLModel]]) -> None:
    """Create missing tables, and add the columns and indexes a newer version of a table has gained (additive
    migration); an index of ours (named ``ix_…``) that the table no longer declares is dropped, since it only costs
    writes — and can mislead SQLite's planner into the old, slower search.

    A column can be added to existing data when it may be NULL or has a server default; anything else (a
    renamed or retyped column) is refused with the table and column named, so it is never silently wrong.
    """
    tables = [m.__table__ for m in models]  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=tables))
        await conn.run_sync(lambda sync: _add_missing_columns(sync, tables))


def _add_missing_columns(conn: Connection, tables: list[Table]) -> None:
    inspector = inspect(conn)
    for table in tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable and column.server_default is None:
                raise RuntimeError(f"table {table.name} lacks column {column.name}, which cannot be added to existing "
                                   "rows (NOT NULL without a default): delete the service's database under var/")
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN {ddl}'))
            log.info("database_column_added", table=table.name, column=column.name)
        declared = {index.name for index in table.indexes}
        for found in inspector.get_indexes(table.name):
            name = found["name"]
            if name and name.startswith("ix_") and name not in declared:
                conn.execute(text(f'DROP INDEX "{name}"'))
                log.info("database_index_dropped", table=table.name, index=name)
        for index in table.indexes:  # create_all made none for a table that existed already
            index.create(conn, checkfirst=True)


@asynccontextmanager
async def snapshot(sessions: Sessions) -> AsyncIterator[MeshSession]:
    """A session whose reads all see one moment: an answer made of several queries never mixes states (an
    application COMPLETED with its steps still open). SQLite: a deferred transaction (its first read fixes the
    WAL snapshot); PostgreSQL: REPEATABLE READ. Nothing is written: the transaction is rolled back at the end."""
    async with sessions() as session:
        bind = session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        else:
            connection = await session.connection()
            await connection.exec_driver_sql("BEGIN")
        yield session


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


_IF_ABSENT: dict[tuple[str, Table], Any] = {}


def _if_absent_for(session: AsyncSession, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` in the session's dialect: one statement object per table
    and dialect, built once."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = _IF_ABSENT.get((dialect, table))
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = _IF_ABSENT[(dialect, table)] = insert(table).on_conflict_do_nothing()
    return statement


async def insert_if_absent(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: True when this transaction inserted the row, False when it existed.

    On PostgreSQL a concurrent transaction inserting the same key makes this one wait for its outcome, so
    exactly one of them gets True — the way to *claim* a key (an inbox message id, an idempotency key).

    The values are bound as parameters of a statement built once: SQLAlchemy keys its compiled cache by the
    statement, and building one anew for every message (an inbox claim each) cost more than SQLite's insert."""
    statement = _if_absent_for(session, table)
    result = await (await session.connection()).execute(statement, values)
    return bool(result.rowcount)


async def raise_counter(session: AsyncSession, model: Any, **key: Any) -> int:
    """The next number of a counter row (``model`` has the ``key`` columns and ``last``): one UPDATE … RETURNING on
    a row that exists before it is raised, so two transactions — two tasks, two replicas, SQLite or PostgreSQL —
    never get the same one; raised in the caller's transaction, a rolled-back one burns no number."""
    await insert_if_absent(session, model.__table__, key | {"last": 0})
    raised = await session.exec(update(model).where(*(getattr(model, k) == v for k, v in key.items()))
                                .values(last=model.last + 1).returning(model.last))
    return int(raised.one()[0])


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database (readiness)."""
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
