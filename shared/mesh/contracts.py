"""Typed payloads (``data``) of the mesh's messages, one model per service and message type.

A payload that does not fit its model is refused at the edge (the gateway, then the recipient) with
``Client.InvalidPayload``, never deep inside a handler. Services register their contracts here so the
gateway, the recipients and the AsyncAPI document all read the same definitions.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from shared.errors import MeshError
from shared.mesh.envelope import MAX_ENVELOPE_BYTES, MessageType


class Contract(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


DUPLICATE_MESSAGE = "Client.DuplicateMessage"  # a second copy, refused; the first went through


class ErrorPayload(Contract):
    """What a refused or failed message comes back as; ``where`` says which side failed."""

    code: str = Field(description="X-Road-style code: Client.* (the sender's fault) or Server.* (provider/gateway)")
    message: str
    where: Literal["gateway", "provider", "recipient"]
    refused_message_id: str | None = Field(default=None, alias="refusedMessageId")
    details: dict[str, Any] = Field(default_factory=dict)


class ClockPayload(Contract):
    version: int
    anchor_real: float = Field(alias="anchorReal")
    anchor_mesh: float = Field(alias="anchorMesh")
    speed: float


_REGISTRY: dict[tuple[str, MessageType], type[Contract]] = {}
ANY_SERVICE = "*"


def register_contract(*, service_id: str, message_type: MessageType, model: type[Contract]) -> None:
    _REGISTRY[(service_id, message_type)] = model


def contract_for(*, service_id: str, message_type: MessageType) -> type[Contract] | None:
    return _REGISTRY.get((service_id, message_type)) or _REGISTRY.get((ANY_SERVICE, message_type))


def registered_contracts() -> dict[tuple[str, MessageType], type[Contract]]:
    return dict(_REGISTRY)


def parse_payload(*, service_id: str, message_type: MessageType, data: dict[str, Any]) -> Contract | None:
    """Validate ``data`` against the registered model; None when the service declared no contract."""
    model = contract_for(service_id=service_id, message_type=message_type)
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise MeshError("Client.InvalidPayload",
                        f"{service_id} {message_type.value}: data.{where}: {first['msg']}") from None


register_contract(service_id=ANY_SERVICE, message_type=MessageType.ERROR, model=ErrorPayload)
register_contract(service_id="shep.clock", message_type=MessageType.NOTIFICATION, model=ClockPayload)


# ---- gbdfl.person-by-iin (synchronous) -------------------------------------------------------------------
class PersonByIinRequest(Contract):
    iin: str = Field(pattern=r"^\d{12}$")


class PersonData(Contract):
    iin: str
    surname: str
    name: str
    patronymic: str | None = None
    surname_latin: str | None = Field(default=None, alias="surnameLatin")
    name_latin: str | None = Field(default=None, alias="nameLatin")
    birth_date: str = Field(alias="birthDate", description="YYYY-MM-DD")
    sex: Literal["M", "F"]
    citizenship: str = "KZ"
    region: str = Field(description="region code (the simulator's slug)")
    region_name: str | None = Field(default=None, alias="regionName")
    district: str = Field(description="district code; the routeId of the district's ИС МИО")
    district_name: str | None = Field(default=None, alias="districtName")
    address: str
    phone: str | None = None
    alive: bool = True
    death_date: str | None = Field(default=None, alias="deathDate")


class PersonByIinResponse(Contract):
    """``found: false`` is the registry's «нет данных», an answer the caller must handle, not an error."""

    found: bool
    person: PersonData | None = None
    message: str | None = None


register_contract(service_id="gbdfl.person-by-iin", message_type=MessageType.REQUEST, model=PersonByIinRequest)
register_contract(service_id="gbdfl.person-by-iin", message_type=MessageType.RESPONSE, model=PersonByIinResponse)


# ---- gbdfl.social-status-by-iin (synchronous): facts from other registries, kept apart from identity ---------
class EmploymentFact(Contract):
    employed: bool
    employer_bin: str | None = Field(default=None, alias="employerBin")
    employer_name: str | None = Field(default=None, alias="employerName")
    since: str | None = None
    source: str = "ЕСУТД — единая система учета трудовых договоров (симулятор)"


