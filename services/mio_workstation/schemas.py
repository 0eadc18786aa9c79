"""What ИС МИО's API takes and answers: closed models (``additionalProperties: false``), so a client generated from
``/openapi.json`` gets typed objects and the fuzz holds every answer to its schema. Wire names are camelCase; times
are ISO 8601 text exactly as the mesh writes them (``2026-03-02T04:00:00+00:00``). The builders (``…_out``) make
the answers from the tables; a route answers with ``response_model_exclude_unset`` where a field is absent rather
than null (an application's ``document`` before a decision, its ``timeline`` in an inbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.mio_workstation.domain import Status
from services.mio_workstation.store import Application, LabourCard, LabourCardEvent, StaffAccount, StepRecord
from services.mio_workstation.usecases.reads import ApplicationView
from shared.clock import KZ_TZ
from shared.employment.forms import document_problems
from shared.employment.logins import employee_public
from shared.employment.regulations import Regulation, RegulationBook, Step
from shared.mesh.contracts import ApplicationForm
from shared.web.models import CamelModel, ClosedModel

StatusName = Literal["RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED"]
StatusText = Literal["Поступившие", "В работе", "Исполнено", "Отказано", "Отказано в приеме"]
ActionName = Literal["accept", "assign", "decide", "sign", "issue"]
CardKind = Literal["job_seeker", "unemployed"]
ROLE_TITLES = {"clerk": "сотрудник канцелярии", "head": "руководитель", "executor": "ответственный исполнитель",
               "specialist": "специалист", "centre_specialist": "специалист Центра занятости",
               "employee": "сотрудник МИО"}


# ---- requests ---------------------------------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class LoginIn(Body):
    iin: str
    password: str = Field(max_length=256)


class EdsLoginIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000)


class ActionIn(Body):
    accept: bool = Field(default=True, description="accept: false refuses acceptance (where the regulation allows)")
    reason: str | None = Field(default=None, max_length=500)
    executor_iin: str | None = Field(default=None, alias="executorIin", pattern=r"^\d{12}$")
    decision: Literal["approve", "refuse"] | None = None
    signature: str | None = Field(default=None, max_length=20_000, description="sign: CMS over the draft (RFC 8785)")
    delivery: Literal["in_person", "email"] | None = Field(
        default=None, description="issue, office applications only: hand the result out in person (default) or "
                                  "e-mail it with the signed document attached (the mesh's outbox, GET /admin/mail "
                                  "on the portal); for a portal or ИС ЦОН application: 422 DELIVERY_NOT_OFFICE")
    email: str | None = Field(default=None, max_length=254, description="issue with delivery email: the address "
                              "(default: the form's email; neither: 422 EMAIL_REQUIRED)")


class ModeIn(Body):
    mode: Literal["auto", "manual"]
    auto_share: float | None = Field(default=None, alias="autoShare", gt=0, le=1.5)


class OpenCardIn(Body):
    iin: str = Field(min_length=1, max_length=16)
    kind: CardKind


class AssistanceIn(Body):
    iin: str = Field(pattern=r"^\d{12}$")
    kind: Literal["targeted-social", "housing"] = Field(description="адресная социальная помощь | жилищная помощь")
    granted_on: dt.date = Field(alias="grantedOn", description="the first day it is granted for (YYYY-MM-DD)")
    until: dt.date | None = Field(default=None, description="the last day (none: open-ended)")
    decision: str | None = Field(default=None, max_length=200, description="the granting body's decision, as cited")


class StaffIn(Body):
    role: str = Field(min_length=1, max_length=32, description="a role of the district's regulations' steps")


class CloseCardIn(Body):
    reason: str = Field(min_length=1, max_length=256)


# ---- regulations and districts ----------------------------------------------------------------------------------
class RegulationSummary(ClosedModel):
    id: str
    title: str
    service: str
    channel: Literal["office", "portal", "con"]
    districts: list[str]
    act: str
    steps: int = Field(description="how many steps (GET /regulations/{id} gives them)")


class RegulationsOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"regulations": [{
        "id": "003-unemployed-certificate-almaty", "title": "Выдача справки безработного",
        "service": "employment.unemployed-certificate", "channel": "portal", "districts": ["almaty"],
        "act": "Регламент 003", "steps": 4}]}]})

    regulations: list[RegulationSummary]


class DistrictOut(CamelModel):
    district: str
    member_id: str = Field(description="the district's mesh member: mio.<district>")
    name: str | None = Field(default=None, description="its organisation, as the gateway registered it")
    bin: str | None = None
    regulations: list[str]


class DistrictsOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"districts": [{
        "district": "almaty", "memberId": "mio.almaty", "name": "ГУ «Управление занятости г. Алматы» (симулятор)",
        "bin": "040540000011", "regulations": ["003-unemployed-certificate-almaty"]}]}]})

    districts: list[DistrictOut]


# ---- staff and logins -------------------------------------------------------------------------------------------
class StaffPublic(CamelModel):
    """A staff member as they and the admin see them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "iin": "800312399503", "surname": "Ахметов", "name": "Ерлан", "failedLogins": 0, "lockedUntil": None,
        "district": "almaty", "role": "clerk", "roleTitle": "сотрудник канцелярии"}]})

    iin: str
    surname: str
    name: str
    failed_logins: int
    locked_until: str | None
    district: str
    role: str
    role_title: str


