"""What a result document's verification means: not only that someone's signature holds over this content, but that
the body the document names issued it, through an official entitled to sign that kind of result, at a time the
certificate was valid and not (by then) revoked.

A document is valid only when:

- **content, signature** — the content's RFC 8785 bytes are what was signed, and the CMS signature holds;
- **issuer** — the content names its issuer verifiably (``issuerBin``, ``regulationId``), the regulation file is one
  the mesh has, and the BIN is one the mesh knows as a body issuing that regulation's results: the ИС МИО member
  (kind ``mio``) of one of the regulation's districts — its МИО, employment centre or department — or, for the
  result the State Corporation forms (004 п. 10: ``centre.formsResult``), ИС ЦОН's (kind ``con``); and the content
  is a result that regulation gives (its service, its kind of document). What the mesh knows is the gateway's member
  registry, never the document: a forger writes any BIN they like;
- **signer** — an official's signing certificate (an employee's: IIN and BIN) of that very BIN, holding the role the
  regulation says signs it (``signature.certificateRole``; ``operator`` for the State Corporation's result), and
  ``content.signer`` names that official (IIN and name as the certificate has them);
- **signingTime** — the CMS ``signingTime`` (a signed attribute, the signer's own claim on the mesh clock) exists,
  is not in the future, and the content's ``date`` is no later than its day;
- **certificate** — it chains to НУЦ, is a signing certificate, and was valid at the signing time;
- **revocation** — asked of НУЦ's OCSP whatever "now" is (expired certificates included: НУЦ keeps their records),
  and no revocation voids the signature (``shared.pki.cert_check.voids_signature``: a compromised key voids everything
  it signed; an official who left keeps what they signed before).

Each failure is named by its own code in ``failures``, each check says its state in ``checks``. The judgements are
pure functions (``judge_*``) over what the signature says, the certificate and what the mesh knows;
``services.portal.usecases.document_verification`` asks the two things that take I/O — the gateway's member
registry (cached) and OCSP — and runs the judges in order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from shared.clock import KZ_TZ
from shared.employment.documents import DocumentError, QrReference, SignedResult, decode_qr, document_date
from shared.employment.regulations import Regulation, RegulationBook, document_kind_of
from shared.errors import MeshError
from shared.ids import folded_name
from shared.pki.canonical import canonical_bytes
from shared.pki.cert_check import TRANSIENT, CertCheckResult, CertFailure
from shared.pki.cert_profile import CertificateInfo, Holder, Usage, describe_certificate
from shared.pki.ocsp_client import RevocationState
from shared.pki.signing import SIGNING_TIME_TOLERANCE, SignatureError, VerifiedSignature, verify_detached

CENTRE_ROLE = "operator"  # the State Corporation's operator signs the result it forms (con_operator/desk.py)
ISSUING_KINDS = ("mio", "con")  # the gateway's member kinds that issue result documents


@dataclass(frozen=True)
class IssuingBody:
    """A body that issues result documents, as the gateway registered its system."""

    bin: str
    kind: str  # mio | con
    organisation: str
    district: str | None = None


def issuing_bodies(members: list[dict[str, Any]]) -> dict[str, list[IssuingBody]]:
    """The gateway's members of an issuing kind, by BIN (one body may serve several districts)."""
    out: dict[str, list[IssuingBody]] = {}
    for member in members:
        if member.get("kind") in ISSUING_KINDS and member.get("bin"):
            out.setdefault(str(member["bin"]), []).append(IssuingBody(
                bin=str(member["bin"]), kind=str(member["kind"]), organisation=str(member.get("organisation") or ""),
                district=member.get("district")))
    return out


@dataclass
class Verdict:
    """The answer being written: each check's state and every failure by its code."""

    checks: dict[str, str] = field(default_factory=lambda: dict.fromkeys(
        ("content", "signature", "issuer", "signer", "signingTime", "certificate", "revocation"), "NOT_CHECKED"))
    failures: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, code: str, message: str, **details: Any) -> None:
        self.failures.append({"code": code, "message": message} | details)


@dataclass(frozen=True)
class Entitled:
    """Who may sign the document, as the mesh knows it: the issuer's BIN and the certificate role."""

    bin: str
    role: str


