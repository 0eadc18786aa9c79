"""НУЦ HTTP API: CA certificates, issuance (admin), revocation (admin), OCSP, CRL, look-up."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.nuc_pki.domain import BadKind, PersonName, parse_csr
from services.nuc_pki.handlers import REVOCATION_REASONS, CertificateAuthority, Issued
from services.nuc_pki.store import IssuedCertificate
from shared.errors import MeshError
from shared.pki.cert_profile import describe_certificate
from shared.pki.signing import certificate_pem
from shared.web.openapi_errors import error_responses

PEM = "application/x-pem-file"


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class NotYetValidOut(BaseModel):
    """Certificates (not revoked, not deliberately faulty) whose validity begins after ``at``."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    at: dt.datetime
    count: int
    by_holder: dict[str, int] = Field(alias="byHolder", description="individual, employee, system")
    latest_not_before: dt.datetime | None = Field(alias="latestNotBefore")


class KeyChoice(Body):
    """Either НУЦ generates the keys and returns PKCS#12 files, or the holder sends CSRs."""

    pkcs12_password: str | None = Field(default=None, alias="pkcs12Password", min_length=6, max_length=128)
    signing_csr_pem: str | None = Field(default=None, alias="signingCsrPem")
    authentication_csr_pem: str | None = Field(default=None, alias="authenticationCsrPem")

    @model_validator(mode="after")
    def _one_way(self) -> KeyChoice:
        csrs = (self.signing_csr_pem, self.authentication_csr_pem)
        if self.pkcs12_password is None and None in csrs:
            raise ValueError("give pkcs12Password (НУЦ makes the keys) or both signingCsrPem and authenticationCsrPem")
        if self.pkcs12_password is not None and any(csrs):
            raise ValueError("give either pkcs12Password or CSRs, not both")
        return self


class PersonRequest(KeyChoice):
    iin: str = Field(pattern=r"^\d{12}$", description="12-digit IIN; validated by the IIN rules")
    surname: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    patronymic: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=128, pattern=r"^[^@\s]+@[^@\s]+$")


class EmployeeRequest(PersonRequest):
    organisation: str = Field(min_length=1, max_length=128)
    bin: str = Field(pattern=r"^\d{12}$")
    role: Literal["head", "signer", "finance", "hr", "employee", "operator"] = "employee"


