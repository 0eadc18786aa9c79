"""Following the applications a system submits: what was sent, and every status notice that came back.

The portal shows it as «История получения услуг» and «Уведомления»; ИС ЦОН shows the statuses to its
operators. A notice is recorded in the transaction of the inbox, so each appears exactly once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy import case as sql_case
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Sessions, UtcDateTime, insert_if_absent
from shared.logging import get_logger
from shared.mesh.contracts import DUPLICATE_MESSAGE, ApplicationRequest, ErrorPayload, StatusNotification
from shared.mesh.envelope import MessageType
from shared.mesh.member import Incoming, MemberRuntime
from shared.web.idempotency import claim as claim_key
from shared.web.idempotency import replayed, request_digest

log = get_logger(__name__)


class TrackedCase(SQLModel, table=True):
    __tablename__ = "tracked_case"

    correlation_id: str = Field(primary_key=True, max_length=128)
    message_id: str | None = Field(default=None, max_length=64, description="the application envelope's id")
    applicant_iin: str = Field(index=True, max_length=12)
    service_id: str = Field(max_length=128)
    route_id: str | None = Field(default=None, max_length=64)
    submitted_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    submitted_by: str | None = Field(default=None, max_length=12, description="operator IIN, when not the applicant")
    application_number: str | None = Field(default=None, index=True, max_length=32)
    district: str | None = Field(default=None, max_length=32)
    status: str = Field(default="SENT", max_length=16)
    status_text: str = Field(default="Отправлено", max_length=64)
    updated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
    refusal_code: str | None = Field(default=None, max_length=64)
    refusal_reason: str | None = Field(default=None, max_length=1000)
    channel: str | None = Field(default=None, max_length=8, description="office | portal | con")


class CaseNotice(SQLModel, table=True):
    __tablename__ = "case_notice"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=64, unique=True)
    correlation_id: str = Field(index=True, max_length=128)
    applicant_iin: str = Field(index=True, max_length=12)
    application_number: str = Field(index=True, max_length=32)
    district: str = Field(max_length=32)
    service_id: str = Field(max_length=128)
    status: str = Field(max_length=16)
    status_text: str = Field(max_length=64)
    text: str = Field(max_length=1000)
    reason: str | None = Field(default=None, max_length=1000)
    at: str = Field(max_length=64)
    received_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    read_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime),
                                        description="the portal: when the citizen marked it read")


def signed_form(request: ApplicationRequest) -> dict[str, Any]:
    """The form exactly as it was filled and signed: only the fields given, none of the model's defaults."""
    return request.form.model_dump(by_alias=True, exclude_unset=True)


def submit(session: AsyncSession, *, runtime: MemberRuntime, request: ApplicationRequest, route_id: str | None,
           now: dt.datetime, submitted_by: str | None = None, correlation_id: str | None = None) -> TrackedCase:
    """Send an application through the gateway and start following it, in one transaction."""
    correlation_id = correlation_id or str(uuid.uuid4())
    data: dict[str, Any] = {"form": signed_form(request), "formSignature": request.form_signature,
                            "signedBy": request.signed_by}
    if request.form_signature_ocsp:  # НУЦ's answer the sender's own check got: ИС МИО need not ask it again
        data["formSignatureOcsp"] = request.form_signature_ocsp
    if request.attachments:  # the electronic copies the form names travel with it, sealed in the envelope
        data["attachments"] = [a.model_dump(by_alias=True) for a in request.attachments]
    wire = runtime.send(session, service_id=request.form.service_id, message_type=MessageType.REQUEST,
                        data=data, correlation_id=correlation_id, route_id=route_id)
    case = TrackedCase(correlation_id=correlation_id, message_id=wire["messageId"],
                       channel=CHANNEL_OF.get(runtime.member_id),
                       applicant_iin=request.form.applicant_iin,
                       service_id=request.form.service_id, route_id=route_id, submitted_at=now,
                       submitted_by=submitted_by, updated_at=now)
    session.add(case)
    return case


@dataclass(frozen=True)
class Submission:
    """One submit call: the case it made, or — for a repeated Idempotency-Key — the one the first call made."""

    case: TrackedCase
    replayed: bool