# ---- the pure judgements ---------------------------------------------------------------------------------------
def judge_issuer(content: dict[str, Any], *, bodies: dict[str, list[IssuingBody]], book: RegulationBook,
                 verdict: Verdict) -> Entitled | None:
    """Is the issuer the document names a body the mesh knows as issuing this regulation's results? Returns who may
    sign it, or None (the failure is in ``verdict``)."""
    bin_, regulation_id = content.get("issuerBin"), content.get("regulationId")
    if not isinstance(bin_, str) or not isinstance(regulation_id, str):
        verdict.checks["issuer"] = "NOT_NAMED"
        verdict.fail("ISSUER_NOT_NAMED", "the document does not name its issuer verifiably: it needs issuerBin (the "
                     "issuing body's BIN) and regulationId (the regulation it was issued under)")
        return None
    regulation = book.all.get(regulation_id)
    if regulation is None:
        verdict.checks["issuer"] = "UNKNOWN"
        verdict.fail("REGULATION_UNKNOWN", f"the mesh has no regulation {regulation_id!r}: no body issues results "
                     "under it", regulationId=regulation_id)
        return None
    known = bodies.get(bin_, [])
    if not known:
        verdict.checks["issuer"] = "UNKNOWN"
        verdict.fail("ISSUER_UNKNOWN", f"BIN {bin_} is not one the mesh knows as an issuing body (a district's МИО "
                     "or the State Corporation)", issuerBin=bin_)
        return None
    for body in known:
        if body.kind == "mio" and body.district in regulation.districts:
            entitled = Entitled(bin=bin_, role=regulation.signature.certificate_role)
        elif body.kind == "con" and regulation.centre is not None and regulation.centre.forms_result is not None:
            entitled = Entitled(bin=bin_, role=CENTRE_ROLE)
        else:
            continue
        if not _of_regulation(content, regulation, kind=body.kind):
            verdict.checks["issuer"] = "MISMATCH"
            verdict.fail("REGULATION_MISMATCH", f"the document is not a result {regulation.id} gives (its service "
                         f"«{regulation.title}», its kinds of document)", regulationId=regulation.id)
            return None
        verdict.checks["issuer"] = "OK"
        return entitled
    verdict.checks["issuer"] = "NOT_ENTITLED"
    centre = "" if regulation.centre and regulation.centre.forms_result else "; the State Corporation forms none"
    verdict.fail("ISSUER_NOT_FOR_REGULATION", f"{known[0].organisation} (BIN {bin_}) does not issue the results of "
                 f"{regulation.id}: its districts are {', '.join(regulation.districts)}{centre}",
                 issuerBin=bin_, regulationId=regulation.id)
    return None


def _of_regulation(content: dict[str, Any], regulation: Regulation, *, kind: str) -> bool:
    """Is the content a result this regulation gives — its service, and the document ИС МИО drafts under it (or the
    refusal letter), or the notice the State Corporation forms (``centre.formsResult``)? An entitled signer signs
    what their regulation issues, not any document they care to write."""
    if content.get("service") != regulation.title:
        return False
    if kind == "con":
        return regulation.centre is not None and content.get("title") == regulation.centre.forms_result
    return content.get("documentKind") in (document_kind_of(regulation, approve=True), "refusal")


def judge_signer(content: dict[str, Any], info: CertificateInfo, *, entitled: Entitled | None,
                 verdict: Verdict) -> None:
    """Is the signer an official of the issuer, entitled to sign this result, and the one the content names?"""
    faults: list[tuple[str, str]] = []
    if info.holder is not Holder.EMPLOYEE:
        faults.append(("SIGNER_NOT_AN_OFFICIAL", f"signed with a certificate of a {info.holder.value}, not of an "
                       "official (an employee's certificate with a BIN)"))
    named_bin = content.get("issuerBin")
    if info.holder is Holder.EMPLOYEE and isinstance(named_bin, str) and info.bin != named_bin:
        faults.append(("SIGNER_NOT_OF_ISSUER", f"the signer's certificate is {info.organisation}'s (BIN {info.bin}), "
                       f"not the issuer's (BIN {named_bin})"))
    if entitled is not None and info.holder is Holder.EMPLOYEE and entitled.role not in info.roles:
        faults.append(("SIGNER_ROLE_NOT_ENTITLED", f"this result is signed by a certificate with the {entitled.role!r} "
                       f"role; the signer's has {', '.join(info.roles) or 'none'}"))
    signer = content.get("signer")
    if not isinstance(signer, dict) or not isinstance(signer.get("iin"), str) or not isinstance(signer.get("name"),
                                                                                                  str):
        faults.append(("SIGNER_NOT_NAMED", "the content does not name its signer (signer.iin and signer.name)"))
    else:
        if signer["iin"] != info.iin:
            faults.append(("SIGNER_MISMATCH", "the signer the content names (signer.iin) is not the certificate's "
                           "holder"))
        full = f"{info.common_name} {info.patronymic or ''}"
        if folded_name(signer["name"]) not in (folded_name(info.common_name), folded_name(full)):
            faults.append(("SIGNER_MISMATCH", f"the signer's name in the content is not the certificate's "
                           f"({info.common_name})"))
    for code, message in faults:
        verdict.fail(code, message)
    verdict.checks["signer"] = "FAILED" if faults else "OK"


