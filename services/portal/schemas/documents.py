"""What a result document's verification answers: each check's state, every failure by its code, who signed and
when (services/portal/verification.py says what each means). Fields the verification did not reach are left out."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, JsonValue

from shared.web.models import CamelModel

CheckState = Literal["NOT_CHECKED", "OK", "ALTERED", "INVALID", "NOT_NAMED", "UNKNOWN", "MISMATCH", "NOT_ENTITLED",
                     "UNAVAILABLE", "FAILED", "MISSING", "MALFORMED", "UNTRUSTED", "GOOD", "REVOKED_AFTER_SIGNING",
                     "REVOKED"]


class ChecksOut(CamelModel):
    content: CheckState
    signature: CheckState
    issuer: CheckState
    signer: CheckState
    signing_time: CheckState
    certificate: CheckState
    revocation: CheckState
    qr: Literal["OK", "MISMATCH"] | None = Field(default=None, description="a PDF's: its QR code carries the "
                                                                            "same document")


class FailureOut(CamelModel):
    code: str = Field(description="CONTENT_ALTERED, ISSUER_UNKNOWN, CERTIFICATE_REVOKED, … (docs/errors.md)")
    message: str
    regulation_id: str | None = None
    issuer_bin: str | None = None
    transient: bool | None = Field(default=None, description="true: asking again later may give another answer")
    revoked_at: str | None = None
    reason: str | None = None


class DocumentShown(CamelModel):
    """The content's identifying fields, as the document gives them (any JSON: they are what was given)."""

    document_number: JsonValue = None
    date: JsonValue = None
    title: JsonValue = None
    result: JsonValue = None
    issuer: JsonValue = None
    issuer_bin: JsonValue = None
    regulation_id: JsonValue = None


class SignerOut(CamelModel):
    common_name: str
    organisation: str | None
    bin: str | None
    roles: list[str]
    serial: str
    not_before: str
    not_after: str


class RevocationOut(CamelModel):
    revoked_at: str | None
    reason: str | None


class VerificationOut(CamelModel):
    """``valid`` only when no check failed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "source": "pdf", "valid": True, "checkedAt": "2026-03-04T08:00:00+00:00",
        "checks": {"content": "OK", "signature": "OK", "issuer": "OK", "signer": "OK", "signingTime": "OK",
                   "certificate": "OK", "revocation": "GOOD", "qr": "OK"},
        "failures": [], "document": {"documentNumber": "KZ-2026-000042", "date": "2026-03-03",
                                     "issuerBin": "040540010011", "regulationId": "003-almaty"},
        "contentSha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "signer": {"commonName": "Серикова Айгерим", "organisation": "ГУ «Отдел занятости»", "bin": "040540010011",
                   "roles": ["department-head"], "serial": "5f3a", "notBefore": "2026-01-01T00:00:00+00:00",
                   "notAfter": "2027-01-01T00:00:00+00:00"},
        "signedAt": "2026-03-03T10:00:00+00:00"}]})

    source: Literal["json", "pdf", "qr"]
    checks: ChecksOut
    failures: list[FailureOut]
    document: DocumentShown
    content_sha256: str | None = None
    signer: SignerOut | None = None
    signed_at: str | None = None
    revocation: RevocationOut | None = None
    valid: bool
    checked_at: str
