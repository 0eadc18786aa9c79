"""Verifying a result document anyone holds (``POST /documents/verify``): is it what was signed, by an official of
the issuer it names entitled to sign it, when their certificate was valid and not revoked? The judgements are the
pure ``judge_*`` of ``services.portal.verification``; this use case asks what takes I/O — the gateway's member
registry (cached) and НУЦ's OCSP — and runs them in order. Every failure is named; nothing stored is looked at: only
what was given, and what the mesh knows (its member registry, the regulations, НУЦ)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from services.portal.verification import (
    Entitled,
    IssuingBody,
    Verdict,
    issuing_bodies,
    judge_certificate,
    judge_issuer,
    judge_revocation,
    judge_signature,
    judge_signed_at,
    judge_signer,
    signer_out,
)
from shared.clock import MeshClock
from shared.employment.documents import QrReference, SignedResult
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError
from shared.logging import get_logger
from shared.pki.cert_check import CertificateVerifier, Expectation
from shared.pki.cert_profile import describe_certificate
from shared.pki.signing import VerifiedSignature

log = get_logger(__name__)

REGISTRY_MAX_AGE_S = 60.0  # how long the gateway's member list is reused (real seconds)
REGISTRY_RETRY_S = 5.0  # an unknown BIN asks the gateway again at most this often (strangers send any BIN)
SHOWN = ("documentNumber", "date", "title", "result", "issuer", "issuerBin", "regulationId")


def refuse_reference(given: SignedResult | QrReference) -> SignedResult:
    """A QR code that holds only a link and a digest cannot be verified: the document itself is needed."""
    if isinstance(given, QrReference):
        raise MeshError("QR_HOLDS_REFERENCE_ONLY", "this QR code holds a verification link and the SHA-256 of the "
                        "document's content, not the signed data: give the document (its JSON or the PDF) and "
                        "compare its contentSha256", details={"sha256": given.sha256})
    return given


class DocumentVerification:
    """Verifies what it is given, nothing stored: the mesh's knowledge it needs is the gateway's member registry
    (``members``: the public ``GET /members``, reused for ``REGISTRY_MAX_AGE_S`` and asked again for a BIN it does
    not know), the regulation files and НУЦ (chain, OCSP, through ``verifier``)."""

    def __init__(self, *, verifier: Callable[[], CertificateVerifier], members: Callable[[], Awaitable[list[dict]]],
                 book: RegulationBook, clock: MeshClock) -> None:
        self._verifier = verifier
        self._members = members
        self._book = book
        self._clock = clock
        self._bodies: dict[str, list[IssuingBody]] | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, given: SignedResult | QrReference, *, source: str, qr: str | None = None) -> dict[str, Any]:
        document = refuse_reference(given)
        verdict = Verdict()
        out: dict[str, Any] = {"source": source, "checks": verdict.checks, "failures": verdict.failures,
                               "document": {k: document.content[k] for k in SHOWN if k in document.content}}
        verified = judge_signature(document, qr=qr, verdict=verdict, out=out)
        if verified is not None:
            await self._judge_signed(document.content, verified, verdict=verdict, out=out)
        out["valid"] = not verdict.failures
        out["checkedAt"] = self._clock.now().isoformat()
        log.info("document_verified", source=source, valid=out["valid"], failures=[f["code"] for f in out["failures"]])
        return out

    async def _judge_signed(self, content: dict[str, Any], verified: VerifiedSignature, *, verdict: Verdict,
                            out: dict[str, Any]) -> None:
        """A signature that holds: when it was made, by whom, for which issuer, with which certificate."""
        cert = verified.signer
        info = describe_certificate(cert)
        out["signer"] = signer_out(info)
        now = self._clock.now()
        signed_at = judge_signed_at(content, verified, now=now, verdict=verdict, out=out)
        entitled = await self._judge_issuer(content, verdict=verdict)
        judge_signer(content, info, entitled=entitled, verdict=verdict)
        verifier = self._verifier()
        if judge_certificate(cert, verifier.chain_of(cert), signed_at=signed_at, verdict=verdict):
            # without a signing time every revocation up to now voids it: there is no earlier moment to place it at
            result = await verifier.check(certificate=cert, expect=Expectation(), at=signed_at or now)
            judge_revocation(result, verdict=verdict, out=out)

    async def _judge_issuer(self, content: dict[str, Any], *, verdict: Verdict) -> Entitled | None:
        """``judge_issuer`` over the gateway's registry; a registry that cannot be read now is named, transient."""
        try:
            bodies = await self._issuing_bodies(content.get("issuerBin"))
        except (httpx.HTTPError, MeshError, KeyError, ValueError) as exc:
            verdict.checks["issuer"] = "UNAVAILABLE"
            verdict.fail("ISSUER_UNVERIFIABLE", f"the gateway's member registry could not be read now: "
                         f"{type(exc).__name__}", transient=True)
            return None
        return judge_issuer(content, bodies=bodies, book=self._book, verdict=verdict)

    async def _issuing_bodies(self, bin_: Any) -> dict[str, list[IssuingBody]]:
        """The registry as last read; read again when older than ``REGISTRY_MAX_AGE_S``, or for a BIN it lacks (a
        district that joined since) when older than ``REGISTRY_RETRY_S``. While the gateway cannot answer, the last
        list read serves; without one, the error goes to the caller."""
        async with self._lock:
            age = time.monotonic() - self._fetched
            unknown = self._bodies is not None and isinstance(bin_, str) and bin_ not in self._bodies
            if self._bodies is None or age > REGISTRY_MAX_AGE_S or (unknown and age > REGISTRY_RETRY_S):
                try:
                    self._bodies = issuing_bodies(await self._members())
                except (httpx.HTTPError, MeshError, KeyError, ValueError):
                    if self._bodies is None:
                        raise
                finally:
                    self._fetched = time.monotonic()
            return self._bodies


