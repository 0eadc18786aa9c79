"""Gateway tables: the member and service registry, pinned certificates, the chained message log,
synchronous calls in flight, and the mesh clock it is the authority for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, update
from sqlmodel import Field, SQLModel, col

from services.shep_gateway.domain import LOG_FIELDS
from shared.db import Sessions, UtcDateTime


class MemberRow(SQLModel, table=True):
    __tablename__ = "member"

    id: str = Field(primary_key=True, max_length=64)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ServiceRow(SQLModel, table=True):
    __tablename__ = "service"

    id: str = Field(primary_key=True, max_length=128)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class SeedMark(SQLModel, table=True):
    """The definition a registry entry last took from the seed file. An entry still equal to its mark has not
    been changed through the admin API, so it follows the seed file when that changes; one that differs is
    the testers' and is kept."""

    __tablename__ = "registry_seed_mark"

    kind: str = Field(primary_key=True, max_length=16)
    id: str = Field(primary_key=True, max_length=128)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class MemberCertificate(SQLModel, table=True):
    """A system certificate pinned to a member: only pinned certificates may sign for it."""

    __tablename__ = "member_certificate"

    serial: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(index=True, max_length=64)
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    not_after: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    registered_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class LogRecord(SQLModel, table=True):
    """One record per message through the gateway, chained by hash and signed by the gateway."""

    __tablename__ = "message_log"
    __table_args__ = (UniqueConstraint("message_id", name="uq_message_log_message_id"),)

    seq: int = Field(primary_key=True)
    message_id: str = Field(max_length=64)
    correlation_id: str | None = Field(default=None, index=True, max_length=128)
    service_id: str | None = Field(default=None, max_length=128)
    message_type: str | None = Field(default=None, max_length=16)
    sender: str | None = Field(default=None, max_length=64)
    recipient: str | None = Field(default=None, max_length=64)
    route_id: str | None = Field(default=None, max_length=64)
    in_reply_to: str | None = Field(default=None, index=True, max_length=64)
    message_date: str | None = Field(default=None, max_length=64)
    received_at: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    error_code: str | None = Field(default=None, max_length=64)
    error_reason: str | None = Field(default=None, max_length=1000)
    payload_digest: str | None = Field(default=None, max_length=64)
    envelope_digest: str = Field(max_length=64)
    checks: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    trace_id: str | None = Field(default=None, max_length=32, index=True,
                                 description="the W3C trace the message came in (its traceparent), if it carried one")
    record_hash: str = Field(max_length=64)
    signature: str = Field(sa_column=Column(Text, nullable=False))

    logged_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, index=True),
                                          description="real time of writing (retention); not part of the chain")

    def chained_fields(self) -> dict[str, Any]:
        return {name: getattr(self, column) for column, name in LOG_FIELDS.items()}

    def public(self) -> dict[str, Any]:
        return {**self.chained_fields(), "recordHash": self.record_hash, "signature": self.signature}


class LogHead(SQLModel, table=True):
    """The chain's head, one row, locked by whoever appends (serialises replicas on PostgreSQL)."""

    __tablename__ = "message_log_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    record_hash: str = Field(max_length=64)


class SyncCall(SQLModel, table=True):
    __tablename__ = "sync_call"

    message_id: str = Field(primary_key=True, max_length=64)
    caller: str = Field(max_length=64)
    provider: str = Field(max_length=64)
    service_id: str = Field(max_length=128)
    correlation_id: str = Field(max_length=128)
    reply_to: str = Field(max_length=256)
    deadline: float = Field(description="real Unix time")
    state: str = Field(default="PENDING", max_length=16, index=True)
    traceparent: str | None = Field(default=None, max_length=64, description="the W3C trace of the request: a "
                                    "time-out is logged, and told to the caller, in it")


