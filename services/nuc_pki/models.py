"""НУЦ's HTTP shapes: what issuance and revocation take (``…Request``) and what every JSON route answers (``…Out``,
closed: a client generated from ``/openapi.json`` gets every field typed, and an answer with a field the model lacks
is a bug the API fuzz catches); the media types of the certificates, CRLs and OCSP answers served as they are."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Literal, Self

from cryptography import x509
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.nuc_pki.domain import BadKind
from services.nuc_pki.store import IssuedCertificate
from services.nuc_pki.usecases.faulty import FaultyWish
from services.nuc_pki.usecases.lookup import NotYetValid
from services.nuc_pki.usecases.revocation import REVOCATION_REASONS
from shared.pki.cert_profile import describe_certificate
from shared.pki.signing import certificate_pem
from shared.web.models import CamelModel

Role = Literal["head", "signer", "finance", "hr", "employee", "operator"]
HolderKind = Literal["individual", "employee", "system"]


def _instant() -> Any:
    """An instant as `isoformat` writes it (ISO 8601, with its offset)."""
    return Field(json_schema_extra={"format": "date-time"}, description="ISO 8601, with its offset")


# ---- requests -------------------------------------------------------------------------------------------------
class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


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
    role: Role = "employee"


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
    holder: HolderKind = "individual"
    iin: str | None = Field(default=None, pattern=r"^\d{12}$")
    surname: str = "ТЕСТОВ"
    name: str = "ТЕСТ"
    organisation: str | None = None
    bin: str | None = Field(default=None, pattern=r"^\d{12}$")
    role: Role | None = None
    member_id: str | None = Field(default=None, alias="memberId")
    pkcs12_password: str = Field(alias="pkcs12Password", min_length=6, max_length=128)

    def wish(self) -> FaultyWish:
        return FaultyWish(kind=self.kind, holder=self.holder, iin=self.iin, surname=self.surname, name=self.name,
                          organisation=self.organisation, bin=self.bin, role=self.role, member_id=self.member_id)


class RevokeRequest(Body):
    reason: str = Field(description=f"one of {', '.join(sorted(REVOCATION_REASONS))}")


# ---- answers ----------------------------------------------------------------------------------------------------
_PEM = "-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n"
_STATUS_EXAMPLE: dict[str, Any] = {
    "serial": "5f1c0e3a9b2d4c6e8f0a1b2c3d4e5f60718293a4", "usage": "SIGN",
    "notBefore": "2026-03-02T09:14:00.123456+00:00", "notAfter": "2027-03-02T09:15:00.123456+00:00", "status": "GOOD",
    "revokedAt": None, "revocationReason": None}
_CERTIFICATE_EXAMPLE: dict[str, Any] = {
    **_STATUS_EXAMPLE, "holder": "individual", "commonName": "ТЕСТОВ ТЕСТ", "memberId": None, "bin": None,
    "roles": [], "defect": None, "certificatePem": _PEM}


STATUS_FIELDS = ("serial", "usage", "notBefore", "notAfter", "status", "revokedAt", "revocationReason")


def _none(value: Any) -> bool:
    return value is None


def _wire(record: IssuedCertificate) -> dict[str, Any]:
    """A certificate's record as the API has always answered it (instants as ``isoformat`` gives them)."""
    return {"serial": record.serial, "holder": record.holder, "usage": record.usage, "commonName": record.common_name,
            "memberId": record.member_id, "bin": record.bin, "roles": record.roles, "defect": record.defect,
            "notBefore": record.not_before.isoformat(), "notAfter": record.not_after.isoformat(),
            "status": record.status, "revokedAt": record.revoked_at.isoformat() if record.revoked_at else None,
            "revocationReason": record.revocation_reason, "certificatePem": record.certificate_pem}


class CertificateStatusOut(CamelModel):
    """What anyone may know of a certificate: what the public CRL and OCSP say anyway, nothing of its holder."""

    model_config = ConfigDict(json_schema_extra={"examples": [_STATUS_EXAMPLE]})

    serial: str = Field(description="hex, lower case")
    usage: Literal["SIGN", "AUTH"] | None
    not_before: str = _instant()
    not_after: str = _instant()
    status: Literal["GOOD", "REVOKED"]
    revoked_at: str | None = _instant()
    revocation_reason: str | None = Field(description=f"one of {', '.join(sorted(REVOCATION_REASONS))}")

    @classmethod
    def of(cls, record: IssuedCertificate) -> Self:
        public = _wire(record)
        return cls.model_validate({key: public[key] for key in STATUS_FIELDS})


