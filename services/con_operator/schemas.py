"""ИС ЦОН's HTTP requests and answers: every answer a closed model (``additionalProperties: false``), so a client
generated from ``/openapi.json`` gets typed objects and the fuzz holds each answer to its schema.

Families as shared/web/models.py has them: requests are ``…In`` (closed: an unknown field is the caller's 422),
answers ``…Out``. The signed JSON (a form, ИС МИО's document, a result's content) stays an object as it was
signed: its bytes are what the signature covers, so it is passed on as stored, never re-shaped by a model."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from services.con_operator.store import Ticket, TicketPurpose
from shared.mesh.contracts import (
    EMAIL_PATTERN,
    MAX_DOCUMENTS,
    PHONE_PATTERN,
    ApplicationForm,
    DocumentContent,
    DocumentKind,
    PowerOfAttorney,
)
from shared.web.models import ClosedModel

IIN = r"^\d{12}$"
TicketState = Literal["WAITING", "CALLED", "CLOSED"]
VisitState = Literal["FILLED", "SENT", "HANDED_OUT"]
CaseStatus = Literal["SENT", "RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED"]
VisitStatus = Literal["FILLED", "SENT", "RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED"]
"""A visit's status: FILLED until sent, then its case's (one enum, not a union: a generated client parses it)."""
NoticeStatus = Literal["RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED"]
Delivery = Literal["in_person", "email"]
SignedBy = Literal["operator", "applicant"]
_AT = "2026-03-02T09:15:00+00:00"
_OPERATOR_IIN = "850312499012"
_TICKET_ID = "5f0c8a52-4c1e-4d33-9b7c-2d1f0e6a9a11"
_VISIT_ID = "b7a1d3e2-2f4c-4b8e-9a51-0c6f3e2d1a77"
_CORRELATION_ID = "0d9e8f7a-6b5c-4d3e-8f21-a0b1c2d3e4f5"


# ---- requests ----------------------------------------------------------------------------------------------
class TicketIn(ClosedModel):
    service_id: str = Field(alias="serviceId", max_length=128)
    purpose: TicketPurpose = TicketPurpose.APPLY


class CallIn(ClosedModel):
    ticket_id: str | None = Field(default=None, alias="ticketId", max_length=36,
                                  description="a ticket of your branch; none: the longest waiting")


class CloseIn(ClosedModel):
    note: str | None = Field(default=None, max_length=256)


class LoginIn(ClosedModel):
    iin: str = Field(max_length=16)
    password: str = Field(max_length=256)


class EdsLoginIn(ClosedModel):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000)


class RepresentativeIn(ClosedModel):
    iin: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=200)
    power_of_attorney: PowerOfAttorney = Field(alias="powerOfAttorney")


class ScanRef(ClosedModel):
    """A scan uploaded before (``POST /scans``), named on the form as one of the Standard's п. 9 documents."""

    name: str = Field(min_length=1, max_length=256)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: DocumentKind = "other"
    number: str | None = Field(default=None, max_length=32, description="the document's own number")
    valid_until: dt.date | None = Field(default=None, alias="validUntil",
                                        description="identity document: valid until, as the original shows it")


class IntakeIn(ClosedModel):
    iin: str = Field(max_length=16, description="the citizen's IIN, as the identity document shows it")
    service_id: str | None = Field(default=None, alias="serviceId", description="default: the ticket's service")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    email: str | None = Field(default=None, max_length=128, pattern=EMAIL_PATTERN)
    period_from: dt.date | None = Field(default=None, alias="periodFrom")
    period_to: dt.date | None = Field(default=None, alias="periodTo")
    referral_kind: str | None = Field(default=None, alias="referralKind", max_length=32)
    representative: RepresentativeIn | None = None
    scans: list[ScanRef] = Field(default_factory=list, max_length=20)


