"""Transactional outbox: outgoing messages are rows written in the same transaction as the state change.

A relay publishes unsent rows in id order with publisher confirms and only then marks them sent, so a
crash at any point re-sends rather than loses (receivers de-duplicate by messageId through their inbox).
On PostgreSQL, replicas claim rows with FOR UPDATE SKIP LOCKED so they do not publish the same row twice.
On SQLite the relay remembers what it published and marks it sent a moment later, many rows a transaction
(``OutboxRelay.record_published``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Engine, LargeBinary, bindparam, delete, event, func, inspect, update
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Sessions, UtcDateTime
from shared.logging import get_logger
from shared.mesh.background import BackgroundTask
from shared.mesh.bus import Bus, BusError, OutgoingMessage, Unroutable
from shared.mesh.dead_letters import json_safe, kept
from shared.mesh.topology import DEAD_EXCHANGE, H_ORIGIN_QUEUE, H_REFUSAL_CODE, H_REFUSAL_REASON
from shared.telemetry import metrics

# A row the broker keeps refusing while the connection is fine (too large, a channel error of its own) is
# parked in the dead-letter queue after this many attempts, so it does not hold up every row behind it.
MAX_PUBLISH_ATTEMPTS = 5
# SQLite: rows published are marked sent once publishing has paused ``RECORD_IDLE_S``, or the first of them was
# published ``RECORD_WITHIN_S`` ago, or ``MARK_AT_MOST`` wait — in one transaction for all of them: a write transaction
# per message cost more CPU than the message's own state change. After a crash, what was published and not yet marked
# is published again (receivers de-duplicate; the gateway refuses the copy as a duplicate): the bounds keep that few.
RECORD_IDLE_S = 0.05
RECORD_WITHIN_S = 0.25
MARK_AT_MOST = 100

log = get_logger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(index=True, max_length=64)
    exchange: str = Field(max_length=128)
    routing_key: str = Field(max_length=256)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    correlation_id: str | None = Field(default=None, max_length=128)
    reply_to: str | None = Field(default=None, max_length=256)
    expiration_ms: int | None = None
    publisher: str | None = Field(default=None, max_length=128, description="whose connection publishes it")
    created_at: dt.datetime = Field(default_factory=_utcnow, sa_column=Column(UtcDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, index=True))
    attempts: int = 0
    last_error: str | None = None
    # Rows bulk-inserted together share a batch id; their position lets the writer mark them sent by prefix
    # without asking the database for generated ids (INSERT … RETURNING is row-by-row on SQLite).
    batch_id: str | None = Field(default=None, max_length=32, index=True)
    position: int | None = None

    def outgoing(self) -> OutgoingMessage:
        return OutgoingMessage(body=self.body, headers=dict(self.headers), message_id=self.message_id,
                               correlation_id=self.correlation_id, reply_to=self.reply_to,
                               expiration_ms=self.expiration_ms, publisher=self.publisher)


def queue_outgoing(session: AsyncSession, *, exchange: str, routing_key: str, message: OutgoingMessage) -> None:
    """Stage a message for publication; it leaves only if the surrounding transaction commits (and then the relay
    of the session's database is handed the row: ``OutboxRelay``)."""
    row = OutboxMessage(**outbox_values(exchange=exchange, routing_key=routing_key, message=message))
    session.add(row)
    session.sync_session.info.setdefault(_STAGED, []).append(row)


_STAGED = "mesh.outbox.staged"  # a session's info: the rows ``queue_outgoing`` staged in its transaction
_HANDED_TO: weakref.WeakKeyDictionary[Engine, OutboxRelay] = weakref.WeakKeyDictionary()


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    """Committed: the rows the transaction staged go to its database's relay, which publishes them without
    reading them back (``OutboxRelay._run``)."""
    staged = session.info.pop(_STAGED, None)
    relay = _HANDED_TO.get(session.bind) if staged and isinstance(session.bind, Engine) else None
    if relay is not None:  # only rows in the database now (not one a rolled-back savepoint took out again)
        relay.committed([row for row in staged if row.id is not None and inspect(row).persistent])


@event.listens_for(Session, "after_rollback")
def _forget_staged(session: Session) -> None:
    session.info.pop(_STAGED, None)


def outbox_values(*, exchange: str, routing_key: str, message: OutgoingMessage) -> dict[str, Any]:
    """A row's values; headers are stored as JSON, so whatever the broker put in them is made storable."""
    return {"message_id": message.message_id or "", "exchange": exchange, "routing_key": routing_key,
            "body": message.body, "headers": json_safe(message.headers), "correlation_id": message.correlation_id,
            "reply_to": message.reply_to, "expiration_ms": message.expiration_ms, "publisher": message.publisher,
            "created_at": _utcnow(),
            "attempts": 0}


@dataclass(frozen=True)
class StagedBatch:
    """Rows one transaction inserted, in order, ready to publish once it commits."""

    batch_id: str
    rows: tuple[OutboxMessage, ...]


async def insert_outbox(session: AsyncSession, rows: list[dict[str, Any]]) -> StagedBatch:
    """Bulk-insert staged rows in one statement, tagged with a batch id and their positions."""
    batch_id = uuid.uuid4().hex
    for position, values in enumerate(rows):
        values["batch_id"], values["position"] = batch_id, position
    if rows:
        await session.exec(OutboxMessage.__table__.insert(), params=rows)  # type: ignore[attr-defined]
    return StagedBatch(batch_id=batch_id, rows=tuple(OutboxMessage.model_construct(**v) for v in rows))


async def mark_sent(session: AsyncSession, ids: list[int]) -> None:
    if ids:
        await session.exec(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
                           .values(sent_at=_utcnow()))


async def mark_batch_sent(session: AsyncSession, *, batch_id: str, count: int) -> None:
    """Mark the first ``count`` rows of a staged batch sent."""
    if count:
        await (await session.connection()).execute(_BATCH_SENT, {"batch": batch_id, "count": count,
                                                                 "now": _utcnow()})


# Built once, values bound as parameters (see ``shared.db.insert_if_absent``).
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_BATCH_SENT = update(_OUTBOX).where(_OUTBOX.c.batch_id == bindparam("batch"),
                                    _OUTBOX.c.position < bindparam("count")).values(sent_at=bindparam("now"))
_SENT_BY_ID = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"),
                                    _OUTBOX.c.message_id == bindparam("mid")).values(sent_at=bindparam("now"))


