"""Inbox: a consumer claims each messageId in the same transaction as the message's effect.

The claim is the first statement of the transaction (``INSERT … ON CONFLICT DO NOTHING``): a redelivered
message (consumer killed before its ack, broker restart, outbox re-send) finds its id taken and is
acknowledged without being applied again — exactly once in effect. On PostgreSQL a second replica claiming
the same id waits for the first one's outcome, so the id is never applied twice and never lost. The claim is
the only thing that may call a message a duplicate (see ``shared.mesh.failures``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Sessions, UtcDateTime, insert_if_absent


class InboxMessage(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=128)
    message_id: str = Field(primary_key=True, max_length=64)
    processed_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
    log_seq: int | None = Field(default=None, description="the gateway's log record named by the delivery's seal")


async def claim(session: AsyncSession, *, consumer: str, message_id: str, log_seq: int | None = None) -> bool:
    """Take ``message_id`` for this consumer; False when it was processed already (a duplicate). ``log_seq``
    records which record of the gateway's message log routed it (its seal): the two logs join on it."""
    return await insert_if_absent(session, InboxMessage.__table__, {  # type: ignore[attr-defined]
        "consumer": consumer, "message_id": message_id, "processed_at": dt.datetime.now(dt.UTC), "log_seq": log_seq})


async def purge_inbox(sessions: Sessions, *, older_than: dt.timedelta) -> int:
    """Forget ids processed long ago (real time): a copy older than that cannot arrive any more."""
    cutoff = dt.datetime.now(dt.UTC) - older_than
    async with sessions() as session, session.begin():
        result = await session.exec(delete(InboxMessage).where(col(InboxMessage.processed_at) < cutoff))
    return int(result.rowcount or 0)
