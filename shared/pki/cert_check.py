"""Is this certificate good for this purpose, now (mesh time)? A structured answer naming the first failure.

Order of checks, as Kazakh validators do them: the signature over the data (``verify_signed``), the chain to
a trusted НУЦ root, validity dates on the mesh clock, key usage (SIGN vs AUTH), the identity the caller
expects (IIN, BIN, member id), and finally revocation through OCSP.

A signature judged at the time it was made (``check(..., at=signing time)``, a result document) has its validity
dates judged at that time, and its revocation asked whatever "now" is: НУЦ keeps the revocation records of expired
certificates (its CRL says so, ExpiredCertsOnCRL) and its OCSP answers from them, so a certificate revoked and
then expired is still known as revoked. Which revocations void such a signature is ``voids_signature``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from shared.clock import MeshClock
from shared.pki.canonical import canonical_bytes
from shared.pki.cert_profile import CertificateInfo, Holder, Usage, describe_certificate
from shared.pki.ocsp_client import OcspClient, ResponderUnreachable, RevocationState, RevocationStatus
from shared.pki.signing import CERTIFICATES_KEPT, SignatureError, VerifiedSignature, verify_detached


class CertFailure(StrEnum):
    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNTRUSTED_CHAIN = "UNTRUSTED_CHAIN"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRED = "EXPIRED"
    WRONG_KEY_USAGE = "WRONG_KEY_USAGE"
    IIN_MISMATCH = "IIN_MISMATCH"
    BIN_MISMATCH = "BIN_MISMATCH"
    HOLDER_MISMATCH = "HOLDER_MISMATCH"
    ROLE_MISSING = "ROLE_MISSING"
    REVOKED = "REVOKED"
    STATUS_UNKNOWN = "STATUS_UNKNOWN"
    CLOCK_SKEW = "CLOCK_SKEW"
    RESPONDER_UNREACHABLE = "RESPONDER_UNREACHABLE"


@dataclass(frozen=True)
class Expectation:
    """What the relying party needs from the certificate; None means "not asked"."""

    usage: Usage | None = None
    iin: str | None = None
    bin: str | None = None
    common_name: str | None = None
    holder: Holder | None = None
    role: str | None = None


@dataclass(frozen=True)
class CertCheckResult:
    ok: bool
    checked_at: dt.datetime
    failure: CertFailure | None = None
    message: str = ""
    certificate: CertificateInfo | None = None
    revocation: RevocationStatus | None = None
    signature_code: str | None = None  # the precise signature fault when failure is BAD_SIGNATURE

    @property
    def ocsp_der(self) -> bytes | None:
        """НУЦ's signed OCSP answer this check relied on: stapled to what is sent on
        (``ApplicationRequest.stapled``)."""
        return self.revocation.der if self.revocation is not None else None

    def summary(self) -> dict[str, Any]:
        """Machine-readable result, safe to store in a log (no personal data)."""
        out: dict[str, Any] = {"ok": self.ok, "checkedAt": self.checked_at.isoformat()}
        if self.failure:
            out["failure"] = self.failure.value
            out["message"] = self.message
        if self.signature_code:
            out["signatureCode"] = self.signature_code
        if self.certificate:
            out["serial"] = self.certificate.serial
        if self.revocation:
            out["revocation"] = self.revocation.state.value
        return out


class TrustStore:
    """НУЦ root(s) the mesh trusts, and the issuing CAs that may sit between them and a leaf."""

    def __init__(self, *, roots: Iterable[x509.Certificate], intermediates: Iterable[x509.Certificate] = ()) -> None:
        self.roots = tuple(roots)
        self.intermediates = tuple(intermediates)

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate]) -> TrustStore:
        certs = list(certificates)
        roots = [c for c in certs if c.subject == c.issuer]
        return cls(roots=roots, intermediates=[c for c in certs if c.subject != c.issuer])

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        for candidate in (*self.intermediates, *self.roots):
            if candidate.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


# Revocation reasons that void every signature the key made, whatever time the signature claims: the key may have
# been in other hands (or the reason is not said, or the certificate is on hold while that is looked into). The
# signing time is the signer's own claim — no trusted timestamp — so a signature "made before" such a revocation
# proves nothing. Any other reason (affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn) says the
# holder may no longer sign from that moment: what they signed before stays valid (an official who left keeps the
# documents they signed valid).
VOIDING_REASONS = frozenset({"unspecified", "keyCompromise", "cACompromise", "aACompromise", "certificateHold"})


def voids_signature(status: RevocationStatus, *, signed_at: dt.datetime) -> bool:
    """Does this (REVOKED) status void a signature made at ``signed_at``?"""
    if status.reason is None or status.reason in VOIDING_REASONS or status.revoked_at is None:
        return True
    return status.revoked_at <= signed_at


class CertificateVerifier:
    """``skew_wait_s``: how long a check waits for clocks to agree before answering ``CLOCK_SKEW`` — an OCSP
    answer from a clock that has not heard the latest jump yet (or judged by one) heals within milliseconds of
    the broadcast, so a login, a signature or a synchronous answer need not fail for it. The gateway sets 0: its
    ingress must not stall, and it retries such messages through its back-off queues."""

    def __init__(self, *, trust: TrustStore, ocsp: OcspClient, clock: MeshClock, skew_wait_s: float = 3.0) -> None:
        self.trust = trust
        self._ocsp = ocsp
        self._clock = clock
        self._skew_wait_s = skew_wait_s
        # Signatures over a chain do not change: verify each certificate's chain once (the most recent ones kept).
        self._chains: OrderedDict[x509.Certificate, list[x509.Certificate] | None] = OrderedDict()

    def _fail(self, failure: CertFailure, message: str, *, info: CertificateInfo | None = None,
              revocation: RevocationStatus | None = None, signature_code: str | None = None) -> CertCheckResult:
        return CertCheckResult(ok=False, checked_at=self._clock.now(), failure=failure, message=message,
                               certificate=info, revocation=revocation, signature_code=signature_code)

    def chain_of(self, cert: x509.Certificate) -> list[x509.Certificate] | None:
        """[leaf, issuing CA, …, root] when the certificate chains to a trusted root, else None."""
        if cert in self._chains:
            self._chains.move_to_end(cert)
            return self._chains[cert]
        chain = self._chains[cert] = self._build_chain(cert)
        if len(self._chains) > CERTIFICATES_KEPT:
            self._chains.popitem(last=False)
        return chain

    def _build_chain(self, cert: x509.Certificate) -> list[x509.Certificate] | None:
        chain = [cert]
        current = cert
        for _ in range(5):
            issuer = self.trust.issuer_of(current)
            if issuer is None or not _is_ca(issuer):
                return None
            chain.append(issuer)
            if issuer in self.trust.roots:
                return chain
            current = issuer
        return None

    async def check(self, *, certificate: x509.Certificate, expect: Expectation,
                    revocation: bool = True, at: dt.datetime | None = None,
                    stapled: bytes | None = None) -> CertCheckResult:
        """``revocation=False`` skips OCSP: only for the clock's own broadcasts, since the clock is what judges
        whether an OCSP answer is fresh and a jump of the clock must not wait on OCSP.

        ``at``: judge a signature made then (its CMS signingTime) — validity at ``at``, revocation asked whatever
        now is, and a revocation fails the check only when it voids that signature (``voids_signature``); a result
        that passes may then carry a REVOKED status (revoked later, for a reason that leaves it valid).

        ``stapled``: НУЦ's signed OCSP answer about this certificate that came with the signature
        (``OcspClient._from_staple``); the result's ``ocsp_der`` is what to pass on."""
        info = describe_certificate(certificate)
        now = self._clock.now()
        when = at or now
        chain = self.chain_of(certificate)
        if chain is None:
            return self._fail(CertFailure.UNTRUSTED_CHAIN, "certificate does not chain to a trusted НУЦ root",
                              info=info)
        for link in chain:
            what = "certificate" if link is certificate else "issuing CA"
            if when < link.not_valid_before_utc:
                return self._fail(CertFailure.NOT_YET_VALID, f"{what} is valid only from "
                                  f"{link.not_valid_before_utc.isoformat()}{' (signed before)' if at else ''}",
                                  info=info)
            if when > link.not_valid_after_utc:
                return self._fail(CertFailure.EXPIRED, f"{what} expired on {link.not_valid_after_utc.isoformat()}"
                                  f"{' (signed after)' if at else ''}", info=info)
        mismatch = self._mismatch(info=info, expect=expect)
        if mismatch is not None:
            return mismatch
        if not revocation:
            return CertCheckResult(ok=True, checked_at=now, certificate=info)
        try:
            status = await self._revocation(certificate=certificate, issuer=chain[1], stapled=stapled)
        except ResponderUnreachable as exc:
            return self._fail(CertFailure.RESPONDER_UNREACHABLE, str(exc), info=info)
        if status.state is RevocationState.REVOKED and (at is None or voids_signature(status, signed_at=at)):
            return self._fail(CertFailure.REVOKED, f"certificate revoked on {status.revoked_at} "
                              f"({status.reason})", info=info, revocation=status)
        if status.state is RevocationState.UNKNOWN:
            failure = CertFailure.CLOCK_SKEW if status.skewed else CertFailure.STATUS_UNKNOWN
            return self._fail(failure, f"OCSP status unknown: {status.detail}", info=info, revocation=status)
        return CertCheckResult(ok=True, checked_at=now, certificate=info, revocation=status)

    async def _revocation(self, *, certificate: x509.Certificate, issuer: x509.Certificate,
                          stapled: bytes | None = None) -> RevocationStatus:
        """OCSP status, asked again (50 ms, 100 ms, … within ``skew_wait_s``) while clocks disagree."""
        give_up, pause = time.monotonic() + self._skew_wait_s, 0.05
        while True:
            status = await self._ocsp.status(certificate=certificate, issuer=issuer, stapled=stapled)
            if not status.skewed or time.monotonic() + pause > give_up:
                return status
            await asyncio.sleep(pause)
            pause *= 2

    def _mismatch(self, *, info: CertificateInfo, expect: Expectation) -> CertCheckResult | None:
        if expect.usage is not None and info.usage is not expect.usage:
            got = info.usage.value if info.usage else "no recognised key usage"
            return self._fail(CertFailure.WRONG_KEY_USAGE, f"a {expect.usage.value} certificate is required, got {got}",
                              info=info)
        if expect.holder is not None and info.holder is not expect.holder:
            return self._fail(CertFailure.HOLDER_MISMATCH,
                              f"a certificate of a {expect.holder.value} is required, got {info.holder.value}",
                              info=info)
        if expect.common_name is not None and info.common_name != expect.common_name:
            return self._fail(CertFailure.HOLDER_MISMATCH,
                              f"certificate is issued to {info.common_name!r}, not {expect.common_name!r}", info=info)
        if expect.iin is not None and info.iin != expect.iin:
            return self._fail(CertFailure.IIN_MISMATCH, "the IIN in the certificate is not the expected one", info=info)
        if expect.bin is not None and info.bin != expect.bin:
            return self._fail(CertFailure.BIN_MISMATCH, "the BIN in the certificate is not the expected one", info=info)
        if expect.role is not None and expect.role not in info.roles:
            return self._fail(CertFailure.ROLE_MISSING, f"certificate lacks the {expect.role!r} role", info=info)
        return None

    async def verify_signed(self, *, content: bytes, signature_b64: str, expect: Expectation,
                            revocation: bool = True, at_signing_time: bool = False,
                            stapled: bytes | None = None) -> tuple[CertCheckResult, VerifiedSignature | None]:
        """Check the signature's mathematics, then its signer's certificate — now, or (``at_signing_time``) when it
        says it signed: a clock broadcast is judged at the time it sets, not at the clock it corrects (a service
        whose clock was forced past the gateway's certificate refused every broadcast bringing it back, for good)."""
        try:
            verified = verify_detached(content=content, signature_b64=signature_b64)
        except SignatureError as exc:
            return self._fail(CertFailure.BAD_SIGNATURE, exc.message, signature_code=exc.code), None
        at = verified.signing_time if at_signing_time else None
        return await self.check(certificate=verified.signer, expect=expect, revocation=revocation, at=at,
                                stapled=stapled), verified

    async def verify_signed_json(self, *, value: Any, signature_b64: str, expect: Expectation,
                                 stapled: bytes | None = None) -> tuple[CertCheckResult, VerifiedSignature | None]:
        return await self.verify_signed(content=canonical_bytes(value), signature_b64=signature_b64, expect=expect,
                                        stapled=stapled)


