"""ИС МИО use cases: receive applications (through the gateway, or entered at the office), move them through
their regulation's steps — by staff through the API or by simulated staff in auto mode — sign the result with
a real EDS, keep «Еңбек нарығы», and tell the systems that follow the case each status change.

Every status change is queued in the outbox in the same transaction as the change, so the notifications
leave in order and exactly once, whatever process dies when.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.actions import ACTIONS, ActionBody, ActionRequest, Decided, Issued, apply
from services.mio_workstation.domain import (
    STATUS_TEXT,
    Circumstances,
    Registered,
    Status,
    application_number,
    auto_at,
    document_number,
    identity_problem,
    next_action,
    numbered,
    step_due,
    term_due,
)
from services.mio_workstation.reads import Reads
from services.mio_workstation.register import LabourRegister
from services.mio_workstation.staff import StaffBook
from services.mio_workstation.store import (
    Application,
    ApplicationDocument,
    DistrictMode,
    DocumentCounter,
    LabourCard,
    NumberCounter,
    StaffAccount,
    StepRecord,
)
from shared.clock import KZ_TZ, MeshClock
from shared.db import Sessions, insert_if_absent, raise_counter, snapshot
from shared.employment.attachments import decode, mismatches, refuse_mismatched
from shared.employment.forms import document_problems, form_errors, kinds_of, refuse_unfit
from shared.employment.mail import json_attachment, send_mail
from shared.employment.registry_calls import person_by_iin
from shared.employment.regulations import Action, Regulation, RegulationBook
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.contracts import ApplicationRequest, DocumentContent, SignedDocument, StatusNotification
from shared.mesh.envelope import MessageType
from shared.mesh.failures import OutageFailure
from shared.mesh.member import NUC, Incoming, MemberRuntime
from shared.pki.cert_check import CertificateVerifier, Expectation, is_transient, refusal_code
from shared.pki.cert_profile import Holder, Usage
from shared.web.idempotency import claim as claim_key
from shared.web.idempotency import replayed, request_digest
from shared.working_calendar import WorkingCalendar

log = get_logger(__name__)
CON = "con"
PORTAL = "portal"


def document_number_of(app: Application) -> str:
    """The signed result's own number (drafts made before documents had one carry the application's)."""
    return str((app.draft or {}).get("documentNumber") or app.number)


def channel_of(sender: str) -> str:
    """The regulation's channel of an application that came through the gateway from ``sender``."""
    return {"portal": "portal", CON: "con"}.get(sender, "office")


def copy_problems(form: dict[str, Any], request: ApplicationRequest, *, content_required: bool) -> list[str]:
    """How the electronic copies that came with an application differ from the documents its signed form names
    (each a reason for not accepting it); copies that cannot be read are one such reason."""
    try:
        copies = decode([a.model_dump(by_alias=True) for a in request.attachments])
    except MeshError as exc:
        return [exc.message]
    return [problem for _, problem in mismatches(form.get("documents") or [], copies,
                                                  content_required=content_required)]


class _AlreadyEntered(Exception):
    """An office intake lost the race for its idempotency key: its transaction is rolled back."""


__all__ = ["ActionBody", "Workstation"]


