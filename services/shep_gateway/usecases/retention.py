"""Retention: the message log is purged to ``SHEP_LOG_RETENTION_DAYS`` (real time), always a prefix of the chain,
leaving a signed anchor the rest verifies from; settled deliveries, resolved parked requests and closed calls go
with it."""

from __future__ import annotations

import base64
import datetime as dt
import time

from sqlalchemy import delete, func
from sqlmodel import col, select

from services.shep_gateway.domain import anchor_content
from services.shep_gateway.store import DeliveryRow, LogAnchor, LogRecord, ParkedRequest, SyncCall
from services.shep_gateway.usecases.ledger import Ledger
from shared.logging import get_logger
from shared.mesh.member import Composer
from shared.pki.signing import sign_detached

log = get_logger(__name__)


class Retention:
    def __init__(self, *, ledger: Ledger, composer: Composer) -> None:
        self._ledger = ledger
        self._sessions = ledger.sessions
        self._composer = composer

    async def purge_log(self, *, older_than: dt.timedelta) -> int:
        """Drop log records written (real time) before ``older_than`` ago, always a prefix of the chain, and
        leave a signed anchor — the last purged record's hash — from which the rest of the chain verifies."""
        cutoff = dt.datetime.now(dt.UTC) - older_than
        async with self._ledger.lock, self._sessions() as session, session.begin():
            last = (await session.exec(select(func.max(LogRecord.seq)).where(col(LogRecord.logged_at) < cutoff))).one()
            if last is None:
                return 0
            record = await session.get(LogRecord, last)
            assert record is not None
            first = (await session.exec(select(func.min(LogRecord.seq)))).one() or last
            purged_at = dt.datetime.now(dt.UTC).isoformat()
            anchor = LogAnchor(seq=last, record_hash=record.record_hash, purged_records=last - first + 1,
                               purged_at=purged_at, signature="")
            assert self._composer.signer is not None
            anchor.signature = base64.b64encode(sign_detached(content=anchor_content(
                seq=anchor.seq, record_hash=anchor.record_hash, purged=anchor.purged_records, purged_at=purged_at),
                signer=self._composer.signer, at=dt.datetime.fromisoformat(purged_at))).decode()  # as purged_at: real
            session.add(anchor)
            await session.exec(delete(LogRecord).where(col(LogRecord.seq) <= last))
            await session.exec(delete(ParkedRequest).where(
                col(ParkedRequest.state) == "RESOLVED", col(ParkedRequest.resolved_at) < cutoff))
            await session.exec(delete(SyncCall).where(
                col(SyncCall.state) != "PENDING", col(SyncCall.deadline) < cutoff.timestamp()))
        log.info("message_log_purged", up_to_seq=last, records=anchor.purged_records)
        return anchor.purged_records

    async def purge_deliveries(self, *, older_than: dt.timedelta) -> int:
        """Forget settled deliveries (real time): the log keeps their record."""
        cutoff = time.time() - older_than.total_seconds()
        async with self._sessions() as session, session.begin():
            result = await session.exec(delete(DeliveryRow).where(
                col(DeliveryRow.state) != "ON_DELIVERY", col(DeliveryRow.settled_at) < cutoff))
        return int(result.rowcount or 0)