Failure = tuple[OutboxMessage, BaseException]


async def publish_in_order(bus: Bus, rows: Sequence[OutboxMessage]) -> tuple[int, Failure | None]:
    """Publish rows concurrently (one channel keeps their order) and wait for every confirm.

    Returns how many rows, from the first, left the outbox (sent, or parked as unroutable), and the first
    other failure. A row no queue takes can never be delivered: it goes to the dead-letter queue with that
    reason instead of blocking every row behind it — except an answer for a caller's reply queue (the default
    exchange): such a queue lives only as long as its caller, so an answer it can no longer take is one that
    nobody waits for any more; it is logged and let go. Any other failure (broker unreachable) stops there so
    that order is kept.
    """
    results = await asyncio.gather(
        *(bus.publish(exchange=r.exchange, routing_key=r.routing_key, message=r.outgoing()) for r in rows),
        return_exceptions=True)
    counted = metrics()
    counted.message_out("published", sum(1 for result in results if not isinstance(result, BaseException)))
    for done, (row, result) in enumerate(zip(rows, results, strict=True)):
        if isinstance(result, Unroutable) and row.exchange == "":
            counted.message_out("reply_queue_gone")
            log.warning("reply_queue_gone", routing_key=row.routing_key, message_id=row.message_id)
        elif isinstance(result, Unroutable):
            counted.message_out("unroutable")
            try:
                await _park_unroutable(bus, row, reason=str(result))
            except BusError as exc:  # could not park it now: it stays in the outbox, in order, for the next try
                return done, (row, exc)
        elif isinstance(result, BaseException):
            counted.message_out("failed")
            return done, (row, result)
    return len(rows), None


