"""Inbox: a consumer records each messageId it processed in the same transaction as the effect.

A redelivered message (consumer killed before its ack, broker restart, outbox re-send) finds its id here
and is acknowledged without being applied again: exactly once in effect.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import UtcDateTime


class InboxMessage(SQLModel, table=True):
    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True, max_length=128)
    message_id: str = Field(primary_key=True, max_length=64)
    processed_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


async def already_processed(session: AsyncSession, *, consumer: str, message_id: str) -> bool:
    query = select(InboxMessage.message_id).where(InboxMessage.consumer == consumer,
                                                  InboxMessage.message_id == message_id)
    return (await session.exec(query)).first() is not None


def mark_processed(session: AsyncSession, *, consumer: str, message_id: str) -> None:
    session.add(InboxMessage(consumer=consumer, message_id=message_id, processed_at=dt.datetime.now(dt.UTC)))