class DeliveryRow(SQLModel, table=True):
    """A delivery on a member's queue, ON_DELIVERY until the member's receipt (``shared.mesh.receipts``): the sealed
    bytes are kept to deliver again, and dropped once DELIVERED or NOT_DELIVERED. Times are real (Unix seconds),
    as every retry's.

    The redelivery sweep's three look-ups (the next time due, the recipients due, the deliveries due) are searches
    of one index, ``ix_delivery_due`` (state, next attempt, recipient): with separate indexes SQLite searched by
    state and read every row ON_DELIVERY — tens of milliseconds a sweep per ten thousand waiting, in the event
    loop's thread, every few seconds — and a member that is down or a receiver that never sends receipts keeps
    that many waiting."""

    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_due", "state", "next_attempt_at", "recipient"),)

    message_id: str = Field(primary_key=True, max_length=64)
    recipient: str = Field(max_length=64)
    sender: str | None = Field(default=None, max_length=64)
    message_type: str = Field(max_length=16)
    service_id: str | None = Field(default=None, max_length=128)
    correlation_id: str | None = Field(default=None, index=True, max_length=128)
    exchange: str = Field(max_length=128)
    routing_key: str = Field(max_length=256)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    log_seq: int
    state: str = Field(default="ON_DELIVERY", max_length=16)
    attempts: int = 1
    first_sent_at: float
    next_attempt_at: float
    settled_at: float | None = None
    settled_by: str | None = Field(default=None, max_length=64, description="the receipt's message id, or the reason")
    waits: int = Field(default=0, description="sweeps that found the member down or its queue still holding "
                       "messages, so no attempt was counted")
    waiting_for: str | None = Field(default=None, max_length=128, description="why, at the last such sweep")


class ParkedRequest(SQLModel, table=True):
    """A request that named no district, held while the gateway asks ГБД ФЛ where its applicant lives.

    It enters the message log only once it is routed or refused, so the log shows one outcome per message.
    """

    __tablename__ = "parked_request"

    message_id: str = Field(primary_key=True, max_length=64)
    lookup_id: str = Field(index=True, unique=True, max_length=64, description="the gateway's own lookup request")
    service_id: str = Field(max_length=128)
    applicant_iin: str = Field(max_length=12)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    checks: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = 1
    state: str = Field(default="PARKED", max_length=16, index=True)
    parked_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime),
                                          description="real time it was parked: it is refused after the bound")
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime),
                                            description="real time it was routed or refused (retention)")


class LogAnchor(SQLModel, table=True):
    """Where the verifiable chain starts after a purge: the last purged record's hash, signed by the gateway."""

    __tablename__ = "message_log_anchor"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(description="the last purged record; the log continues at seq + 1")
    record_hash: str = Field(max_length=64)
    purged_records: int
    purged_at: str = Field(max_length=64, description="real time of the purge, ISO 8601")
    signature: str = Field(sa_column=Column(Text, nullable=False))

    def content(self) -> dict[str, Any]:
        return {"seq": self.seq, "recordHash": self.record_hash, "purgedRecords": self.purged_records,
                "purgedAt": self.purged_at}


class MeshSnapshotRow(SQLModel, table=True):
    """A named snapshot of the mesh (issue 20): every member service's state, as one JSON archive."""

    __tablename__ = "mesh_snapshot"

    name: str = Field(primary_key=True, max_length=64)
    taken_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    archive: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ClockRow(SQLModel, table=True):
    __tablename__ = "mesh_clock"

    id: int = Field(default=1, primary_key=True)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


async def backfill_real_times(sessions: Sessions) -> None:
    """Records written before the real-time columns existed (an upgraded var/) count from now: retention and
    the parked requests' bound start at the upgrade, instead of purging or refusing them at once."""
    now = dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():
        await session.exec(update(LogRecord).where(col(LogRecord.logged_at).is_(None)).values(logged_at=now))
        await session.exec(update(ParkedRequest).where(col(ParkedRequest.parked_at).is_(None))
                           .values(parked_at=now))
