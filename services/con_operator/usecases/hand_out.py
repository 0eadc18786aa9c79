"""Handing the result out — seed 003 process 8, seed 004 process 6: in person to the citizen (or their
representative) at the desk, identity checked, or by e-mail through the mesh's mail outbox; once.

In named steps: the result that is ready (``_ready``), who receives it (``_in_person`` or ``_address``), and the
hand-out recorded with the e-mail queued in the same transaction (``_record``): a refusal at any step changes
nothing, and a second hand-out — even one at the same moment — is refused."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import col

from services.con_operator.store import OperatorAccount, Visit, VisitState
from services.con_operator.usecases.queue import Queue
from services.con_operator.usecases.visits import CENTRE_TEXT, Visits
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.case_tracking import DECIDED, CaseNotice, TrackedCase
from shared.employment.mail import json_attachment, send_mail
from shared.employment.regulations import CentreEvent, Regulation
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.member import MemberRuntime

log = get_logger(__name__)


@dataclass(frozen=True)
class HandOutRequest:
    delivery: Literal["in_person", "email"]
    ticket_id: str | None = None  # in person: the ticket being served
    presented_iin: str | None = None  # in person: the IIN on the identity document presented
    email: str | None = None  # by e-mail: another address than the form's, only with the citizen at the desk

    @property
    def at_desk(self) -> bool:
        return self.ticket_id is not None or self.presented_iin is not None


@dataclass(frozen=True)
class Ready:
    """A decided application's result, as it is handed out: ИС МИО's signed document, or the notice the operator
    formed where the regulation has ЦОН form it; ``since``: when it was ready at the desk."""

    case: TrackedCase
    final: CaseNotice
    regulation: Regulation
    document: dict[str, Any] | None
    since: dt.datetime


def check_identity(visit: Visit, presented_iin: str, *, today: dt.date) -> None:
    """The identity document presented is the citizen's, or their representative's under a power of attorney
    still valid today."""
    if presented_iin == visit.applicant_iin:
        return
    if presented_iin == visit.form.get("representativeIin"):
        poa = visit.form["powerOfAttorney"]
        if dt.date.fromisoformat(poa["validUntil"]) >= today:
            return
        raise MeshError("POWER_OF_ATTORNEY_EXPIRED", f"the representative's power of attorney № {poa['number']} "
                        f"expired on {poa['validUntil']}")
    raise MeshError("IDENTITY_MISMATCH", "the identity document presented is neither the citizen's nor their "
                    "representative's")


def mail_text(case: TrackedCase, final: CaseNotice) -> str:
    return (f"{final.text}\nЗаявление № {case.application_number}. Результат оказания услуги — во вложении "
            "(подписанный ЭЦП электронный документ).\nГосударственная корпорация «Правительство для граждан»")


class HandOut:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, runtime: MemberRuntime, queue: Queue,
                 visits: Visits) -> None:
        """``runtime``: the member ИС ЦОН sends the e-mail as (its outbox)."""
        self._sessions = sessions
        self._clock = clock
        self._runtime = runtime
        self._queue = queue
        self._visits = visits

    async def __call__(self, operator: OperatorAccount, *, visit_id: str, request: HandOutRequest) -> Visit:
        visit = await self._visits.of_branch(operator, visit_id)
        ready = await self._ready(visit)
        if request.delivery == "email" and request.email is not None and request.email != visit.form.get("email") \
                and not request.at_desk:
            raise MeshError("IDENTITY_REQUIRED", "an address other than the form's is the citizen's word: only with "
                            "the citizen at the desk (ticketId and presentedIin)")
        started, ticket_id, to = ready.since, None, None
        if request.delivery == "in_person":
            started, ticket_id = await self._in_person(operator, visit, request, since=ready.since)
        else:
            to = await self._address(operator, visit, request)
        await self._record(operator, visit, ready, delivery=request.delivery, to=to, started=started,
                           ticket_id=ticket_id)
        return await self._visits.get(visit.id)

    async def _ready(self, visit: Visit) -> Ready:
        """The result, if there is one to hand out: not yet handed out, ИС МИО decided, and — where ЦОН forms the
        result of a completed application — formed and signed (004 п. 10)."""
        if visit.state == VisitState.HANDED_OUT:
            raise MeshError("RESULT_ALREADY_HANDED_OUT", f"handed out already ({visit.delivery})")
        if visit.state != VisitState.SENT:
            raise MeshError("RESULT_NOT_READY", "the application has not been sent yet")
        case, final = await self._visits.final(visit)
        if case.status not in DECIDED or final is None:
            shown = CENTRE_TEXT.get(case.status, case.status)
            raise MeshError("RESULT_NOT_READY", f"ИС МИО has not finished: status «{shown}»",
                            details={"status": case.status})
        regulation = self._visits.regulation(visit)
        assert regulation.centre is not None
        document = final.document
        if regulation.centre.forms_result and case.status == "COMPLETED":
            if not visit.result or not visit.result.get("signature"):
                raise MeshError("RESULT_NOT_FORMED", "form and sign the notice first (004 п. 10)")
            document = {"content": visit.result["content"], "signature": visit.result["signature"]}
        formed = visit.events.get(CentreEvent.RESULT_FORMED.value)
        since = dt.datetime.fromisoformat(formed) if formed else final.received_at
        return Ready(case=case, final=final, regulation=regulation, document=document, since=since)

    async def _in_person(self, operator: OperatorAccount, visit: Visit, request: HandOutRequest, *,
                         since: dt.datetime) -> tuple[dt.datetime, str]:
        """The citizen at this operator's desk (the ticket they serve) showing an identity document that is
        theirs or their representative's; the hand-out started when both the result and the citizen were there."""
        if request.ticket_id is None:
            raise MeshError("TICKET_REQUIRED", "in person: name the ticket of the citizen at your desk")
        ticket = await self._queue.serving(operator, request.ticket_id)
        if request.presented_iin is None:
            raise MeshError("IDENTITY_REQUIRED", "in person: enter the IIN of the identity document presented")
        check_identity(visit, request.presented_iin, today=self._clock.local_now().date())
        assert ticket.called_at is not None
        return max(since, ticket.called_at), ticket.id

    async def _address(self, operator: OperatorAccount, visit: Visit, request: HandOutRequest) -> str:
        """The form's (signed) address, or another the citizen gives in person, identity checked as for a
        hand-out at the desk."""
        to = request.email or visit.form.get("email")
        if not to:
            raise MeshError("EMAIL_REQUIRED", "no e-mail address: the form has none and none was given")
        if request.at_desk:  # a new address, given in person: the identity is checked as for a hand-out
            if request.ticket_id is None or request.presented_iin is None:
                raise MeshError("IDENTITY_REQUIRED", "give both ticketId and presentedIin")
            await self._queue.serving(operator, request.ticket_id)
            check_identity(visit, request.presented_iin, today=self._clock.local_now().date())
        return str(to)

    async def _record(self, operator: OperatorAccount, visit: Visit, ready: Ready, *, delivery: str,
                      to: str | None, started: dt.datetime, ticket_id: str | None) -> None:
        """HANDED_OUT only from SENT (two hand-outs at once: one wins), and the e-mail queued in the mesh's outbox
        in the same transaction: both or neither."""
        case = ready.case
        now = self._clock.now()
        events = visit.events | {CentreEvent.HAND_OUT_STARTED.value: started.isoformat(),
                                 CentreEvent.HANDED_OUT.value: max(now, started).isoformat()}
        with message_context(correlation_id=visit.correlation_id, application_number=case.application_number):
            async with self._sessions() as session, session.begin():
                handed = await session.exec(update(Visit).where(
                    col(Visit.id) == visit.id, col(Visit.state) == VisitState.SENT).values(
                    state=VisitState.HANDED_OUT, delivery=delivery, delivered_to=to, handed_out_by=operator.iin,
                    hand_out_ticket=ticket_id, events=events))
                if not handed.rowcount:
                    raise MeshError("RESULT_ALREADY_HANDED_OUT", "the result was just handed out")
                if to is not None:
                    attachments = [json_attachment(f"{case.application_number}.json", ready.document)] \
                        if ready.document else []
                    send_mail(session, self._runtime, kind="email", to=to, subject=f"{ready.regulation.title}: "
                              f"заявление № {case.application_number}", text=mail_text(case, ready.final),
                              correlation_id=visit.correlation_id, application_number=case.application_number,
                              attachments=attachments)
            self._runtime.relay.kick()
            self._visits.steps_finished(visit, events)
            log.info("result_handed_out", delivery=delivery)