class CertificateOut(CertificateStatusOut):
    """A certificate as НУЦ recorded it (admin: it names its holder — IIN, name — which is personal data)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CERTIFICATE_EXAMPLE]})

    holder: HolderKind
    common_name: str
    member_id: str | None = Field(description="an information system's member id")
    bin: str | None
    roles: list[str]
    defect: BadKind | None = Field(description="set on deliberately faulty test certificates")
    certificate_pem: str

    @classmethod
    def of(cls, record: IssuedCertificate, **more: Any) -> Self:
        return cls.model_validate({**_wire(record), **more})


class CertificateInfoOut(CamelModel):
    """What the certificate itself says, read by the НУЦ profile (shared.pki.cert_profile)."""

    serial: str
    holder: HolderKind
    common_name: str
    usage: Literal["SIGN", "AUTH"] | None
    iin: str | None
    bin: str | None
    organisation: str | None
    roles: list[str]
    not_before: str = _instant()
    not_after: str = _instant()


class CertificateDetailOut(CertificateOut):
    """A certificate, and what it says of its holder (the admin token's answer)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_CERTIFICATE_EXAMPLE, "info": {
        "serial": _STATUS_EXAMPLE["serial"], "holder": "individual", "commonName": "ТЕСТОВ ТЕСТ", "usage": "SIGN",
        "iin": "850701300007", "bin": None, "organisation": None, "roles": [],
        "notBefore": _STATUS_EXAMPLE["notBefore"], "notAfter": _STATUS_EXAMPLE["notAfter"]}}]})

    info: CertificateInfoOut

    @classmethod
    def described(cls, record: IssuedCertificate) -> Self:
        certificate = x509.load_pem_x509_certificate(record.certificate_pem.encode())
        return cls.of(record, info=describe_certificate(certificate).public())


class IssuedOut(CertificateOut):
    """A certificate just issued, the chain to verify it with and, when НУЦ made the key, the PKCS#12 file."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_CERTIFICATE_EXAMPLE, "chainPem": _PEM + _PEM,
                                                              "pkcs12Base64": "MIIKZQIBAzCCCi8GCSqGSIb3DQEHAaCC…"}]})

    chain_pem: str = Field(description="the issuing CA, then the root (PEM)")
    pkcs12_base64: str | None = Field(default=None, exclude_if=_none, description="the key, the certificate and the "
                                      "chain, encrypted with pkcs12Password; absent when the holder sent a CSR")

    @classmethod
    def issued(cls, record: IssuedCertificate, *, chain: list[x509.Certificate], pkcs12: bytes | None) -> Self:
        more: dict[str, Any] = {"chainPem": "".join(certificate_pem(c) for c in chain)}
        if pkcs12 is not None:
            more["pkcs12Base64"] = base64.b64encode(pkcs12).decode()
        return cls.of(record, **more)


class IssuedPairOut(CamelModel):
    """A person's two certificates, issued together: one to sign with, one to log in with."""

    signing: IssuedOut
    authentication: IssuedOut


class FaultyIssuedOut(CamelModel):
    """Deliberately faulty certificates: a person's pair, or a system's signing certificate alone."""

    signing: IssuedOut
    authentication: IssuedOut | None = Field(default=None, exclude_if=_none,
                                             description="absent for an information system")


class CertificateListOut(CamelModel):
    """Oldest first."""

    certificates: list[CertificateOut]


class NotYetValidOut(CamelModel):
    """Certificates (not revoked, not deliberately faulty) whose validity begins after ``at``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"at": "2026-03-02T09:15:00Z", "count": 3, "byHolder": {"individual": 2, "system": 1},
         "latestNotBefore": "2026-03-09T10:00:00Z"}]})

    at: dt.datetime
    count: int
    by_holder: dict[str, int] = Field(description="individual, employee, system")
    latest_not_before: dt.datetime | None

    @classmethod
    def of(cls, found: NotYetValid) -> NotYetValidOut:
        return cls(at=found.at, count=found.count, by_holder=found.by_holder,
                   latest_not_before=found.latest_not_before)


# ---- non-JSON answers -------------------------------------------------------------------------------------------
PEM = "application/x-pem-file"


class PemResponse(Response):
    media_type = PEM


class CertificateDerResponse(Response):
    media_type = "application/pkix-cert"


class CrlDerResponse(Response):
    media_type = "application/pkix-crl"


class OcspDerResponse(Response):
    media_type = "application/ocsp-response"


def served_as(media_type: str, description: str, *, binary: bool, **more: Any) -> dict[int | str, dict[str, Any]]:
    """A non-JSON route's 200 in its OpenAPI: the media type, text (PEM) or bytes (DER)."""
    schema = {"type": "string", "format": "binary"} if binary else {"type": "string"}
    return {200: {"description": description, "content": {media_type: {"schema": schema}}, **more}}
