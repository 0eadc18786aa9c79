"""The member ``mail``: ПЭП's SMS and e-mail gateway, the mesh's one outbox, hosted in the portal's process.

Nothing is really sent: every ``mesh.mail`` request that reaches it is recorded once (in the inbox's
transaction) with the sender the gateway proved — the envelope's, never anything the payload says — and
testers read the outbox through ``GET /admin/mail`` or ``meshctl mail``. Logs name ids and kinds only,
never an address or a text.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Column, Text
from sqlmodel import Field as DbField
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import MeshClock
from shared.db import Sessions, UtcDateTime
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.contracts import MAIL_SERVICE, MailRequest
from shared.mesh.envelope import MessageType
from shared.mesh.member import Incoming, MemberRuntime
from shared.web.http_app import SQL_INT_MAX
from shared.web.openapi_errors import error_responses

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


# ---- reading it (test support) ------------------------------------------------------------------------------
class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class AttachmentOut(Out):
    name: str
    content_type: str = Field(alias="contentType")
    size_bytes: int = Field(alias="sizeBytes", description="of the decoded content")
    content_base64: str | None = Field(default=None, alias="contentBase64", description="GET /admin/mail/{id} only")


class MailOut(Out):
    id: int
    message_id: str = Field(alias="messageId")
    correlation_id: str = Field(alias="correlationId")
    sender: str = Field(description="the member that sent it (proven by the gateway): mio.<district>, con, portal")
    kind: Literal["email", "sms"]
    to: str
    subject: str | None = None
    text: str
    application_number: str | None = Field(default=None, alias="applicationNumber")
    attachments: list[AttachmentOut]
    message_date: str = Field(alias="messageDate")
    received_at: str = Field(alias="receivedAt", description="mesh time the outbox took it")


class MailListOut(Out):
    mail: list[MailOut] = Field(description="oldest first, newest last")


def _size(content_base64: str) -> int:
    return len(content_base64) * 3 // 4 - content_base64[-2:].count("=") if content_base64 else 0


def mail_out(mail: MailMessage, *, content: bool) -> MailOut:
    return MailOut(
        id=mail.id or 0, message_id=mail.message_id, correlation_id=mail.correlation_id, sender=mail.sender,
        kind=mail.kind,  # type: ignore[arg-type]
        to=mail.address, subject=mail.subject, text=mail.text, application_number=mail.application_number,
        attachments=[AttachmentOut(name=a["name"], content_type=a["contentType"], size_bytes=_size(a["contentBase64"]),
                                   content_base64=a["contentBase64"] if content else None)
                     for a in mail.attachments],
        message_date=mail.message_date, received_at=mail.received_at.isoformat())


async def outbox(sessions: Sessions, *, to: str | None = None, kind: str | None = None,
                 application_number: str | None = None, correlation_id: str | None = None) -> list[MailMessage]:
    query = select(MailMessage).order_by(col(MailMessage.received_at), col(MailMessage.id))
    if to:
        query = query.where(MailMessage.address == to)
    if kind:
        query = query.where(MailMessage.kind == kind)
    if application_number:
        query = query.where(MailMessage.application_number == application_number)
    if correlation_id:
        query = query.where(MailMessage.correlation_id == correlation_id)
    async with sessions() as session:
        return list((await session.exec(query)).all())


def build_mail_router(*, sessions: Sessions, admin: Any) -> APIRouter:
    router = APIRouter()
    guarded = [Depends(admin)]

    @router.get("/admin/mail", tags=["test support"], dependencies=guarded, response_model=MailListOut,
                summary="The mesh's SMS and e-mail outbox (member `mail`), oldest first (admin)",
                description="Every e-mail and SMS a member sent through the gateway (`mesh.mail`), with the sender "
                            "the gateway proved; attachments by name and size (their content: `GET /admin/mail/{id}`).")
    async def mail_list(to: Annotated[str | None, Query(max_length=254)] = None,
                        kind: Annotated[Literal["email", "sms"] | None, Query()] = None,
                        application_number: Annotated[str | None, Query(alias="applicationNumber",
                                                                        max_length=32)] = None,
                        correlation_id: Annotated[str | None, Query(alias="correlationId", max_length=128)] = None,
                        ) -> MailListOut:
        found = await outbox(sessions, to=to, kind=kind, application_number=application_number,
                             correlation_id=correlation_id)
        return MailListOut(mail=[mail_out(m, content=False) for m in found])

    @router.get("/admin/mail/{mail_id}", tags=["test support"], dependencies=guarded, response_model=MailOut,
                summary="One message of the outbox, with its attachments' content (admin)",
                responses=error_responses("MAIL_NOT_FOUND"))
    async def mail_one(mail_id: Annotated[int, Path(ge=1, le=SQL_INT_MAX)]) -> MailOut:
        async with sessions() as session:
            mail = await session.get(MailMessage, mail_id)
        if mail is None:
            raise MeshError("MAIL_NOT_FOUND", f"no message {mail_id} in the outbox")
        return mail_out(mail, content=True)

    return router
