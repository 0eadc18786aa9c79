"""SQLite for asyncio without a thread hop: aiosqlite's interface over the standard ``sqlite3`` module, each call
run in the event loop's own thread, and the SQLAlchemy dialect ``sqlite+meshinline`` that uses it.

**Why.** aiosqlite runs every statement in a worker thread and hands the answer back through the event loop's
self-pipe: a queue put, a thread wake-up, a GIL hand-over and a loop wake-up for each ``execute``, ``fetchall``
and ``commit``. A mesh service's statements are small reads and writes on a local file that SQLite answers in
tens of microseconds, so the hand-over cost more than the work: measured on the 2-core bench machine, one
unit of work (BEGIN IMMEDIATE, INSERT, COMMIT, or a read by key) took 1.17 ms of CPU through aiosqlite and
0.35 ms here (``docs/decisions.md``, "SQLite in the event loop's thread").

**What could block the loop, and why it does not.** SQLite waits only for another connection's write lock
(another service replica on the same file, an operator's ``sqlite3``, another pool connection of this process
writing outside ``session.begin()``). A blocking busy handler here would freeze every coroutine of the service —
including the one holding the lock, so it would wait for itself. So connections are opened with
``busy_timeout`` 0 and a busy answer (``SQLITE_BUSY``) is waited out *asynchronously*, retrying the statement with
growing pauses up to ``BUSY_WAIT_S`` (the 30 s the aiosqlite set-up gave SQLite's own handler): the rest of the
service runs meanwhile. ``SQLITE_BUSY_SNAPSHOT`` — a read snapshot that can no longer become a write — is not
retried, as SQLite's own handler does not retry it either. Statements are otherwise short: the longest a service
runs (``/log/verify``'s read, a retention purge) fetch rows whose handling in Python already ran in the loop. What
else now runs in the loop's thread: the WAL's automatic checkpoint, which a ``COMMIT`` makes when the log passes
1000 pages (a few MB copied into the database file and, under ``synchronous=NORMAL``, one fsync) — milliseconds,
every few thousand writes.

A URL naming ``sqlite+aiosqlite`` explicitly still gets aiosqlite (``shared.db.async_url`` maps only plain
``sqlite://``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from sqlite3 import (  # noqa: F401 — the DB-API names SQLAlchemy's adapter reads off the driver module
    DatabaseError,
    Error,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    sqlite_version,
    sqlite_version_info,
)
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util.concurrency import await_

__version__ = "0.22.1"  # the aiosqlite interface this module stands in for (SQLAlchemy reads the version)

BUSY_WAIT_S = 30.0
_BUSY = {5, 261}  # SQLITE_BUSY, SQLITE_BUSY_RECOVERY; not SQLITE_BUSY_SNAPSHOT (517): retrying cannot help it
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.001, 0.05
busy_pauses = 0  # pauses taken waiting for another connection's lock, in this process (a test can follow them)


async def _patiently(call: Any, *args: Any) -> Any:
    """``call(*args)``, with a busy database waited out in the event loop (see the module's doc)."""
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + BUSY_WAIT_S, _FIRST_PAUSE_S
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _BUSY or loop.time() + pause > deadline:
                raise
        global busy_pauses
        busy_pauses += 1
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE_S)


class Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        await _patiently(self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        await _patiently(self._cursor.executemany, sql, list(parameters))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany() if size is None else self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class Connection:
    """aiosqlite's ``Connection``, as much of it as SQLAlchemy's adapter uses; ``_connection`` is the sqlite3
    connection, None once closed (the adapter reads it)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    @property
    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection

    def cursor(self) -> Cursor:
        return Cursor(self._open.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await _patiently(self._open.commit)

    async def rollback(self) -> None:
        self._open.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._open.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._open.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self._open.in_transaction


async def _connect(database: Any, **kwargs: Any) -> Connection:
    kwargs["check_same_thread"] = False  # made in the loop's thread, closed by the pool perhaps in another
    kwargs["timeout"] = 0  # no blocking busy handler: see the module's doc
    return Connection(sqlite3.connect(database, **kwargs))


def connect(database: Any, **kwargs: Any) -> Any:
    """aiosqlite.connect's form: an awaitable connection."""
    return _connect(database, **kwargs)


class _AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:  # aiosqlite's version queues it to its thread
        self._connection.isolation_level = value


class _Driver(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> _AdaptedConnection:
        kwargs.pop("async_creator_fn", None)
        return _AdaptedConnection(self, await_(connect(*args, **kwargs)))


class InlineSQLiteDialect(SQLiteDialect_aiosqlite):
    driver = "meshinline"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _Driver:
        return _Driver(sys.modules[__name__], sqlite3)
