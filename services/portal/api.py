"""Portal HTTP API: registration and login (IIN + password, or EDS; an organisation's representative by BIN —
seed 001's «ИИН/БИН»), sessions, a citizen's own data, an organisation's applications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.formparsers import MultiPartException, MultiPartParser

from services.portal.catalogue import catalogue
from services.portal.domain import PASSWORD_RULES
from services.portal.handlers import Portal
from services.portal.store import Account, OrganisationAccount
from shared.employment.attachments import decode, wire
from shared.employment.case_tracking import case_out, cases, notice_out, notices
from shared.employment.documents import DocumentError, QrReference, SignedResult, decode_qr, filename, read_pdf_isolated
from shared.employment.logins import SESSION_REFUSALS, LoginSession, bearer, refuse_unless_citizen
from shared.errors import MeshError
from shared.ids import parse_bin
from shared.mesh.contracts import (
    ATTACHMENT_TYPES,
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    ApplicationForm,
    ApplicationRequest,
)
from shared.pki.canonical import parse_json
from shared.web.http_app import read_body
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses, raises
from shared.web.rate_limit import RateLimit


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class RegisterIn(Body):
    iin: str = Field(description="12 digits; checked by the IIN rules and in ГБД ФЛ")
    password: str = Field(description="; ".join(f"{rule}: {text}" for rule, text in PASSWORD_RULES), max_length=256)
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")


class ChallengeIn(Body):
    purpose: Literal["login", "register"] = "login"


class EdsLoginIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(description="base64 detached CMS over the RFC 8785 form of the challenge, made with "
                                       "the authentication (AUTH) key", max_length=20_000)
    iin: str | None = Field(default=None, description="optional: the account meant; must be the certificate's")


class EdsRegisterIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000)
    password: str | None = Field(default=None, max_length=256, description="optional: to log in with a password too")
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")


class CopyIn(Body):
    """An electronic copy of a document the form names (Standard п. 9): its SHA-256 is on the signed form."""

    content_type: str = Field(alias="contentType", max_length=128,
                              description=f"one of {', '.join(ATTACHMENT_TYPES)}")
    content_base64: str = Field(alias="contentBase64", max_length=4 * MAX_DOCUMENT_BYTES,
                                description=f"the copy, at most {MAX_DOCUMENT_BYTES} bytes")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="optional: checked if given")


class ApplyIn(Body):
    form: ApplicationForm
    attachments: list[CopyIn] = Field(default_factory=list, max_length=2 * MAX_DOCUMENTS,
                                      description="the content of each document the form names, and nothing else")
    form_signature: str = Field(alias="formSignature", max_length=20_000,
                                description="the citizen's EDS (signing key): CMS over the form's RFC 8785 form")
    district: str | None = Field(default=None, description="a district to apply to; by default the gateway routes "
                                                           "to the district of the registered address")


class OrganisationApplyIn(Body):
    form: ApplicationForm = Field(description="names the organisation (applicantBin) and its representative "
                                              "(representativeIin); applicantIin is the person the service is for")
    attachments: list[CopyIn] = Field(default_factory=list, max_length=2 * MAX_DOCUMENTS,
                                      description="the content of each document the form names, and nothing else")
    form_signature: str = Field(alias="formSignature", max_length=20_000,
                                description="the organisation's EDS (the representative's signing key of the "
                                            "organisation's certificate): CMS over the form's RFC 8785 form")
    district: str | None = Field(default=None, description="the district whose department the organisation "
                                                           "applies to (required: 422 DISTRICT_REQUIRED); the portal "
                                                           "looks up no one's address for an organisation")


class LoginIn(Body):
    iin: str
    password: str = Field(max_length=256)


class OrganisationRegisterIn(Body):
    bin: str = Field(max_length=32, description="the organisation's BIN, checked by the BIN rules; must be the "
                                                "certificate's (condition 2)")
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000, description="the register challenge signed with the authentication "
                                                          "key of the organisation's certificate (IIN and BIN)")
    password: str | None = Field(default=None, max_length=256, description="optional: to log in with BIN, IIN and "
                                                                           "a password too")
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")


class OrganisationLoginIn(Body):
    bin: str = Field(max_length=32, description="the organisation's BIN")
    iin: str = Field(max_length=32, description="the representative's IIN")
    password: str = Field(max_length=256)


class OrganisationEdsLoginIn(Body):
    bin: str = Field(max_length=32, description="the organisation's BIN; must be the certificate's (condition 2)")
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000, description="the login challenge signed with the authentication key "
                                                          "of the organisation's certificate")


class OrganisationAccountOut(BaseModel):
    """One representative's account of an organisation."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    bin: str
    iin: str = Field(description="the representative's")
    organisation: str
    registered_by: str = Field(alias="registeredBy")
    registered_at: str = Field(alias="registeredAt")
    email: str | None
    phone: str | None
    password_set: bool = Field(alias="passwordSet")
    last_login_at: str | None = Field(alias="lastLoginAt")
    locked_until: str | None = Field(alias="lockedUntil")

    @classmethod
    def of(cls, account: OrganisationAccount) -> OrganisationAccountOut:
        return cls(bin=account.bin, iin=account.iin, organisation=account.organisation,
                   registered_by=account.registered_by, registered_at=account.registered_at.isoformat(),
                   email=account.email, phone=account.phone, password_set=account.password_hash is not None,
                   last_login_at=account.last_login_at.isoformat() if account.last_login_at else None,
                   locked_until=account.locked_until.isoformat() if account.locked_until else None)


class OrganisationLoginOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    token: str
    bin: str
    iin: str = Field(description="the representative who logged in")
    method: Literal["password", "eds"]
    expires_at: str = Field(alias="expiresAt")


class OrganisationAccountsOut(BaseModel):
    accounts: list[OrganisationAccountOut]


def _account_out(account: Account) -> dict:
    return {"iin": account.iin, "registeredBy": account.registered_by,
            "registeredAt": account.registered_at.isoformat(),
            "email": account.email, "phone": account.phone, "passwordSet": account.password_hash is not None,
            "lastLoginAt": account.last_login_at.isoformat() if account.last_login_at else None,
            "lockedUntil": account.locked_until.isoformat() if account.locked_until else None}


QUIET_REGISTRATION = ("Если ИИН есть в ГБД ФЛ и учётной записи у него ещё нет, она создана — войдите с этим "
                      "паролем. Если вход не удаётся, учётная запись была уже или ИИН неизвестен ГБД ФЛ: "
                      "зарегистрируйтесь с ЭЦП (ответ один и тот же при любом ИИН, чтобы регистрация не говорила, "
                      "кто есть на портале).")


class RegistrationRequested(BaseModel):
    status: Literal["REQUESTED"] = "REQUESTED"
    message: str = QUIET_REGISTRATION


_VERIFY_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [
        {"type": "object", "required": ["content", "signature"], "properties": {
            "content": {"type": "object"}, "signature": {"type": "string"}}},
        {"type": "object", "required": ["qr"], "properties": {"qr": {"type": "string"}}}]}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    "text/plain": {"schema": {"type": "string", "description": "a QR code's payload"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the PDF, or the document's JSON"},
        "qr": {"type": "string"}}}}}}}


async def _given(data: bytes, *, kind: str, caller: str) -> tuple[SignedResult | QrReference, str, str | None]:
    """What the caller gave: (the document or a QR code's reference, where it came from, a PDF's QR payload). A PDF is
    read in a worker process (``read_pdf_isolated``); JSON is held to the mesh's JSON limit (``parse_json``)."""
    if kind == "application/pdf" or data.startswith(b"%PDF"):
        found = await read_pdf_isolated(data, caller=caller)
        return found.document, "pdf", found.qr
    if kind == "text/plain":
        return decode_qr(data.decode("utf-8", "replace")), "qr", None
    value = parse_json(data, malformed="DOCUMENT_MALFORMED", what="the document: it")
    if isinstance(value, dict) and set(value) == {"qr"} and isinstance(value["qr"], str):
        return decode_qr(value["qr"]), "qr", None
    return SignedResult.parse(value), "json", None


async def _given_multipart(request: Request, data: bytes, *,
                           caller: str) -> tuple[SignedResult | QrReference, str, str | None]:
    async def stream() -> AsyncIterator[bytes]:
        yield data

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=2,
                                     max_part_size=len(data) + 1).parse()
    except MultiPartException as exc:
        raise DocumentError("DOCUMENT_MALFORMED", f"multipart body: {exc.message}") from None
    upload, qr = form.get("file"), form.get("qr")
    if upload is not None and not isinstance(upload, str):
        kind = (upload.content_type or "").split(";")[0].strip().lower()
        return await _given(await upload.read(), kind=kind if kind in ("application/pdf", "text/plain") else "",
                            caller=caller)
    if isinstance(qr, str):
        return decode_qr(qr), "qr", None
    raise DocumentError("DOCUMENT_MALFORMED", "send the document as the part `file` (PDF or JSON), or `qr`")