class StaffWithSecrets(StaffPublic):
    """A seeded or minted test identity, with what it takes to act as them (test support, the admin only)."""

    password: str | None = None
    pkcs12_password: str | None = Field(default=None, alias="pkcs12Password")
    signing_p12_base64: str | None = Field(default=None, alias="signingP12Base64")
    auth_p12_base64: str | None = Field(default=None, alias="authP12Base64")


class StaffListOut(ClosedModel):
    staff: list[StaffWithSecrets]


class LoginOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "kq3…", "iin": "800312399503", "method": "password", "expiresAt": "2026-03-02T12:00:00+00:00"}]})

    token: str = Field(description="send as 'Authorization: Bearer <token>' (security scheme staffSession)")
    iin: str
    method: Literal["password", "eds"]
    expires_at: str


class ChallengeOut(CamelModel):
    """What to sign with the employee's authentication key (RFC 8785 form) to log in with EDS."""

    audience: str
    challenge_id: str
    nonce: str
    purpose: str
    issued_at: str
    expires_at: str


class LoggedOut(CamelModel):
    logged_out: Literal[True]


# ---- applications -----------------------------------------------------------------------------------------------
class OfficialOut(CamelModel):
    name: str
    position: str
    position_kk: str
    iin: str | None = None


class MeasureOut(CamelModel):
    referral_kind: str | None = None
    document_number: str | None = None
    date: str | None = None


class AssistanceOut(CamelModel):
    kind: str
    from_: str = Field(alias="from")
    to: str | None = None
    decision: str | None = None