_SIGNATURE_CODES = {
    "SIGNATURE_CONTENT_MISMATCH": "Client.SignatureContentMismatch",
    "SIGNATURE_MISSING": "Client.SignatureMissing",  # a SOAP call's WS-Security (shared.pki.xmldsig)
    "SIGNATURE_BODY_NOT_REFERENCED": "Client.SignatureBodyNotReferenced",
    "SIGNATURE_MALFORMED": "Client.SignatureMalformed",
    "SIGNATURE_NOT_DETACHED": "Client.SignatureMalformed",
    "SIGNATURE_NO_SIGNER_CERTIFICATE": "Client.SignatureMalformed",
    "SIGNATURE_ALGORITHM_UNSUPPORTED": "Client.SignatureAlgorithmUnsupported",
}
_FAILURE_CODES = {
    CertFailure.BAD_SIGNATURE: "Client.InvalidSignature",
    CertFailure.UNTRUSTED_CHAIN: "Client.UntrustedCertificate",
    CertFailure.NOT_YET_VALID: "Client.CertificateNotYetValid",
    CertFailure.EXPIRED: "Client.CertificateExpired",
    CertFailure.WRONG_KEY_USAGE: "Client.WrongKeyUsage",
    CertFailure.IIN_MISMATCH: "Client.IinMismatch",
    CertFailure.BIN_MISMATCH: "Client.BinMismatch",
    CertFailure.HOLDER_MISMATCH: "Client.CertificateNotForSender",
    CertFailure.ROLE_MISSING: "Client.RoleMissing",
    CertFailure.REVOKED: "Client.CertificateRevoked",
    CertFailure.STATUS_UNKNOWN: "Client.CertificateStatusUnknown",
    CertFailure.CLOCK_SKEW: "Server.ClockSkew",
    CertFailure.RESPONDER_UNREACHABLE: "Server.OcspResponderUnreachable",
}