async def submit_once(sessions: Sessions, *, runtime: MemberRuntime, request: ApplicationRequest,
                      route_id: str | None, now: dt.datetime, scope: str, key: str | None,
                      submitted_by: str | None = None,
                      keep: Callable[[AsyncSession], Awaitable[None]] | None = None) -> Submission:
    """``submit``, made safe to repeat: with a key, the case and the key are written in one transaction, and a
    repeat (the first call cut off, or two at once) gets the same case back. ``keep`` writes what the sender keeps
    of the application (the portal: the electronic copies) in the same transaction."""
    digest = request_digest({"form": signed_form(request), "formSignature": request.form_signature,
                             "signedBy": request.signed_by, "routeId": route_id})
    if key is not None:
        earlier = await _earlier(sessions, scope=scope, key=key, digest=digest)
        if earlier is not None:
            return Submission(case=earlier, replayed=True)
    correlation_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        fresh = key is None or await claim_key(session, scope=scope, key=key, digest=digest, resource=correlation_id)
        case = submit(session, runtime=runtime, request=request, route_id=route_id, now=now,
                      submitted_by=submitted_by, correlation_id=correlation_id) if fresh else None
        if case is not None and keep is not None:
            await keep(session)
    if case is None:
        assert key is not None
        earlier = await _earlier(sessions, scope=scope, key=key, digest=digest)
        assert earlier is not None, "a claimed idempotency key names its case"
        return Submission(case=earlier, replayed=True)
    runtime.relay.kick()
    return Submission(case=case, replayed=False)


async def _earlier(sessions: Sessions, *, scope: str, key: str, digest: str) -> TrackedCase | None:
    async with sessions() as session:
        correlation_id = await replayed(session, scope=scope, key=key, digest=digest)
        return await session.get(TrackedCase, correlation_id) if correlation_id else None


CHANNEL_OF = {"portal": "portal", "con": "con"}  # the channel of what a member sends
DECIDED = ("COMPLETED", "REFUSED", "NOT_ACCEPTED")  # the provider's final statuses (FAILED is the gateway's)

# How far a case has come: a notice that arrives late (its first delivery was retried while a later one went
# through) is kept in the list, but never moves the case's status back.
STATUS_RANK = {"SENT": 0, "RECEIVED": 1, "IN_PROGRESS": 2, "COMPLETED": 3, "REFUSED": 3, "NOT_ACCEPTED": 3,
               "FAILED": 3}


async def record_notice(session: AsyncSession, incoming: Incoming, *, now: dt.datetime,
                        adopt: bool = False) -> None:
    """A status notice, recorded once (the inbox's transaction); it moves the case it is about forward. With
    ``adopt`` (the portal) a case this system did not send — an application at ИС ЦОН or the МИО office — is
    started from its first notice, so the citizen's history lists it with its channel."""
    notice = incoming.payload
    assert isinstance(notice, StatusNotification)
    env = incoming.envelope
    session.add(CaseNotice(
        message_id=str(env.message_id), correlation_id=env.correlation_id, applicant_iin=notice.applicant_iin,
        application_number=notice.application_number, district=notice.district, service_id=env.service_id,
        status=notice.status, status_text=notice.status_text, text=notice.text, reason=notice.reason, at=notice.at,
        received_at=now, document=notice.document.model_dump(by_alias=True) if notice.document else None))
    case = await session.get(TrackedCase, env.correlation_id, with_for_update=True)  # two notices at once
    if case is None and adopt:
        await insert_if_absent(session, TrackedCase.__table__, {  # type: ignore[attr-defined]
            "correlation_id": env.correlation_id, "applicant_iin": notice.applicant_iin,
            "service_id": env.service_id, "submitted_at": now, "updated_at": now, "status": "SENT",
            "status_text": "Отправлено", "channel": notice.channel})
        case = await session.get(TrackedCase, env.correlation_id, with_for_update=True)
    if case is not None:
        case.application_number, case.district = notice.application_number, notice.district
        if STATUS_RANK.get(notice.status, 0) >= STATUS_RANK.get(case.status, 0):
            case.status, case.status_text, case.updated_at = notice.status, notice.status_text, now
            if notice.status in ("REFUSED", "NOT_ACCEPTED") and notice.reason:  # the history says why
                case.refusal_reason = notice.reason[:1000]
        session.add(case)
    log.info("status_notice_received", status=notice.status, application_number=notice.application_number,
             at=notice.at, followed=case is not None)


