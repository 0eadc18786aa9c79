"""ИС ЦОН use cases at the desk, in the order a visit runs (seed 003 п. 7 and table 2; seed 004 пп. 9-10):

the citizen takes a ticket; an operator calls it; intake — the service, the citizen's IIN, ГБД ФЛ asked through
the gateway's synchronous channel and the form filled from its answer, a representative's power of attorney,
scans; the form signed with the operator's EDS (or the citizen's, where the regulation allows) and checked like
the portal's condition 2; sent through the gateway to the district's ИС МИО; its statuses followed; where the
regulation gives the State Corporation the result to form, the operator forms and signs it; the result handed
out in person or by e-mail, once.

Every refusal has its own code and changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.con_operator.branches import Branch, BranchBook
from services.con_operator.operators import OPERATOR_ROLE, OperatorBook
from services.con_operator.store import (
    OperatorAccount,
    Scan,
    ScanRef,
    Ticket,
    TicketCounter,
    TicketPurpose,
    TicketStatus,
    Visit,
    VisitState,
)
from shared.clock import KZ_TZ, MeshClock
from shared.db import Sessions, insert_if_absent, raise_counter
from shared.employment.attachments import Content, allowed_type, refuse_oversized, wire
from shared.employment.case_tracking import DECIDED, CaseNotice, TrackedCase, notices, submit
from shared.employment.forms import kinds_of, refuse_unfit
from shared.employment.logins import eds_refusal
from shared.employment.mail import json_attachment, send_mail
from shared.employment.registry_calls import person_by_iin
from shared.employment.regulations import CentreEvent, Regulation, RegulationBook
from shared.errors import MeshError
from shared.ids import parse_iin
from shared.logging import get_logger, message_context
from shared.mesh.contracts import ATTACHMENT_TYPES, ApplicationForm, ApplicationRequest, PersonData
from shared.mesh.member import MemberRuntime
from shared.pki.cert_check import CertificateVerifier, Expectation
from shared.pki.cert_profile import Holder, Usage
from shared.pki.signing import refuse_signing_time, sign_json

log = get_logger(__name__)
SCAN_TYPES = ATTACHMENT_TYPES  # a scan travels as an application's copy: the same types
CENTRE_POSITION = ("Мемлекеттік корпорация қызметкері", "Работник Государственной корпорации")  # 004 п. 10: (kk, ru)
# 004 п. 9 пп. 6 (процесс 4): the message when ГБД ФЛ has nothing on the citizen
NO_DATA = ("Невозможно получить данные услугополучателя: сведения по ИИН {iin} отсутствуют в ГБД ФЛ "
           "(п. 9, пп. 6 регламента — процесс 4). Заявление не может быть сформировано.")
CENTRE_TEXT = {"FILLED": "Заполнено: ожидает подписи", "RECEIVED": "Поступившие из ЦОН", "IN_PROGRESS": "В работе",
               "COMPLETED": "Исполнено: результат готов к выдаче", "REFUSED": "Отказано: мотивированный отказ готов "
               "к выдаче", "NOT_ACCEPTED": "Отказано в приеме", "SENT": "Отправлено в ИС МИО",
               "FAILED": "Не доставлено"}


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


class Desk:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, runtime: MemberRuntime, branches: BranchBook,
                 regulations: RegulationBook, operators: OperatorBook, registry_timeout_s: float,
                 max_scan_bytes: int) -> None:
        self._sessions = sessions
        self._clock = clock
        self._runtime = runtime
        self.branches = branches
        self._regulations = regulations
        self.operators = operators
        self._registry_timeout_s = registry_timeout_s
        self.max_scan_bytes = max_scan_bytes

    def _verifier(self) -> CertificateVerifier:
        return self._runtime.verifier_or_fail()

    def _local_today(self) -> dt.date:
        return self._clock.local_now().date()

    # ---- the electronic queue -----------------------------------------------------------------------------
    async def take_ticket(self, *, branch_id: str, service_id: str, purpose: TicketPurpose) -> Ticket:
        """A citizen at the kiosk: a ticket for a service the branch takes (or to collect its result)."""
        branch = self.branches.get(branch_id)
        self.branches.regulation(branch, service_id)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            day = now.astimezone(KZ_TZ).date().isoformat()
            letter = "A" if purpose == TicketPurpose.APPLY else "B"
            sequence = await raise_counter(session, TicketCounter, branch=branch.id, day=day, letter=letter)
            ticket = Ticket(id=str(uuid.uuid4()), branch=branch.id, code=f"{letter}{sequence:03d}",
                            service_id=service_id, purpose=purpose, taken_at=now)
            session.add(ticket)
        log.info("ticket_taken", branch=branch.id, code=ticket.code)
        return ticket

    async def tickets(self, *, branch_id: str, status: TicketStatus | None) -> list[Ticket]:
        self.branches.get(branch_id)
        query = select(Ticket).where(Ticket.branch == branch_id).order_by(col(Ticket.taken_at))
        if status is not None:
            query = query.where(Ticket.status == status)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def ticket(self, ticket_id: str) -> Ticket:
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise MeshError("TICKET_NOT_FOUND", f"no ticket {ticket_id}")
        return ticket

    async def call(self, operator: OperatorAccount, *, ticket_id: str | None) -> Ticket:
        """Call the next waiting ticket of the operator's branch (or the one named). One at a time per operator:
        the database's partial unique index refuses a second, even for two calls at once."""
        now = self._clock.now()
        if ticket_id is not None:
            found = await self.ticket(ticket_id)
            if found.branch != operator.branch:
                raise MeshError("NOT_YOUR_BRANCH", f"ticket {found.code} is of branch {found.branch}; you serve "
                                f"{operator.branch}")
        try:
            async with self._sessions() as session, session.begin():
                await self._not_busy(session, operator)
                named = ticket_id is not None
                for _ in range(1 if named else 20):  # the next one: another operator may take it just before
                    if not named:
                        ticket_id = (await session.exec(select(Ticket.id).where(
                            Ticket.branch == operator.branch, Ticket.status == TicketStatus.WAITING)
                            .order_by(col(Ticket.taken_at)).limit(1))).first()
                        if ticket_id is None:
                            raise MeshError("QUEUE_EMPTY", f"no one is waiting at {operator.branch}")
                    called = await session.exec(update(Ticket).where(  # type: ignore[call-overload]
                        col(Ticket.id) == ticket_id, col(Ticket.status) == TicketStatus.WAITING)
                        .values(status=TicketStatus.CALLED, operator_iin=operator.iin, called_at=now))
                    if called.rowcount:
                        break
                else:
                    ticket = await session.get(Ticket, ticket_id)
                    assert ticket is not None
                    raise MeshError("TICKET_ALREADY_CALLED", f"ticket {ticket.code} is {ticket.status.lower()} "
                                    "already", details={"status": ticket.status})
        except IntegrityError:
            raise MeshError("OPERATOR_BUSY", "you are serving another ticket: close it first") from None
        log.info("ticket_called", branch=operator.branch)
        return await self.ticket(ticket_id)

    @staticmethod
    async def _not_busy(session: AsyncSession, operator: OperatorAccount) -> None:
        serving = (await session.exec(select(Ticket).where(Ticket.operator_iin == operator.iin,
                                                           Ticket.status == TicketStatus.CALLED))).first()
        if serving is not None:
            raise MeshError("OPERATOR_BUSY", f"you are serving ticket {serving.code}: close it first",
                            details={"ticketId": serving.id})

    async def close(self, operator: OperatorAccount, *, ticket_id: str, note: str | None) -> Ticket:
        ticket = await self.serving(operator, ticket_id)
        async with self._sessions() as session, session.begin():
            closed = await session.exec(update(Ticket).where(  # type: ignore[call-overload]
                col(Ticket.id) == ticket.id, col(Ticket.status) == TicketStatus.CALLED)
                .values(status=TicketStatus.CLOSED, closed_at=self._clock.now(), close_note=note))
            if not closed.rowcount:
                raise MeshError("TICKET_CLOSED", f"ticket {ticket.code} is closed already")
        return await self.ticket(ticket.id)

    async def serving(self, operator: OperatorAccount, ticket_id: str) -> Ticket:
        """The ticket, if this operator is serving it now."""
        ticket = await self.ticket(ticket_id)
        if ticket.branch != operator.branch:
            raise MeshError("NOT_YOUR_BRANCH", f"ticket {ticket.code} is of branch {ticket.branch}")
        if ticket.status == TicketStatus.WAITING:
            raise MeshError("TICKET_NOT_CALLED", f"call ticket {ticket.code} first")
        if ticket.status == TicketStatus.CLOSED:
            raise MeshError("TICKET_CLOSED", f"ticket {ticket.code} is closed")
        if ticket.operator_iin != operator.iin:
            raise MeshError("TICKET_NOT_YOURS", f"ticket {ticket.code} is served by another operator")
        return ticket

    # ---- scans --------------------------------------------------------------------------------------------
    async def store_scan(self, operator: OperatorAccount, *, content: bytes, content_type: str) -> Scan:
        """A scanned document, kept once by its SHA-256 (a second upload of the same bytes is the same scan)."""
        kind = scan_type(content_type)
        if not content:
            raise MeshError("SCAN_EMPTY", "the scan has no content")
        if len(content) > self.max_scan_bytes:
            raise MeshError("SCAN_TOO_LARGE", f"a scan is at most {self.max_scan_bytes} bytes, this is "
                            f"{len(content)}")
        digest = hashlib.sha256(content).hexdigest()
        async with self._sessions() as session, session.begin():
            await insert_if_absent(session, Scan.__table__, {  # type: ignore[attr-defined]
                "sha256": digest, "content_type": kind, "size": len(content), "content": content,
                "uploaded_at": self._clock.now(), "uploaded_by": operator.iin})
            await insert_if_absent(session, ScanRef.__table__,  # type: ignore[attr-defined]
                                   {"sha256": digest, "branch": operator.branch})
        return await self.scan(digest, branch=operator.branch)

    async def scan(self, digest: str, *, branch: str | None) -> Scan:
        """A scan this branch uploaded (``branch`` None: any, for the admin). Another branch's is not found."""
        async with self._sessions() as session:
            scan = await session.get(Scan, digest)
            known = branch is None or await session.get(ScanRef, (digest, branch)) is not None
        if scan is None or not known:
            raise MeshError("SCAN_NOT_FOUND", f"no scan with SHA-256 {digest} at this branch: upload it first "
                            "(POST /scans)")
        return scan

    # ---- intake -------------------------------------------------------------------------------------------
    def _check_representation(self, rep: Representation, *, applicant_iin: str, service_id: str) -> None:
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
        today = self._local_today()
        if dt.date.fromisoformat(poa["issuedOn"]) > today:
            raise MeshError("POWER_OF_ATTORNEY_NOT_YET_VALID", f"power of attorney № {poa['number']} is dated "
                            f"{poa['issuedOn']}, after today ({today})")
        if dt.date.fromisoformat(poa["validUntil"]) < today:
            raise MeshError("POWER_OF_ATTORNEY_EXPIRED", f"power of attorney № {poa['number']} was valid until "
                            f"{poa['validUntil']}; today is {today}")
        if service_id not in poa["services"]:
            raise MeshError("POWER_OF_ATTORNEY_SCOPE", f"power of attorney № {poa['number']} does not cover "
                            f"{service_id} (it covers {', '.join(poa['services'])})")

    async def _person(self, iin: str) -> PersonData | None:
        """ГБД ФЛ through the gateway's synchronous channel (004 п. 9 пп. 4-5: process 3, condition 1)."""
        try:
            return await person_by_iin(self._runtime, iin, timeout_s=self._registry_timeout_s)
        except MeshError as error:
            raise MeshError(error.code, f"{error.message}. Nothing was sent or kept: repeat the intake when the "
                            "registry answers", details=error.details) from None

    async def intake(self, operator: OperatorAccount, *, ticket_id: str, data: IntakeData) -> Visit:
        """Process 3 (003) / processes 2-3 (004): the form filled from ГБД ФЛ's answer, not yet signed. Repeating
        it for the same ticket before signing replaces the form (a retry after ГБД ФЛ was down, a correction)."""
        ticket = await self.serving(operator, ticket_id)
        if ticket.purpose != TicketPurpose.APPLY:
            raise MeshError("TICKET_NOT_FOR_APPLYING", f"ticket {ticket.code} was taken to collect a result")
        branch = self.branches.get(ticket.branch)
        service_id = data.service_id or ticket.service_id
        regulation = self.branches.regulation(branch, service_id)
        parse_iin(data.iin)
        if data.representative is not None:
            self._check_representation(data.representative, applicant_iin=data.iin, service_id=service_id)
        documents: list[dict[str, Any]] = []
        for entry in data.scans:  # the scans named travel with the form: each once, all within one message
            if any(d["sha256"] == entry["sha256"] for d in documents):
                raise MeshError("ATTACHMENT_DUPLICATE", f"scan {entry['sha256']} is named twice")
            scan = await self.scan(entry["sha256"], branch=ticket.branch)
            documents.append(entry | {"contentType": scan.content_type, "sizeBytes": scan.size})
        refuse_oversized([d["sizeBytes"] for d in documents])
        data = dataclasses.replace(data, scans=documents)
        async with self._sessions() as session:
            earlier = (await session.exec(select(Visit).where(Visit.ticket_id == ticket.id))).first()
        if earlier is not None and earlier.state != VisitState.FILLED:
            raise MeshError("TICKET_ALREADY_USED", f"ticket {ticket.code}'s application was sent already",
                            details={"visitId": earlier.id})
        person = await self._person(data.iin)
        if person is None:
            raise MeshError("GBD_FL_NO_DATA", NO_DATA.format(iin=data.iin))
        if not person.alive:
            raise MeshError("PERSON_DECEASED", "ГБД ФЛ records this person as deceased")
        now = self._clock.now()
        form = self._form(person=person, data=data, service_id=service_id, operator=operator, branch=branch, now=now,
                          referral_kinds=kinds_of(regulation))
        events = {CentreEvent.CALLED.value: _iso(ticket.called_at), CentreEvent.LOOKED_UP.value: now.isoformat()}
        try:
            visit_id = await self._save_intake(operator, ticket=ticket, earlier=earlier, form=form, events=events,
                                               regulation=regulation, service_id=service_id, applicant_iin=data.iin,
                                               now=now)
        except IntegrityError:  # two first intakes for one ticket at once: one is kept
            raise MeshError("TICKET_ALREADY_USED", f"ticket {ticket.code} has an intake just made") from None
        log.info("intake_filled", branch=branch.id, service=service_id, representative=data.representative is not None)
        return await self.visit(visit_id)

    async def _save_intake(self, operator: OperatorAccount, *, ticket: Ticket, earlier: Visit | None,
                           form: dict[str, Any], events: dict[str, str], regulation: Regulation, service_id: str,
                           applicant_iin: str, now: dt.datetime) -> str:
        """The filled form, kept only if the ticket is still this operator's (it may have been closed while ГБД ФЛ
        was asked); a repeat replaces the form and raises its revision, so a signature made for the old one fails."""
        async with self._sessions() as session, session.begin():
            current = await session.get(Ticket, ticket.id, with_for_update=True)
            if current is None or current.status != TicketStatus.CALLED or current.operator_iin != operator.iin:
                raise MeshError("TICKET_CLOSED", f"ticket {ticket.code} is no longer yours to serve")
            if earlier is None:
                visit = Visit(id=str(uuid.uuid4()), ticket_id=ticket.id, branch=ticket.branch,
                              operator_iin=operator.iin, service_id=service_id, district=self.branches.get(
                                  ticket.branch).district, regulation_id=regulation.id,
                              applicant_iin=applicant_iin, form=form, correlation_id=str(uuid.uuid4()),
                              events=events, created_at=now)
                session.add(visit)
                return visit.id
            replaced = await session.exec(update(Visit).where(  # type: ignore[call-overload]
                col(Visit.id) == earlier.id, col(Visit.state) == VisitState.FILLED).values(
                form=form, service_id=service_id, regulation_id=regulation.id, applicant_iin=applicant_iin,
                operator_iin=operator.iin, events=events, revision=col(Visit.revision) + 1))
            if not replaced.rowcount:
                raise MeshError("TICKET_ALREADY_USED", f"ticket {ticket.code}'s application was just sent")
            return earlier.id

    @staticmethod
    def _form(*, person: PersonData, data: IntakeData, service_id: str, operator: OperatorAccount, branch: Branch,
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

    # ---- signing and sending (process 4, condition 2, process 5/6) ----------------------------------------
    async def sign_and_send(self, operator: OperatorAccount, *, visit_id: str, signature: str,
                            signed_by: str) -> Visit:
        visit = await self._own_visit(operator, visit_id)
        if visit.state != VisitState.FILLED:
            raise MeshError("VISIT_ALREADY_SENT", "this application was signed and sent already")
        await self.serving(operator, visit.ticket_id)  # the citizen is still at the desk
        regulation = self._regulation(visit)
        assert regulation.centre is not None
        if signed_by not in regulation.centre.signed_by:
            raise MeshError("SIGNER_NOT_ALLOWED", f"{regulation.id}: the form is signed by "
                            f"{' or '.join(regulation.centre.signed_by)}, not the {signed_by}")
        if signed_by == "operator":  # the logged-in operator's, of the State Corporation, a signing key
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=operator.iin,
                                 bin=self.operators.centre["bin"], role=OPERATOR_ROLE)
        else:
            expect = Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=visit.applicant_iin)
        result, _ = await self._verifier().verify_signed_json(value=visit.form, signature_b64=signature, expect=expect)
        if not result.ok:
            raise MeshError(eds_refusal(result), "ЭЦП не подтверждена — в услуге отказано (условие 2, процесс 5): "
                            f"{result.message}")
        copies = []
        for document in visit.form.get("documents") or []:  # the scans the form names travel with it
            scan = await self.scan(document["sha256"], branch=visit.branch)
            copies.append(Content(sha256=scan.sha256, content_type=scan.content_type, data=scan.content))
        request = ApplicationRequest(form=ApplicationForm.model_validate(visit.form), form_signature=signature,
                                     signed_by=signed_by, attachments=wire(copies))  # type: ignore[arg-type]
        now = self._clock.now()
        with message_context(correlation_id=visit.correlation_id):
            async with self._sessions() as session, session.begin():
                sent = await session.exec(update(Visit).where(  # type: ignore[call-overload]
                    col(Visit.id) == visit.id, col(Visit.state) == VisitState.FILLED,
                    col(Visit.revision) == visit.revision).values(
                    state=VisitState.SENT, signed_by=signed_by, form_signature=signature,
                    events=visit.events | {CentreEvent.SENT.value: now.isoformat()}))
                if not sent.rowcount:
                    raise MeshError("VISIT_CHANGED", "the form was sent or filled again since it was read: read the "
                                    "visit and sign its form")
                submit(session, runtime=self._runtime, request=request, route_id=visit.district, now=now,
                       submitted_by=operator.iin, correlation_id=visit.correlation_id)
            self._runtime.relay.kick()
            log.info("intake_sent", signed_by=signed_by)
        return await self.visit(visit.id)

    # ---- the result -----------------------------------------------------------------------------------------
    async def result_draft(self, operator: OperatorAccount, *, visit_id: str) -> dict[str, Any]:
        """004 п. 10: the notice the State Corporation's worker forms from ИС МИО's record, to be signed. Made
        once and kept, so the draft signed is the draft stored; it names the operator who signs it (``signer``, as
        the certificate has them), so another operator of the branch who takes it over gets it drafted again in
        their name, until it is signed. The issuer is the State Corporation (its BIN, as the gateway registered
        ИС ЦОН) under the regulation whose file has it form the result: what the verifier holds the signature to."""
        visit = await self._own_branch_visit(operator, visit_id)
        regulation = self._regulation(visit)
        assert regulation.centre is not None
        if regulation.centre.forms_result is None:
            raise MeshError("RESULT_NOT_FORMED_HERE", f"{regulation.id}: the result is ИС МИО's signed document; "
                            "hand it out as it is")
        case, final = await self._final(visit)
        if case.status in DECIDED and case.status != "COMPLETED":
            raise MeshError("RESULT_REFUSED", f"ИС МИО refused ({case.status}): hand its signed refusal out as it is")
        if case.status != "COMPLETED" or final is None or not final.document:
            raise MeshError("RESULT_NOT_READY", f"ИС МИО's record is not here yet (status {case.status})")
        if visit.result is not None and (visit.result_signed_at is not None or (
                visit.result["content"].get("signer") or {}).get("iin") == operator.iin):
            return visit.result["content"]
        record = final.document["content"]
        branch = self.branches.get(visit.branch)
        content = {
            "documentNumber": f"{branch.id.upper()}-{record.get('documentNumber', case.application_number)}",
            "date": self._local_today().isoformat(), "title": regulation.centre.forms_result,
            "issuer": f"{self.operators.centre['name']} — {branch.name}", "issuerBin": self.operators.centre["bin"],
            "regulationId": regulation.id, "service": regulation.title,
            # the person as ИС МИО's signed record names them: ГБД ФЛ's at the decision, not the form's (issue 17)
            "applicant": record.get("applicant"), "applicantIin": record.get("applicantIin", visit.applicant_iin),
            "applicationNumber": case.application_number,
            "registeredOn": record.get("date"), "basis": f"запись № {record.get('documentNumber')} в АИС «Еңбек "
            f"нарығы» ({record.get('issuer')})",
            "text": "Вы зарегистрированы в качестве лица, ищущего работу",
            "signer": {"name": f"{operator.surname} {operator.name}", "position": CENTRE_POSITION[1],
                       "positionKk": CENTRE_POSITION[0], "iin": operator.iin},
        }
        async with self._sessions() as session, session.begin():
            await session.exec(update(Visit).where(  # type: ignore[call-overload]
                col(Visit.id) == visit.id, col(Visit.result_signed_at).is_(None)).values(result={"content": content}))
        return (await self.visit(visit.id)).result["content"]  # type: ignore[index]

    async def form_result(self, operator: OperatorAccount, *, visit_id: str, signature: str) -> Visit:
        """The stored draft, signed by the operator it names. Nothing is drafted here: a refused signature changes
        nothing, and another operator first takes the draft over by reading it (``result_draft``)."""
        visit = await self._own_branch_visit(operator, visit_id)
        if visit.result_signed_at is not None:
            raise MeshError("RESULT_ALREADY_FORMED", "the result was formed and signed already")
        if visit.result is None:
            raise MeshError("RESULT_NOT_DRAFTED", "read the draft first (GET …/result/draft) and sign what it says")
        draft = visit.result["content"]
        if (draft.get("signer") or {}).get("iin") != operator.iin:
            raise MeshError("RESULT_DRAFTED_FOR_ANOTHER", "the draft names another operator as its signer: read it "
                            "again (GET …/result/draft) to have it drafted in your name, and sign that")
        result, verified = await self._verifier().verify_signed_json(value=draft, signature_b64=signature,
                                                                     expect=Expectation(
            usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=operator.iin, bin=self.operators.centre["bin"],
            role=OPERATOR_ROLE))
        if not result.ok:
            raise MeshError(eds_refusal(result),
                            f"the result's EDS is not the operator's valid signature: {result.message}")
        now = self._clock.now()
        assert verified is not None
        refuse_signing_time(verified, now=now, what="the result's EDS")
        async with self._sessions() as session, session.begin():
            formed = await session.exec(update(Visit).where(  # type: ignore[call-overload]
                col(Visit.id) == visit.id, col(Visit.result_signed_at).is_(None)).values(
                result={"content": draft, "signature": signature, "signerIin": operator.iin}, result_signed_at=now,
                events=visit.events | {CentreEvent.RESULT_FORMED.value: now.isoformat()}))
            if not formed.rowcount:
                raise MeshError("RESULT_ALREADY_FORMED", "the result was just formed and signed")
        return await self.visit(visit.id)

    async def hand_out(self, operator: OperatorAccount, *, visit_id: str, delivery: str, ticket_id: str | None,
                       presented_iin: str | None, email: str | None) -> Visit:
        """Process 8 (003) / process 6 (004): in person to the citizen (or their representative) at the desk,
        identity checked, or by e-mail through the mesh's mail outbox; once."""
        visit = await self._own_branch_visit(operator, visit_id)
        if visit.state == VisitState.HANDED_OUT:
            raise MeshError("RESULT_ALREADY_HANDED_OUT", f"handed out already ({visit.delivery})")
        if visit.state != VisitState.SENT:
            raise MeshError("RESULT_NOT_READY", "the application has not been sent yet")
        case, final = await self._final(visit)
        if case.status not in DECIDED or final is None:
            shown = CENTRE_TEXT.get(case.status, case.status)
            raise MeshError("RESULT_NOT_READY", f"ИС МИО has not finished: status «{shown}»",
                            details={"status": case.status})
        regulation = self._regulation(visit)
        assert regulation.centre is not None
        document = final.document
        if regulation.centre.forms_result and case.status == "COMPLETED":
            if not visit.result or not visit.result.get("signature"):
                raise MeshError("RESULT_NOT_FORMED", "form and sign the notice first (004 п. 10)")
            document = {"content": visit.result["content"], "signature": visit.result["signature"]}
        at_desk = ticket_id is not None or presented_iin is not None
        if delivery == "email" and email is not None and email != visit.form.get("email") and not at_desk:
            raise MeshError("IDENTITY_REQUIRED", "an address other than the form's is the citizen's word: only with "
                            "the citizen at the desk (ticketId and presentedIin)")
        formed = visit.events.get(CentreEvent.RESULT_FORMED.value)
        ready = dt.datetime.fromisoformat(formed) if formed else final.received_at
        started = ready
        to: str | None = None
        hand_out_ticket: str | None = None
        if delivery == "in_person":
            if ticket_id is None:
                raise MeshError("TICKET_REQUIRED", "in person: name the ticket of the citizen at your desk")
            ticket = await self.serving(operator, ticket_id)
            hand_out_ticket = ticket.id
            if presented_iin is None:
                raise MeshError("IDENTITY_REQUIRED", "in person: enter the IIN of the identity document presented")
            self._check_identity(visit, presented_iin)
            assert ticket.called_at is not None
            started = max(ready, ticket.called_at)
        else:
            to = email or visit.form.get("email")
            if not to:
                raise MeshError("EMAIL_REQUIRED", "no e-mail address: the form has none and none was given")
            if at_desk:  # a new address, given in person: the identity is checked as for a hand-out
                if ticket_id is None or presented_iin is None:
                    raise MeshError("IDENTITY_REQUIRED", "give both ticketId and presentedIin")
                await self.serving(operator, ticket_id)
                self._check_identity(visit, presented_iin)
        now = self._clock.now()
        events = visit.events | {CentreEvent.HAND_OUT_STARTED.value: started.isoformat(),
                                 CentreEvent.HANDED_OUT.value: max(now, started).isoformat()}
        with message_context(correlation_id=visit.correlation_id, application_number=case.application_number):
            async with self._sessions() as session, session.begin():
                handed = await session.exec(update(Visit).where(  # type: ignore[call-overload]
                    col(Visit.id) == visit.id, col(Visit.state) == VisitState.SENT).values(
                    state=VisitState.HANDED_OUT, delivery=delivery, delivered_to=to, handed_out_by=operator.iin,
                    hand_out_ticket=hand_out_ticket, events=events))
                if not handed.rowcount:
                    raise MeshError("RESULT_ALREADY_HANDED_OUT", "the result was just handed out")
                if to is not None:
                    send_mail(session, self._runtime, kind="email", to=to, subject=f"{regulation.title}: заявление "
                              f"№ {case.application_number}", text=self._mail_text(case, final),
                              correlation_id=visit.correlation_id, application_number=case.application_number,
                              attachments=_attachments(case, document))
            self._runtime.relay.kick()
            log.info("result_handed_out", delivery=delivery)
        return await self.visit(visit.id)

    def _check_identity(self, visit: Visit, presented_iin: str) -> None:
        if presented_iin == visit.applicant_iin:
            return
        if presented_iin == visit.form.get("representativeIin"):
            poa = visit.form["powerOfAttorney"]
            if dt.date.fromisoformat(poa["validUntil"]) >= self._local_today():
                return
            raise MeshError("POWER_OF_ATTORNEY_EXPIRED", f"the representative's power of attorney № {poa['number']} "
                            f"expired on {poa['validUntil']}")
        raise MeshError("IDENTITY_MISMATCH", "the identity document presented is neither the citizen's nor their "
                        "representative's")

    @staticmethod
    def _mail_text(case: TrackedCase, final: CaseNotice) -> str:
        return (f"{final.text}\nЗаявление № {case.application_number}. Результат оказания услуги — во вложении "
                "(подписанный ЭЦП электронный документ).\nГосударственная корпорация «Правительство для граждан»")

    # ---- reads ----------------------------------------------------------------------------------------------
    async def visit(self, visit_id: str) -> Visit:
        async with self._sessions() as session:
            visit = await session.get(Visit, visit_id)
        if visit is None:
            raise MeshError("VISIT_NOT_FOUND", f"no visit {visit_id}")
        return visit

    async def _own_visit(self, operator: OperatorAccount, visit_id: str) -> Visit:
        visit = await self._own_branch_visit(operator, visit_id)
        if visit.operator_iin != operator.iin:
            raise MeshError("VISIT_NOT_YOURS", "another operator took this intake")
        return visit

    async def _own_branch_visit(self, operator: OperatorAccount, visit_id: str) -> Visit:
        visit = await self.visit(visit_id)
        if visit.branch != operator.branch:
            raise MeshError("NOT_YOUR_BRANCH", f"this visit is of branch {visit.branch}")
        return visit

    def _regulation(self, visit: Visit) -> Regulation:
        return self._regulations.all[visit.regulation_id]

    async def _final(self, visit: Visit) -> tuple[TrackedCase, CaseNotice | None]:
        async with self._sessions() as session:
            case = await session.get(TrackedCase, visit.correlation_id)
            final = (await session.exec(select(CaseNotice).where(
                CaseNotice.correlation_id == visit.correlation_id, col(CaseNotice.status).in_(DECIDED))
                .order_by(col(CaseNotice.id)))).first()
        if case is None:
            raise MeshError("RESULT_NOT_READY", "the application has not been sent yet")
        return case, final

    async def visits(self, *, branch: str | None = None, iin: str | None = None) -> list[Visit]:
        query = select(Visit).order_by(col(Visit.created_at))
        if branch:
            query = query.where(Visit.branch == branch)
        if iin:
            query = query.where(Visit.applicant_iin == iin)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def view(self, visit: Visit) -> dict[str, Any]:
        """A visit as the operator sees it: the form, the statuses ИС ЦОН heard, the ЦОН-side steps with their
        maxima and overdue flags, the result."""
        async with self._sessions() as session:
            case = await session.get(TrackedCase, visit.correlation_id)
        heard = await notices(self._sessions, correlation_id=visit.correlation_id)
        regulation = self._regulation(visit)
        events = dict(visit.events)
        final = next((n for n in heard if n.status in DECIDED), None)
        if final is not None:
            events[CentreEvent.RESULT_SENT.value] = final.at
            events[CentreEvent.RESULT_SHOWN.value] = _iso(final.received_at)
        now = self._clock.now()
        status = case.status if case else "FILLED"
        return {
            "id": visit.id, "ticketId": visit.ticket_id, "branch": visit.branch, "operatorIin": visit.operator_iin,
            "serviceId": visit.service_id, "regulation": visit.regulation_id, "district": visit.district,
            "applicantIin": visit.applicant_iin, "state": visit.state, "signedBy": visit.signed_by,
            "form": visit.form, "formSignature": visit.form_signature, "correlationId": visit.correlation_id,
            "applicationNumber": case.application_number if case else None, "status": status,
            "statusText": "Выдано" if visit.state == VisitState.HANDED_OUT else CENTRE_TEXT.get(status, status),
            "refusalCode": case.refusal_code if case else None,
            "statuses": [{"status": n.status, "statusText": CENTRE_TEXT.get(n.status, n.status_text),
                          "providerText": n.status_text, "at": n.at, "receivedAt": _iso(n.received_at),
                          "text": n.text, "reason": n.reason} for n in heard],
            "document": final.document if final else None, "result": visit.result,
            "delivery": visit.delivery, "deliveredTo": visit.delivered_to, "handedOutBy": visit.handed_out_by,
            "events": events, "timeline": timeline(regulation, events, now=now,
                                                   refused=status in DECIDED and status != "COMPLETED"),
        }


