"""The five things staff do in a regulation's steps — accept, assign, decide, sign, issue — one object each.

Every action is done in three parts, whoever does it (a staff member through the API, or simulated staff):
``check`` the request (no I/O: a refusal to accept needs a reason…), ``prepare`` what takes I/O before the
transaction (ГБД ФЛ's facts, a signature and its certificate), and ``apply`` what was prepared to the
application inside the transaction — one ``match`` over the prepared outcomes.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol

from services.mio_workstation.domain import (
    Circumstances,
    Official,
    Status,
    automatic_decision,
    card_missing,
    draft_document,
)
from services.mio_workstation.register import LabourRegister
from services.mio_workstation.staff import StaffBook
from services.mio_workstation.store import Application, LabourCard, LabourCardEvent, StaffAccount
from shared.clock import KZ_TZ
from shared.employment.logins import eds_refusal
from shared.employment.regulations import Action, Regulation, Step
from shared.errors import MeshError
from shared.mesh.contracts import EMAIL_PATTERN
from shared.pki.cert_check import CertificateVerifier, Expectation
from shared.pki.cert_profile import Holder, Usage
from shared.pki.signing import refuse_signing_time, sign_json


@dataclass(frozen=True)
class ActionBody:
    """What a staff member sends with an action (simulated staff send the defaults)."""

    accept: bool = True
    reason: str | None = None
    executor_iin: str | None = None
    decision: str | None = None
    signature: str | None = None
    delivery: str | None = None  # issue, office applications: in_person (the default) or email
    email: str | None = None  # issue with delivery email: the address (default: the form's email)


@dataclass(frozen=True)
class ActionRequest:
    app: Application
    regulation: Regulation
    step: Step
    actor: StaffAccount | None  # None: simulated staff
    body: ActionBody
    at: dt.datetime  # the mesh time it is done at (simulated staff: the step's scheduled time)


# ---- what an action prepared, to be applied in the transaction ------------------------------------------------
@dataclass(frozen=True)
class Accepted:
    accept: bool
    reason: str | None


@dataclass(frozen=True)
class Assigned:
    executor: str | None


@dataclass(frozen=True)
class Decided:
    approve: bool
    reason: str | None
    draft: dict[str, Any]


@dataclass(frozen=True)
class Signed:
    signature: str
    signer: str


@dataclass(frozen=True)
class Issued:
    delivery: str | None = None  # office applications: in_person or email; None: the portal's or ИС ЦОН's business
    address: str | None = None  # delivery email: where the result goes (queued with the issue, shared.employment.mail)
    sms_to: str | None = None  # the regulation tells the result by SMS: the applicant's phone


Prepared = Accepted | Assigned | Decided | Signed | Issued


def apply(app: Application, prepared: Prepared, *, at: dt.datetime) -> None:
    """The state change an action makes, in the transaction that records it."""
    match prepared:
        case Accepted(accept=False, reason=reason):
            app.status, app.reason, app.completed_at = Status.NOT_ACCEPTED, reason, at
        case Accepted():
            pass
        case Assigned(executor=executor):
            app.executor_iin = executor
        case Decided(approve=approve, reason=reason, draft=draft):
            app.decision, app.reason, app.draft = "approve" if approve else "refuse", reason, draft
        case Signed(signature=signature, signer=signer):
            app.document_signature, app.signer_iin = signature, signer
        case Issued(delivery=delivery, address=address):
            app.status = Status.COMPLETED if app.decision == "approve" else Status.REFUSED
            app.completed_at = at
            app.delivery, app.delivered_to = delivery, address


class Facilities(Protocol):
    """What actions need from the workstation: its staff, the registries' facts, НУЦ's trust store."""

    staff: StaffBook
    register: LabourRegister

    async def circumstances(self, app: Application, *, on: dt.date) -> tuple[Circumstances, LabourCard | None]: ...

    def verifier(self, district: str) -> CertificateVerifier: ...

    async def phone_of(self, app: Application) -> str | None: ...


class StepAction(ABC):
    action: ClassVar[Action]

    def check(self, request: ActionRequest) -> None:  # noqa: B027 - most actions ask nothing of the body
        """Refuse a request that cannot be right whatever the registries say (no I/O)."""

    @abstractmethod
    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        """What the action needs that takes I/O, before the transaction."""


class Accept(StepAction):
    action = Action.ACCEPT

    def check(self, request: ActionRequest) -> None:
        if not request.body.accept and not request.regulation.may_refuse_acceptance:
            raise MeshError("REFUSAL_NOT_PROVIDED", "this regulation does not let the clerk refuse acceptance")
        if not request.body.accept and not request.body.reason:
            raise MeshError("REASON_REQUIRED", "a refusal to accept names its reason")

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        return Accepted(accept=request.body.accept, reason=request.body.reason)


class Assign(StepAction):
    """The head «определяет ответственного исполнителя» (000 п. 5, пп. 2; 001 п. 5, пп. 2; 002 п. 6, пп. 3): one of
    the application's own district — its staff — of the role whose step decides (the executor; where the step
    after it is the head's decision, 004's unemployed registration, the head it goes to for signing)."""

    action = Action.ASSIGN

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        executor = request.body.executor_iin
        district = request.app.district
        role = request.regulation.step_doing(Action.DECIDE).role
        if executor is None:
            found = await facilities.staff.find(district=district, role=role)
            return Assigned(executor=found.iin if found else None)
        try:
            named = await facilities.staff.get(executor)
        except MeshError:
            named = None
        if named is None or named.district != district:  # one answer: nothing told of other districts' staff
            raise MeshError("EXECUTOR_NOT_IN_DISTRICT", f"{executor} is no staff member of {district}, whose "
                            f"application {request.app.number} is: assign one of its own")
        if named.role != role:
            raise MeshError("NOT_AN_EXECUTOR", f"{executor} is the {named.role} of {district}, not a {role}: the "
                            f"decision in {request.regulation.id} is a {role}'s", details={"role": role})
        return Assigned(executor=executor)


class Decide(StepAction):
    action = Action.DECIDE

    def check(self, request: ActionRequest) -> None:
        if request.actor is None:
            return
        assigned = request.app.executor_iin
        if assigned is not None and request.actor.iin != assigned:  # the head's choice binds (Assign)
            raise MeshError("NOT_THE_ASSIGNED_EXECUTOR", f"application {request.app.number} was assigned to another "
                            f"{request.step.role}: it is theirs to decide")
        if request.body.decision not in ("approve", "refuse"):
            raise MeshError("DECISION_REQUIRED", "decision must be 'approve' or 'refuse'")
        if request.body.decision == "refuse" and not request.body.reason:
            raise MeshError("REASON_REQUIRED", "a motivated refusal names its reason")

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        app, regulation = request.app, request.regulation
        facts, card = await facilities.circumstances(app, on=request.at.astimezone(KZ_TZ).date())
        if request.actor is None:
            approve, reason = automatic_decision(regulation=regulation, facts=facts, form=app.form)
        else:
            approve, reason = request.body.decision == "approve", request.body.reason
            if approve and facts.identity:  # the result would name ГБД ФЛ's person, whom the form does not name
                raise MeshError("APPLICANT_NOT_CONFIRMED", facts.identity)
            missing = card_missing(regulation=regulation, facts=facts) if approve else None
            if missing:
                raise MeshError("CARD_REQUIRED", missing)
        # only the certificate prints the card's history and the specialist (003 app. 5): read them for it alone
        certificate = approve and regulation.service == "employment.unemployed-certificate"
        history = await facilities.register.history(card.id) if certificate and card is not None else []
        specialist = await _preparer(request, facilities) if certificate else None
        signer = await facilities.staff.find(district=app.district, role=regulation.signature.role)
        draft = draft_document(regulation=regulation, application_number=app.number, applied=app.received_at,
                               issued=request.at, organisation=facilities.staff.organisations[app.district]["name"],
                               issuer_bin=facilities.staff.organisations[app.district]["bin"],
                               form=app.form, person=facts.named, approve=approve, reason=reason,
                               card=card_summary(card, history),
                               signer=official(signer), specialist=official(specialist))
        return Decided(approve=approve, reason=reason, draft=draft)


class Sign(StepAction):
    action = Action.SIGN

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        app, regulation, actor = request.app, request.regulation, request.actor
        assert app.draft is not None
        named = app.draft.get("signer", {}).get("iin")  # the official the draft names as its signer
        if actor is not None and named and actor.iin != named:
            raise MeshError("NOT_THE_NAMED_SIGNER", f"the draft of {app.number} names {named} as its signer; it is "
                            "theirs to sign")
        if actor is None:
            signer = await facilities.staff.get(named) if named else await facilities.staff.find(
                district=app.district, role=regulation.signature.role)
            if signer is None:
                raise MeshError("NO_SIGNER", f"{app.district} has no {regulation.signature.role} to sign")
            return Signed(signature=sign_json(value=app.draft, signer=facilities.staff.signer(signer), at=request.at),
                          signer=signer.iin)  # signed at the step's mesh time: the document is judged at it
        if not request.body.signature:
            raise MeshError("SIGNATURE_REQUIRED", "sign the draft (GET …/draft) and send the signature")
        result, verified = await facilities.verifier(app.district).verify_signed_json(
            value=app.draft, signature_b64=request.body.signature, expect=Expectation(
                usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=actor.iin,
                bin=facilities.staff.organisations[app.district]["bin"], role=regulation.signature.certificate_role))
        if not result.ok:
            # the signer stays logged in: the code (EDS_*, not SESSION_*) says it is the document's signature that
            # is refused
            raise MeshError(eds_refusal(result), f"the signature on {app.number} is not the "
                            f"{regulation.signature.role}'s valid EDS: {result.message}")
        assert verified is not None
        refuse_signing_time(verified, now=request.at, what=f"the signature on {app.number}")
        return Signed(signature=request.body.signature, signer=actor.iin)


class Issue(StepAction):
    """Hand the result out. At the office (seed: «выдача сотрудником МИО нарочно или посредством отправки на
    электронную почту потребителя результата») in person, or by e-mail with the signed document attached; an
    application of the portal or ИС ЦОН is handed out there, so ``delivery`` is not the МИО's to choose."""

    action = Action.ISSUE

    def check(self, request: ActionRequest) -> None:
        app, body = request.app, request.body
        if app.channel != "office":
            if body.delivery is not None or body.email is not None:
                raise MeshError("DELIVERY_NOT_OFFICE", f"application {app.number} came through «{app.channel}»: its "
                                "result is handed out there, not by the МИО (delivery is for office applications)")
            return
        if body.email is not None and body.delivery != "email":
            raise MeshError("EMAIL_WITHOUT_DELIVERY", "an e-mail address goes with delivery 'email'")
        if body.delivery == "email":
            address = body.email or app.form.get("email")
            if not address:
                raise MeshError("EMAIL_REQUIRED", f"the form of {app.number} gives no e-mail: send 'email' with "
                                "delivery 'email', or hand the result out in person")
            if not is_email(address):
                raise MeshError("EMAIL_INVALID", "the e-mail address is not one (name@example.kz)")

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        issued = await self._delivery(request)
        if request.regulation.notify_by_sms:
            phone = request.app.form.get("phone") or await facilities.phone_of(request.app)
            return replace(issued, sms_to=phone) if phone else issued
        return issued

    @staticmethod
    async def _delivery(request: ActionRequest) -> Issued:
        app, body = request.app, request.body
        if app.channel != "office":
            return Issued()
        if request.actor is None:  # simulated staff e-mail the result when the form gives a (valid) address
            address = app.form.get("email")
            return Issued(delivery="email", address=address) if is_email(address) else Issued(delivery="in_person")
        if body.delivery == "email":
            return Issued(delivery="email", address=body.email or app.form.get("email"))
        return Issued(delivery="in_person")