class Workstation:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, book: RegulationBook, staff: StaffBook,
                 runtimes: dict[str, MemberRuntime], calendar: WorkingCalendar, default_share: float,
                 default_mode: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._book = book
        self.staff = staff
        self.register = LabourRegister(sessions=sessions, clock=clock, keepers=book.register_keepers)
        self.reads = Reads(sessions=sessions, clock=clock)
        self._runtimes = runtimes
        self._calendar = calendar
        self._default_share = default_share
        self._default_mode = default_mode
        self.changed = asyncio.Event()  # the auto runner waits on it: something may have fallen due

    def wake_runner(self) -> None:
        self.changed.set()

    def runtime(self, district: str) -> MemberRuntime:
        runtime = self._runtimes.get(f"mio.{district}")
        if runtime is None:
            raise MeshError("DISTRICT_UNKNOWN", f"this ИС МИО serves no district {district!r}; it serves "
                            f"{', '.join(sorted(r.split('.', 1)[1] for r in self._runtimes))}")
        return runtime

    def regulation(self, app: Application) -> Regulation:
        return self._book.all[app.regulation_id]

    def verifier(self, district: str) -> CertificateVerifier:
        return self.runtime(district).verifier_or_fail()

    async def application(self, number: str) -> Application:
        return (await self.reads.application(number)).app

    # ---- intake -------------------------------------------------------------------------------------------
    async def check_incoming(self, incoming: Incoming, *, district: str) -> Incoming:
        """Before the intake transaction (it takes I/O: OCSP): does the district take this service through this
        channel, and is the EDS on the form valid and the signer's? The answer travels with the message."""
        env = incoming.envelope
        request = incoming.payload
        assert isinstance(request, ApplicationRequest)
        channel = channel_of(env.sender)
        regulation = self._book.find(district=district, service=env.service_id, channel=channel)
        if regulation is None:
            refusal = f"Услуга не оказывается в этом районе через канал «{channel}»"
        elif request.form.service_id != env.service_id:
            refusal = "Форма заявления составлена для другой услуги"
        elif request.signed_by not in regulation.signers():
            refusal = (f"Заявление через канал «{channel}» подписывает {' или '.join(regulation.signers())}, "
                       f"а не {request.signed_by}")
        elif errors := form_errors(dict(env.data["form"]), referral_kinds=kinds_of(regulation)):
            refusal = "Форма заявления не соответствует требованиям: " + "; ".join(
                f"{e['field']}: {e['problem']}" for e in errors)
        elif problems := copy_problems(dict(env.data["form"]), request, content_required=channel != "office"):
            refusal = "Электронные копии документов не соответствуют подписанному заявлению: " + "; ".join(problems)
        else:
            refusal = await self._form_refusal(form=dict(env.data["form"]), signature=request.form_signature,
                                               signed_by=request.signed_by, district=district, staff=None)
        return incoming.with_prepared(refusal=refusal)

    async def receive(self, session: AsyncSession, incoming: Incoming, *, district: str) -> None:
        """An application through the gateway, delivered to this district's ИС МИО (checked by ``check_incoming``)."""
        env = incoming.envelope
        request = incoming.payload
        assert isinstance(request, ApplicationRequest)
        channel = channel_of(env.sender)
        regulation = self._book.find(district=district, service=env.service_id, channel=channel)
        form = dict(env.data["form"])  # exactly as signed: the signature covers these bytes, not a re-serialisation
        await self._open(session, district=district, regulation=regulation, service_id=env.service_id, channel=channel,
                         form=form, signature=request.form_signature, signed_by=request.signed_by, origin=env.sender,
                         correlation_id=env.correlation_id, request_message_id=str(env.message_id),
                         refusal=incoming.prepared["refusal"], copies=request.attachments)

    async def intake_at_office(self, *, district: str, staff: StaffAccount, request: ApplicationRequest,
                               idempotency_key: str | None = None) -> tuple[Application, bool]:
        """The МИО employee enters a paper application into ИС МИО (seed table 1): channel «office». With an
        ``idempotency_key``, a repeat returns the application the first call made; the flag says so."""
        self.runtime(district)
        regulation = self._book.find(district=district, service=request.form.service_id, channel="office")
        if regulation is None:
            raise MeshError("CHANNEL_NOT_PROVIDED", f"{request.form.service_id} is not received at the office in "
                            f"{district}")
        form = request.form.model_dump(by_alias=True, exclude_unset=True)  # exactly as signed
        refuse_unfit(form, referral_kinds=kinds_of(regulation))
        if request.signed_by not in regulation.signers():
            raise MeshError("SIGNER_NOT_ALLOWED", f"a paper application is signed by the "
                            f"{' or the '.join(regulation.signers())}, not the {request.signed_by}")
        accept_role = regulation.steps[0].role
        if staff.district != district or staff.role != accept_role:
            raise MeshError("WRONG_ROLE", f"applications are entered by the {accept_role} of {district}")
        copies = decode([a.model_dump(by_alias=True) for a in request.attachments])
        refuse_mismatched(form.get("documents") or [], copies, content_required=False)  # the paper is at the desk
        scope, digest = f"staff:{staff.iin}", request_digest({"district": district, "form": form,
                                                              "formSignature": request.form_signature,
                                                              "signedBy": request.signed_by,
                                                              "copies": [c.sha256 for c in copies]})
        if idempotency_key is not None:
            async with self._sessions() as session:
                earlier = await replayed(session, scope=scope, key=idempotency_key, digest=digest)
            if earlier is not None:
                return await self.application(earlier), True
        refusal = await self._form_refusal(form=form, signature=request.form_signature, signed_by=request.signed_by,
                                           district=district, staff=staff)
        if refusal:
            raise MeshError("FORM_SIGNATURE_NOT_CONFIRMED", refusal)
        try:
            async with self._sessions() as session, session.begin():
                number = await self._open(session, district=district, regulation=regulation,
                                          service_id=request.form.service_id, channel="office", form=form,
                                          signature=request.form_signature, signed_by=request.signed_by, origin=None,
                                          correlation_id=str(uuid.uuid4()), request_message_id=None, refusal=None,
                                          copies=request.attachments)
                if idempotency_key is not None and not await claim_key(session, scope=scope, key=idempotency_key,
                                                                       digest=digest, resource=number):
                    raise _AlreadyEntered  # another call with this key got there first: this one is rolled back
        except _AlreadyEntered:
            async with self._sessions() as session:
                earlier = await replayed(session, scope=scope, key=idempotency_key or "", digest=digest)
            assert earlier is not None
            return await self.application(earlier), True
        self._after_commit(district)
        return await self.application(number), False

    async def _form_refusal(self, *, form: dict[str, Any], signature: str, signed_by: str, district: str,
                            staff: StaffAccount | None) -> str | None:
        """Condition 2: the EDS on the form is valid, unrevoked, and the signer's (applicant, operator, employee,
        or — a form naming an organisation (applicantBin), and only such a form — the organisation's: a certificate
        with that BIN and the IIN of the representative the form names)."""
        verifier = self.verifier(district)
        if bool(form.get("applicantBin")) != (signed_by == "organisation"):
            return ("Заявление от имени организации (applicantBin) подписывается ЭЦП этой организации, и только оно"
                    if form.get("applicantBin") else "Заявление, подписанное ЭЦП организации, не называет её БИН "
                    "(applicantBin)")
        if signed_by == "applicant":
            expect = Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=form["applicantIin"])
        elif signed_by == "organisation":
            if not form.get("representativeIin"):
                return "Заявление организации не называет её представителя, подписавшего его (representativeIin)"
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=form["representativeIin"],
                                 bin=form["applicantBin"])
        elif signed_by == "employee":
            if staff is None:
                return "Заявление, поступившее извне, не может быть подписано сотрудником МИО"
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=staff.iin,
                                 bin=self.staff.organisations[district]["bin"])
        elif not form.get("operatorIin"):
            return "Заявление, подписанное оператором ЦОН, не называет оператора (operatorIin)"
        else:  # the operator named on the form, an employee of the State Corporation (the proven sender's BIN)
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=form["operatorIin"],
                                 bin=self.staff.centre["bin"], role="operator")
        result, _ = await verifier.verify_signed_json(value=form, signature_b64=signature, expect=expect)
        if result.ok:
            return None
        if is_transient(result):  # retried by the consumer, or 503 to the office
            raise OutageFailure(refusal_code(result), f"cannot check the form's EDS now: {result.message}",
                                details={"failedAt": NUC})
        return f"ЭЦП на заявлении не подтверждена ({result.failure.value if result.failure else ''}): {result.message}"

    async def _number(self, session: AsyncSession, district: str) -> str:
        """The district's next application number (``raise_counter``)."""
        year = self._clock.local_now().year
        sequence = await raise_counter(session, NumberCounter, district=district, year=year)
        return application_number(district=district, year=year, sequence=sequence)

    async def _document_number(self, session: AsyncSession, district: str, *, year: int) -> str:
        """A result document's own number, from the district's register of outgoing documents."""
        sequence = await raise_counter(session, DocumentCounter, district=district, year=year)
        return document_number(district=district, year=year, sequence=sequence)

    async def _mode(self, session: AsyncSession, district: str) -> DistrictMode:
        return await session.get(DistrictMode, district) or DistrictMode(
            district=district, mode=self._default_mode, auto_share=self._default_share)

    async def _open(self, session: AsyncSession, *, district: str, regulation: Regulation | None, service_id: str,
                    channel: str, form: dict[str, Any], signature: str, signed_by: str, origin: str | None,
                    correlation_id: str, request_message_id: str | None, refusal: str | None,
                    copies: list[DocumentContent]) -> str:
        now = self._clock.now()
        mode = await self._mode(session, district)
        number = await self._number(session, district)
        app = Application(
            number=number, district=district, service_id=service_id, channel=channel,
            regulation_id=regulation.id if regulation else "", applicant_iin=form.get("applicantIin", ""),
            origin_member=origin, correlation_id=correlation_id, request_message_id=request_message_id,
            status=Status.RECEIVED, mode=mode.mode, auto_share=mode.auto_share, form=form, form_signature=signature,
            signed_by=signed_by, received_at=now,
            term_due=term_due(accepted=now, term=regulation.term, calendar=self._calendar) if regulation else None)
        session.add(app)
        with message_context(correlation_id=correlation_id, application_number=number):
            if refusal is not None or regulation is None:
                app.status, app.reason, app.completed_at = Status.NOT_ACCEPTED, refusal, now
                self._notify(session, app, title=regulation.title if regulation else service_id, at=now)
                log.info("application_not_accepted")
                return number
            for copy in copies:  # checked against the signed form before (``check_incoming``, the office intake)
                data = base64.b64decode(copy.content_base64)
                await insert_if_absent(session, ApplicationDocument.__table__, {  # type: ignore[attr-defined]
                    "application_number": number, "sha256": copy.sha256, "content_type": copy.content_type,
                    "size": len(data), "content": data})
            self._notify(session, app, title=regulation.title, at=now)
            await self._start_step(session, app=app, regulation=regulation, position=0, at=now)
            log.info("application_received", channel=channel)
        return number

    # ---- steps ---------------------------------------------------------------------------------------------
    async def _start_step(self, session: AsyncSession, *, app: Application, regulation: Regulation, position: int,
                          at: dt.datetime) -> None:
        """The step starts when the previous one finished (``at``, mesh time); its schedule follows from there."""
        step = regulation.steps[position]
        due = step_due(started=at, duration=step.max, calendar=self._calendar)
        record = StepRecord(application_number=app.number, position=position, step_id=step.id, role=step.role,
                            started_at=at, due_at=due, auto_at=self._schedule(app, regulation, started=at, due=due))
        session.add(record)
        if Action.DECIDE in step.does and app.status == Status.RECEIVED:
            app.status = Status.IN_PROGRESS
            session.add(app)
            self._notify(session, app, title=regulation.title, at=at)

    @staticmethod
    def _schedule(app: Application, regulation: Regulation, *, started: dt.datetime,
                  due: dt.datetime) -> dt.datetime | None:
        """When simulated staff (or the system itself) do the step: at once for a register the ЦОН enters into
        (``processing: automatic``), at the district's share of the step's time in auto mode, never in manual."""
        if regulation.processing == "automatic":
            return started
        return auto_at(started=started, due=due, share=app.auto_share) if app.mode == "auto" else None

    async def _current(self, session: AsyncSession, number: str, *, lock: bool,
                       district: str | None = None) -> tuple[Application, StepRecord]:
        """The application and its open step. For staff of ``district``, another district's application is
        NOT_YOUR_DISTRICT before anything else (its status and its step are not theirs to learn)."""
        query = select(Application).where(Application.number == number)
        app = (await session.exec(query.with_for_update() if lock else query)).first()
        if app is None:
            raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}")
        if district is not None and app.district != district:
            raise MeshError("NOT_YOUR_DISTRICT", f"application {number} belongs to another district")
        if not Status(app.status).active:
            raise MeshError("APPLICATION_CLOSED", f"application {number} is {STATUS_TEXT[app.status]}; no step is "
                            "open")
        step = await self._open_step(session, number)
        assert step is not None, f"an active application {number} has an open step"
        return app, step

    @staticmethod
    async def _open_step(session: AsyncSession, number: str) -> StepRecord | None:
        return (await session.exec(select(StepRecord).where(StepRecord.application_number == number,
                                                            col(StepRecord.finished_at).is_(None)))).first()

    def _when(self, record: StepRecord, actor: StaffAccount | None) -> dt.datetime:
        """The mesh time an action is done at: now for staff; for simulated staff, the step's scheduled time —
        however far the clock has jumped past it (the semantics of a time-skipping test server). Never before the
        step started: after the clock is reset behind a case, its history still runs forward."""
        now = self._clock.now()
        if actor is None and record.auto_at is not None:
            now = min(record.auto_at, now)
        return max(now, record.started_at)

    async def act(self, *, number: str, action: str, actor: StaffAccount | None, body: ActionBody) -> Application:
        """One action of the current step, by a staff member (or by simulated staff when ``actor`` is None)."""
        async with snapshot(self._sessions) as session:
            app, record = await self._current(session, number, lock=False,
                                              district=actor.district if actor is not None else None)
        regulation = self.regulation(app)
        step = regulation.steps[record.position]
        due_action = next_action(step, record.done)
        finished = [a for s in regulation.steps[:record.position] for a in s.does] + record.done
        if action in finished:
            raise MeshError("STEP_ALREADY_DONE", f"'{action}' of application {number} is done already; it waits "
                            f"for '{due_action}' by the {step.role}", details={"due": due_action, "role": step.role})
        if action != due_action:
            raise MeshError("ACTION_NOT_DUE", f"application {number} waits for '{due_action}' by the "
                            f"{step.role} (step {step.id})", details={"due": due_action, "role": step.role})
        if actor is not None and actor.role != step.role:
            raise MeshError("WRONG_ROLE", f"'{action}' in step {step.id} is the {step.role}'s, not the "
                            f"{actor.role}'s")
        request = ActionRequest(app=app, regulation=regulation, step=step, actor=actor, body=body,
                                at=self._when(record, actor))
        handler = ACTIONS[Action(action)]
        handler.check(request)
        prepared = await handler.prepare(request, self)
        position, at = record.position, request.at
        with message_context(correlation_id=app.correlation_id, application_number=number):
            async with self._sessions() as session, session.begin():
                # Read again, locked: another actor may have done this very action since the read above. The step
                # is the one this action was prepared for, or the action is refused (never applied to the next step).
                app, record = await self._current(session, number, lock=True)
                if record.position != position or next_action(step, record.done) != action:
                    raise MeshError("STEP_ALREADY_DONE", f"'{action}' of application {number} was just done")
                if isinstance(prepared, Decided):  # the draft's own number, given in the transaction that keeps it
                    prepared = replace(prepared, draft=numbered(prepared.draft, await self._document_number(
                        session, app.district, year=at.astimezone(KZ_TZ).year)))
                apply(app, prepared, at=at)
                if isinstance(prepared, Issued) and prepared.delivery == "email" and prepared.address:
                    self._email_result(session, app, regulation=regulation, address=prepared.address)
                if isinstance(prepared, Issued) and prepared.sms_to:
                    self._sms_result(session, app, regulation=regulation, phone=prepared.sms_to, at=at)
                record.done = [*record.done, action]
                if next_action(step, record.done) is None:
                    record.finished_at, record.actor = at, actor.iin if actor else "auto"
                    record.overdue = at > record.due_at
                    if Status(app.status).active and record.position + 1 < len(regulation.steps):
                        await self._start_step(session, app=app, regulation=regulation, position=record.position + 1,
                                               at=at)
                session.add(record)
                if not Status(app.status).active:
                    await self.register.record(session, app=app, service=regulation.service, at=at)
                    self._notify(session, app, title=regulation.title, at=at)
                session.add(app)
            self._after_commit(app.district)
            log.info("step_action_done", action=action, actor="auto" if actor is None else actor.role,
                     at=at.isoformat())
        return app  # as committed (sessions keep objects loaded after commit)

    # ---- notifications -----------------------------------------------------------------------------------
    def _notify(self, session: AsyncSession, app: Application, *, title: str, at: dt.datetime) -> None:
        """The status change to the system the application came from and to ИС ЦОН (seed 003 tables 1-3), stamped
        with the mesh time it happened at."""
        texts = {
            "RECEIVED": f"Заявление № {app.number} на услугу «{title}» поступило (статус «Поступившие»)",
            "IN_PROGRESS": f"Заявление № {app.number} принято в работу (статус «В работе»)",
            "COMPLETED": f"Услуга «{title}» оказана. Документ № {document_number_of(app)} подписан ЭЦП",
            "REFUSED": f"В оказании услуги «{title}» отказано. Причина: {app.reason}",
            "NOT_ACCEPTED": f"Заявление на услугу «{title}» не принято. Причина: {app.reason}",
        }
        document = None
        if app.status in (Status.COMPLETED, Status.REFUSED) and app.draft and app.document_signature:
            document = SignedDocument(content=app.draft, signature=app.document_signature)
        refused = app.status in (Status.REFUSED, Status.NOT_ACCEPTED)
        notice = StatusNotification(application_number=app.number, district=app.district,
                                    applicant_iin=app.applicant_iin, status=app.status,  # type: ignore[arg-type]
                                    status_text=STATUS_TEXT[app.status], at=at.isoformat(),
                                    text=texts[app.status], reason=app.reason if refused else None, document=document,
                                    channel=app.channel)  # type: ignore[arg-type]
        regulation = self._book.all.get(app.regulation_id)
        # where it came from; ИС ЦОН where the seed routes statuses there; the portal always: the citizen's
        # «История получения услуг» lists applications of every channel (003 п. 10: status on the portal too)
        recipients = [m for m in (app.origin_member, CON if regulation and regulation.centre_hears else None, PORTAL)
                      if m]
        runtime = self.runtime(app.district)
        for recipient in dict.fromkeys(recipients):
            runtime.send(session, service_id=app.service_id, message_type=MessageType.NOTIFICATION,
                         data=notice.model_dump(by_alias=True, exclude_none=True), correlation_id=app.correlation_id,
                         recipient=recipient)

    def _after_commit(self, district: str) -> None:
        self.runtime(district).relay.kick()
        self.wake_runner()

    # ---- what the executor knows -------------------------------------------------------------------------
    async def circumstances(self, app: Application, *, on: dt.date) -> tuple[Circumstances, LabourCard | None]:
        """The registries' facts about the applicant (both asked at once) and their open card, as of ``on``."""
        runtime = self.runtime(app.district)
        person_answer, status_answer = await asyncio.gather(*(
            runtime.request(service_id=service, data={"iin": app.applicant_iin}, correlation_id=app.correlation_id)
            for service in ("gbdfl.person-by-iin", "gbdfl.social-status-by-iin")))
        person, status = person_answer.envelope.data, status_answer.envelope.data
        card = await self.register.open_card(app.applicant_iin)
        age, registered = None, None
        if person.get("found"):
            held = person["person"]
            birth = dt.date.fromisoformat(held["birthDate"])
            age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
            registered = Registered(iin=held["iin"], surname=held["surname"], name=held["name"],
                                    patronymic=held.get("patronymic"))
        return Circumstances(
            registered=registered, identity=identity_problem(app.form, registered),
            age=age, alive=bool(person.get("found")) and person["person"].get("alive", True),
            employed=bool(status.get("employment", {}).get("employed")),
            full_time_student=bool(status.get("study", {}).get("fullTimeStudent")),
            pensioner=bool(status.get("pension", {}).get("pensioner")),
            job_seeker_card=card is not None and card.kind == "job_seeker",
            unemployed_card=card is not None and card.kind == "unemployed",
            has_representative=bool(app.form.get("representativeIin")),
            document_problems=tuple(document_problems(app.form, on=app.received_at.astimezone(KZ_TZ).date()))), card

    # ---- modes and simulated staff ------------------------------------------------------------------------
    async def set_mode(self, *, district: str | None, number: str | None, mode: str, share: float | None) -> None:
        async with self._sessions() as session, session.begin():
            if district is not None:
                self.runtime(district)
                await insert_if_absent(session, DistrictMode.__table__, {  # type: ignore[attr-defined]
                    "district": district, "mode": self._default_mode, "auto_share": self._default_share})
                changes: dict[str, Any] = {"mode": mode} | ({"auto_share": share} if share is not None else {})
                await session.exec(update(DistrictMode).where(col(DistrictMode.district) == district)  # type: ignore[call-overload]
                                   .values(**changes))
            if number is not None:
                app = await session.get(Application, number)
                if app is None:
                    raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}")
                app.mode, app.auto_share = mode, share if share is not None else app.auto_share
                session.add(app)
                step = await self._open_step(session, number)
                if step is not None:
                    step.auto_at = self._schedule(app, self.regulation(app), started=step.started_at, due=step.due_at)
                    session.add(step)
        self.wake_runner()

    async def due_automatically(self) -> tuple[list[str], dt.datetime | None]:
        """Applications whose current step simulated staff should have finished by now (earliest first), and when
        the next one falls due."""
        now = self._clock.now()
        async with snapshot(self._sessions) as session:
            due = (await session.exec(select(StepRecord.application_number).where(
                col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at) <= now)
                .order_by(col(StepRecord.auto_at)))).all()
            upcoming = (await session.exec(select(func.min(StepRecord.auto_at)).where(
                col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at) > now))).one()
        return list(due), upcoming

    async def finish_step_automatically(self, number: str) -> None:
        """Simulated staff do every step of the application whose scheduled time has passed, in order, each at its
        own scheduled time: one clock jump over a case's whole schedule brings it to its final status."""
        while True:
            async with snapshot(self._sessions) as session:
                app, record = await self._current(session, number, lock=False)
            if record.auto_at is None or record.auto_at > self._clock.now():
                return
            action = next_action(self.regulation(app).steps[record.position], record.done)
            assert action is not None, f"an open step of {number} has an action left"
            app = await self.act(number=number, action=action, actor=None, body=ActionBody())
            if not Status(app.status).active:
                return

    # ---- telling the result by SMS (004 п. 5) -------------------------------------------------------------------
    async def phone_of(self, app: Application) -> str | None:
        """The applicant's mobile number as ГБД ФЛ holds it (None when it holds none or cannot be asked now: the
        result is still issued, the notice is the portal's and the office's)."""
        try:
            person = await person_by_iin(self.runtime(app.district), app.applicant_iin,
                                         correlation_id=app.correlation_id)
        except MeshError as exc:
            log.warning("sms_phone_unavailable", code=exc.code)
            return None
        return person.phone if person is not None else None

    def _sms_result(self, session: AsyncSession, app: Application, *, regulation: Regulation, phone: str,
                    at: dt.datetime) -> None:
        """The result in one SMS, queued in the transaction that issues it (through the mesh's outbox)."""
        if app.decision == "approve":
            since = (app.draft or {}).get("registeredOn") or at.astimezone(KZ_TZ).date().isoformat()
            text = (f"Вы зарегистрированы в качестве безработного с {since}. "
                    f"{regulation.issuer or regulation.title}, заявление № {app.number}.")
        else:
            text = f"В оказании услуги «{regulation.title}» отказано: {app.reason}. Заявление № {app.number}."
        try:
            send_mail(session, self.runtime(app.district), kind="sms", to=phone, subject=None, text=text[:1000],
                      correlation_id=app.correlation_id, application_number=app.number)
        except MeshError as exc:  # a phone the outbox will not take: the result is issued all the same
            log.warning("sms_not_sent", code=exc.code)

    # ---- handing the result out by e-mail --------------------------------------------------------------------
    def _email_result(self, session: AsyncSession, app: Application, *, regulation: Regulation, address: str) -> None:
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
        send_mail(session, self.runtime(app.district), kind="email", to=address,
                  subject=f"Результат оказания государственной услуги — заявление № {app.number}", text=text,
                  correlation_id=app.correlation_id, application_number=app.number, attachments=attachments)
