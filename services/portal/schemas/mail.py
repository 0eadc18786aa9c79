"""What reading the mesh's SMS and e-mail outbox answers (test support)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.json_schema import JsonDict

from services.portal.mailbox import MailMessage
from shared.web.models import CamelModel

MAIL_EXAMPLE: JsonDict = {
    "id": 1, "messageId": "0d5c7a8e-1f2b-4c3d-9e8f-7a6b5c4d3e2f",
    "correlationId": "6f1c2a9e-4b7d-4e0a-9c3f-2d8b5e7a1c40",
    "sender": "mio.almaty", "kind": "email", "to": "aigerim@example.kz", "subject": "Заявка KZ-2026-000042",
    "text": "Заявка исполнена", "applicationNumber": "KZ-2026-000042",
    "attachments": [{"name": "result.pdf", "contentType": "application/pdf", "sizeBytes": 48213}],
    "messageDate": "2026-03-03T10:00:00+00:00", "receivedAt": "2026-03-03T10:00:01+00:00"}


class AttachmentOut(CamelModel):
    name: str
    content_type: str
    size_bytes: int = Field(description="of the decoded content")
    content_base64: str | None = Field(default=None, description="GET /admin/mail/{id} only")


class MailOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MAIL_EXAMPLE]})

    id: int
    message_id: str
    correlation_id: str
    sender: str = Field(description="the member that sent it (proven by the gateway): mio.<district>, con, portal")
    kind: Literal["email", "sms"]
    to: str
    subject: str | None = None
    text: str
    application_number: str | None = None
    attachments: list[AttachmentOut]
    message_date: str
    received_at: str = Field(description="mesh time the outbox took it")


class MailListOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"mail": [MAIL_EXAMPLE]}]})

    mail: list[MailOut] = Field(description="oldest first, newest last")


def _size(content_base64: str) -> int:
    return len(content_base64) * 3 // 4 - content_base64[-2:].count("=") if content_base64 else 0


def mail_out(mail: MailMessage, *, content: bool) -> MailOut:
    return MailOut(
        id=mail.id or 0, message_id=mail.message_id, correlation_id=mail.correlation_id, sender=mail.sender,
        kind=mail.kind,
        to=mail.address, subject=mail.subject, text=mail.text, application_number=mail.application_number,
        attachments=[AttachmentOut(name=a["name"], content_type=a["contentType"], size_bytes=_size(a["contentBase64"]),
                                   content_base64=a["contentBase64"] if content else None)
                     for a in mail.attachments],
        message_date=mail.message_date, received_at=mail.received_at.isoformat())