def judge_signing_time(content: dict[str, Any], signed_at: dt.datetime | None, *, now: dt.datetime,
                       verdict: Verdict) -> None:
    """The CMS signingTime is there, not in the future, and not before the day the content bears."""
    if signed_at is None:
        verdict.checks["signingTime"] = "MISSING"
        verdict.fail("SIGNING_TIME_MISSING", "the signature carries no signingTime (a signed attribute): when it was "
                     "made, and so whether the certificate was valid then, cannot be told")
        return
    faults: list[tuple[str, str]] = []
    if signed_at > now + SIGNING_TIME_TOLERANCE:
        faults.append(("SIGNING_TIME_IN_FUTURE", f"the signature claims to be made at {signed_at.isoformat()}, "
                       f"later than now ({now.isoformat()}) on the mesh clock"))
    day = document_date(content)
    if day is None:
        faults.append(("DOCUMENT_DATE_MISSING", "the content has no date (YYYY-MM-DD)"))
    elif day > signed_at.astimezone(KZ_TZ).date():
        faults.append(("DOCUMENT_DATED_AFTER_SIGNING", f"the content is dated {day.isoformat()}, after it was signed "
                       f"({signed_at.astimezone(KZ_TZ).isoformat()})"))
    for code, message in faults:
        verdict.fail(code, message)
    verdict.checks["signingTime"] = "FAILED" if faults else "OK"


def judge_certificate(cert: x509.Certificate, chain: list[x509.Certificate] | None, *,
                      signed_at: dt.datetime | None, verdict: Verdict) -> bool:
    """Chains to НУЦ, a signing certificate, valid (with its issuing CA) at the signing time; False when the chain
    is not НУЦ's (nothing more can be asked of it)."""
    if chain is None:
        verdict.checks["certificate"] = "UNTRUSTED"
        verdict.fail("CERTIFICATE_UNTRUSTED", "the signer's certificate does not chain to a trusted НУЦ root")
        return False
    info = describe_certificate(cert)
    faults: list[tuple[str, str]] = []
    if info.usage is not Usage.SIGN:
        faults.append(("CERTIFICATE_WRONG_KEY_USAGE", f"a signing certificate is required, got "
                       f"{info.usage.value if info.usage else 'no recognised key usage'}"))
    if signed_at is not None:
        for link in chain:
            what = "certificate" if link is cert else "issuing CA"
            if link.not_valid_after_utc < signed_at:
                faults.append(("CERTIFICATE_EXPIRED_AT_SIGNING", f"the {what} expired on "
                               f"{link.not_valid_after_utc.isoformat()}, before the document was signed "
                               f"({signed_at.isoformat()})"))
            elif link.not_valid_before_utc > signed_at:
                faults.append(("CERTIFICATE_NOT_YET_VALID_AT_SIGNING", f"the {what} is valid only from "
                               f"{link.not_valid_before_utc.isoformat()}, after the document was signed "
                               f"({signed_at.isoformat()})"))
    for code, message in faults:
        verdict.fail(code, message)
    verdict.checks["certificate"] = "FAILED" if faults else "OK"
    return True