async def record_refusal(session: AsyncSession, incoming: Incoming, *, now: dt.datetime) -> None:
    """The gateway refused the application outright: the case ends there, with the code.

    Only a refusal of the very message this system sent for the case counts (``refusedMessageId``) — it came
    sealed by the gateway (every delivery does), so it was decided there. A refusal of a second copy
    (``Client.DuplicateMessage``) is not one: the first copy went through."""
    error = incoming.payload
    assert isinstance(error, ErrorPayload)
    case = await session.get(TrackedCase, incoming.envelope.correlation_id, with_for_update=True)
    applies = (case is not None and error.code != DUPLICATE_MESSAGE
               and (case.message_id is None or error.refused_message_id == case.message_id))
    if case is not None and applies and case.status == "SENT":  # a case ИС МИО took is not undone by a late refusal
        case.status, case.refusal_code, case.updated_at = "FAILED", error.code, now
        case.refusal_reason = error.message[:1000]
        case.status_text = f"Не доставлено ({error.where})"
        session.add(case)
    log.info("application_refused", code=error.code, where=error.where, followed=case is not None,
             applied=applies, refusedMessageId=error.refused_message_id)


# Notices in the order things happened: the mesh time ИС МИО stamped, then — for changes made in one instant (a
# register the ЦОН enters into takes and decides a case at once) — the order statuses go in, then arrival.
NOTICE_ORDER = (col(CaseNotice.at), sql_case(STATUS_RANK, value=col(CaseNotice.status), else_=9), col(CaseNotice.id))


def follow(runtime: MemberRuntime, *, services: tuple[str, ...], clock_now: Any, adopt: bool = False) -> None:
    """Record every status notice and refusal of these services that reaches this member (``adopt``: start a case
    for an application another system sent)."""
    async def on_notice(session: AsyncSession, incoming: Incoming) -> None:
        await record_notice(session, incoming, now=clock_now(), adopt=adopt)

    async def on_error(session: AsyncSession, incoming: Incoming) -> None:
        await record_refusal(session, incoming, now=clock_now())

    for service in services:
        runtime.on_message(message_type=MessageType.NOTIFICATION, service_id=service, handler=on_notice)
        runtime.on_message(message_type=MessageType.ERROR, service_id=service, handler=on_error)


async def cases(sessions: Sessions, *, iin: str | None = None, correlation_id: str | None = None,
                updated_since: dt.datetime | None = None) -> list[TrackedCase]:
    """Oldest first; ``updated_since``: only those whose status changed at or after it (mesh time), so a follower
    of many cases asks for what moved, not for every case again."""
    query = select(TrackedCase).order_by(col(TrackedCase.submitted_at))
    if updated_since is not None:
        query = query.where(col(TrackedCase.updated_at) >= updated_since)
    if iin:
        query = query.where(TrackedCase.applicant_iin == iin)
    if correlation_id:
        query = query.where(TrackedCase.correlation_id == correlation_id)
    async with sessions() as session:
        return list((await session.exec(query)).all())


async def notices(sessions: Sessions, *, iin: str | None = None, number: str | None = None,
                  correlation_id: str | None = None) -> list[CaseNotice]:
    """Notices in the order things happened (``at``, the mesh time ИС МИО set), not the order they arrived: a
    notice retried while a later one went through still takes its place."""
    query = select(CaseNotice).order_by(*NOTICE_ORDER)
    if iin:
        query = query.where(CaseNotice.applicant_iin == iin)
    if number:
        query = query.where(CaseNotice.application_number == number)
    if correlation_id:
        query = query.where(CaseNotice.correlation_id == correlation_id)
    async with sessions() as session:
        return list((await session.exec(query)).all())


def case_out(case: TrackedCase) -> dict[str, Any]:
    return {"correlationId": case.correlation_id, "serviceId": case.service_id, "applicantIin": case.applicant_iin,
            "applicationNumber": case.application_number, "district": case.district, "status": case.status,
            "statusText": case.status_text, "submittedAt": case.submitted_at.isoformat(),
            "updatedAt": case.updated_at.isoformat(), "refusalCode": case.refusal_code,
            "refusalReason": case.refusal_reason, "channel": case.channel}


def notice_out(notice: CaseNotice) -> dict[str, Any]:
    return {"id": notice.id, "read": notice.read_at is not None,
            "applicationNumber": notice.application_number, "district": notice.district, "status": notice.status,
            "statusText": notice.status_text, "text": notice.text, "reason": notice.reason, "at": notice.at,
            "serviceId": notice.service_id, "correlationId": notice.correlation_id, "document": notice.document}
