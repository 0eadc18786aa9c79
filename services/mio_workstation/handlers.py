"""ИС МИО use cases: receive applications (through the gateway, or entered at the office), move them through
their regulation's steps — by staff through the API or by simulated staff in auto mode — sign the result with
a real EDS, keep «Еңбек нарығы», and tell the systems that follow the case each status change.

Every status change is queued in the outbox in the same transaction as the change, so the notifications
leave in order and exactly once, whatever process dies when.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import (
    STATUS_TEXT,
    Circumstances,
    application_number,
    auto_at,
    automatic_decision,
    card_missing,
    draft_document,
    next_action,
    step_due,
    term_due,
)
from services.mio_workstation.regulations import Regulation, RegulationBook
from services.mio_workstation.staff import StaffBook
from services.mio_workstation.store import (
    Application,
    DistrictMode,
    LabourCard,
    LabourCardEvent,
    NumberCounter,
    StaffAccount,
    StepRecord,
)
from shared.cert_check import Expectation, is_transient, refusal_code
from shared.cert_profile import Holder, Usage
from shared.clock import KZ_TZ, MeshClock
from shared.contracts import ApplicationRequest, SignedDocument, StatusNotification
from shared.db import Sessions, insert_if_absent
from shared.envelope import MessageType
from shared.errors import MeshError
from shared.failures import OutageFailure
from shared.idempotency import claim as claim_key
from shared.idempotency import replayed, request_digest
from shared.ids import parse_iin
from shared.logging import get_logger
from shared.logins import eds_refusal
from shared.member import NUC, Incoming, MemberRuntime
from shared.signing import sign_json
from shared.working_calendar import WorkingCalendar

log = get_logger(__name__)
ACTIVE = ("RECEIVED", "IN_PROGRESS")
CON = "con"


def channel_of(sender: str) -> str:
    """The regulation's channel of an application that came through the gateway from ``sender``."""
    return {"portal": "portal", CON: "con"}.get(sender, "office")


class _AlreadyEntered(Exception):
    """An office intake lost the race for its idempotency key: its transaction is rolled back."""


@dataclass(frozen=True)
class ActionBody:
    accept: bool = True
    reason: str | None = None
    executor_iin: str | None = None
    decision: str | None = None
    signature: str | None = None