class StudyFact(Contract):
    full_time_student: bool = Field(alias="fullTimeStudent")
    institution: str | None = None
    until: str | None = None
    source: str = "НОБД — национальная образовательная база данных (симулятор)"


class PensionFact(Contract):
    pensioner: bool
    kind: Literal["age", "disability"] | None = None
    since: str | None = None
    source: str = "ГЦВП — государственный центр по выплате пенсий (симулятор)"


class SocialStatusRequest(Contract):
    iin: str = Field(pattern=r"^\d{12}$")


class SocialStatusResponse(Contract):
    found: bool
    employment: EmploymentFact | None = None
    study: StudyFact | None = None
    pension: PensionFact | None = None
    message: str | None = None


register_contract(service_id="gbdfl.social-status-by-iin", message_type=MessageType.REQUEST,
                  model=SocialStatusRequest)
register_contract(service_id="gbdfl.social-status-by-iin", message_type=MessageType.RESPONSE,
                  model=SocialStatusResponse)


# ---- employment services (asynchronous): applications to a district's ИС МИО, and their statuses -----------
EMPLOYMENT_SERVICES = ("employment.job-seeker-registration", "employment.unemployed-registration",
                       "employment.active-measures-referral", "employment.unemployed-certificate")


DocumentKind = Literal["identity-document", "work-record", "education", "other"]  # the Standard's п. 9
AttachmentType = Literal["application/pdf", "image/jpeg", "image/png", "image/tiff"]
DOCUMENT_KINDS: tuple[str, ...] = get_args(DocumentKind)
ATTACHMENT_TYPES: tuple[str, ...] = get_args(AttachmentType)
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024  # one electronic copy
MAX_DOCUMENTS = 5  # copies on one form
# all the copies of one application: they travel in one envelope (MAX_ENVELOPE_BYTES) as base64, with room left
# for the form, the signatures and the envelope itself
MAX_COPIES_BYTES = (MAX_ENVELOPE_BYTES - 512 * 1024) * 3 // 4
_DATE = r"^\d{4}-\d{2}-\d{2}$"


class AttachedDocument(Contract):
    """A document the form names: an electronic copy (its SHA-256 — the citizen's EDS over the form covers it),
    what kind of document it is (Standard п. 9), and for an identity document its number and end of validity,
    which the provider's document check reads (seed 000 condition 3, seed 004 п. 11 condition 2)."""

    name: str = Field(min_length=1, max_length=256)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="digest of the scanned or electronic copy")
    kind: DocumentKind = Field(default="other", description="which document of the Standard's п. 9 this is")
    content_type: AttachmentType | None = Field(default=None, alias="contentType")
    size_bytes: int | None = Field(default=None, alias="sizeBytes", ge=1, le=MAX_DOCUMENT_BYTES)
    number: str | None = Field(default=None, max_length=32, description="the document's own number")
    valid_until: str | None = Field(default=None, alias="validUntil", pattern=_DATE,
                                    description="identity document: valid until (YYYY-MM-DD)")

    @field_validator("valid_until")
    @classmethod
    def _calendar_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"not a calendar date: {exc}") from None
        return value

    @model_validator(mode="after")
    def _identity_dated(self) -> AttachedDocument:
        if self.kind == "identity-document" and self.valid_until is None:
            raise ValueError("an identity document names its validUntil (the provider checks it)")
        return self