class SignIn(ClosedModel):
    signature: str = Field(max_length=20_000, description="detached CMS over the RFC 8785 form")
    signed_by: SignedBy = Field(default="operator", alias="signedBy")


class ResultIn(ClosedModel):
    signature: str = Field(max_length=20_000, description="the operator's CMS over the result draft")


class HandOutIn(ClosedModel):
    delivery: Delivery
    ticket_id: str | None = Field(default=None, alias="ticketId", description="in person: the ticket being served")
    presented_iin: str | None = Field(default=None, alias="presentedIin", pattern=IIN,
                                      description="in person: the IIN on the identity document presented")
    email: str | None = Field(default=None, max_length=128, pattern=EMAIL_PATTERN, description=(
        "email: by default the form's (signed) address; another only with the citizen at the desk (ticketId and "
        "presentedIin)"))

    @model_validator(mode="after")
    def _fits_delivery(self) -> HandOutIn:
        if self.delivery == "in_person" and self.email is not None:
            raise ValueError("email is for delivery 'email'")
        return self


class AdminIntakeIn(ClosedModel):
    form: ApplicationForm
    form_signature: str | None = Field(default=None, alias="formSignature", max_length=20_000,
                                       description="none with signedBy operator: a seeded operator of the branch "
                                                   "serving the district signs")
    signed_by: Literal["applicant", "operator"] = Field(default="operator", alias="signedBy")
    district: str | None = None
    attachments: list[DocumentContent] = Field(default_factory=list, max_length=MAX_DOCUMENTS,
                                               description="the copies of the documents the form names")


class MintIn(ClosedModel):
    branch: str = Field(max_length=64)


# ---- branches and the queue ----------------------------------------------------------------------------------
class CentreStepOut(ClosedModel):
    id: str
    start: str = Field(alias="from", description="the event the step starts at")
    end: str = Field(alias="to", description="the event it ends at")
    max: str = Field(description="its maximum, as the regulation gives it")
    action: str
    source: str = Field(description="where the regulation says so")


class OfferOut(ClosedModel):
    service_id: str = Field(alias="serviceId")
    title: str
    regulation: str
    signed_by: list[SignedBy] = Field(alias="signedBy", description="who may sign the form at the desk")
    forms_result: str | None = Field(alias="formsResult", description="the result ЦОН forms itself (004 п. 10)")
    steps: list[CentreStepOut]


class BranchOut(ClosedModel):
    id: str
    name: str
    region: str
    district: str
    address: str
    offers: list[OfferOut]


class BranchesOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"branches": [{
        "id": "mamlyut", "name": "Мамлютский районный отдел «ЦОН»", "region": "north-kazakhstan", "district": "mamlyut",
        "address": "г. Мамлютка, ул. Мира, 1 (симулятор)", "offers": [{
            "serviceId": "employment.unemployed-certificate", "title": "Выдача справки безработным",
            "regulation": "mamlyut.unemployed-certificate", "signedBy": ["operator"], "formsResult": None,
            "steps": [{"id": "reception", "from": "called", "to": "looked_up", "max": "15 min",
                       "action": "приём документов", "source": "seed 003 table 2"}]}]}]}]})

    branches: list[BranchOut]


class TicketOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": _TICKET_ID, "branch": "mamlyut", "code": "A007", "serviceId": "employment.unemployed-certificate",
        "purpose": "apply", "status": "CALLED", "takenAt": _AT, "calledAt": "2026-03-02T09:21:30+00:00",
        "closedAt": None, "operatorIin": _OPERATOR_IIN, "waitMinutes": 6.5, "serviceMinutes": 2.0}]})

    id: str
    branch: str
    code: str = Field(description="what the display shows: A (to apply) or B (to collect) and a number of the day")
    service_id: str = Field(alias="serviceId")
    purpose: Literal["apply", "collect"]
    status: TicketState
    taken_at: str = Field(alias="takenAt")
    called_at: str | None = Field(alias="calledAt")
    closed_at: str | None = Field(alias="closedAt")
    operator_iin: str | None = Field(alias="operatorIin")
    wait_minutes: float = Field(alias="waitMinutes", description="taken → called (or now, while waiting)")
    service_minutes: float | None = Field(alias="serviceMinutes", description="called → closed (or now)")

    @classmethod
    def of(cls, ticket: Ticket, *, now: dt.datetime) -> TicketOut:
        """A ticket with its waiting and service times on the mesh clock (``now``)."""
        return cls(id=ticket.id, branch=ticket.branch, code=ticket.code, service_id=ticket.service_id,
                   purpose=ticket.purpose, status=ticket.status,
                   taken_at=ticket.taken_at.isoformat(),
                   called_at=ticket.called_at.isoformat() if ticket.called_at else None,
                   closed_at=ticket.closed_at.isoformat() if ticket.closed_at else None,
                   operator_iin=ticket.operator_iin, wait_minutes=_minutes(ticket.taken_at, ticket.called_at or now),
                   service_minutes=_minutes(ticket.called_at, ticket.closed_at or now) if ticket.called_at else None)


def _minutes(start: dt.datetime | None, end: dt.datetime) -> float:
    return round((end - start).total_seconds() / 60, 2) if start else 0.0


class TicketsOut(ClosedModel):
    tickets: list[TicketOut]


# ---- operators -----------------------------------------------------------------------------------------------
class LoginOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": "q3Vb0s9yZ1…", "iin": _OPERATOR_IIN, "method": "password", "expiresAt": "2026-03-02T17:15:00+00:00"}]})

    token: str = Field(description="send it as 'Authorization: Bearer <token>' (operatorSession)")
    iin: str
    method: Literal["password", "eds"]
    expires_at: str = Field(alias="expiresAt")


class ChallengeOut(ClosedModel):
    """What to sign (all of it, as RFC 8785 JSON) with the operator's authentication key."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "audience": "egov-mesh ИС ЦОН", "challengeId": "3c1f7d5e-9a2b-4c8d-8e6f-1a2b3c4d5e6f",
        "nonce": "Jm3a2FZq9n5yX0w8Wc3u1V4t6R7s8Q9p0O1n2M3l4K8=", "purpose": "login", "issuedAt": _AT,
        "expiresAt": "2026-03-02T09:20:00+00:00"}]})

    audience: str
    challenge_id: str = Field(alias="challengeId")
    nonce: str
    purpose: str
    issued_at: str = Field(alias="issuedAt")
    expires_at: str = Field(alias="expiresAt")


class OperatorOut(ClosedModel):
    """An operator as they and the admin see them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "iin": _OPERATOR_IIN, "surname": "Каримов", "name": "Марат", "failedLogins": 0, "lockedUntil": None,
        "branch": "mamlyut", "branchName": "Мамлютский районный отдел «ЦОН»"}]})

    iin: str
    surname: str
    name: str
    failed_logins: int = Field(alias="failedLogins")
    locked_until: str | None = Field(alias="lockedUntil")
    branch: str
    branch_name: str | None = Field(alias="branchName")