def _download(body: bytes, *, name: str, media_type: str) -> Response:
    return Response(content=body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def build_router(*, portal: Portal, admin: object, precise: object = None,
                 registrations: RateLimit | None = None) -> APIRouter:
    router = APIRouter()
    precise_dep = Depends(precise) if precise is not None else Depends(lambda: False)

    @raises(*SESSION_REFUSALS)
    async def current(authorization: str | None = Header(default=None)) -> LoginSession:
        return await portal.logins.session_of(bearer(authorization))

    own = refuse_unless_citizen  # every citizen resource: only its owner, logged in as a citizen

    @router.post("/auth/register", tags=["registration"], status_code=201,
                 summary="Register with IIN and password (the person must be alive in ГБД ФЛ)",
                 description="An anonymous caller gets `202 REQUESTED` with one message whatever the IIN (unknown "
                             "to ГБД ФЛ, already registered, or registered now), and at most "
                             "`PORTAL_ANONYMOUS_REGISTRATIONS_PER_MINUTE` tries a minute (`429 TOO_MANY_ATTEMPTS`). "
                             "With the admin token: `201` and the account, or `409 ACCOUNT_EXISTS` / "
                             "`404 PERSON_NOT_FOUND` / `422 PERSON_DECEASED`.",
                 responses=error_responses("PERSON_NOT_FOUND", "ACCOUNT_EXISTS", "IIN_BAD_BIRTH_DATE",
                                           "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                           "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "PASSWORD_WEAK", "PERSON_DECEASED",
                                           "TOO_MANY_ATTEMPTS", "BROKER_UNAVAILABLE", "GATEWAY_UNAVAILABLE",
                                           "NUC_UNAVAILABLE", "REGISTRY_UNAVAILABLE"))
    async def register(body: RegisterIn, request: Request, response: Response,
                       is_admin: bool = precise_dep) -> dict:
        if is_admin:
            return _account_out(await portal.register(iin=body.iin, password=body.password, email=body.email,
                                                      phone=body.phone))
        if registrations is not None:
            registrations.check(request.client.host if request.client else "unknown")
        await portal.register_quietly(iin=body.iin, password=body.password, email=body.email, phone=body.phone)
        response.status_code = 202
        return RegistrationRequested().model_dump()

    @router.post("/auth/challenges", tags=["EDS"], status_code=201,
                 summary="A challenge to sign with the authentication key (single use, expires on the mesh clock)")
    async def challenge(body: ChallengeIn) -> dict:
        return await portal.logins.challenge(purpose=body.purpose)

    @router.post("/auth/register/eds", tags=["registration"], status_code=201,
                 summary="Register with EDS: the signed register challenge; the IIN is the certificate's",
                 responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                           "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "PERSON_NOT_FOUND",
                                           "ACCOUNT_EXISTS", "PASSWORD_WEAK", "PERSON_DECEASED", "BROKER_UNAVAILABLE",
                                           "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "GATEWAY_UNAVAILABLE", "NOT_READY",
                                           "NUC_UNAVAILABLE", "REGISTRY_UNAVAILABLE"))
    async def register_eds(body: EdsRegisterIn) -> dict:
        return _account_out(await portal.register_with_eds(
            challenge_id=body.challenge_id, signature=body.signature, password=body.password, email=body.email,
            phone=body.phone))

    @router.post("/auth/login", tags=["login"], summary="Log in with IIN and password",
                 description="An IIN without an account answers as a wrong password would (`401 PASSWORD_WRONG`, "
                             "attempts left, then `423 ACCOUNT_LOCKED`); with the admin token, `ACCOUNT_NOT_FOUND`.",
                 responses=error_responses("PASSWORD_NOT_SET", "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED"))
    async def login(body: LoginIn, is_admin: bool = precise_dep) -> dict:
        return (await portal.login(iin=body.iin, password=body.password, precise=is_admin)).public()

    @router.post("/auth/login/eds", tags=["login"], summary="Log in with EDS: the signed login challenge",
                 responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                           "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "ACCOUNT_NOT_FOUND",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "EDS_CLOCK_SKEW",
                                           "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def login_eds(body: EdsLoginIn) -> dict:
        return (await portal.login_with_eds(challenge_id=body.challenge_id, signature=body.signature,
                                            iin=body.iin)).public()

    def own_organisation(bin_: str, login: LoginSession) -> str:
        """Every organisation resource: only a login for that organisation (by BIN); the representative's IIN."""
        parse_bin(bin_)
        if login.representative_iin is None:
            raise MeshError("ORGANISATION_LOGIN_REQUIRED", "log in by BIN as the organisation's representative "
                            "(/auth/login/organisation) to act for it")
        if login.subject != bin_:
            raise MeshError("NOT_YOUR_DATA", "an organisation sees only its own data")
        return login.representative_iin

    @router.post("/auth/register/organisation", tags=["registration"], status_code=201,
                 response_model=OrganisationAccountOut,
                 summary="Register as an organisation's representative (seed 001: «ИИН/БИН»): the register challenge "
                         "signed with the organisation's certificate, whose BIN is the one named",
                 description="The IIN is the certificate's (a living person ГБД ФЛ knows); the password, if given, "
                             "lets BIN + IIN + password log in too. A malformed BIN is refused by its rule "
                             "(`422 BIN_LENGTH`, `BIN_BAD_CHECK_DIGIT`…), a personal certificate with "
                             "`401 EDS_NOT_ORGANISATION`, another organisation's with `401 EDS_BIN_MISMATCH`, a "
                             "representative registered already with `409 ACCOUNT_EXISTS`.",
                 responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                           "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_NOT_ORGANISATION", "EDS_ROLE_MISSING",
                                           "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE",
                                           "PERSON_NOT_FOUND", "ACCOUNT_EXISTS", "BIN_BAD_CHECK_DIGIT",
                                           "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                           "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS", "PASSWORD_WEAK", "PERSON_DECEASED",
                                           "BROKER_UNAVAILABLE", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE",
                                           "GATEWAY_UNAVAILABLE", "NOT_READY", "NUC_UNAVAILABLE",
                                           "REGISTRY_UNAVAILABLE"))
    async def register_organisation(body: OrganisationRegisterIn) -> OrganisationAccountOut:
        return OrganisationAccountOut.of(await portal.register_organisation(
            bin_=body.bin, challenge_id=body.challenge_id, signature=body.signature, password=body.password,
            email=body.email, phone=body.phone))

    @router.post("/auth/login/organisation", tags=["login"], response_model=OrganisationLoginOut,
                 summary="Log in as an organisation's representative with BIN, IIN and password",
                 description="As for a citizen: a pair without an account answers as a wrong password would "
                             "(`401 PASSWORD_WRONG`, attempts left, then `423 ACCOUNT_LOCKED`); with the admin "
                             "token, `ACCOUNT_NOT_FOUND` / `PASSWORD_NOT_SET`. A malformed BIN or IIN: its rule's "
                             "code (422).",
                 responses=error_responses("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "PASSWORD_NOT_SET",
                                           "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND", "BIN_BAD_CHECK_DIGIT",
                                           "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                           "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS", "IIN_BAD_BIRTH_DATE",
                                           "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                           "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED", "EDS_CLOCK_SKEW",
                                           "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def login_organisation(body: OrganisationLoginIn, is_admin: bool = precise_dep) -> OrganisationLoginOut:
        return OrganisationLoginOut.model_validate((await portal.login_organisation(
            bin_=body.bin, iin=body.iin, password=body.password, precise=is_admin)).public())

    @router.post("/auth/login/organisation/eds", tags=["login"], response_model=OrganisationLoginOut,
                 summary="Log in as an organisation's representative with EDS: the login challenge signed with the "
                         "organisation's certificate, whose BIN is the one named",
                 description="`401 EDS_NOT_ORGANISATION` for a personal certificate, `401 EDS_BIN_MISMATCH` for "
                             "another organisation's, `404 ACCOUNT_NOT_FOUND` before registration.",
                 responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                           "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_NOT_ORGANISATION", "EDS_ROLE_MISSING",
                                           "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE",
                                           "ACCOUNT_NOT_FOUND", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                           "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                           "BIN_NOT_DIGITS", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def login_organisation_eds(body: OrganisationEdsLoginIn) -> OrganisationLoginOut:
        return OrganisationLoginOut.model_validate((await portal.login_organisation_with_eds(
            bin_=body.bin, challenge_id=body.challenge_id, signature=body.signature)).public())

    @router.post("/auth/logout", tags=["login"], summary="End this login",
                 responses=error_responses("SESSION_EXPIRED", "SESSION_INVALID", "SESSION_MISSING"))
    async def logout(authorization: str | None = Header(default=None)) -> dict:
        await portal.logins.end(bearer(authorization))
        return {"loggedOut": True}

    @router.get("/me", tags=["cabinet"], summary="Who is logged in",
                responses=error_responses("ACCOUNT_NOT_FOUND"))
    async def me(login: LoginSession = Depends(current)) -> dict:
        if login.representative_iin is not None:  # an organisation's login: its BIN and who logged in for it
            account = await portal.organisation_account(bin_=login.subject, iin=login.representative_iin)
            return {**OrganisationAccountOut.of(account).model_dump(by_alias=True), "session": {
                "method": login.method, "expiresAt": login.expires_at.isoformat(),
                "certificateSerial": login.certificate_serial, "bin": login.subject,
                "iin": login.representative_iin}}
        return {**_account_out(await portal.account(login.subject)), "session": {
            "method": login.method, "expiresAt": login.expires_at.isoformat(),
            "certificateSerial": login.certificate_serial}}

    @router.get("/citizens/{iin}/account", tags=["cabinet"], summary="A citizen's account (only their own)",
                responses=error_responses("NOT_YOUR_DATA", "ACCOUNT_NOT_FOUND"))
    async def account(iin: str, login: LoginSession = Depends(current)) -> dict:
        own(iin, login)
        return _account_out(await portal.account(iin))

    @router.get("/citizens/{iin}/profile", tags=["cabinet"],
                summary="A citizen's data as ГБД ФЛ holds it, asked through the gateway (only their own)",
                responses=error_responses("NOT_YOUR_DATA", "PERSON_NOT_FOUND", "BROKER_UNAVAILABLE",
                                          "GATEWAY_UNAVAILABLE", "NUC_UNAVAILABLE", "REGISTRY_UNAVAILABLE"))
    async def profile(iin: str, login: LoginSession = Depends(current)) -> dict:
        own(iin, login)
        person = await portal.person(iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", "Сведения по указанному ИИН отсутствуют в ГБД ФЛ")
        await portal.remember_district(iin, person.district)
        return person.model_dump(by_alias=True, exclude_none=True)

    @router.get("/services", tags=["services"], summary="The service catalogue: each service's form (JSON Schema, "
                "labels in Russian and Kazakh), its documents, and per region the channels it is offered through")
    async def service_catalogue() -> dict:
        return {"services": catalogue(portal.regulations)}

    @router.post("/citizens/{iin}/applications", tags=["services"], status_code=202,
                 summary="Apply for a service with a form signed by the citizen's EDS (checked, then sent)",
                 description="Send an `Idempotency-Key` header (a UUID) to make the call safe to repeat: a repeat "
                             "with the same key and body answers with the case the first call made (header "
                             "`Idempotent-Replayed: true`), never a second application; the same key with another "
                             "body is refused with 422 IDEMPOTENCY_KEY_REUSED.",
                 responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "EDS_BIN_MISMATCH",
                                           "EDS_CERTIFICATE_EXPIRED", "EDS_CERTIFICATE_NOT_YET_VALID",
                                           "EDS_CERTIFICATE_REVOKED", "EDS_CERTIFICATE_STATUS_UNKNOWN",
                                           "EDS_CERTIFICATE_UNTRUSTED", "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING",
                                           "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE",
                                           "NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED", "ATTACHMENTS_TOO_LARGE",
                                           "ATTACHMENT_TOO_LARGE", "ATTACHMENT_TYPE_NOT_ALLOWED",
                                           "ATTACHMENT_DIGEST_MISMATCH", "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY",
                                           "ATTACHMENT_MISMATCH", "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64",
                                           "ATTACHMENT_NOT_SIGNED", "ATTACHMENT_TOO_MANY", "CHANNEL_NOT_OFFERED",
                                           "DISTRICT_UNKNOWN", "FORM_INVALID", "IDEMPOTENCY_KEY_REUSED",
                                           "SERVICE_UNKNOWN", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def apply(iin: str, body: ApplyIn, response: Response, login: LoginSession = Depends(current),
                    key: Annotated[str | None, Header(alias=HEADER)] = None) -> dict:
        own(iin, login)
        copies = decode([c.model_dump(by_alias=True) for c in body.attachments])
        request = ApplicationRequest(form=body.form, form_signature=body.form_signature, signed_by="applicant",
                                     attachments=wire(copies))
        sent = await portal.apply(iin=iin, request=request, district=body.district, idempotency_key=valid_key(key),
                                  copies=copies)
        if sent.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return case_out(sent.case)

    @router.get("/citizens/{iin}/documents/{sha256}", tags=["services"], response_class=Response,
                summary="An electronic copy the citizen attached to an application (their own only)",
                responses=error_responses("NOT_YOUR_DATA", "DOCUMENT_COPY_NOT_FOUND"))
    async def citizen_copy(iin: str, sha256: str, login: LoginSession = Depends(current)) -> Response:
        own(iin, login)
        copy = await portal.copy(iin=iin, sha256=sha256)
        return Response(content=copy.content, media_type=copy.content_type, headers={
            "Content-Disposition": f'attachment; filename="{sha256[:16]}"', "X-Content-Type-Options": "nosniff"})

    @router.get("/citizens/{iin}/applications", tags=["services"],
                summary="«История получения услуг»: the citizen's applications and their current status",
                responses=error_responses("NOT_YOUR_DATA"))
    async def history(iin: str, login: LoginSession = Depends(current)) -> dict:
        own(iin, login)
        return {"applications": [case_out(c) for c in await cases(portal.sessions, iin=iin)]}

    @router.get("/citizens/{iin}/notifications", tags=["services"],
                summary="«Уведомления»: every status change, with the signed result when there is one",
                responses=error_responses("NOT_YOUR_DATA"))
    async def notifications(iin: str, login: LoginSession = Depends(current)) -> dict:
        own(iin, login)
        return {"notifications": [notice_out(n) for n in await notices(portal.sessions, iin=iin)]}

    @router.get("/citizens/{iin}/applications/{correlation_id}/document", tags=["documents"],
                summary="The signed result of one of the citizen's applications: its content and signature (JSON)",
                description="`404 APPLICATION_NOT_FOUND` for an application that is not the citizen's, "
                            "`409 DOCUMENT_NOT_READY` before ИС МИО has signed a result, `403 NOT_YOUR_DATA` for "
                            "another citizen's IIN.",
                responses=error_responses("NOT_YOUR_DATA", "APPLICATION_NOT_FOUND", "DOCUMENT_NOT_READY"))
    async def document(iin: str, correlation_id: str, login: LoginSession = Depends(current)) -> Response:
        own(iin, login)
        found = await portal.document(iin=iin, correlation_id=correlation_id)
        return _download(found.json_bytes(), name=filename(found, "json"), media_type="application/json")

    @router.get("/citizens/{iin}/applications/{correlation_id}/document.pdf", tags=["documents"],
                summary="The signed result as a printable bilingual (kk/ru) PDF with its QR code and, embedded, the "
                        "signed JSON", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}}
                | error_responses("NOT_YOUR_DATA", "APPLICATION_NOT_FOUND", "DOCUMENT_NOT_READY"))
    async def document_pdf(iin: str, correlation_id: str, login: LoginSession = Depends(current)) -> Response:
        own(iin, login)
        found = await portal.document(iin=iin, correlation_id=correlation_id)
        return _download(await portal.document_pdf(found), name=filename(found, "pdf"), media_type="application/pdf")

    @router.post("/documents/verify", tags=["documents"], openapi_extra=_VERIFY_BODY,
                 summary="Verify a result document anyone holds: its JSON, its PDF, or its QR code's payload",
                 description="Anonymous, at most `PORTAL_ANONYMOUS_VERIFICATIONS_PER_MINUTE` a minute from one "
                             "address (`429 TOO_MANY_ATTEMPTS`). Answers `valid` with each check and every failure "
                             "by code. `content`, `signature`: what was signed, the mathematics (`CONTENT_ALTERED`, "
                             "`SIGNATURE_INVALID`, `SIGNATURE_MALFORMED`). `issuer`: the content names its issuer "
                             "(`issuerBin`, `regulationId`) and the gateway's registry knows that BIN as the body "
                             "issuing that regulation's results — a district's ИС МИО, or ИС ЦОН for the notice the "
                             "State Corporation forms (`ISSUER_NOT_NAMED`, `REGULATION_UNKNOWN`, `ISSUER_UNKNOWN`, "
                             "`ISSUER_NOT_FOR_REGULATION`, `REGULATION_MISMATCH`, `ISSUER_UNVERIFIABLE`). `signer`: "
                             "an official of that BIN with the role the regulation says signs it, the one "
                             "`content.signer` names (`SIGNER_NOT_AN_OFFICIAL`, `SIGNER_NOT_OF_ISSUER`, "
                             "`SIGNER_ROLE_NOT_ENTITLED`, `SIGNER_NOT_NAMED`, `SIGNER_MISMATCH`). `signingTime`: the "
                             "CMS signingTime, not in the future, not before the content's `date` "
                             "(`SIGNING_TIME_MISSING`, `SIGNING_TIME_IN_FUTURE`, `DOCUMENT_DATED_AFTER_SIGNING`, "
                             "`DOCUMENT_DATE_MISSING`). `certificate`: chains to НУЦ, a signing certificate valid at "
                             "the signing time (`CERTIFICATE_UNTRUSTED`, `CERTIFICATE_WRONG_KEY_USAGE`, "
                             "`CERTIFICATE_EXPIRED_AT_SIGNING`, `CERTIFICATE_NOT_YET_VALID_AT_SIGNING`). "
                             "`revocation`: OCSP, after the certificate's end too; `GOOD`, or "
                             "`REVOKED_AFTER_SIGNING` for a later revocation that leaves it valid (the official "
                             "left); a compromised key voids whatever it signed (`CERTIFICATE_REVOKED`, "
                             "`CERTIFICATE_STATUS_UNKNOWN`, `REVOCATION_UNAVAILABLE`). `qr`, for a PDF: its QR code "
                             "carries the same document (`QR_MISMATCH`). Unreadable input is `422` "
                             "(`DOCUMENT_MALFORMED`, `PDF_UNREADABLE`, `PDF_WITHOUT_DOCUMENT`, `QR_PAYLOAD_MALFORMED`, "
                             "`QR_HOLDS_REFERENCE_ONLY`), too large `413 DOCUMENT_TOO_LARGE`; a PDF is read in a "
                             "worker process, one at a time from one address (`429 PDF_ALREADY_READING`), at most "
                             "four at once (`503 PDF_READER_BUSY`), refused when it costs too much "
                             "(`PDF_TOO_MANY_FILES`, `PDF_EMBEDDED_FILE_TOO_LARGE`, `PDF_TOO_COSTLY`). It verifies "
                             "what it is given and never looks up a stored document.",
                 responses=error_responses("DOCUMENT_TOO_LARGE", "JSON_TOO_MANY_ELEMENTS", "REQUEST_TOO_LARGE",
                                           "DOCUMENT_TYPE_UNSUPPORTED", "DOCUMENT_MALFORMED", "JSON_STRING_INVALID",
                                           "JSON_TOO_DEEP", "PDF_TOO_COSTLY", "PDF_WITHOUT_DOCUMENT",
                                           "QR_HOLDS_REFERENCE_ONLY", "QR_PAYLOAD_MALFORMED", "PDF_ALREADY_READING",
                                           "TOO_MANY_ATTEMPTS", "PDF_READER_BUSY"))
    async def verify(request: Request) -> dict[str, Any]:
        caller = request.client.host if request.client else "unknown"
        portal.verifications.check(caller)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("", "application/json", "application/pdf", "text/plain", "multipart/form-data",
                        "application/octet-stream"):
            raise MeshError("DOCUMENT_TYPE_UNSUPPORTED", "send application/json, application/pdf, text/plain (a QR "
                            "payload) or multipart/form-data")
        data = await read_body(request, limit=portal.verify_limit, code="DOCUMENT_TOO_LARGE", what="a document")
        given, source, qr = (await _given_multipart(request, data, caller=caller) if kind == "multipart/form-data"
                             else await _given(data, kind=kind, caller=caller))
        return await portal.verify_document(given, source=source, qr=qr)

    @router.post("/organisations/{bin}/applications", tags=["services"], status_code=202,
                 summary="Apply as an organisation (seed 001: «ИИН/БИН»): a form naming it (applicantBin) and its "
                         "representative (representativeIin), signed with the organisation's certificate",
                 description="`applicantIin` is the person the service is for (ИС МИО checks their card and facts, "
                             "and the result names them as ГБД ФЛ holds them: a form naming them otherwise is "
                             "refused); `district` is the department applied to, where it is sent. Every answer is "
                             "the same whoever the form names. Refused: `403 ORGANISATION_LOGIN_REQUIRED` (a "
                             "citizen's login), `403 NOT_YOUR_DATA` (another BIN), `422 ORGANISATION_NOT_NAMED`, "
                             "`403 REPRESENTATIVE_MISMATCH`, condition 2: `401 EDS_NOT_ORGANISATION` / "
                             "`EDS_BIN_MISMATCH` / `EDS_IIN_MISMATCH` and the certificate's own faults, `422 "
                             "DISTRICT_REQUIRED`, the district's channel and the form's checks as for a citizen, `403 "
                             "SERVICE_NOT_FOR_ORGANISATIONS` (the district's regulation admits individuals only). "
                             "`Idempotency-Key` as for a citizen.",
                 responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "EDS_BIN_MISMATCH",
                                           "EDS_CERTIFICATE_EXPIRED", "EDS_CERTIFICATE_NOT_YET_VALID",
                                           "EDS_CERTIFICATE_REVOKED", "EDS_CERTIFICATE_STATUS_UNKNOWN",
                                           "EDS_CERTIFICATE_UNTRUSTED", "EDS_IIN_MISMATCH", "EDS_NOT_ORGANISATION",
                                           "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER",
                                           "EDS_WRONG_KEY_USAGE", "NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED",
                                           "REPRESENTATIVE_MISMATCH", "SERVICE_NOT_FOR_ORGANISATIONS",
                                           "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_TOO_LARGE",
                                           "ATTACHMENT_TYPE_NOT_ALLOWED", "ATTACHMENT_DIGEST_MISMATCH",
                                           "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY", "ATTACHMENT_MISMATCH",
                                           "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64", "ATTACHMENT_NOT_SIGNED",
                                           "ATTACHMENT_TOO_MANY", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                           "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                           "BIN_NOT_DIGITS", "CHANNEL_NOT_OFFERED", "DISTRICT_REQUIRED",
                                           "DISTRICT_UNKNOWN", "FORM_INVALID", "IDEMPOTENCY_KEY_REUSED",
                                           "ORGANISATION_NOT_NAMED", "SERVICE_UNKNOWN", "EDS_CLOCK_SKEW",
                                           "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def apply_as_organisation(bin: str, body: OrganisationApplyIn, response: Response,
                                    login: LoginSession = Depends(current),
                                    key: Annotated[str | None, Header(alias=HEADER)] = None) -> dict:
        representative = own_organisation(bin, login)
        copies = decode([c.model_dump(by_alias=True) for c in body.attachments])
        request = ApplicationRequest(form=body.form, form_signature=body.form_signature, signed_by="organisation",
                                     attachments=wire(copies))
        sent = await portal.apply_as_organisation(bin_=bin, representative=representative, request=request,
                                                  district=body.district, idempotency_key=valid_key(key),
                                                  copies=copies)
        if sent.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return case_out(sent.case)

    @router.get("/organisations/{bin}/applications", tags=["services"],
                summary="The organisation's «История получения услуг»: the applications it submitted, with status",
                responses=error_responses("NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED", "BIN_BAD_CHECK_DIGIT",
                                          "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                          "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS"))
    async def organisation_history(bin: str, login: LoginSession = Depends(current)) -> dict:
        own_organisation(bin, login)
        return {"applications": [case_out(c) for c in await portal.organisation_cases(bin)]}

    @router.get("/organisations/{bin}/notifications", tags=["services"],
                summary="The organisation's «Уведомления»: every status change of its applications, with the signed "
                        "result when there is one",
                responses=error_responses("NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED", "BIN_BAD_CHECK_DIGIT",
                                          "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                          "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS"))
    async def organisation_notifications(bin: str, login: LoginSession = Depends(current)) -> dict:
        own_organisation(bin, login)
        return {"notifications": [notice_out(n) for n in await portal.organisation_notices(bin)]}

    @router.get("/admin/organisations/{bin}/accounts", tags=["test support"], dependencies=[Depends(admin)],
                response_model=OrganisationAccountsOut, summary="An organisation's representatives' accounts (admin)",
                responses=error_responses("BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT",
                                          "BIN_LENGTH", "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS"))
    async def admin_organisation_accounts(bin: str) -> OrganisationAccountsOut:
        return OrganisationAccountsOut(accounts=[OrganisationAccountOut.of(a)
                                                 for a in await portal.organisation_accounts(bin)])

    @router.post("/admin/organisations/{bin}/accounts/{iin}/unlock", tags=["test support"],
                 dependencies=[Depends(admin)], response_model=OrganisationAccountOut,
                 summary="Lift a representative's lock-out (admin)",
                 responses=error_responses("ACCOUNT_NOT_FOUND"))
    async def unlock_organisation(bin: str, iin: str) -> OrganisationAccountOut:
        return OrganisationAccountOut.of(await portal.unlock_organisation(bin_=bin, iin=iin))

    @router.get("/admin/cases", tags=["test support"], dependencies=[Depends(admin)],
                summary="Every application sent through the portal, with its current status (admin)")
    async def admin_cases(iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
                          correlation_id: Annotated[str | None, Query(alias="correlationId")] = None) -> dict:
        return {"applications": [case_out(c) for c in await cases(portal.sessions, iin=iin,
                                                                   correlation_id=correlation_id)]}

    @router.get("/admin/accounts/{iin}", tags=["test support"], dependencies=[Depends(admin)],
                summary="Any account (admin)",
                responses=error_responses("ACCOUNT_NOT_FOUND"))
    async def admin_account(iin: str) -> dict:
        return _account_out(await portal.account(iin))

    @router.post("/admin/accounts/{iin}/unlock", tags=["test support"], dependencies=[Depends(admin)],
                 summary="Lift a lock-out (admin)",
                 responses=error_responses("ACCOUNT_NOT_FOUND"))
    async def unlock(iin: str) -> dict:
        return _account_out(await portal.unlock(iin))

    return router