def judge_revocation(result: CertCheckResult, *, verdict: Verdict, out: dict[str, Any]) -> None:
    """What НУЦ said of the certificate, judged at the signing time (``CertificateVerifier.check(at=…)``)."""
    status = result.revocation
    if status is not None and status.state is RevocationState.REVOKED:
        out["revocation"] = {"revokedAt": status.revoked_at.isoformat() if status.revoked_at else None,
                             "reason": status.reason}
    if result.ok:
        revoked = status is not None and status.state is RevocationState.REVOKED
        verdict.checks["revocation"] = "REVOKED_AFTER_SIGNING" if revoked else "GOOD"
    elif result.failure is CertFailure.REVOKED:
        verdict.checks["revocation"] = "REVOKED"
        verdict.fail("CERTIFICATE_REVOKED", f"{result.message}: the revocation voids this signature", **out.get(
            "revocation", {}))
    elif result.failure is CertFailure.STATUS_UNKNOWN:
        verdict.checks["revocation"] = "UNKNOWN"
        verdict.fail("CERTIFICATE_STATUS_UNKNOWN", result.message)
    elif result.failure in TRANSIENT:
        verdict.checks["revocation"] = "UNAVAILABLE"
        verdict.fail("REVOCATION_UNAVAILABLE", f"OCSP could not be asked now: {result.message}", transient=True)
    else:  # validity at the signing time failed, and is named by the certificate check
        verdict.checks["revocation"] = "NOT_CHECKED"


def judge_signature(given: SignedResult, *, qr: str | None, verdict: Verdict,
                    out: dict[str, Any]) -> VerifiedSignature | None:
    """The content as it was signed (its RFC 8785 bytes), a PDF's QR code carrying this very document, and the CMS
    signature over it; the signature verified, or None when nothing more can be asked of it (the failure is in
    ``verdict``)."""
    try:
        canonical = canonical_bytes(given.content)
    except MeshError as exc:
        verdict.fail(exc.code, exc.message)
        return None
    out["contentSha256"] = given.sha256()
    if qr is not None:
        judge_qr(given, qr, verdict=verdict)
    try:
        verified = verify_detached(content=canonical, signature_b64=given.signature)
    except SignatureError as exc:
        if exc.code == "SIGNATURE_CONTENT_MISMATCH":
            verdict.checks["content"] = "ALTERED"
            verdict.fail("CONTENT_ALTERED", "the content is not what was signed: it was changed after signing")
        else:
            verdict.checks["signature"] = "INVALID"
            verdict.fail(exc.code, exc.message)
        return None
    verdict.checks["content"] = verdict.checks["signature"] = "OK"
    return verified


def judge_qr(given: SignedResult, qr: str, *, verdict: Verdict) -> None:
    """A PDF's QR payload must carry the document embedded in the PDF (or a reference to its very content)."""
    try:
        decoded: SignedResult | QrReference | None = decode_qr(qr)
    except DocumentError:
        decoded = None
    same = (decoded.json_bytes() == given.json_bytes() if isinstance(decoded, SignedResult)
            else isinstance(decoded, QrReference) and decoded.sha256 == given.sha256())
    verdict.checks["qr"] = "OK" if same else "MISMATCH"
    if not same:
        verdict.fail("QR_MISMATCH", "the PDF's QR code does not carry the document embedded in the PDF")


def judge_signed_at(content: dict[str, Any], verified: VerifiedSignature, *, now: dt.datetime, verdict: Verdict,
                    out: dict[str, Any]) -> dt.datetime | None:
    """The CMS signingTime read and judged (``judge_signing_time``); a malformed one is named, not a crash. The
    signing time, or None when there is none to place the certificate's checks at."""
    try:
        signed_at = verified.signing_time
    except SignatureError as exc:  # a signingTime attribute that is not a UTC time
        verdict.checks["signingTime"] = "MALFORMED"
        verdict.fail(exc.code, exc.message)
        return None
    if signed_at is not None:
        out["signedAt"] = signed_at.isoformat()
    judge_signing_time(content, signed_at, now=now, verdict=verdict)
    return signed_at


def signer_out(info: CertificateInfo) -> dict[str, Any]:
    """Who signed, as the answer shows it."""
    return {"commonName": info.common_name, "organisation": info.organisation, "bin": info.bin,
            "roles": list(info.roles), "serial": info.serial, "notBefore": info.not_before.isoformat(),
            "notAfter": info.not_after.isoformat()}