ACTIONS: dict[Action, StepAction] = {a.action: a for a in (Accept(), Assign(), Decide(), Sign(), Issue())}


def is_email(value: Any) -> bool:
    """An address the mail outbox takes (the ``mesh.mail`` contract's pattern)."""
    return isinstance(value, str) and re.fullmatch(EMAIL_PATTERN, value) is not None


def card_summary(card: LabourCard | None, history: list[LabourCardEvent] | None = None) -> dict[str, Any] | None:
    """The card as the draft reads it: its kind, since when unemployed, and its events by Kazakh day."""
    if card is None:
        return None
    since = card.unemployed_since.astimezone(KZ_TZ).date().isoformat() if card.unemployed_since else None
    return {"id": card.id, "kind": card.kind, "unemployedSince": since,
            "events": [{"kind": e.kind, "on": e.at.astimezone(KZ_TZ).date().isoformat(), "detail": e.detail}
                       for e in history or []]}


def official(staff: StaffAccount | None) -> Official | None:
    return Official(iin=staff.iin, surname=staff.surname, name=staff.name, role=staff.role) if staff else None


async def _preparer(request: ActionRequest, facilities: Facilities) -> StaffAccount | None:
    """Who prepared the result: the staff member deciding, else (simulated staff) the executor the head assigned
    when the deciding step is theirs, else the district's seeded staff member of the deciding step's role."""
    if request.actor is not None:
        return request.actor
    app, role = request.app, request.step.role
    if app.executor_iin:
        try:
            assigned = await facilities.staff.get(app.executor_iin)
        except MeshError:
            assigned = None
        if assigned is not None and assigned.role == role:
            return assigned
    return await facilities.staff.find(district=app.district, role=role)