class SystemRequest(Body):
    member_id: str = Field(alias="memberId", pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$", max_length=64)
    organisation: str = Field(min_length=1, max_length=128)
    bin: str = Field(pattern=r"^\d{12}$")
    csr_pem: str | None = Field(default=None, alias="csrPem")
    pkcs12_password: str | None = Field(default=None, alias="pkcs12Password", min_length=6, max_length=128)

    @model_validator(mode="after")
    def _one_way(self) -> SystemRequest:
        if (self.csr_pem is None) == (self.pkcs12_password is None):
            raise ValueError("give exactly one of csrPem or pkcs12Password")
        return self


class FaultyRequest(Body):
    kind: BadKind
    holder: Literal["individual", "employee", "system"] = "individual"
    iin: str | None = Field(default=None, pattern=r"^\d{12}$")
    surname: str = "ТЕСТОВ"
    name: str = "ТЕСТ"
    organisation: str | None = None
    bin: str | None = Field(default=None, pattern=r"^\d{12}$")
    role: Literal["head", "signer", "finance", "hr", "employee", "operator"] | None = None
    member_id: str | None = Field(default=None, alias="memberId")
    pkcs12_password: str = Field(alias="pkcs12Password", min_length=6, max_length=128)


class RevokeRequest(Body):
    reason: str = Field(description=f"one of {', '.join(sorted(REVOCATION_REASONS))}")


def _certificate_out(record: IssuedCertificate) -> dict:
    return {"serial": record.serial, "holder": record.holder, "usage": record.usage, "commonName": record.common_name,
            "memberId": record.member_id, "bin": record.bin, "roles": record.roles, "defect": record.defect,
            "notBefore": record.not_before.isoformat(), "notAfter": record.not_after.isoformat(),
            "status": record.status, "revokedAt": record.revoked_at.isoformat() if record.revoked_at else None,
            "revocationReason": record.revocation_reason, "certificatePem": record.certificate_pem}


def _issued_out(ca: CertificateAuthority, issued: Issued, *, password: str | None) -> dict:
    out = _certificate_out(issued.record)
    out["chainPem"] = "".join(certificate_pem(c) for c in ca.chain())
    if password is not None and issued.key is not None:
        out["pkcs12Base64"] = base64.b64encode(ca.pkcs12(issued, password=password)).decode()
    return out


def build_router(*, ca: CertificateAuthority, admin: object, precise: object = None) -> APIRouter:
    router = APIRouter()
    guarded = [Depends(admin)]
    precise_dep = Depends(precise) if precise is not None else Depends(lambda: False)

    @router.get("/ca/root.pem", tags=["ca"], response_class=Response, summary="Root CA certificate (PEM)",
                responses=error_responses("CA_NOT_READY"))
    async def root_pem() -> Response:
        return Response(certificate_pem(ca.chain()[1]), media_type=PEM)

    @router.get("/ca/issuing.pem", tags=["ca"], response_class=Response, summary="Issuing CA certificate (PEM)",
                responses=error_responses("CA_NOT_READY"))
    async def issuing_pem() -> Response:
        return Response(certificate_pem(ca.chain()[0]), media_type=PEM)

    @router.get("/ca/issuing.cer", tags=["ca"], response_class=Response, summary="Issuing CA (DER, for AIA)",
                responses=error_responses("CA_NOT_READY"))
    async def issuing_der() -> Response:
        return Response(ca.chain()[0].public_bytes(serialization.Encoding.DER), media_type="application/pkix-cert")

    @router.get("/ca/chain.pem", tags=["ca"], response_class=Response, summary="Issuing CA then root (PEM)",
                responses=error_responses("CA_NOT_READY"))
    async def chain_pem() -> Response:
        return Response("".join(certificate_pem(c) for c in ca.chain()), media_type=PEM)

    @router.post("/certificates/individual", tags=["issuance"], dependencies=guarded, status_code=201,
                 summary="Signing + authentication certificates for an individual",
                 responses=error_responses("PKCS12_WITHOUT_KEY", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                           "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                           "BIN_NOT_DIGITS", "CSR_KEY_REUSED", "CSR_KEY_TOO_WEAK",
                                           "CSR_KEY_UNSUPPORTED", "CSR_MALFORMED", "CSR_SIGNATURE_INVALID",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "NAME_TOO_LONG",
                                           "ROLE_UNKNOWN", "CA_NOT_READY"))
    async def issue_individual(body: PersonRequest) -> dict:
        return await _person(body, organisation=None, bin_=None, role=None)

    @router.post("/certificates/employee", tags=["issuance"], dependencies=guarded, status_code=201,
                 summary="Signing + authentication certificates for an employee of an organisation, with a role",
                 responses=error_responses("PKCS12_WITHOUT_KEY", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                           "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                           "BIN_NOT_DIGITS", "CSR_KEY_REUSED", "CSR_KEY_TOO_WEAK",
                                           "CSR_KEY_UNSUPPORTED", "CSR_MALFORMED", "CSR_SIGNATURE_INVALID",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "NAME_TOO_LONG",
                                           "ROLE_UNKNOWN", "CA_NOT_READY"))
    async def issue_employee(body: EmployeeRequest) -> dict:
        return await _person(body, organisation=body.organisation, bin_=body.bin, role=body.role)

    async def _person(body: PersonRequest, *, organisation: str | None, bin_: str | None, role: str | None) -> dict:
        sign_key = parse_csr(body.signing_csr_pem) if body.signing_csr_pem else None
        auth_key = parse_csr(body.authentication_csr_pem) if body.authentication_csr_pem else None
        signing, auth = await ca.issue_person_pair(
            iin=body.iin, person=PersonName(surname=body.surname, name=body.name, patronymic=body.patronymic),
            organisation=organisation, bin_=bin_, role=role, email=body.email, signing_key=sign_key, auth_key=auth_key)
        return {"signing": _issued_out(ca, signing, password=body.pkcs12_password),
                "authentication": _issued_out(ca, auth, password=body.pkcs12_password)}

    @router.post("/certificates/system", tags=["issuance"], dependencies=guarded, status_code=201,
                 summary="Signing certificate of an information system (a mesh member)",
                 responses=error_responses("PKCS12_WITHOUT_KEY", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                           "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                           "BIN_NOT_DIGITS", "CSR_KEY_TOO_WEAK", "CSR_KEY_UNSUPPORTED", "CSR_MALFORMED",
                                           "CSR_SIGNATURE_INVALID", "CA_NOT_READY"))
    async def issue_system(body: SystemRequest) -> dict:
        key = parse_csr(body.csr_pem) if body.csr_pem else None
        issued = await ca.issue_system(member_id=body.member_id, organisation=body.organisation, bin_=body.bin,
                                       public_key=key)
        return _issued_out(ca, issued, password=body.pkcs12_password)

    @router.post("/test/certificates", tags=["test support"], dependencies=guarded, status_code=201,
                 summary="Deliberately faulty certificates: expired, not yet valid, wrong key usage, untrusted",
                 responses=error_responses("PKCS12_WITHOUT_KEY", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                           "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                           "BIN_NOT_DIGITS", "CSR_KEY_REUSED", "IIN_BAD_BIRTH_DATE",
                                           "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                           "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "NAME_TOO_LONG", "ROLE_UNKNOWN",
                                           "CA_NOT_READY"))
    async def issue_faulty(body: FaultyRequest) -> dict:
        if body.holder == "system":
            if not (body.member_id and body.organisation and body.bin):
                raise MeshError("REQUEST_INVALID", "a system certificate needs memberId, organisation and bin")
            issued = await ca.issue_system(member_id=body.member_id, organisation=body.organisation, bin_=body.bin,
                                           public_key=None, defect=body.kind)
            return {"signing": _issued_out(ca, issued, password=body.pkcs12_password)}
        if body.iin is None:
            raise MeshError("REQUEST_INVALID", "a personal certificate needs iin")
        employee = body.holder == "employee"
        if employee and not (body.organisation and body.bin):
            raise MeshError("REQUEST_INVALID", "an employee certificate needs organisation and bin")
        signing, auth = await ca.issue_person_pair(
            iin=body.iin, person=PersonName(surname=body.surname, name=body.name),
            organisation=body.organisation if employee else None, bin_=body.bin if employee else None,
            role=body.role if employee else None, email=None, signing_key=None, auth_key=None, defect=body.kind)
        return {"signing": _issued_out(ca, signing, password=body.pkcs12_password),
                "authentication": _issued_out(ca, auth, password=body.pkcs12_password)}

    @router.post("/certificates/{serial}/revoke", tags=["revocation"], dependencies=guarded,
                 summary="Revoke a certificate with a reason",
                 responses=error_responses("CERTIFICATE_NOT_FOUND", "CERTIFICATE_ALREADY_REVOKED",
                                           "REVOCATION_REASON_UNKNOWN"))
    async def revoke(serial: str, body: RevokeRequest) -> dict:
        return _certificate_out(await ca.revoke(serial=serial, reason=body.reason))

    @router.get("/certificates/{serial}", tags=["look-up"], summary="A certificate's status by serial (hex); "
                "the whole certificate with the admin token",
                description="Anonymous callers get the status only (what the public CRL and OCSP say anyway): the "
                            "certificate names its holder (IIN, name), which is personal data.",
                responses=error_responses("CERTIFICATE_NOT_FOUND"))
    async def by_serial(serial: str, is_admin: bool = precise_dep) -> dict:
        record = await ca.get(serial)
        out = _certificate_out(record)
        if not is_admin:
            return {key: out[key] for key in ("serial", "usage", "notBefore", "notAfter", "status", "revokedAt",
                                              "revocationReason")}
        out["info"] = describe_certificate(ca_cert(record)).public()
        return out

    @router.get("/certificates", tags=["look-up"], dependencies=guarded,
                summary="Certificates by IIN, BIN or member id (admin: IINs are personal data)",
                responses=error_responses("BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT",
                                          "BIN_LENGTH", "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS", "IIN_BAD_BIRTH_DATE",
                                          "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                          "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "SEARCH_CRITERION_MISSING"))
    async def search(iin: Annotated[str | None, Query()] = None, bin: Annotated[str | None, Query()] = None,
                     member_id: Annotated[str | None, Query(alias="memberId")] = None) -> dict:
        records = await ca.search(iin=iin, bin_=bin, member_id=member_id)
        return {"certificates": [_certificate_out(r) for r in records]}

    @router.get("/admin/certificates/not-yet-valid", tags=["look-up"], dependencies=guarded,
                response_model=NotYetValidOut,
                summary="How many certificates begin after a mesh time (default: now) — what a clock reset leaves",
                responses=error_responses("TIME_WITHOUT_OFFSET"))
    async def not_yet_valid(at: Annotated[dt.datetime | None, Query(
            description="an ISO 8601 instant with its offset; default: the mesh clock's now")] = None,
    ) -> NotYetValidOut:
        if at is not None and at.tzinfo is None:
            raise MeshError("TIME_WITHOUT_OFFSET", f"give the offset of {at.isoformat()} (Z or +05:00)")
        found = await ca.not_yet_valid(at=at)
        return NotYetValidOut(at=found.at, count=found.count, by_holder=found.by_holder,
                              latest_not_before=found.latest_not_before)

    @router.get("/ca/root.crl", tags=["status"], response_class=Response,
                summary="The root's CRL of CA certificates (DER); the issuing CA's certificate names it",
                responses=error_responses("CA_NOT_READY"))
    async def root_crl_der() -> Response:
        return Response(ca.root_crl().public_bytes(serialization.Encoding.DER), media_type="application/pkix-crl")

    @router.get("/ca/root.crl.pem", tags=["status"], response_class=Response, summary="The root's CRL (PEM)",
                responses=error_responses("CA_NOT_READY"))
    async def root_crl_pem() -> Response:
        return Response(ca.root_crl().public_bytes(serialization.Encoding.PEM), media_type=PEM)

    @router.get("/crl", tags=["status"], response_class=Response, summary="Full CRL (DER)",
                responses=error_responses("CA_NOT_READY"))
    async def crl_der() -> Response:
        crl = await ca.crl()
        return Response(crl.public_bytes(serialization.Encoding.DER), media_type="application/pkix-crl")

    @router.get("/crl.pem", tags=["status"], response_class=Response, summary="Full CRL (PEM)",
                responses=error_responses("CA_NOT_READY"))
    async def crl_pem() -> Response:
        crl = await ca.crl()
        return Response(crl.public_bytes(serialization.Encoding.PEM), media_type=PEM)

    async def _ocsp(der: bytes) -> Response:
        answer, error = await ca.ocsp_response(der)
        headers = {"X-Mesh-Error-Code": error} if error else {}
        return Response(answer, status_code=400 if error == "OCSP_MALFORMED_REQUEST" else 200,
                        media_type="application/ocsp-response", headers=headers)

    @router.post("/ocsp", tags=["status"], response_class=Response,
                 summary="OCSP responder (RFC 6960), body application/ocsp-request; nonce echoed",
                 responses=error_responses("OCSP_CONTENT_TYPE", "CA_NOT_READY"))
    async def ocsp_post(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/ocsp-request":
            raise MeshError("OCSP_CONTENT_TYPE", "POST /ocsp needs Content-Type: application/ocsp-request")
        return await _ocsp(await request.body())

    @router.get("/ocsp/{encoded:path}", tags=["status"], response_class=Response,
                summary="OCSP over GET: base64 of the DER request, URL-encoded (RFC 6960 A.1)",
                responses=error_responses("CA_NOT_READY"))
    async def ocsp_get(encoded: str) -> Response:
        try:
            der = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            der = b""
        return await _ocsp(der)

    return router


def ca_cert(record: IssuedCertificate) -> x509.Certificate:
    return x509.load_pem_x509_certificate(record.certificate_pem.encode())