class DocumentContent(Contract):
    """The bytes of a document the form names, carried with the application through the gateway (the gateway
    seals the envelope; the provider checks each digest against the signed form)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: AttachmentType = Field(alias="contentType")
    content_base64: str = Field(alias="contentBase64", max_length=(MAX_DOCUMENT_BYTES + 2) // 3 * 4,
                                pattern=r"^[A-Za-z0-9+/]*={0,2}$")


class PowerOfAttorney(Contract):
    """A notarised power of attorney, as the ЦОН operator enters it (004 п. 9 пп. 3: «данных по доверенности
    представителя»): who gave it, until when, for which services."""

    number: str = Field(min_length=1, max_length=64)
    issued_on: str = Field(alias="issuedOn", pattern=_DATE)
    valid_until: str = Field(alias="validUntil", pattern=_DATE)
    principal_iin: str = Field(alias="principalIin", pattern=r"^\d{12}$", description="who gave it")
    attorney_iin: str = Field(alias="attorneyIin", pattern=r"^\d{12}$", description="to whom: who may use it")
    services: list[str] = Field(min_length=1, max_length=8, description="the services it covers")

    @model_validator(mode="after")
    def _dates(self) -> PowerOfAttorney:
        try:
            issued, until = dt.date.fromisoformat(self.issued_on), dt.date.fromisoformat(self.valid_until)
        except ValueError as exc:
            raise ValueError(f"not a calendar date: {exc}") from None
        if until < issued:
            raise ValueError("validUntil is before issuedOn")
        return self


class ApplicationForm(Contract):
    """The form as the applicant (or an operator on their behalf) fills it; signed as a whole."""

    service_id: str = Field(alias="serviceId")
    applicant_iin: str = Field(alias="applicantIin", pattern=r"^\d{12}$")
    applicant_bin: str | None = Field(default=None, alias="applicantBin", pattern=r"^\d{12}$", description=(
        "an organisation applying (seed 001 п. 9: «ИИН/БИН»): its BIN, as its EDS gives it; the form is then signed "
        "by its representative (representativeIin) with the organisation's certificate (signedBy organisation), "
        "and applicantIin is the person the service is for"))
    surname: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    patronymic: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")
    email: str | None = Field(default=None, max_length=128)
    documents: list[AttachedDocument] = Field(default_factory=list, max_length=MAX_DOCUMENTS)
    period_from: str | None = Field(default=None, alias="periodFrom", description="certificate: YYYY-MM-DD")
    period_to: str | None = Field(default=None, alias="periodTo")
    presented_to: str | None = Field(default=None, alias="presentedTo", max_length=200,
                                     description="certificate: for presentation to (003 appendix 5)")
    referral_kind: Literal["employment", "public-works", "vocational-training", "social-jobs", "youth-practice",
                           "career-guidance"] | None = Field(default=None, alias="referralKind")
    representative_iin: str | None = Field(default=None, alias="representativeIin", pattern=r"^\d{12}$",
                                           description="a representative acting by power of attorney")
    representative_name: str | None = Field(default=None, alias="representativeName", max_length=200)
    power_of_attorney: PowerOfAttorney | None = Field(default=None, alias="powerOfAttorney")
    operator_iin: str | None = Field(default=None, alias="operatorIin", pattern=r"^\d{12}$",
                                     description="ИС ЦОН: the operator who entered the form (and signs it)")
    centre_branch: str | None = Field(default=None, alias="centreBranch", max_length=64,
                                      description="ИС ЦОН: the branch the form was entered at")
    filled_at: str = Field(alias="filledAt")


MAX_STAPLED_OCSP = 16_384  # base64 characters: НУЦ's answers carry no certificate and are under 1 KB


class ApplicationRequest(Contract):
    form: ApplicationForm
    form_signature: str = Field(alias="formSignature", description="detached CMS over the RFC 8785 form")
    form_signature_ocsp: str | None = Field(
        default=None, alias="formSignatureOcsp", max_length=MAX_STAPLED_OCSP,
        description="НУЦ's signed OCSP answer (DER, base64) about the signer's certificate, as the sender's own check "
                    "of the signature got it (stapled): the recipient relies on it instead of asking НУЦ again only "
                    "while it is no older than the recipient's own OCSP max age, and asks otherwise")
    signed_by: Literal["applicant", "operator", "employee", "organisation"] = Field(
        alias="signedBy", description="organisation: by the representative named on the form, with the certificate "
                                      "of the organisation named (applicantBin)")
    attachments: list[DocumentContent] = Field(
        default_factory=list, max_length=MAX_DOCUMENTS,
        description="the content of each document the form names (portal and ЦОН; the office may give none)")

    def stapled(self, der: bytes | None) -> ApplicationRequest:
        """This request with an OCSP answer about the form's signer stapled (none given: unchanged)."""
        if der is None:
            return self
        return self.model_copy(update={"form_signature_ocsp": base64.b64encode(der).decode()})

    def stapled_ocsp(self) -> bytes | None:
        """The stapled OCSP answer's bytes, if any; one that is not base64 is no staple (the recipient asks НУЦ,
        as it would for a staple that is not an OCSP answer: refusing the application for it would punish the
        citizen for the sender's fault)."""
        if not self.form_signature_ocsp:
            return None
        try:
            return base64.b64decode(self.form_signature_ocsp, validate=True)
        except binascii.Error:
            return None