class ResultDocument(CamelModel):
    """The result document (справка, уведомление, извещение, направление, or the refusal letter) as the head signs
    it: each field one the seed's form prints; fields a kind of document does not print are absent."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "documentNumber": "ALA-D-2026-000001", "documentKind": "unemployed-reference",
        "applicationNumber": "ALA-2026-000001", "applicationDate": "2026-03-02", "date": "2026-03-04",
        "issuer": "ГУ «Управление занятости г. Алматы»", "issuerBin": "040540000011",
        "regulationId": "003-unemployed-certificate-almaty", "service": "Выдача справки безработного",
        "regulation": "Регламент 003", "applicant": "Ахметов Ерлан", "applicantIin": "900101300123",
        "result": "approved", "title": "Справка", "titleKk": "Анықтама"}]})

    document_number: str | None = None
    document_kind: str
    application_number: str
    application_date: str
    date: str
    issuer: str
    issuer_bin: str
    regulation_id: str
    service: str
    regulation: str
    applicant: str | None = None
    applicant_iin: str
    result: Literal["approved", "refused"]
    title: str
    title_kk: str
    signer: OfficialOut | None = None
    text_kk: str | None = None
    text: str | None = None
    reason: str | None = None
    registered_on: str | None = None
    referral_kind: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    registered_unemployed_since: str | None = None
    public_works: list[MeasureOut] | None = None
    training: list[MeasureOut] | None = None
    assistance: list[AssistanceOut] | None = None
    valid_until: str | None = None
    presented_to: str | None = None
    specialist: OfficialOut | None = None


class SignedResultOut(ClosedModel):
    content: ResultDocument
    signature: str | None = Field(description="detached CMS over the RFC 8785 content (None until it is signed)")


class StepOut(CamelModel):
    position: int
    step: str
    role: str
    action: str | None
    max: str | None
    started_at: str
    due_at: str
    auto_at: str | None = Field(description="when simulated staff do it (None: waits for staff)")
    done: list[ActionName]
    finished_at: str | None
    actor: str | None = Field(description="who finished it: a staff IIN, or 'auto'")
    overdue: bool


class ApplicationOut(CamelModel):
    """An application as ИС МИО shows it; with its timeline when read alone."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "number": "ALA-2026-000001", "district": "almaty", "serviceId": "employment.unemployed-certificate",
        "channel": "portal", "regulation": "003-unemployed-certificate-almaty", "status": "RECEIVED",
        "statusText": "Поступившие", "mode": "manual", "applicantIin": "900101300123", "origin": "portal",
        "correlationId": "4f1c…", "receivedAt": "2026-03-02T04:00:00+00:00",
        "termDue": "2026-03-06T18:59:59+00:00", "decision": None, "reason": None, "executorIin": None,
        "signerIin": None, "completedAt": None,
        "form": {"serviceId": "employment.unemployed-certificate", "applicantIin": "900101300123",
                 "surname": "Ахметов", "name": "Ерлан", "filledAt": "2026-03-02T04:00:00+00:00"},
        "delivery": None, "deliveredTo": None, "documentCheck": [], "timeline": []}]})

    number: str
    district: str
    service_id: str
    channel: Literal["office", "portal", "con"]
    regulation: str
    status: StatusName
    status_text: StatusText
    mode: Literal["auto", "manual"]
    applicant_iin: str
    origin: str | None = Field(description="the member it came from: portal, con, or None (the office)")
    correlation_id: str
    received_at: str
    term_due: str | None
    decision: Literal["approve", "refuse"] | None
    reason: str | None
    executor_iin: str | None
    signer_iin: str | None
    completed_at: str | None
    form: ApplicationForm = Field(description="exactly as signed")
    delivery: Literal["in_person", "email"] | None
    delivered_to: str | None
    document_check: list[str] = Field(description="the provider's document check (condition 3) as of the day it "
                                                  "came: what a refusal over documents cites")
    document: SignedResultOut | None = Field(default=None, description="the result, once decided (absent before)")
    timeline: list[StepOut] | None = Field(default=None, description="its steps (absent in an inbox)")


class InboxOut(CamelModel):
    district: str
    applications: list[ApplicationOut]
    overdue_steps: dict[str, int] = Field(description="overdue steps by step id")


class ModeOut(ClosedModel):
    district: str
    mode: Literal["auto", "manual"]


class ScheduleOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "now": "2026-03-02T04:00:00+00:00", "dueNow": 0, "next": "2026-03-02T08:00:00+00:00",
        "waitingForStaff": 1}]})

    now: str
    due_now: int
    next: str | None
    waiting_for_staff: int


# ---- «Еңбек нарығы» -------------------------------------------------------------------------------------------------
class CardEventDetail(CamelModel):
    """What an event on a card records; each kind of event gives some of these."""

    kind: str | None = None
    source: str | None = None
    since: str | None = None
    referral_kind: str | None = None
    district: str | None = None
    document_number: str | None = None
    date: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    decision: str | None = None
    reason: str | None = None


