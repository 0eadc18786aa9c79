"""Sending an e-mail or an SMS: a ``mesh.mail`` request to the member ``mail`` (ПЭП's notification gateway,
hosted by the portal), through the gateway like every other message.

It is queued in the sender's outbox in the caller's transaction, so it leaves exactly once with the state
change that caused it (a result handed out, a status changed), whatever process dies when. The message is
checked against the contract here, before it is queued: a bad address is the caller's error now, not a
refusal from the gateway later.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.contracts import MAIL_SERVICE, MailRequest, parse_payload
from shared.mesh.envelope import MessageType
from shared.mesh.member import MemberRuntime

log = get_logger(__name__)
MAIL_MEMBER = "mail"


def json_attachment(name: str, value: Any) -> dict[str, Any]:
    """A JSON document (a signed result: ``content`` and ``signature``) as an e-mail attachment."""
    return {"name": name, "contentType": "application/json",
            "contentBase64": base64.b64encode(orjson.dumps(value)).decode()}


def mail_request(*, kind: str, to: str, subject: str | None, text: str, application_number: str | None = None,
                 attachments: list[dict[str, Any]] | None = None) -> MailRequest:
    """The ``mesh.mail`` payload, validated as the gateway will (``MAIL_INVALID``, 422, naming the field)."""
    data: dict[str, Any] = {"kind": kind, "to": to, "subject": subject, "text": text,
                            "applicationNumber": application_number, "attachments": attachments or []}
    try:
        payload = parse_payload(service_id=MAIL_SERVICE, message_type=MessageType.REQUEST,
                                data={k: v for k, v in data.items() if v is not None})
    except MeshError as exc:
        raise MeshError("MAIL_INVALID", exc.message) from None
    assert isinstance(payload, MailRequest)
    return payload


def send_mail(session: AsyncSession, runtime: MemberRuntime, *, kind: Literal["email", "sms"], to: str,
              subject: str | None, text: str, correlation_id: str, application_number: str | None = None,
              attachments: list[dict[str, Any]] | None = None) -> None:
    """Queue an e-mail (``to``: an address) or an SMS (``to``: +7XXXXXXXXXX) to the mesh's outbox, sent by
    ``runtime``'s member when ``session`` commits. ``attachments``: ``{name, contentType, contentBase64}``.

    Raises ``MeshError("MAIL_INVALID", status=422)`` when the message does not fit the ``mesh.mail`` contract;
    nothing is queued then."""
    payload = mail_request(kind=kind, to=to, subject=subject, text=text, application_number=application_number,
                           attachments=attachments)
    wire = runtime.send(session, service_id=MAIL_SERVICE, message_type=MessageType.REQUEST,
                        data=payload.model_dump(by_alias=True, exclude_none=True), correlation_id=correlation_id)
    log.info("mail_queued", kind=kind, mail_message_id=wire["messageId"], attachments=len(payload.attachments))