class SignedDocument(Contract):
    content: dict[str, Any]
    signature: str = Field(description="detached CMS over the RFC 8785 content, by the official's EDS")


class StatusNotification(Contract):
    """A status change of an application, for «Уведомления» and for ИС ЦОН."""

    application_number: str = Field(alias="applicationNumber")
    district: str
    applicant_iin: str = Field(alias="applicantIin", pattern=r"^\d{12}$")
    status: Literal["RECEIVED", "IN_PROGRESS", "COMPLETED", "REFUSED", "NOT_ACCEPTED"]
    status_text: str = Field(alias="statusText", description="«Поступившие», «В работе», «Исполнено», «Отказано»…")
    at: str
    text: str = Field(description="the free text line shown in «Уведомления»")
    reason: str | None = None
    document: SignedDocument | None = None
    channel: Literal["office", "portal", "con"] | None = Field(
        default=None, description="the channel the application came through (the portal lists every one of a "
                                  "citizen's applications in «История получения услуг»)")


for _service in EMPLOYMENT_SERVICES:
    register_contract(service_id=_service, message_type=MessageType.REQUEST, model=ApplicationRequest)
    register_contract(service_id=_service, message_type=MessageType.NOTIFICATION, model=StatusNotification)


# ---- mesh.mail (asynchronous): the mesh's one SMS and e-mail outbox, the member ``mail`` hosted by the portal ------
MAIL_SERVICE = "mesh.mail"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+7\d{10}$"
MAX_ATTACHMENT_BASE64 = 1024 * 1024  # characters of base64 in one message's attachments (about 768 KiB of content)


class MailAttachment(Contract):
    name: str = Field(min_length=1, max_length=256)
    content_type: str = Field(alias="contentType", max_length=128, pattern=r"^[\w.+-]+/[\w.+-]+$")
    content_base64: str = Field(alias="contentBase64", max_length=MAX_ATTACHMENT_BASE64,
                                pattern=r"^[A-Za-z0-9+/]*={0,2}$")


class MailRequest(Contract):
    """An e-mail or SMS for the mesh's outbox (ПЭП's notification gateway); the sender is the envelope's."""

    kind: Literal["email", "sms"]
    to: str = Field(max_length=254, description="email: an address (local@domain.tld); sms: +7XXXXXXXXXX")
    subject: str | None = Field(default=None, max_length=256)
    text: str = Field(min_length=1, max_length=10_000)
    application_number: str | None = Field(default=None, alias="applicationNumber", max_length=32)
    attachments: list[MailAttachment] = Field(default_factory=list, max_length=5,
                                              description=f"email only; at most {MAX_ATTACHMENT_BASE64} characters "
                                                          "of base64 in all")

    @field_validator("to")
    @classmethod
    def _address_fits_kind(cls, to: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind == "email" and not re.fullmatch(EMAIL_PATTERN, to):
            raise ValueError("an e-mail goes to an address such as name@example.kz")
        if kind == "sms" and not re.fullmatch(PHONE_PATTERN, to):
            raise ValueError("an SMS goes to a phone number +7XXXXXXXXXX")
        return to

    @field_validator("attachments")
    @classmethod
    def _attachments_fit(cls, attachments: list[MailAttachment], info: ValidationInfo) -> list[MailAttachment]:
        if attachments and info.data.get("kind") == "sms":
            raise ValueError("an SMS carries no attachments")
        if sum(len(a.content_base64) for a in attachments) > MAX_ATTACHMENT_BASE64:
            raise ValueError(f"attachments hold at most {MAX_ATTACHMENT_BASE64} characters of base64 in all")
        return attachments


register_contract(service_id=MAIL_SERVICE, message_type=MessageType.REQUEST, model=MailRequest)