class OperatorWithSecretsOut(OperatorOut):
    """Test support (the admin): a seeded or minted operator with the test identity's password and PKCS#12 files,
    to act as them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "iin": _OPERATOR_IIN, "surname": "Каримов", "name": "Марат", "failedLogins": 0, "lockedUntil": None,
        "branch": "mamlyut", "branchName": "Мамлютский районный отдел «ЦОН»", "password": "ConAb12Cd34Ef7!",
        "pkcs12Password": "x2Vq…", "signingP12Base64": "MIIK…", "authP12Base64": "MIIK…"}]})

    password: str | None
    pkcs12_password: str = Field(alias="pkcs12Password")
    signing_p12_base64: str = Field(alias="signingP12Base64")
    auth_p12_base64: str = Field(alias="authP12Base64")


class OperatorsOut(ClosedModel):
    operators: list[OperatorWithSecretsOut]


# ---- scans and visits ----------------------------------------------------------------------------------------
class ScanOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "contentType": "application/pdf",
        "size": 48213}]})

    sha256: str
    content_type: str = Field(alias="contentType")
    size: int


class HeardStatusOut(ClosedModel):
    """A status ИС МИО sent, with the text ЦОН shows for it."""

    status: NoticeStatus
    status_text: str = Field(alias="statusText", description="as ЦОН shows it («Поступившие из ЦОН»…)")
    provider_text: str = Field(alias="providerText", description="as ИС МИО sent it")
    at: str = Field(description="when ИС МИО set it (mesh time)")
    received_at: str = Field(alias="receivedAt")
    text: str
    reason: str | None


class TimelineStepOut(ClosedModel):
    """A ЦОН-side step of the regulation (seed 003 table 2) as this visit ran it."""

    step: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    action: str
    max: str
    source: str
    started_at: str | None = Field(alias="startedAt")
    finished_at: str | None = Field(alias="finishedAt")
    due_at: str | None = Field(alias="dueAt")
    overdue: bool | None = Field(description="past its maximum (null: not started, or does not apply)")
    applies: bool = Field(description="forming the result does not apply to a refusal")


class SignedOut(ClosedModel):
    """A signed JSON document: ``content`` as signed, ``signature`` the detached CMS over its RFC 8785 form."""

    content: dict[str, Any]
    signature: str


class ResultOut(ClosedModel):
    """The result ЦОН forms (004 п. 10): the draft (``content`` only) until the operator signs it."""

    content: dict[str, Any]
    signature: str | None = Field(default=None, description="absent while it is a draft")
    signer_iin: str | None = Field(default=None, alias="signerIin", description="absent while it is a draft")

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler):  # unannotated: the schema stays the model's
        """A draft is ``{"content": …}``, as stored: no null signature."""
        return {k: v for k, v in handler(self).items() if v is not None}


class VisitOut(ClosedModel):
    """A visit: the form, statuses from ИС МИО, ЦОН-side steps with overdue flags, the result."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": _VISIT_ID, "ticketId": _TICKET_ID, "branch": "mamlyut", "operatorIin": _OPERATOR_IIN,
        "serviceId": "employment.unemployed-certificate", "regulation": "mamlyut.unemployed-certificate",
        "district": "mamlyut", "applicantIin": "900101300015", "state": "SENT", "signedBy": "operator",
        "form": {"serviceId": "employment.unemployed-certificate", "applicantIin": "900101300015",
                 "surname": "Ахметов", "name": "Ерлан", "operatorIin": _OPERATOR_IIN, "centreBranch": "mamlyut",
                 "filledAt": _AT, "documents": []},
        "formSignature": "MIIG…", "correlationId": _CORRELATION_ID, "applicationNumber": "MAM-2026-000042",
        "status": "RECEIVED", "statusText": "Поступившие из ЦОН", "refusalCode": None,
        "statuses": [{"status": "RECEIVED", "statusText": "Поступившие из ЦОН", "providerText": "Поступившие",
                      "at": _AT, "receivedAt": _AT, "text": "Заявление принято", "reason": None}],
        "document": None, "result": None, "delivery": None, "deliveredTo": None, "handedOutBy": None,
        "events": {"called": _AT, "looked_up": _AT, "sent": _AT},
        "timeline": [{"step": "reception", "from": "called", "to": "looked_up", "action": "приём документов",
                      "max": "15 min", "source": "seed 003 table 2", "startedAt": _AT, "finishedAt": _AT,
                      "dueAt": "2026-03-02T09:30:00+00:00", "overdue": False, "applies": True}]}]})

    id: str
    ticket_id: str = Field(alias="ticketId")
    branch: str
    operator_iin: str = Field(alias="operatorIin")
    service_id: str = Field(alias="serviceId")
    regulation: str
    district: str
    applicant_iin: str = Field(alias="applicantIin")
    state: VisitState
    signed_by: SignedBy | None = Field(alias="signedBy")
    form: dict[str, Any] = Field(description="the application form as filled (and signed): RFC 8785 JSON of it is "
                                             "what the signature covers")
    form_signature: str | None = Field(alias="formSignature")
    correlation_id: str = Field(alias="correlationId")
    application_number: str | None = Field(alias="applicationNumber")
    status: VisitStatus
    status_text: str = Field(alias="statusText")
    refusal_code: str | None = Field(alias="refusalCode")
    statuses: list[HeardStatusOut]
    document: SignedOut | None = Field(description="ИС МИО's signed result (its final notice's)")
    result: ResultOut | None
    delivery: Delivery | None
    delivered_to: str | None = Field(alias="deliveredTo")
    handed_out_by: str | None = Field(alias="handedOutBy")
    events: dict[str, str] = Field(description="what happened when (mesh time), by event")
    timeline: list[TimelineStepOut]