def scan_type(content_type: str) -> str:
    """The media type of an upload, if scans may be of it (checked before the body is read)."""
    try:
        return allowed_type(content_type)
    except MeshError as exc:
        raise MeshError("SCAN_TYPE_NOT_ALLOWED", exc.message.replace("electronic copies", "scans")) from None


def timeline(regulation: Regulation, events: dict[str, str], *, now: dt.datetime,
             refused: bool = False) -> list[dict[str, Any]]:
    """Each ЦОН-side step of the regulation: when it started and finished (its events), its maximum, and whether
    it ran (or is running) past it. Forming the result does not apply to a refusal (ИС МИО's is handed out)."""
    assert regulation.centre is not None
    out = []
    for step in regulation.centre.steps:
        started, finished = events.get(step.start.value), events.get(step.end.value)
        applies = not (refused and CentreEvent.RESULT_FORMED in (step.start, step.end))
        due = overdue = None
        if started is not None and applies:
            assert step.max.minutes is not None
            due = dt.datetime.fromisoformat(started) + dt.timedelta(minutes=step.max.minutes)
            overdue = (dt.datetime.fromisoformat(finished) if finished else now) > due
        out.append({"step": step.id, "from": step.start.value, "to": step.end.value, "action": step.action,
                    "max": step.max.describe(), "source": step.source, "startedAt": started, "finishedAt": finished,
                    "dueAt": due.isoformat() if due else None, "overdue": overdue, "applies": applies})
    return out


def _iso(value: dt.datetime | None) -> str:
    assert value is not None
    return value.isoformat()


def _attachments(case: TrackedCase, document: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [json_attachment(f"{case.application_number}.json", document)] if document else []


def sign_as(operators: OperatorBook, account: OperatorAccount, form: dict[str, Any]) -> str:
    """Test support: the seeded operator's EDS on ``form``."""
    return sign_json(value=form, signer=operators.signer(account))