class CardEventOut(CamelModel):
    at: str
    kind: Literal["opened", "became_unemployed", "measure", "assistance", "certificate", "closed"]
    detail: CardEventDetail
    application_number: str | None


class CardOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "3f7b…", "district": "almaty", "iin": "900101300123", "kind": "job_seeker", "status": "open",
        "openedAt": "2026-03-02T04:00:00+00:00", "unemployedSince": None, "closedAt": None, "closeReason": None,
        "history": [{"at": "2026-03-02T04:00:00+00:00", "kind": "opened", "detail": {"kind": "job_seeker"},
                     "applicationNumber": "ALA-2026-000001"}]}]})

    id: str
    district: str
    iin: str
    kind: CardKind
    status: Literal["open", "closed"]
    opened_at: str
    unemployed_since: str | None
    closed_at: str | None
    close_reason: str | None
    history: list[CardEventOut]


class RegisterOut(ClosedModel):
    cards: list[CardOut]


# ---- builders ---------------------------------------------------------------------------------------------------
def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _step_out(record: StepRecord, regulation_step: Step | None, *, overdue: bool) -> dict[str, Any]:
    return {"position": record.position, "step": record.step_id, "role": record.role,
            "action": regulation_step.action if regulation_step else None,
            "max": regulation_step.max.describe() if regulation_step else None,
            "startedAt": record.started_at.isoformat(), "dueAt": record.due_at.isoformat(),
            "autoAt": _iso(record.auto_at), "done": record.done, "finishedAt": _iso(record.finished_at),
            "actor": record.actor, "overdue": overdue}


def application_out(app: Application, *, view: ApplicationView | None, book: RegulationBook) -> dict[str, Any]:
    """An application as ИС МИО shows it; with ``view``, its timeline as of the moment it was read."""
    out: dict[str, Any] = {
        "number": app.number, "district": app.district, "serviceId": app.service_id, "channel": app.channel,
        "regulation": app.regulation_id, "status": app.status, "statusText": Status(app.status).text,
        "mode": app.mode, "applicantIin": app.applicant_iin, "origin": app.origin_member,
        "correlationId": app.correlation_id, "receivedAt": app.received_at.isoformat(),
        "termDue": _iso(app.term_due), "decision": app.decision, "reason": app.reason,
        "executorIin": app.executor_iin, "signerIin": app.signer_iin, "completedAt": _iso(app.completed_at),
        "form": app.form, "delivery": app.delivery, "deliveredTo": app.delivered_to,
        # the provider's document check (condition 3) as of the day it came: what a refusal over documents cites
        "documentCheck": document_problems(app.form, on=app.received_at.astimezone(KZ_TZ).date()),
    }
    if app.draft is not None:
        out["document"] = {"content": app.draft, "signature": app.document_signature}
    if view is not None:
        regulation: Regulation | None = book.all.get(app.regulation_id)
        steps = {s.id: s for s in regulation.steps} if regulation else {}
        out["timeline"] = [_step_out(r, steps.get(r.step_id), overdue=view.overdue(r)) for r in view.timeline]
    return out


def card_out(card: LabourCard, events: list[LabourCardEvent]) -> dict[str, Any]:
    return {"id": card.id, "district": card.district, "iin": card.iin, "kind": card.kind, "status": card.status,
            "openedAt": card.opened_at.isoformat(), "unemployedSince": _iso(card.unemployed_since),
            "closedAt": _iso(card.closed_at), "closeReason": card.close_reason,
            "history": [{"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail,
                         "applicationNumber": e.application_number} for e in events]}


def staff_public(staff: StaffAccount, *, secrets_too: bool) -> dict[str, Any]:
    return employee_public(staff, secrets_too=secrets_too) | {
        "district": staff.district, "role": staff.role, "roleTitle": ROLE_TITLES.get(staff.role, staff.role)}