class VisitsOut(ClosedModel):
    visits: list[VisitOut]


class ResultDraftOut(ClosedModel):
    """The notice to sign, as stored: sign all of it (RFC 8785) with the operator's signing key."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"content": {
        "documentNumber": "ALMATY-ALMALY-ENB-2026-000042", "date": "2026-03-02",
        "title": "уведомление о регистрации в качестве лица, ищущего работу"}}]})

    content: dict[str, Any] = Field(description="documentNumber, date, title, issuer, issuerBin, regulationId, "
                                                "service, applicant, applicantIin, applicationNumber, registeredOn, "
                                                "basis, text, signer {name, position, positionKk, iin}")


# ---- statuses and the admin's lists --------------------------------------------------------------------------
class CaseOut(ClosedModel):
    """An application ИС ЦОН sent, with its current status."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "correlationId": _CORRELATION_ID, "serviceId": "employment.unemployed-certificate",
        "applicantIin": "900101300015", "applicationNumber": "MAM-2026-000042", "district": "mamlyut",
        "status": "COMPLETED", "statusText": "Исполнено", "submittedAt": _AT, "updatedAt": _AT,
        "refusalCode": None, "refusalReason": None, "channel": "con"}]})

    correlation_id: str = Field(alias="correlationId")
    service_id: str = Field(alias="serviceId")
    applicant_iin: str = Field(alias="applicantIin")
    application_number: str | None = Field(alias="applicationNumber")
    district: str | None
    status: CaseStatus
    status_text: str = Field(alias="statusText")
    submitted_at: str = Field(alias="submittedAt")
    updated_at: str = Field(alias="updatedAt")
    refusal_code: str | None = Field(alias="refusalCode")
    refusal_reason: str | None = Field(alias="refusalReason")
    channel: Literal["office", "portal", "con"] | None


class CasesOut(ClosedModel):
    applications: list[CaseOut]


class NoticeOut(ClosedModel):
    """A status notice ИС МИО sent («Поступившие», «В работе», «Исполнено», «Отказано»…)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 17, "read": False, "applicationNumber": "MAM-2026-000042", "district": "mamlyut",
        "status": "IN_PROGRESS", "statusText": "В работе", "text": "Заявление в работе", "reason": None, "at": _AT,
        "serviceId": "employment.unemployed-certificate", "correlationId": _CORRELATION_ID, "document": None}]})

    id: int
    read: bool
    application_number: str = Field(alias="applicationNumber")
    district: str
    status: NoticeStatus
    status_text: str = Field(alias="statusText")
    text: str
    reason: str | None
    at: str
    service_id: str = Field(alias="serviceId")
    correlation_id: str = Field(alias="correlationId")
    document: SignedOut | None


class NoticesOut(ClosedModel):
    notices: list[NoticeOut]
