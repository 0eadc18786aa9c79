"""Intake at the desk — seed 003 process 3, seed 004 processes 2-3: for the ticket an operator serves, the service,
the citizen's IIN, ГБД ФЛ asked through the gateway's synchronous channel and the form filled from its answer, a
representative's power of attorney checked, the scans named; the form is kept, not yet signed.

Every refusal has its own code and keeps nothing; ГБД ФЛ being down is said so, and the intake can be repeated."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.con_operator.branches import Branch, BranchBook
from services.con_operator.store import OperatorAccount, Ticket, TicketPurpose, TicketStatus, Visit, VisitState
from services.con_operator.usecases.queue import Queue
from services.con_operator.usecases.scans import Scans
from services.con_operator.usecases.visits import Visits, iso
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.attachments import refuse_oversized
from shared.employment.forms import kinds_of, refuse_unfit
from shared.employment.regulations import CentreEvent, Regulation
from shared.errors import MeshError
from shared.ids import parse_iin
from shared.logging import get_logger
from shared.mesh.contracts import ApplicationForm, PersonData

log = get_logger(__name__)
# 004 п. 9 пп. 6 (процесс 4): the message when ГБД ФЛ has nothing on the citizen
NO_DATA = ("Невозможно получить данные услугополучателя: сведения по ИИН {iin} отсутствуют в ГБД ФЛ "
           "(п. 9, пп. 6 регламента — процесс 4). Заявление не может быть сформировано.")

PersonLookup = Callable[[str], Awaitable[PersonData | None]]
"""ГБД ФЛ's answer for an IIN (None: «нет данных»); a failed call is a MeshError naming the hop that failed
(``shared.employment.registry_calls.person_by_iin`` through the gateway, in the service)."""


@dataclass(frozen=True)
class Representation:
    """Who acts for the citizen, and by what power of attorney (validated against the mesh date)."""

    iin: str
    name: str | None
    power_of_attorney: dict[str, Any]


@dataclass(frozen=True)
class IntakeData:
    iin: str
    service_id: str | None
    fields: dict[str, Any]  # periodFrom/periodTo/referralKind/phone/email, as the form names them
    representative: Representation | None
    scans: list[dict[str, Any]]  # the form's documents: name, sha256 (uploaded before), kind, number, validUntil


def check_representation(rep: Representation, *, applicant_iin: str, service_id: str, today: dt.date) -> None:
    """The power of attorney covers this citizen, this service, today (mesh date): else its own code."""
    parse_iin(rep.iin)
    poa = rep.power_of_attorney
    if rep.iin == applicant_iin:
        raise MeshError("REPRESENTATIVE_IS_APPLICANT", "the representative and the citizen are the same person")
    if poa["principalIin"] != applicant_iin:
        raise MeshError("POWER_OF_ATTORNEY_FOREIGN", f"power of attorney № {poa['number']} is given by another "
                        "person, not by this citizen")
    if poa["attorneyIin"] != rep.iin:
        raise MeshError("POWER_OF_ATTORNEY_NOT_THIS_REPRESENTATIVE", f"power of attorney № {poa['number']} is "
                        "given to another person, not to the one presenting it")
    if dt.date.fromisoformat(poa["issuedOn"]) > today:
        raise MeshError("POWER_OF_ATTORNEY_NOT_YET_VALID", f"power of attorney № {poa['number']} is dated "
                        f"{poa['issuedOn']}, after today ({today})")
    if dt.date.fromisoformat(poa["validUntil"]) < today:
        raise MeshError("POWER_OF_ATTORNEY_EXPIRED", f"power of attorney № {poa['number']} was valid until "
                        f"{poa['validUntil']}; today is {today}")
    if service_id not in poa["services"]:
        raise MeshError("POWER_OF_ATTORNEY_SCOPE", f"power of attorney № {poa['number']} does not cover "
                        f"{service_id} (it covers {', '.join(poa['services'])})")


def fill_form(*, person: PersonData, data: IntakeData, service_id: str, operator: OperatorAccount, branch: Branch,
              now: dt.datetime, referral_kinds: list[str] | None) -> dict[str, Any]:
    """The form as the operator signs it: identity from ГБД ФЛ, the rest from the desk."""
    form: dict[str, Any] = {
        "serviceId": service_id, "applicantIin": person.iin, "surname": person.surname, "name": person.name,
        "patronymic": person.patronymic, "documents": data.scans,
        "operatorIin": operator.iin, "centreBranch": branch.id, "filledAt": now.isoformat(),
    } | data.fields
    if data.representative is not None:
        form |= {"representativeIin": data.representative.iin, "representativeName": data.representative.name,
                 "powerOfAttorney": data.representative.power_of_attorney}
    filled = {k: v for k, v in form.items() if v is not None}
    refuse_unfit(filled, referral_kinds=referral_kinds)  # the service's schema, every field error named
    return ApplicationForm.model_validate(filled).model_dump(by_alias=True, exclude_none=True)


class Intake:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, branches: BranchBook, queue: Queue, scans: Scans,
                 visits: Visits, person_lookup: PersonLookup) -> None:
        self._sessions = sessions
        self._clock = clock
        self._branches = branches
        self._queue = queue
        self._scans = scans
        self._visits = visits
        self._person_lookup = person_lookup

    async def __call__(self, operator: OperatorAccount, *, ticket_id: str, data: IntakeData) -> Visit:
        """Process 3 (003) / processes 2-3 (004): the form filled from ГБД ФЛ's answer, not yet signed. Repeating
        it for the same ticket before signing replaces the form (a retry after ГБД ФЛ was down, a correction)."""
        ticket = await self._queue.serving(operator, ticket_id)
        if ticket.purpose != TicketPurpose.APPLY:
            raise MeshError("TICKET_NOT_FOR_APPLYING", f"ticket {ticket.code} was taken to collect a result")
        branch = self._branches.get(ticket.branch)
        service_id = data.service_id or ticket.service_id
        regulation = self._branches.regulation(branch, service_id)
        parse_iin(data.iin)
        if data.representative is not None:
            check_representation(data.representative, applicant_iin=data.iin, service_id=service_id,
                                 today=self._clock.local_now().date())
        data = dataclasses.replace(data, scans=await self._documents(data.scans, branch=ticket.branch))
        earlier = await self._earlier(ticket)
        person = await self._person(data.iin)
        now = self._clock.now()
        form = fill_form(person=person, data=data, service_id=service_id, operator=operator, branch=branch, now=now,
                         referral_kinds=kinds_of(regulation))
        events = {CentreEvent.CALLED.value: iso(ticket.called_at), CentreEvent.LOOKED_UP.value: now.isoformat()}
        try:
            visit_id = await self._save(operator, ticket=ticket, earlier=earlier, form=form, events=events,
                                        regulation=regulation, service_id=service_id, applicant_iin=data.iin, now=now)
        except IntegrityError:  # two first intakes for one ticket at once: one is kept
            raise MeshError("TICKET_ALREADY_USED", f"ticket {ticket.code} has an intake just made") from None
        log.info("intake_filled", branch=branch.id, service=service_id, representative=data.representative is not None)
        return await self._visits.get(visit_id)

    async def _documents(self, named: list[dict[str, Any]], *, branch: str) -> list[dict[str, Any]]:
        """The scans named travel with the form: each once (this branch's), all within one message's limit."""
        documents: list[dict[str, Any]] = []
        for entry in named:
            if any(d["sha256"] == entry["sha256"] for d in documents):
                raise MeshError("ATTACHMENT_DUPLICATE", f"scan {entry['sha256']} is named twice")
            scan = await self._scans.get(entry["sha256"], branch=branch)
            documents.append(entry | {"contentType": scan.content_type, "sizeBytes": scan.size})
        refuse_oversized([d["sizeBytes"] for d in documents])
        return documents

    async def _earlier(self, ticket: Ticket) -> Visit | None:
        """The ticket's intake made before, if any: replaced while it is only filled, refused once sent."""
        async with self._sessions() as session:
            earlier = (await session.exec(select(Visit).where(Visit.ticket_id == ticket.id))).first()
        if earlier is not None and earlier.state != VisitState.FILLED:
            raise MeshError("TICKET_ALREADY_USED", f"ticket {ticket.code}'s application was sent already",
                            details={"visitId": earlier.id})
        return earlier

    async def _person(self, iin: str) -> PersonData:
        """ГБД ФЛ through the gateway's synchronous channel (004 п. 9 пп. 4-5: process 3, condition 1)."""
        try:
            person = await self._person_lookup(iin)
        except MeshError as error:
            raise MeshError(error.code, f"{error.message}. Nothing was sent or kept: repeat the intake when the "
                            "registry answers", details=error.details) from None
        if person is None:
            raise MeshError("GBD_FL_NO_DATA", NO_DATA.format(iin=iin))
        if not person.alive:
            raise MeshError("PERSON_DECEASED", "ГБД ФЛ records this person as deceased")
        return person

    async def _save(self, operator: OperatorAccount, *, ticket: Ticket, earlier: Visit | None, form: dict[str, Any],
                    events: dict[str, str], regulation: Regulation, service_id: str, applicant_iin: str,
                    now: dt.datetime) -> str:
        """The filled form, kept only if the ticket is still this operator's (it may have been closed while ГБД ФЛ
        was asked); a repeat replaces the form and raises its revision, so a signature made for the old one fails."""
        async with self._sessions() as session, session.begin():
            current = await session.get(Ticket, ticket.id, with_for_update=True)
            if current is None or current.status != TicketStatus.CALLED or current.operator_iin != operator.iin:
                raise MeshError("TICKET_CLOSED", f"ticket {ticket.code} is no longer yours to serve")
            if earlier is None:
                visit = Visit(id=str(uuid.uuid4()), ticket_id=ticket.id, branch=ticket.branch,
                              operator_iin=operator.iin, service_id=service_id, district=self._branches.get(
                                  ticket.branch).district, regulation_id=regulation.id,
                              applicant_iin=applicant_iin, form=form, correlation_id=str(uuid.uuid4()),
                              events=events, created_at=now)
                session.add(visit)
                return visit.id
            replaced = await session.exec(update(Visit).where(
                col(Visit.id) == earlier.id, col(Visit.state) == VisitState.FILLED).values(
                form=form, service_id=service_id, regulation_id=regulation.id, applicant_iin=applicant_iin,
                operator_iin=operator.iin, events=events, revision=col(Visit.revision) + 1))
            if not replaced.rowcount:
                raise MeshError("TICKET_ALREADY_USED", f"ticket {ticket.code}'s application was just sent")
            return earlier.id
