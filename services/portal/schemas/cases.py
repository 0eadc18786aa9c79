"""What following applications answers: the cases («История получения услуг»), the status notices («Уведомления»)
with the signed result, and the quality survey."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field
from pydantic.json_schema import JsonDict

from services.portal.schemas.catalogue import Bilingual
from shared.employment.case_tracking import CaseNotice, TrackedCase, case_out, notice_out
from shared.web.models import CamelModel, ClosedModel

CaseStatus = Literal["SENT", "RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED"]
NoticeStatus = Literal["RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED"]
Channel = Literal["office", "portal", "con"]
CORRELATION_ID = "6f1c2a9e-4b7d-4e0a-9c3f-2d8b5e7a1c40"
IIN = "900101300123"

CASE_EXAMPLE: JsonDict = {
    "correlationId": CORRELATION_ID, "serviceId": "employment.unemployed-registration", "applicantIin": IIN,
    "applicationNumber": "KZ-2026-000042", "district": "almaty", "status": "IN_PROGRESS", "statusText": "В работе",
    "submittedAt": "2026-03-02T09:15:00+00:00", "updatedAt": "2026-03-02T09:16:00+00:00", "refusalCode": None,
    "refusalReason": None, "channel": "portal"}


class CasePublic(CamelModel):
    """An application and how far it has come."""

    model_config = ConfigDict(json_schema_extra={"examples": [CASE_EXAMPLE]})

    correlation_id: str
    service_id: str
    applicant_iin: str
    application_number: str | None = Field(description="given by ИС МИО when it takes the application")
    district: str | None
    status: CaseStatus = Field(description="SENT by the portal; then as ИС МИО's notices say; FAILED: the gateway "
                                           "refused it (refusalCode)")
    status_text: str
    submitted_at: str
    updated_at: str
    refusal_code: str | None
    refusal_reason: str | None
    channel: Channel | None = Field(description="the channel it came through")

    @classmethod
    def of(cls, case: TrackedCase) -> CasePublic:
        return cls.model_validate(case_out(case))


class CasesOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"applications": [CASE_EXAMPLE]}]})

    applications: list[CasePublic] = Field(description="oldest first")


class SignedDocumentPublic(ClosedModel):
    """A result document: its content and the official's detached CMS (base64) over the content's RFC 8785 form."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "content": {"documentNumber": "KZ-2026-000042", "date": "2026-03-03", "issuerBin": "040540010011"},
        "signature": "MIIG…"}]})

    content: dict[str, Any]
    signature: str


NOTICE_EXAMPLE: JsonDict = {
    "id": 7, "read": False, "applicationNumber": "KZ-2026-000042", "district": "almaty", "status": "COMPLETED",
    "statusText": "Исполнено", "text": "Заявка исполнена", "reason": None, "at": "2026-03-03T10:00:00+05:00",
    "serviceId": "employment.unemployed-registration", "correlationId": CORRELATION_ID, "document": None}


class NoticePublic(CamelModel):
    """One status change, as ИС МИО (or ИС ЦОН) notified it."""

    model_config = ConfigDict(json_schema_extra={"examples": [NOTICE_EXAMPLE]})

    id: int
    read: bool
    application_number: str
    district: str
    status: NoticeStatus
    status_text: str
    text: str
    reason: str | None
    at: str = Field(description="when it happened, on the mesh clock")
    service_id: str
    correlation_id: str
    document: SignedDocumentPublic | None = Field(description="the signed result, with the final status")

    @classmethod
    def of(cls, notice: CaseNotice) -> NoticePublic:
        return cls.model_validate(notice_out(notice))


class NotificationsOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notifications": [NOTICE_EXAMPLE]}]})

    notifications: list[NoticePublic] = Field(description="in the order things happened")


class UnreadOut(NotificationsOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notifications": [NOTICE_EXAMPLE], "unread": 1}]})

    unread: int


class ReadOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"marked": 1, "unread": 0}]})

    marked: int
    unread: int


class SurveyFormOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "questions": {"quality": {"ru": "Удовлетворены ли Вы…?", "kk": "…қанағаттанасыз ба?"}},
        "answers": {"1": {"ru": "не удовлетворен", "kk": "қанағаттанбаймын"}}, "source": "приложение 3 …"}]})

    questions: dict[str, Bilingual]
    answers: dict[int, Bilingual]
    source: str


class SurveyOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "correlationId": CORRELATION_ID, "quality": 3, "information": 2, "answeredAt": "2026-03-03T11:00:00+00:00"}]})

    correlation_id: str
    quality: int
    information: int
    answered_at: str


class SurveyResultsOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "answers": 2, "counts": {"quality": {"1": 0, "2": 1, "3": 1}, "information": {"1": 0, "2": 0, "3": 2}}}]})

    answers: int
    counts: dict[str, dict[str, int]] = Field(description="per question, how many gave each answer (1, 2, 3)")
