"""The chained, signed message log and the outbox, written together: every record a transaction appends follows
the chain's head (locked for the transaction, so replicas on PostgreSQL append one after another), and what it
publishes goes into the outbox in the same commit. After the commit the gateway publishes those rows itself; the
relay only recovers what a crash left."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import time
from typing import Any

from sqlalchemy import bindparam, event, union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.domain import GENESIS_HASH, LOG_FIELDS, Outcome, Refusal, chained, digest, record_content
from services.shep_gateway.store import DeliveryRow, LogHead, LogRecord, ParkedRequest
from services.shep_gateway.usecases.examined import Examined, Txn
from shared.clock import MeshClock
from shared.db import Sessions
from shared.logging import get_logger
from shared.mesh.bus import Bus
from shared.mesh.dead_letters import json_safe
from shared.mesh.member import Composer
from shared.mesh.outbox import OutboxRelay, StagedBatch, insert_outbox, mark_batch_sent, publish_in_order
from shared.pki.canonical import canonical_bytes
from shared.pki.signing import sign_detached
from shared.telemetry import trace_id_of

log = get_logger(__name__)
RECORD_IDLE_S = 0.05


class Ledger:
    def __init__(self, *, sessions: Sessions, bus: Bus, relay: OutboxRelay, composer: Composer,
                 clock: MeshClock) -> None:
        self.sessions = sessions
        self._bus = bus
        self._relay = relay
        self._composer = composer
        self._clock = clock
        self.lock = asyncio.Lock()  # one appender of the chain at a time in this process
        self._published: list[tuple[str, int]] = []  # (outbox batch, rows published) not yet marked sent
        self._last_published = 0.0
        self._recording: asyncio.Future[None] | None = None

    async def open(self, session: AsyncSession) -> Txn:
        """A transaction appending after the chain's head, which it locks until it commits."""
        return Txn(session=session, head=await self._lock_head(session))

    def log(self, txn: Txn, item: Examined, *, outcome: Outcome, recipient: str | None,
            refusal: Refusal | None = None) -> int:
        """Chain a signed record of ``item`` after the transaction's head; its hash becomes the new head.
        Returns the record's sequence number, which the seal of what it delivers names."""
        parsed = item.parsed
        env = item.header
        raw = parsed.raw if parsed else item.wire.raw if item.wire else None
        row: dict[str, Any] = {
            "seq": txn.head.seq + 1, "message_id": item.message_id,
            "correlation_id": env.correlation_id if env else None, "service_id": env.service_id if env else None,
            "message_type": env.message_type.value if env else None, "sender": env.sender if env else None,
            "recipient": recipient, "route_id": env.route_id if env else None,
            "in_reply_to": str(env.in_reply_to) if env and env.in_reply_to else None,
            "message_date": raw.get("messageDate") if raw else None,
            "received_at": item.received_at.isoformat(), "outcome": outcome.value,
            "error_code": refusal.code if refusal else None,
            "error_reason": refusal.message[:1000] if refusal else None,
            "payload_digest": digest(canonical_bytes(parsed.envelope.data)) if parsed else None,
            "envelope_digest": digest(item.delivery.body), "checks": json_safe(item.checks),
            "prev_hash": txn.head.record_hash, "trace_id": trace_id_of(item.delivery.headers),
        }
        assert set(row) == set(LOG_FIELDS)
        assert self._composer.signer is not None
        content = record_content(chained(row))
        hashed = digest(content)
        signature = base64.b64encode(sign_detached(content=content, signer=self._composer.signer,
                                                   at=self._clock.now())).decode()
        txn.records.append({**row, "record_hash": hashed, "signature": signature,
                            "logged_at": dt.datetime.now(dt.UTC)})
        txn.head = LogHead(id=1, seq=row["seq"], record_hash=hashed)
        return int(row["seq"])

    async def write(self, txn: Txn) -> StagedBatch:
        """Everything the transaction made, in its session: records, deliveries, the head, the outbox rows."""
        await self._mark_published(txn.session)
        # One executemany per table; SQLModel makes ``__table__`` at class creation, unseen by the type checker.
        if txn.records:
            await txn.session.exec(LogRecord.__table__.insert(), params=txn.records)  # type: ignore[attr-defined]
        if txn.deliveries:
            await txn.session.exec(DeliveryRow.__table__.insert(), params=txn.deliveries)  # type: ignore[attr-defined]
        await self._save_head(txn.session, txn.head)
        return await insert_outbox(txn.session, txn.staged)

    async def publish(self, batch: StagedBatch) -> None:
        """Publish what a transaction just committed; anything left unsent is the relay's to recover.

        That the rows left is recorded in the next transaction (or when traffic pauses, ``_record_when_quiet``):
        a crash in between only means the relay publishes them again, and receivers de-duplicate.
        """
        if not batch.rows:
            return
        done, failure = await publish_in_order(self._bus, batch.rows)
        if failure is not None:
            log.warning("gateway_publish_deferred", error=repr(failure[1])[:300])
            self._relay.kick()
        if done:
            self._published.append((batch.batch_id, done))
            self._last_published = time.monotonic()
            if self._recording is None or self._recording.done():
                self._recording = asyncio.ensure_future(self._record_when_quiet())

    async def _mark_published(self, session: AsyncSession) -> None:
        """Record in ``session``'s transaction what was published; forgotten here once it commits (a transaction
        rolled back leaves them for the next one)."""
        marked = list(self._published)
        for batch_id, count in marked:
            await mark_batch_sent(session, batch_id=batch_id, count=count)
        if marked:
            def forget(_session: Any) -> None:
                for entry in marked:
                    with contextlib.suppress(ValueError):
                        self._published.remove(entry)
            event.listen(session.sync_session, "after_commit", forget, once=True)

    async def _record_when_quiet(self) -> None:
        """What was published is recorded by the next transaction that appends to the log, at no cost of its own;
        only after ``RECORD_IDLE_S`` without a publish is it recorded in a transaction of its own (before: one
        after every ingress batch that emptied the inbox — at a steady trickle, a second write transaction for
        each message). The relay takes only rows ``min_age`` (5 s) old, so a row published and not yet recorded
        is not published again meanwhile."""
        while self._published:
            quiet_in = self._last_published + RECORD_IDLE_S - time.monotonic()
            if quiet_in > 0:
                await asyncio.sleep(quiet_in)
                continue
            try:
                await self.flush_published()
            except Exception:
                log.exception("gateway_record_published_failed")
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Record what was published now, rather than have it published again after a restart."""
        if self._recording is not None:
            self._recording.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recording
        try:
            await self.flush_published()
        except Exception:
            log.exception("gateway_record_published_failed")

    async def flush_published(self) -> None:
        """Record what was published when no next batch is coming to carry it."""
        if not self._published:
            return
        async with self.lock, self.sessions() as session, session.begin():
            await self._mark_published(session)

    @staticmethod
    async def already_logged(session: AsyncSession, ids: list[str]) -> set[str]:
        """Messages handled before: logged, or parked waiting for their district (one query on the hot path)."""
        rows = await (await session.connection()).execute(_ALREADY_LOGGED, {"ids": ids})
        return {row[0] for row in rows.all()}

    @staticmethod
    async def _lock_head(session: AsyncSession) -> LogHead:
        head = (await session.exec(_LOCK_HEAD)).first()
        return head or LogHead(id=1, seq=0, record_hash=GENESIS_HASH)

    @staticmethod
    async def _save_head(session: AsyncSession, head: LogHead) -> None:
        result = await (await session.connection()).execute(_SAVE_HEAD, {"new_seq": head.seq, "hash": head.record_hash})
        if result.rowcount == 0:  # the very first record
            session.add(LogHead(id=1, seq=head.seq, record_hash=head.record_hash))


# The statements of every ingress transaction, built once: SQLAlchemy keys its compiled cache by the statement, and
# building one anew each time cost more than SQLite's work (0.43 against 0.16 ms for the head's read and write).
_ALREADY_LOGGED = union_all(
    select(LogRecord.message_id).where(col(LogRecord.message_id).in_(bindparam("ids", expanding=True))),
    select(ParkedRequest.message_id).where(col(ParkedRequest.message_id).in_(bindparam("ids", expanding=True))))
_LOCK_HEAD = select(LogHead).where(LogHead.id == 1).with_for_update()
_SAVE_HEAD = update(LogHead.__table__).where(LogHead.__table__.c.id == 1).values(  # type: ignore[attr-defined]
    seq=bindparam("new_seq"), record_hash=bindparam("hash"))
