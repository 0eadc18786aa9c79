"""What an application's status change sends, always queued in the outbox in the transaction of the change — so
notices leave in order and exactly once, whatever process dies when: the status notification to the systems that
follow the case, and the result by e-mail (an office hand-out) or by SMS (004 п. 5)."""

from __future__ import annotations

import datetime as dt

from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import Status
from services.mio_workstation.store import Application
from shared.clock import KZ_TZ
from shared.employment.mail import json_attachment, send_mail
from shared.employment.regulations import Regulation
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.contracts import SignedDocument, StatusNotification
from shared.mesh.envelope import MessageType
from shared.mesh.member import MemberRuntime

log = get_logger(__name__)
CON = "con"
PORTAL = "portal"


def document_number_of(app: Application) -> str:
    """The signed result's own number (drafts made before documents had one carry the application's)."""
    return str((app.draft or {}).get("documentNumber") or app.number)


def _text(app: Application, title: str) -> str:
    return {
        Status.RECEIVED: f"Заявление № {app.number} на услугу «{title}» поступило (статус «Поступившие»)",
        Status.IN_PROGRESS: f"Заявление № {app.number} принято в работу (статус «В работе»)",
        Status.COMPLETED: f"Услуга «{title}» оказана. Документ № {document_number_of(app)} подписан ЭЦП",
        Status.REFUSED: f"В оказании услуги «{title}» отказано. Причина: {app.reason}",
        Status.NOT_ACCEPTED: f"Заявление на услугу «{title}» не принято. Причина: {app.reason}",
    }[Status(app.status)]


def notify_status(session: AsyncSession, runtime: MemberRuntime, app: Application, *, regulation: Regulation | None,
                  title: str, at: dt.datetime) -> None:
    """The status change to the system the application came from and to ИС ЦОН (seed 003 tables 1-3), stamped
    with the mesh time it happened at."""
    status = Status(app.status)
    document = None
    if status in (Status.COMPLETED, Status.REFUSED) and app.draft and app.document_signature:
        document = SignedDocument(content=app.draft, signature=app.document_signature)
    refused = status in (Status.REFUSED, Status.NOT_ACCEPTED)
    notice = StatusNotification.model_validate({
        "applicationNumber": app.number, "district": app.district, "applicantIin": app.applicant_iin,
        "status": status.value, "statusText": status.text, "at": at.isoformat(), "text": _text(app, title),
        "reason": app.reason if refused else None, "document": document, "channel": app.channel})
    # where it came from; ИС ЦОН where the seed routes statuses there; the portal always: the citizen's
    # «История получения услуг» lists applications of every channel (003 п. 10: status on the portal too)
    recipients = [m for m in (app.origin_member, CON if regulation and regulation.centre_hears else None, PORTAL)
                  if m]
    for recipient in dict.fromkeys(recipients):
        runtime.send(session, service_id=app.service_id, message_type=MessageType.NOTIFICATION,
                     data=notice.model_dump(by_alias=True, exclude_none=True), correlation_id=app.correlation_id,
                     recipient=recipient)


def sms_result(session: AsyncSession, runtime: MemberRuntime, app: Application, *, regulation: Regulation,
               phone: str, at: dt.datetime) -> None:
    """The result in one SMS, queued in the transaction that issues it (through the mesh's outbox)."""
    if app.decision == "approve":
        since = (app.draft or {}).get("registeredOn") or at.astimezone(KZ_TZ).date().isoformat()
        text = (f"Вы зарегистрированы в качестве безработного с {since}. "
                f"{regulation.issuer or regulation.title}, заявление № {app.number}.")
    else:
        text = f"В оказании услуги «{regulation.title}» отказано: {app.reason}. Заявление № {app.number}."
    try:
        send_mail(session, runtime, kind="sms", to=phone, subject=None, text=text[:1000],
                  correlation_id=app.correlation_id, application_number=app.number)
    except MeshError as exc:  # a phone the outbox will not take: the result is issued all the same
        log.warning("sms_not_sent", code=exc.code)


def email_result(session: AsyncSession, runtime: MemberRuntime, app: Application, *, regulation: Regulation,
                 address: str) -> None:
    """The signed result e-mailed to the applicant through the mesh's outbox (member ``mail``), queued in the
    transaction that records the issue: it leaves exactly once, with the issue."""
    attachments = []
    if app.draft is not None and app.document_signature:
        document = SignedDocument(content=app.draft, signature=app.document_signature)
        attachments.append(json_attachment(f"{app.number}.json", document.model_dump(by_alias=True)))
    approved = app.decision == "approve"
    text = (f"Уважаемый(ая) {app.form.get('name', '')}!\n\n"
            + (f"Услуга «{regulation.title}» оказана." if approved else
               f"В оказании услуги «{regulation.title}» отказано. Причина: {app.reason}")
            + f"\nДокумент № {document_number_of(app)}, подписанный ЭЦП, — во вложении (содержание и подпись, "
            "JSON).")
    send_mail(session, runtime, kind="email", to=address,
              subject=f"Результат оказания государственной услуги — заявление № {app.number}", text=text,
              correlation_id=app.correlation_id, application_number=app.number, attachments=attachments)
