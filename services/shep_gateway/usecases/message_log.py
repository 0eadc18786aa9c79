"""Reading and checking the gateway's message log: a case's messages, one record, and the whole chain."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from services.shep_gateway.domain import GENESIS_HASH, anchor_content, digest, record_content
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.store import DeliveryRow, LogAnchor, LogHead, LogRecord
from shared.db import Sessions
from shared.errors import MeshError
from shared.pki.cert_profile import serial_hex
from shared.pki.signing import SignatureError, verify_detached


class MessageLog:
    def __init__(self, *, sessions: Sessions, book: RegistryBook, own_id: str) -> None:
        self._sessions = sessions
        self._book = book
        self._own_id = own_id

    async def case_log(self, *, correlation_id: str) -> list[LogRecord]:
        async with self._sessions() as session:
            rows = await session.exec(select(LogRecord).where(LogRecord.correlation_id == correlation_id)
                                      .order_by(col(LogRecord.seq)))
            return list(rows.all())

    async def deliveries(self, *, correlation_id: str | None, state: str | None, limit: int) -> list[dict[str, Any]]:
        """Deliveries on members' queues and where each stands (ON_DELIVERY, DELIVERED, NOT_DELIVERED)."""
        query = select(DeliveryRow).order_by(col(DeliveryRow.first_sent_at).desc()).limit(limit)
        if correlation_id is not None:
            query = query.where(DeliveryRow.correlation_id == correlation_id)
        if state is not None:
            query = query.where(DeliveryRow.state == state)
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()
        return [{"messageId": r.message_id, "correlationId": r.correlation_id, "serviceId": r.service_id,
                 "messageType": r.message_type, "sender": r.sender, "recipient": r.recipient, "state": r.state,
                 "attempts": r.attempts, "logSeq": r.log_seq, "firstSentAt": r.first_sent_at,
                 "settledAt": r.settled_at, "settledBy": r.settled_by, "waits": r.waits,
                 "waitingFor": r.waiting_for} for r in rows]

    async def log_record(self, *, message_id: str) -> LogRecord:
        async with self._sessions() as session:
            record = (await session.exec(select(LogRecord).where(LogRecord.message_id == message_id))).first()
        if record is None:
            raise MeshError("LOG_RECORD_NOT_FOUND", f"no message {message_id} in the log")
        return record

    async def recent_log(self, *, limit: int, outcome: str | None) -> list[LogRecord]:
        query = select(LogRecord).order_by(col(LogRecord.seq).desc()).limit(limit)
        if outcome:
            query = query.where(LogRecord.outcome == outcome)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def verify_chain(self, *, page: int = 1000) -> dict[str, Any]:
        """Walk the whole log: hashes, links, the gateway's signature on every record, and the head.

        After a retention purge the walk starts from the newest anchor: the hash of the last purged record,
        signed by the gateway when it purged — so the records kept still verify, and a cut anywhere else does
        not.
        """
        gateway_serials = self._book.pinned(self._own_id)
        previous, expected_seq, checked = GENESIS_HASH, 1, 0
        async with self._sessions() as session:
            # the head first: the walk checks the log up to it, and records the gateway appends meanwhile (it keeps
            # logging while it is verified) are the next walk's, not a break
            head = await session.get(LogHead, 1)
            anchor = (await session.exec(select(LogAnchor).order_by(col(LogAnchor.id).desc()).limit(1))).first()
        last = head.seq if head is not None else None
        if anchor is not None:
            problem = _anchor_problem(anchor, gateway_serials=gateway_serials)
            if problem is not None:
                return {"ok": False, "checked": 0, "brokenAt": {"seq": anchor.seq, "messageId": None,
                                                                "problem": problem}}
            previous, expected_seq = anchor.record_hash, anchor.seq + 1
        while True:
            async with self._sessions() as session:
                wanted = select(LogRecord).where(col(LogRecord.seq) >= expected_seq)
                if last is not None:
                    wanted = wanted.where(col(LogRecord.seq) <= last)
                rows = list((await session.exec(wanted.order_by(col(LogRecord.seq)).limit(page))).all())
            if not rows:
                break
            for record in rows:
                problem = _record_problem(record, expected_seq=expected_seq, previous=previous,
                                          gateway_serials=gateway_serials)
                if problem is not None:
                    return {"ok": False, "checked": checked, "brokenAt": {
                        "seq": record.seq, "messageId": record.message_id, "problem": problem}}
                previous, expected_seq, checked = record.record_hash, record.seq + 1, checked + 1
        if head is not None and (head.seq != expected_seq - 1 or head.record_hash != previous):
            return {"ok": False, "checked": checked, "brokenAt": {
                "seq": expected_seq, "messageId": None,
                "problem": f"records after seq {expected_seq - 1} are missing (head says {head.seq})"}}
        return {"ok": True, "checked": checked, "headHash": previous,
                "anchor": {**anchor.content(), "signature": anchor.signature} if anchor else None}


def _signature_problem(*, content: bytes, signature: str, gateway_serials: set[str], what: str) -> str | None:
    """None when ``signature`` over ``content`` is the gateway's own; otherwise what is wrong with it."""
    try:
        verified = verify_detached(content=content, signature_b64=signature)
    except SignatureError as exc:
        return f"{what} signature does not verify: {exc.message}"
    if serial_hex(verified.signer) not in gateway_serials:
        return f"{what} signature is made with a certificate that is not the gateway's"
    return None


def _anchor_problem(anchor: LogAnchor, *, gateway_serials: set[str]) -> str | None:
    content = anchor_content(seq=anchor.seq, record_hash=anchor.record_hash, purged=anchor.purged_records,
                             purged_at=anchor.purged_at)
    return _signature_problem(content=content, signature=anchor.signature, gateway_serials=gateway_serials,
                              what="the retention anchor's")


def _record_problem(record: LogRecord, *, expected_seq: int, previous: str, gateway_serials: set[str]) -> str | None:
    if record.seq != expected_seq:
        return f"sequence jumps from {expected_seq - 1} to {record.seq}: records are missing"
    if record.prev_hash != previous:
        return "prevHash does not match the previous record's hash: the chain was cut or reordered"
    content = record_content(record.chained_fields())
    if digest(content) != record.record_hash:
        return "recordHash does not match the record's content: the record was altered"
    return _signature_problem(content=content, signature=record.signature, gateway_serials=gateway_serials,
                              what="the gateway's")