async def _park_unroutable(bus: Bus, row: OutboxMessage, *, reason: str, code: str = "UNROUTABLE") -> None:
    message = row.outgoing()
    message.headers.update({H_REFUSAL_CODE: code, H_REFUSAL_REASON: reason[:1000],
                            H_ORIGIN_QUEUE: f"{row.exchange or '(default)'}/{row.routing_key}"})
    message.expiration_ms = None
    await bus.publish(exchange=DEAD_EXCHANGE, routing_key=row.routing_key, message=kept(message))
    log.warning("outbox_message_parked", code=code, exchange=row.exchange, routing_key=row.routing_key,
                message_id=row.message_id)


class OutboxRelay:
    def __init__(self, *, sessions: Sessions, bus: Bus, batch_size: int = 200, idle_poll_s: float = 1.0,
                 keep_sent: dt.timedelta = dt.timedelta(hours=1), min_age: dt.timedelta | None = None,
                 housekeeping: list[Callable[[], Awaitable[Any]]] | None = None,
                 housekeeping_every_s: float = 60.0) -> None:
        """``min_age``: only rows at least this old, for a service that publishes its own rows right after
        committing them and needs the relay only to recover what a crash left behind. ``keep_sent``: how long
        a published row is kept (real time) before it is purged. ``housekeeping``: other purges (inbox, logs)
        run beside the outbox's own every ``housekeeping_every_s``."""
        self._sessions = sessions
        self._min_age = min_age
        self._bus = bus
        self._batch = batch_size
        self._idle = idle_poll_s
        self._keep_sent = keep_sent
        self._housekeeping = [self.purge_sent, *(housekeeping or [])]
        self._housekeeping_every = housekeeping_every_s
        self._wake = asyncio.Event()
        self._loop = BackgroundTask(name="outbox-relay", run=self._run)
        self._backoff = 0.0
        self._published: dict[int, str] = {}  # SQLite: published, not yet marked sent: row id → its message id
        # SQLite, a relay that publishes at once (no ``min_age``): rows committed through ``queue_outgoing`` are
        # handed over, and published without a read while the relay is caught up (its last read found everything)
        self._handed: list[OutboxMessage] = []
        self._caught_up = False
        self._last_read = 0.0  # loop time of the last read of the outbox
        bind = sessions.kw["bind"]
        if bind.dialect.name == "sqlite" and min_age is None:
            _HANDED_TO[bind.sync_engine] = self
        self._last_published = self._first_unmarked = 0.0
        self._recording: asyncio.Future[None] | None = None

    def also_purge(self, purge: Callable[[], Awaitable[Any]]) -> None:
        """Run ``purge`` with the relay's housekeeping (retention of inbox ids, logs)."""
        self._housekeeping.append(purge)

    def kick(self) -> None:
        """Something was committed to the outbox: publish it now rather than at the next poll."""
        self._wake.set()

    def committed(self, rows: list[OutboxMessage]) -> None:
        """Rows a transaction on this relay's database staged and committed, in commit order (one writer at a
        time on SQLite: the order of their ids). A relay not running keeps none: it reads them when it starts."""
        if not rows or not self._loop.running:
            return
        self._handed.extend(rows)
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._recording is not None:
            self._recording.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recording
        try:  # what was published is marked now, rather than published again after a restart
            await self.record_published()
        except Exception:
            log.exception("outbox_record_published_failed")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time() + self._housekeeping_every
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle + self._backoff)
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                if woken and self._caught_up and loop.time() - self._last_read < self._idle:
                    # Caught up: what was committed since was handed over (a kick after it finds nothing more).
                    # Still read at least every ``idle_poll_s``, for rows written by other means.
                    if self._handed:
                        await self._publish_handed()
                else:  # a batch smaller than a full one was everything unsent: asking again would find nothing
                    while await self.publish_pending() >= self._batch:
                        pass
                self._backoff = 0.0
                if loop.time() >= next_housekeeping:
                    next_housekeeping = loop.time() + self._housekeeping_every
                    await self.housekeeping()
            except BusError as exc:
                self._backoff = min(max(self._backoff * 2, 0.5), 5.0)
                log.warning("outbox_publish_failed", error=str(exc), retry_in_s=self._backoff)
            except Exception:  # the relay must outlive any one bad cycle; the rows stay for the next
                self._backoff = min(max(self._backoff * 2, 0.5), 5.0)
                log.exception("outbox_cycle_failed")

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many left the outbox.

        On PostgreSQL replicas claim rows with FOR UPDATE SKIP LOCKED for the time of publishing. On SQLite a
        row lock does not exist and a write transaction would stop every writer of the service while the
        broker confirms, so the rows are read, published, then marked in a short transaction of their own
        (two replicas on one file may both publish a row: receivers de-duplicate).
        """
        if self._sessions.kw["bind"].dialect.name == "postgresql":
            async with self._sessions() as session, session.begin():
                rows = list((await session.exec(self._unsent().with_for_update(skip_locked=True))).all())
                done, failure = await self._publish(rows)
                await self._record(session, rows, done, failure)
        else:
            self._last_read = asyncio.get_running_loop().time()
            async with self._sessions() as session:
                rows = list((await session.exec(self._unsent())).all())
            done, failure = await self._publish(rows)
            self._remember(rows[:done])
            # What was handed over and this read found went out with it (or waits for the next read); what it
            # did not find was committed after it — newer, so published after it, from the hand-over.
            read = {row.id for row in rows}
            self._handed = [row for row in self._handed if row.id not in read]
            self._caught_up = self._min_age is None and failure is None and len(rows) < self._batch
            if failure is not None:
                await self._record_failure(failure)
        if failure is not None:
            raise BusError(f"outbox row {failure[0].id} not published: {failure[1]!r}")
        return done

    async def _publish_handed(self) -> None:
        """SQLite, caught up: publish the rows handed over since, in commit order, without reading them back."""
        rows, self._handed = self._handed, []
        done, failure = await self._publish(rows)
        self._remember(rows[:done])
        if failure is not None:  # what is left is read back, in order, from the next turn on
            self._caught_up = False
            await self._record_failure(failure)
            raise BusError(f"outbox row {failure[0].id} not published: {failure[1]!r}")

    async def _record_failure(self, failure: Failure) -> None:
        async with self._sessions() as session, session.begin():
            await self._record(session, [], 0, failure)

    def _unsent(self) -> Any:
        query = (select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None))
                 .order_by(col(OutboxMessage.id)).limit(self._batch))
        if self._published:
            query = query.where(col(OutboxMessage.id).not_in(list(self._published)))
        if self._min_age:
            query = query.where(col(OutboxMessage.created_at) < _utcnow() - self._min_age)
        return query

    def _remember(self, rows: Sequence[OutboxMessage]) -> None:
        """SQLite: rows published, to be marked sent by ``record_published`` once publishing has paused
        ``RECORD_IDLE_S``, or ``RECORD_WITHIN_S`` after the first, or when ``MARK_AT_MOST`` wait. Until then this
        relay does not take them again; after a crash meanwhile they are published again, and receivers
        de-duplicate, as for a crash before any mark."""
        if not rows:
            return
        now = asyncio.get_running_loop().time()
        if not self._published:
            self._first_unmarked = now
        self._published.update((row.id, row.message_id) for row in rows if row.id is not None)
        self._last_published = now
        if self._recording is None or self._recording.done():
            self._recording = asyncio.ensure_future(self._record_when_quiet())

    async def _record_when_quiet(self) -> None:
        loop = asyncio.get_running_loop()
        while self._published:
            due_in = min(self._last_published + RECORD_IDLE_S, self._first_unmarked + RECORD_WITHIN_S) - loop.time()
            if due_in > 0 and len(self._published) < MARK_AT_MOST:
                await asyncio.sleep(min(due_in, RECORD_IDLE_S))
                continue
            try:
                await self.record_published()
            except Exception:  # marked at the next pause; meanwhile they are not published again
                log.exception("outbox_record_published_failed")
                await asyncio.sleep(1.0)

    async def record_published(self) -> None:
        """Mark sent, in one transaction, every row this relay published and has not marked yet.

        A row is marked by its id *and* its message id: a reset (``shared.web.state_admin``) empties the outbox
        meanwhile, and SQLite may give a new row the id of one deleted — that row is not marked, and is published
        at the relay's next turn (which this kicks), not lost."""
        marked = list(self._published.items())
        if not marked:
            return
        now = _utcnow()
        async with self._sessions() as session, session.begin():
            result = await (await session.connection()).execute(_SENT_BY_ID, [
                {"row_id": row_id, "mid": message_id, "now": now} for row_id, message_id in marked])
        for row_id, _ in marked:
            self._published.pop(row_id, None)
        if self._published:  # published while this was being recorded: their bound counts from now
            self._first_unmarked = asyncio.get_running_loop().time()
        if result.rowcount != len(marked):  # some row went meanwhile: read the outbox again
            self._caught_up = False
            self._wake.set()

    async def _publish(self, rows: list[OutboxMessage]) -> tuple[int, Failure | None]:
        """Publish; a row the broker refuses while the connection is fine counts an attempt against the row,
        and after ``MAX_PUBLISH_ATTEMPTS`` of those it is parked (a broker outage counts against nothing)."""
        if not rows:
            return 0, None
        done, failure = await publish_in_order(self._bus, rows)
        if failure is not None and self._bus.is_connected:
            row, exc = failure
            row.attempts += 1
            if row.attempts >= MAX_PUBLISH_ATTEMPTS:
                with contextlib.suppress(BusError):
                    await _park_unroutable(self._bus, row, code="Server.PublishFailed",
                                           reason=f"the broker refused it {row.attempts} times: {exc!r}")
                    return done + 1, None
        return done, failure

    @staticmethod
    async def _record(session: AsyncSession, rows: list[OutboxMessage], done: int, failure: Failure | None) -> None:
        await mark_sent(session, [r.id for r in rows[:done] if r.id is not None])
        if failure is not None:
            row, exc = failure
            await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row.id)
                               .values(attempts=row.attempts, last_error=repr(exc)[:500]))

    async def housekeeping(self) -> None:
        for purge in self._housekeeping:
            try:
                await purge()
            except Exception:  # a purge that fails now is tried again next time; it never stops publishing
                log.exception("housekeeping_failed", purge=getattr(purge, "__qualname__", str(purge)))

    async def purge_sent(self) -> int:
        cutoff = _utcnow() - self._keep_sent
        async with self._sessions() as session, session.begin():
            result = await session.exec(delete(OutboxMessage).where(col(OutboxMessage.sent_at) < cutoff))
        return int(result.rowcount or 0)

    def _still_unsent(self) -> Any:
        """Rows not sent: unmarked, less those this relay published and will mark a moment later."""
        unsent = col(OutboxMessage.sent_at).is_(None)
        return unsent & col(OutboxMessage.id).not_in(list(self._published)) if self._published else unsent

    async def lag(self) -> tuple[int, float]:
        """How many rows wait to be published, and how long (real seconds) the oldest has waited: 0 when none."""
        async with self._sessions() as session:
            pending, oldest = (await session.exec(select(func.count(), func.min(OutboxMessage.created_at))
                                                  .where(self._still_unsent()))).one()
        return int(pending), (_utcnow() - oldest).total_seconds() if oldest is not None else 0.0

    async def pending_count(self) -> int:
        async with self._sessions() as session:
            rows = await session.exec(select(OutboxMessage.id).where(self._still_unsent()))
            return len(rows.all())