def signature_refusal_code(signature_code: str) -> str:
    """The refusal code for a fault in the signature itself (``SIGNATURE_CONTENT_MISMATCH`` → …)."""
    return _SIGNATURE_CODES.get(signature_code, "Client.InvalidSignature")


def refusal_code(result: CertCheckResult) -> str:
    """The X-Road-style code a system-signature failure is reported with (``Client.CertificateRevoked``…)."""
    if result.failure is CertFailure.BAD_SIGNATURE and result.signature_code in _SIGNATURE_CODES:
        return _SIGNATURE_CODES[result.signature_code]
    return _FAILURE_CODES[result.failure] if result.failure else "Client.InvalidSignature"


# Failures that heal by themselves and deserve a retry: НУЦ's responder comes back; a clock that has not yet
# heard of a mesh clock change catches up. Every other failure is final: the certificate will not change.
TRANSIENT = frozenset({CertFailure.RESPONDER_UNREACHABLE, CertFailure.CLOCK_SKEW})


# The same, as the refusal codes the gateway and members send: the one list of codes that mean "not now".
TRANSIENT_REFUSALS = frozenset(_FAILURE_CODES[f] for f in TRANSIENT)


def is_transient(result: CertCheckResult) -> bool:
    return result.failure in TRANSIENT


def is_transient_refusal(code: str) -> bool:
    """A refusal that heals by itself (retried with back-off, answered as 503); any other code is permanent."""
    return code in TRANSIENT_REFUSALS