class Workstation:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, book: RegulationBook, staff: StaffBook,
                 runtimes: dict[str, MemberRuntime], calendar: WorkingCalendar, default_share: float,
                 default_mode: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._book = book
        self._staff = staff
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
                            f"{', '.join(sorted(r.split('.', 1)[1] for r in self._runtimes))}", status=404)
        return runtime

    def regulation(self, app: Application) -> Regulation:
        return self._book.all[app.regulation_id]

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
                         refusal=incoming.prepared["refusal"])

    async def intake_at_office(self, *, district: str, staff: StaffAccount, request: ApplicationRequest,
                               idempotency_key: str | None = None) -> tuple[Application, bool]:
        """The МИО employee enters a paper application into ИС МИО (seed table 1): channel «office». With an
        ``idempotency_key``, a repeat returns the application the first call made; the flag says so."""
        self.runtime(district)
        regulation = self._book.find(district=district, service=request.form.service_id, channel="office")
        if regulation is None:
            raise MeshError("CHANNEL_NOT_PROVIDED", f"{request.form.service_id} is not received at the office in "
                            f"{district}", status=404)
        accept_role = regulation.steps[0].role
        if staff.district != district or staff.role != accept_role:
            raise MeshError("WRONG_ROLE", f"applications are entered by the {accept_role} of {district}", status=403)
        form = request.form.model_dump(by_alias=True, exclude_unset=True)
        scope, digest = f"staff:{staff.iin}", request_digest({"district": district, "form": form,
                                                              "formSignature": request.form_signature,
                                                              "signedBy": request.signed_by})
        if idempotency_key is not None:
            async with self._sessions() as session:
                earlier = await replayed(session, scope=scope, key=idempotency_key, digest=digest)
            if earlier is not None:
                return await self.application(earlier), True
        refusal = await self._form_refusal(form=form, signature=request.form_signature, signed_by=request.signed_by,
                                           district=district, staff=staff)
        if refusal:
            raise MeshError("FORM_SIGNATURE_NOT_CONFIRMED", refusal, status=422)
        try:
            async with self._sessions() as session, session.begin():
                number = await self._open(session, district=district, regulation=regulation,
                                          service_id=request.form.service_id, channel="office", form=form,
                                          signature=request.form_signature, signed_by=request.signed_by, origin=None,
                                          correlation_id=str(uuid.uuid4()), request_message_id=None, refusal=None)
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
        """Condition 2: the EDS on the form is valid, unrevoked, and the signer's (applicant, operator, employee)."""
        verifier = self.runtime(district).verifier_or_fail()
        if signed_by == "applicant":
            expect = Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=form["applicantIin"])
        elif signed_by == "employee":
            if staff is None:
                return "Заявление, поступившее извне, не может быть подписано сотрудником МИО"
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=staff.iin,
                                 bin=self._staff.organisations[district]["bin"])
        else:
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE)
        result, _ = await verifier.verify_signed_json(value=form, signature_b64=signature, expect=expect)
        if result.ok:
            return None
        if is_transient(result):  # retried by the consumer, or 503 to the office
            raise OutageFailure(refusal_code(result), f"cannot check the form's EDS now: {result.message}",
                                details={"failedAt": NUC})
        return f"ЭЦП на заявлении не подтверждена ({result.failure.value if result.failure else ''}): {result.message}"

    async def _number(self, session: AsyncSession, district: str) -> str:
        """The district's next number: one UPDATE … RETURNING on a counter row that exists before it is raised, so
        two applications — two tasks, two replicas, SQLite or PostgreSQL — never get the same one."""
        year = self._clock.local_now().year
        await insert_if_absent(session, NumberCounter.__table__,  # type: ignore[attr-defined]
                               {"district": district, "year": year, "last": 0})
        raised = await session.exec(update(NumberCounter).where(  # type: ignore[call-overload]
            col(NumberCounter.district) == district, col(NumberCounter.year) == year)
            .values(last=col(NumberCounter.last) + 1).returning(col(NumberCounter.last)))
        return application_number(district=district, year=year, sequence=int(raised.one()[0]))

    async def _mode(self, session: AsyncSession, district: str) -> DistrictMode:
        return await session.get(DistrictMode, district) or DistrictMode(
            district=district, mode=self._default_mode, auto_share=self._default_share)

    async def _open(self, session: AsyncSession, *, district: str, regulation: Regulation | None, service_id: str,
                    channel: str, form: dict[str, Any], signature: str, signed_by: str, origin: str | None,
                    correlation_id: str, request_message_id: str | None, refusal: str | None) -> str:
        now = self._clock.now()
        mode = await self._mode(session, district)
        number = await self._number(session, district)
        app = Application(
            number=number, district=district, service_id=service_id, channel=channel,
            regulation_id=regulation.id if regulation else "", applicant_iin=form.get("applicantIin", ""),
            origin_member=origin, correlation_id=correlation_id, request_message_id=request_message_id,
            status="RECEIVED", mode=mode.mode, auto_share=mode.auto_share, form=form, form_signature=signature,
            signed_by=signed_by, received_at=now,
            term_due=term_due(accepted=now, term=regulation.term, calendar=self._calendar) if regulation else None)
        session.add(app)
        if refusal is not None or regulation is None:
            app.status, app.reason, app.completed_at = "NOT_ACCEPTED", refusal, now
            self._notify(session, app, title=regulation.title if regulation else service_id)
            log.info("application_not_accepted", number=number)
            return number
        self._notify(session, app, title=regulation.title)
        await self._start_step(session, app=app, regulation=regulation, position=0, now=now)
        log.info("application_received", number=number, channel=channel)
        return number

    # ---- steps ---------------------------------------------------------------------------------------------
    async def _start_step(self, session: AsyncSession, *, app: Application, regulation: Regulation, position: int,
                          now: dt.datetime) -> None:
        step = regulation.steps[position]
        due = step_due(started=now, duration=step.max, calendar=self._calendar)
        record = StepRecord(application_number=app.number, position=position, step_id=step.id, role=step.role,
                            started_at=now, due_at=due,
                            auto_at=auto_at(started=now, due=due, share=app.auto_share) if app.mode == "auto" else None)
        session.add(record)
        if "decide" in step.does and app.status == "RECEIVED":
            app.status = "IN_PROGRESS"
            session.add(app)
            self._notify(session, app, title=regulation.title)

    async def _current(self, session: AsyncSession, number: str, *, lock: bool) -> tuple[Application, StepRecord]:
        query = select(Application).where(Application.number == number)
        app = (await session.exec(query.with_for_update() if lock else query)).first()
        if app is None:
            raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}", status=404)
        if app.status not in ACTIVE:
            raise MeshError("APPLICATION_CLOSED", f"application {number} is {STATUS_TEXT[app.status]}; no step is "
                            "open", status=409)
        step = await self._open_step(session, number)
        assert step is not None, f"an active application {number} has an open step"
        return app, step

    @staticmethod
    async def _open_step(session: AsyncSession, number: str) -> StepRecord | None:
        return (await session.exec(select(StepRecord).where(StepRecord.application_number == number,
                                                            col(StepRecord.finished_at).is_(None)))).first()

    async def act(self, *, number: str, action: str, actor: StaffAccount | None, body: ActionBody) -> Application:
        """One action of the current step, by a staff member (or by simulated staff when ``actor`` is None)."""
        async with self._sessions() as session:
            app, record = await self._current(session, number, lock=False)
        regulation = self.regulation(app)
        step = regulation.steps[record.position]
        due_action = next_action(step, record.done)
        finished = [a for s in regulation.steps[:record.position] for a in s.does] + record.done
        if action in finished:
            raise MeshError("STEP_ALREADY_DONE", f"'{action}' of application {number} is done already; it waits "
                            f"for '{due_action}' by the {step.role}", status=409,
                            details={"due": due_action, "role": step.role})
        if action != due_action:
            raise MeshError("ACTION_NOT_DUE", f"application {number} waits for '{due_action}' by the "
                            f"{step.role} (step {step.id})", status=409, details={"due": due_action, "role": step.role})
        if actor is not None:
            if actor.district != app.district:
                raise MeshError("NOT_YOUR_DISTRICT", f"application {number} belongs to {app.district}", status=403)
            if actor.role != step.role:
                raise MeshError("WRONG_ROLE", f"'{action}' in step {step.id} is the {step.role}'s, not the "
                                f"{actor.role}'s", status=403)
        prepared = await self._prepare(app=app, regulation=regulation, action=action, actor=actor, body=body)
        position = record.position
        async with self._sessions() as session, session.begin():
            # Read again, locked: another actor may have done this very action since the read above. The step is
            # the one this action was prepared for, or the action is refused (never applied to the next step).
            app, record = await self._current(session, number, lock=True)
            if record.position != position or next_action(step, record.done) != action:
                raise MeshError("STEP_ALREADY_DONE", f"'{action}' of application {number} was just done", status=409)
            now = self._clock.now()
            self._apply(session, app=app, regulation=regulation, action=action, prepared=prepared, now=now)
            record.done = [*record.done, action]
            if next_action(step, record.done) is None:
                record.finished_at, record.actor = now, actor.iin if actor else "auto"
                record.overdue = record.overdue or now > record.due_at
                if app.status in ACTIVE and record.position + 1 < len(regulation.steps):
                    await self._start_step(session, app=app, regulation=regulation, position=record.position + 1,
                                           now=now)
            session.add(record)
            if app.status not in ACTIVE:
                await self._register(session, app=app, regulation=regulation, now=now)
                self._notify(session, app, title=regulation.title)
            session.add(app)
        self._after_commit(app.district)
        log.info("step_action_done", number=number, action=action, actor="auto" if actor is None else actor.role)
        return app  # as committed (sessions keep objects loaded after commit)

    async def _prepare(self, *, app: Application, regulation: Regulation, action: str, actor: StaffAccount | None,
                       body: ActionBody) -> dict[str, Any]:
        """What an action needs that takes I/O (registries, signatures), before the transaction."""
        if action == "accept":
            if not body.accept and not regulation.may_refuse_acceptance:
                raise MeshError("REFUSAL_NOT_PROVIDED", "this regulation does not let the clerk refuse acceptance",
                                status=409)
            if not body.accept and not body.reason:
                raise MeshError("REASON_REQUIRED", "a refusal to accept names its reason", status=422)
            return {"accept": body.accept, "reason": body.reason}
        if action == "assign":
            executor = body.executor_iin
            if executor is None:
                found = await self._staff.find(district=app.district, role="executor")
                executor = found.iin if found else None
            elif (await self._staff.get(executor)).role != "executor":
                raise MeshError("NOT_AN_EXECUTOR", f"{executor} is not an executor of {app.district}", status=422)
            return {"executor": executor}
        if action == "decide":
            return await self._prepare_decision(app=app, regulation=regulation, actor=actor, body=body)
        if action == "sign":
            return await self._prepare_signature(app=app, regulation=regulation, actor=actor, body=body)
        return {}

    async def _prepare_decision(self, *, app: Application, regulation: Regulation, actor: StaffAccount | None,
                                body: ActionBody) -> dict[str, Any]:
        facts, card = await self.circumstances(app)
        if actor is None:
            approve, reason = automatic_decision(regulation=regulation, facts=facts, form=app.form)
        else:
            if body.decision not in ("approve", "refuse"):
                raise MeshError("DECISION_REQUIRED", "decision must be 'approve' or 'refuse'", status=422)
            approve, reason = body.decision == "approve", body.reason
            if not approve and not reason:
                raise MeshError("REASON_REQUIRED", "a motivated refusal names its reason", status=422)
            missing = card_missing(regulation=regulation, facts=facts) if approve else None
            if missing:
                raise MeshError("CARD_REQUIRED", missing, status=409)
        draft = draft_document(regulation=regulation, number=app.number, issued=self._clock.now(),
                               organisation=self._staff.organisations[app.district]["name"], form=app.form,
                               approve=approve, reason=reason, card=_card_summary(card))
        return {"approve": approve, "reason": reason, "draft": draft}

    async def _prepare_signature(self, *, app: Application, regulation: Regulation, actor: StaffAccount | None,
                                 body: ActionBody) -> dict[str, Any]:
        assert app.draft is not None
        if actor is None:
            signer = await self._staff.find(district=app.district, role=regulation.signature.role)
            if signer is None:
                raise MeshError("NO_SIGNER", f"{app.district} has no {regulation.signature.role} to sign", status=409)
            return {"signature": sign_json(value=app.draft, signer=self._staff.signer(signer)), "signer": signer.iin}
        if not body.signature:
            raise MeshError("SIGNATURE_REQUIRED", "sign the draft (GET …/draft) and send the signature", status=422)
        verifier = self.runtime(app.district).verifier_or_fail()
        result, _ = await verifier.verify_signed_json(value=app.draft, signature_b64=body.signature, expect=Expectation(
            usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=actor.iin, bin=self._staff.organisations[app.district]["bin"],
            role=regulation.signature.certificate_role))
        if not result.ok:
            code, status = eds_refusal(result)
            # the signer is logged in; it is the document's signature that is refused, not the session
            raise MeshError(code, f"the signature on {app.number} is not the {regulation.signature.role}'s valid "
                            f"EDS: {result.message}", status=503 if status == 503 else 422)
        return {"signature": body.signature, "signer": actor.iin}

    def _apply(self, session: AsyncSession, *, app: Application, regulation: Regulation, action: str,
               prepared: dict[str, Any], now: dt.datetime) -> None:
        if action == "accept" and not prepared["accept"]:
            app.status, app.reason, app.completed_at = "NOT_ACCEPTED", prepared["reason"], now
        elif action == "assign":
            app.executor_iin = prepared["executor"]
        elif action == "decide":
            app.decision = "approve" if prepared["approve"] else "refuse"
            app.reason, app.draft = prepared["reason"], prepared["draft"]
        elif action == "sign":
            app.document_signature, app.signer_iin = prepared["signature"], prepared["signer"]
        elif action == "issue":
            app.status = "COMPLETED" if app.decision == "approve" else "REFUSED"
            app.completed_at = now

    # ---- notifications -----------------------------------------------------------------------------------
    def _notify(self, session: AsyncSession, app: Application, *, title: str) -> None:
        """The status change to the system the application came from and to ИС ЦОН (seed 003 tables 1-3)."""
        texts = {
            "RECEIVED": f"Заявление № {app.number} на услугу «{title}» поступило (статус «Поступившие»)",
            "IN_PROGRESS": f"Заявление № {app.number} принято в работу (статус «В работе»)",
            "COMPLETED": f"Услуга «{title}» оказана. Документ № {app.number} подписан ЭЦП",
            "REFUSED": f"В оказании услуги «{title}» отказано. Причина: {app.reason}",
            "NOT_ACCEPTED": f"Заявление на услугу «{title}» не принято. Причина: {app.reason}",
        }
        document = None
        if app.status in ("COMPLETED", "REFUSED") and app.draft and app.document_signature:
            document = SignedDocument(content=app.draft, signature=app.document_signature)
        refused = app.status in ("REFUSED", "NOT_ACCEPTED")
        notice = StatusNotification(application_number=app.number, district=app.district,
                                    applicant_iin=app.applicant_iin, status=app.status,  # type: ignore[arg-type]
                                    status_text=STATUS_TEXT[app.status], at=self._clock.now().isoformat(),
                                    text=texts[app.status], reason=app.reason if refused else None, document=document)
        recipients = [m for m in (app.origin_member, CON) if m]
        runtime = self.runtime(app.district)
        for recipient in dict.fromkeys(recipients):
            runtime.send(session, service_id=app.service_id, message_type=MessageType.NOTIFICATION,
                         data=notice.model_dump(by_alias=True, exclude_none=True), correlation_id=app.correlation_id,
                         recipient=recipient)

    def _after_commit(self, district: str) -> None:
        self.runtime(district).relay.kick()
        self.wake_runner()

    # ---- the labour-market register ----------------------------------------------------------------------
    async def open_card(self, district: str, iin: str) -> LabourCard | None:
        async with self._sessions() as session:
            return await self._open_card_of(session, district=district, iin=iin)

    @staticmethod
    async def _open_card_of(session: AsyncSession, *, district: str, iin: str) -> LabourCard | None:
        return (await session.exec(select(LabourCard).where(LabourCard.district == district, LabourCard.iin == iin,
                                                            LabourCard.status == "open"))).first()

    async def _register(self, session: AsyncSession, *, app: Application, regulation: Regulation,
                        now: dt.datetime) -> None:
        if app.status != "COMPLETED":
            return
        card = await self._open_card_of(session, district=app.district, iin=app.applicant_iin)
        service = regulation.service
        if service == "employment.job-seeker-registration" and card is None:
            card = LabourCard(id=str(uuid.uuid4()), district=app.district, iin=app.applicant_iin, kind="job_seeker",
                              opened_at=now)
            session.add(card)
            event, detail = "opened", {"kind": "job_seeker"}
        elif card is None:
            return
        elif service == "employment.unemployed-registration":
            card.kind, card.unemployed_since = "unemployed", now
            session.add(card)
            event, detail = "became_unemployed", {}
        elif service == "employment.active-measures-referral":
            event, detail = "measure", {"referralKind": app.form.get("referralKind")}
        else:
            event = "certificate"
            detail = {"periodFrom": app.form.get("periodFrom"), "periodTo": app.form.get("periodTo")}
        session.add(LabourCardEvent(card_id=card.id, at=now, kind=event, detail=detail, application_number=app.number))

    async def open_card_directly(self, *, district: str, iin: str, kind: str) -> LabourCard:
        """Test support: a person already on the register, as if registered before the mesh existed."""
        self.runtime(district)
        parse_iin(iin)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            if await self._open_card_of(session, district=district, iin=iin) is not None:
                raise MeshError("CARD_EXISTS", f"{iin} already has an open card in {district}", status=409)
            card = LabourCard(id=str(uuid.uuid4()), district=district, iin=iin, kind=kind, opened_at=now,
                              unemployed_since=now if kind == "unemployed" else None)
            session.add(card)
            session.add(LabourCardEvent(card_id=card.id, at=now, kind="opened",
                                        detail={"kind": kind, "source": "test support"}))
        return card

    async def close_card(self, *, card_id: str, reason: str, actor: StaffAccount) -> LabourCard:
        async with self._sessions() as session, session.begin():
            card = await session.get(LabourCard, card_id, with_for_update=True)
            if card is None:
                raise MeshError("CARD_NOT_FOUND", f"no card {card_id}", status=404)
            if actor.district != card.district:
                raise MeshError("NOT_YOUR_DISTRICT", f"card {card_id} belongs to {card.district}", status=403)
            if card.status != "open":
                raise MeshError("CARD_CLOSED", f"card {card_id} was closed on {card.closed_at}", status=409)
            card.status, card.closed_at, card.close_reason = "closed", self._clock.now(), reason
            session.add(card)
            session.add(LabourCardEvent(card_id=card.id, at=card.closed_at, kind="closed", detail={"reason": reason}))
        return card

    async def cards(self, *, district: str, iin: str | None) -> list[tuple[LabourCard, list[LabourCardEvent]]]:
        async with self._sessions() as session:
            query = select(LabourCard).where(LabourCard.district == district)
            if iin:
                query = query.where(LabourCard.iin == iin)
            cards = list((await session.exec(query.order_by(col(LabourCard.opened_at)))).all())
            events = (await session.exec(select(LabourCardEvent).where(
                col(LabourCardEvent.card_id).in_([c.id for c in cards])).order_by(col(LabourCardEvent.id)))).all()
        history: dict[str, list[LabourCardEvent]] = {card.id: [] for card in cards}
        for event in events:
            history[event.card_id].append(event)
        return [(card, history[card.id]) for card in cards]

    # ---- what the executor knows -------------------------------------------------------------------------
    async def circumstances(self, app: Application) -> tuple[Circumstances, LabourCard | None]:
        """The registries' facts about the applicant (both asked at once) and their open card, if any."""
        runtime = self.runtime(app.district)
        person_answer, status_answer = await asyncio.gather(*(
            runtime.request(service_id=service, data={"iin": app.applicant_iin}, correlation_id=app.correlation_id)
            for service in ("gbdfl.person-by-iin", "gbdfl.social-status-by-iin")))
        person, status = person_answer.envelope.data, status_answer.envelope.data
        card = await self.open_card(app.district, app.applicant_iin)
        age = None
        if person.get("found"):
            birth = dt.date.fromisoformat(person["person"]["birthDate"])
            today = self._clock.local_now().date()
            age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        return Circumstances(
            age=age, alive=bool(person.get("found")) and person["person"].get("alive", True),
            employed=bool(status.get("employment", {}).get("employed")),
            full_time_student=bool(status.get("study", {}).get("fullTimeStudent")),
            pensioner=bool(status.get("pension", {}).get("pensioner")),
            job_seeker_card=card is not None and card.kind == "job_seeker",
            unemployed_card=card is not None and card.kind == "unemployed",
            has_representative=bool(app.form.get("representativeIin"))), card

    # ---- queries -----------------------------------------------------------------------------------------
    async def application(self, number: str) -> Application:
        async with self._sessions() as session:
            app = await session.get(Application, number)
        if app is None:
            raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}", status=404)
        return app

    async def timeline(self, number: str) -> list[StepRecord]:
        async with self._sessions() as session:
            return list((await session.exec(select(StepRecord).where(StepRecord.application_number == number)
                                            .order_by(col(StepRecord.position)))).all())

    async def inbox(self, *, district: str, status: str | None) -> list[Application]:
        self.runtime(district)
        query = select(Application).where(Application.district == district)
        if status == "OVERDUE":
            overdue = select(StepRecord.application_number).where(col(StepRecord.overdue).is_(True))
            query = query.where(col(Application.number).in_(overdue))
        elif status == "DONE":
            query = query.where(col(Application.status).not_in(ACTIVE))
        elif status:
            query = query.where(Application.status == status)
        async with self._sessions() as session:
            return list((await session.exec(query.order_by(col(Application.received_at)))).all())

    async def overdue_counts(self, district: str) -> dict[str, int]:
        async with self._sessions() as session:
            query = (select(StepRecord.step_id, func.count())
                     .join(Application, col(Application.number) == col(StepRecord.application_number))
                     .where(Application.district == district, col(StepRecord.overdue).is_(True))
                     .group_by(StepRecord.step_id))
            rows = (await session.exec(query)).all()
        return dict(rows)

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
                    raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}", status=404)
                app.mode, app.auto_share = mode, share if share is not None else app.auto_share
                session.add(app)
                step = await self._open_step(session, number)
                if step is not None:
                    step.auto_at = auto_at(started=step.started_at, due=step.due_at, share=app.auto_share) \
                        if mode == "auto" else None
                    session.add(step)
        self.wake_runner()

    async def due_automatically(self) -> tuple[list[str], dt.datetime | None]:
        """Applications whose current step simulated staff should finish now, and when the next one is due."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = (await session.exec(select(StepRecord.application_number).where(
                col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at) <= now))).all()
            upcoming = (await session.exec(select(func.min(StepRecord.auto_at)).where(
                col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at) > now))).one()
        return list(due), upcoming

    async def finish_step_automatically(self, number: str) -> None:
        async with self._sessions() as session:
            app, record = await self._current(session, number, lock=False)
        step = self.regulation(app).steps[record.position]
        while (action := next_action(step, record.done)) is not None:
            app = await self.act(number=number, action=action, actor=None, body=ActionBody())
            if app.status not in ACTIVE:
                return
            async with self._sessions() as session:
                record = await session.get(StepRecord, record.id)
            assert record is not None

    async def mark_overdue(self) -> int:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            late = (await session.exec(select(StepRecord).where(col(StepRecord.finished_at).is_(None),
                                                                col(StepRecord.overdue).is_(False),
                                                                col(StepRecord.due_at) < now))).all()
            for record in late:
                record.overdue = True
                session.add(record)
        return len(late)


def _card_summary(card: LabourCard | None) -> dict[str, Any] | None:
    if card is None:
        return None
    since = card.unemployed_since.astimezone(KZ_TZ).date().isoformat() if card.unemployed_since else None
    return {"id": card.id, "kind": card.kind, "unemployedSince": since}
