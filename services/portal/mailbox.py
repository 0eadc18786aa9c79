"""The member ``mail``: ПЭП's SMS and e-mail gateway, the mesh's one outbox, hosted in the portal's process.

Nothing is really sent: every ``mesh.mail`` request that reaches it is recorded once (in the inbox's
transaction) with the sender the gateway proved — the envelope's, never anything the payload says — and
testers read the outbox through ``GET /admin/mail`` or ``meshctl mail`` (``usecases.mail_outbox``). Logs name ids
and kinds only, never an address or a text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import MeshClock
from shared.db import UtcDateTime
from shared.logging import get_logger
from shared.mesh.contracts import MAIL_SERVICE, MailRequest
from shared.mesh.envelope import MessageType
from shared.mesh.member import Incoming, MemberRuntime

log = get_logger(__name__)


class MailMessage(SQLModel, table=True):
    __tablename__ = "mail_message"

    id: int | None = DbField(default=None, primary_key=True)
    message_id: str = DbField(max_length=64, unique=True, description="the mesh.mail envelope's id")
    correlation_id: str = DbField(index=True, max_length=128)
    sender: str = DbField(index=True, max_length=64, description="the member that sent it, as the gateway proved")
    kind: str = DbField(max_length=8, description="email | sms")
    address: str = DbField(index=True, max_length=254, description="the e-mail address or phone number")
    subject: str | None = DbField(default=None, max_length=256)
    text: str = DbField(sa_column=Column(Text, nullable=False))
    application_number: str | None = DbField(default=None, index=True, max_length=32)
    attachments: list[dict[str, Any]] = DbField(default_factory=list, sa_column=Column(JSON, nullable=False))
    message_date: str = DbField(max_length=64, description="when the sender made it (its messageDate)")
    received_at: dt.datetime = DbField(sa_column=Column(UtcDateTime, nullable=False))


async def record_mail(session: AsyncSession, incoming: Incoming, *, now: dt.datetime) -> MailMessage:
    """One received ``mesh.mail`` request, in the inbox's transaction (so once, however often it is delivered)."""
    request = incoming.payload
    assert isinstance(request, MailRequest)
    env = incoming.envelope
    mail = MailMessage(message_id=str(env.message_id), correlation_id=env.correlation_id, sender=env.sender,
                       kind=request.kind, address=request.to, subject=request.subject, text=request.text,
                       application_number=request.application_number,
                       attachments=[a.model_dump(by_alias=True) for a in request.attachments],
                       message_date=_iso(env.message_date), received_at=now)
    session.add(mail)
    log.info("mail_received", kind=request.kind, sender=env.sender, attachments=len(request.attachments))
    return mail


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def host_mailbox(runtime: MemberRuntime, *, clock: MeshClock) -> None:
    """Make ``runtime``'s member the mesh's outbox: it records every ``mesh.mail`` request delivered to it."""
    async def on_mail(session: AsyncSession, incoming: Incoming) -> None:
        await record_mail(session, incoming, now=clock.now())

    runtime.on_message(message_type=MessageType.REQUEST, service_id=MAIL_SERVICE, handler=on_mail)
