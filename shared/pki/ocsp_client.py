"""Certificate status over OCSP (RFC 6960), the way relying parties ask НУЦ: POST, SHA-256 CertID, 8-byte nonce.

The responder URL comes from configuration, never from the certificate being checked (a certificate must
not be able to send the verifier somewhere). Answers are cached per certificate until whichever comes
first: the response's nextUpdate or ``max_age_s`` of mesh time, so advancing the mesh clock ages them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from shared.clock import MeshClock
from shared.telemetry import metrics

_CLOCK_SKEW = dt.timedelta(minutes=5)
ANSWERS_KEPT = 4096


class RevocationState(StrEnum):
    GOOD = "GOOD"
    REVOKED = "REVOKED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class RevocationStatus:
    state: RevocationState
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    detail: str = ""
    source: str = "OCSP"
    skewed: bool = False  # the answer's times disagree with our clock: a clock catching up, not an unknown certificate
    der: bytes | None = None  # НУЦ's signed answer as it came: what a checker passes on (stapled) with the signature


class ResponderUnreachable(Exception):
    """The OCSP responder could not be asked (network, HTTP error)."""


class _Unusable(Exception):
    """The responder answered, but the answer cannot be trusted (signature, nonce, wrong certificate)."""


@dataclass
class _Cached:
    status: RevocationStatus
    fetched_at: dt.datetime


def _verify_response_signature(*, response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    """The response must be signed by the issuing CA itself or by a responder it delegated (id-kp-OCSPSigning)."""
    signer = issuer
    for cert in response.certificates:
        if cert.subject == issuer.subject and cert.public_key() == issuer.public_key():
            break
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            cert.verify_directly_issued_by(issuer)
        except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature):
            raise _Unusable("OCSP responder certificate was not delegated by the issuing CA") from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise _Unusable("OCSP responder certificate lacks id-kp-OCSPSigning")
        signer = cert
    key = signer.public_key()
    hash_alg = response.signature_hash_algorithm
    if hash_alg is None:
        raise _Unusable("OCSP response has no signature hash algorithm")
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hash_alg))
        else:
            raise _Unusable(f"unsupported OCSP signer key {type(key).__name__}")
    except InvalidSignature:
        raise _Unusable("OCSP response signature is invalid") from None


def _nonce(response: ocsp.OCSPResponse) -> bytes | None:
    try:
        return response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


class OcspClient:
    def __init__(self, *, url: str, http: httpx.AsyncClient, clock: MeshClock, max_age_s: float = 60.0,
                 timeout_s: float = 5.0, flow_headers: Callable[[], Mapping[str, str]] | None = None) -> None:
        """``flow_headers``: what to tell НУЦ of the flow a certificate is checked in (a test's scenario, which may
        make НУЦ answer otherwise for that flow alone): a question asked with any is neither answered from the cache
        nor kept in it, so no flow's answer is another's."""
        self._url = url
        self._flow_headers = flow_headers
        self._http = http
        self._clock = clock
        self._max_age = dt.timedelta(seconds=max_age_s)
        self._timeout = timeout_s
        self._cache: dict[tuple[int, x509.Certificate], _Cached] = {}

    def forget(self) -> None:
        self._cache.clear()

    async def status(self, *, certificate: x509.Certificate, issuer: x509.Certificate,
                     stapled: bytes | None = None) -> RevocationStatus:
        """The certificate's status: a fresh answer from the cache, a fresh ``stapled`` one (НУЦ's own signed
        answer another member got for this certificate and passed on with the signature: ``_from_staple``), or
        НУЦ asked now."""
        key = (certificate.serial_number, issuer)
        now = self._clock.now()
        flow = dict(self._flow_headers()) if self._flow_headers is not None else {}
        cached = None if flow else self._cache.get(key)
        if cached and self._fresh(cached=cached, now=now):
            metrics().ocsp_cache.labels(metrics().service, "hit").inc()
            return cached.status
        if stapled is not None and not flow:
            try:
                taken = self._from_staple(stapled, certificate=certificate, issuer=issuer, now=now)
            except Exception:  # noqa: S110 - the sender wrote it: whatever is wrong with it, НУЦ is asked, as without one
                pass
            else:
                metrics().ocsp_cache.labels(metrics().service, "stapled").inc()
                self._keep(key, taken, fetched_at=taken.this_update or now, now=now)
                return taken
        metrics().ocsp_cache.labels(metrics().service, "miss").inc()
        try:
            status = await self._ask(certificate=certificate, issuer=issuer, now=now, flow=flow)
        except _Unusable as exc:
            return RevocationStatus(state=RevocationState.UNKNOWN, detail=str(exc))
        # an unknown answer is retried next time, not remembered; nor is one given for a flow
        if status.state is not RevocationState.UNKNOWN and not flow:
            self._keep(key, status, fetched_at=now, now=now)
        return status

    def _keep(self, key: tuple[int, x509.Certificate], status: RevocationStatus, *, fetched_at: dt.datetime,
              now: dt.datetime) -> None:
        self._cache.pop(key, None)  # to the end: the newest answer is the last to go
        self._cache[key] = _Cached(status=status, fetched_at=fetched_at)
        self._bound(now)

    def _from_staple(self, der: bytes, *, certificate: x509.Certificate, issuer: x509.Certificate,
                     now: dt.datetime) -> RevocationStatus:
        """A stapled answer, trusted as an answer of our own would be: signed by the issuing CA (or its delegated
        responder), about this very certificate of this issuer, and no older than ``max_age_s`` by its own
        ``thisUpdate`` — the bound within which a cached answer is believed too, so a revocation reaches this
        checker no later than without the staple. It carries no nonce of ours: its age is what stops a replay.
        Raises whatever makes it unusable — not an answer, another certificate's, too old, or one this checker
        would not remember (unknown): the caller then asks НУЦ, as without a staple."""
        try:
            response = ocsp.load_der_ocsp_response(der)
        except ValueError:
            raise _Unusable("the stapled OCSP answer is not one") from None
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise _Unusable(f"the stapled OCSP answer says {response.response_status.name}")
        _verify_response_signature(response=response, issuer=issuer)
        ours = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, response.hash_algorithm).build()
        if response.serial_number != certificate.serial_number or response.issuer_key_hash != ours.issuer_key_hash:
            raise _Unusable("the stapled OCSP answer is about another certificate")
        if not now - self._max_age < response.this_update_utc <= now + _CLOCK_SKEW:
            raise _Unusable("the stapled OCSP answer is older than the checker's max age, or from the future")
        status = self._interpret(response=response, now=now)
        if status.state is RevocationState.UNKNOWN or status.skewed:
            raise _Unusable("the stapled OCSP answer is one this checker would not remember")
        return replace(status, der=der)

    def _bound(self, now: dt.datetime) -> None:
        """At most ``ANSWERS_KEPT`` answers: past that, those no longer fresh go, then the oldest, down to nine
        tenths (so the sweep is not made again at the next answer) — a certificate asked about once, a citizen's,
        is not kept for the life of the process."""
        if len(self._cache) <= ANSWERS_KEPT:
            return
        for key in [k for k, cached in self._cache.items() if not self._fresh(cached=cached, now=now)]:
            del self._cache[key]
        while len(self._cache) > ANSWERS_KEPT * 9 // 10:
            del self._cache[next(iter(self._cache))]

    def _fresh(self, *, cached: _Cached, now: dt.datetime) -> bool:
        if now - cached.fetched_at >= self._max_age or now < cached.fetched_at:
            return False
        next_update = cached.status.next_update
        return next_update is None or now < next_update

    async def _ask(self, *, certificate: x509.Certificate, issuer: x509.Certificate, now: dt.datetime,
                   flow: Mapping[str, str]) -> RevocationStatus:
        nonce = os.urandom(8)
        request = (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA256())
                   .add_extension(x509.OCSPNonce(nonce), critical=False).build())
        try:
            reply = await self._http.post(self._url, content=request.public_bytes(serialization.Encoding.DER),
                                          headers={"Content-Type": "application/ocsp-request", **flow},
                                          timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise ResponderUnreachable(f"OCSP responder did not answer: {type(exc).__name__}") from None
        if reply.status_code != 200:
            raise ResponderUnreachable(f"OCSP responder answered HTTP {reply.status_code}")
        try:
            response = ocsp.load_der_ocsp_response(reply.content)
        except ValueError:
            raise _Unusable("OCSP responder sent something that is not an OCSP response") from None
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return RevocationStatus(state=RevocationState.UNKNOWN,
                                    detail=f"responder status {response.response_status.name}")
        _verify_response_signature(response=response, issuer=issuer)
        if _nonce(response) != nonce:
            raise _Unusable("OCSP response does not echo our nonce (possible replay)")
        if response.serial_number != certificate.serial_number:
            raise _Unusable("OCSP response is about another certificate")
        return replace(self._interpret(response=response, now=now), der=reply.content)

    @staticmethod
    def _interpret(*, response: ocsp.OCSPResponse, now: dt.datetime) -> RevocationStatus:
        this_update = response.this_update_utc
        next_update = response.next_update_utc
        if this_update > now + _CLOCK_SKEW:
            return RevocationStatus(state=RevocationState.UNKNOWN, skewed=True, detail=(
                f"OCSP response is from the future (thisUpdate {this_update.isoformat()}, our mesh time "
                f"{now.isoformat()}): a clock has not caught up with the mesh clock yet"))
        if next_update is not None and next_update < now - _CLOCK_SKEW:
            return RevocationStatus(state=RevocationState.UNKNOWN, skewed=True, detail=(
                f"OCSP response is stale (nextUpdate {next_update.isoformat()}, our mesh time {now.isoformat()}): "
                "the responder's clock has not caught up with the mesh clock yet"))
        if response.certificate_status == ocsp.OCSPCertStatus.GOOD:
            return RevocationStatus(state=RevocationState.GOOD, this_update=this_update, next_update=next_update)
        if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            reason = response.revocation_reason
            return RevocationStatus(state=RevocationState.REVOKED, this_update=this_update, next_update=next_update,
                                    revoked_at=response.revocation_time_utc,
                                    reason=reason.value if reason else "unspecified")
        return RevocationStatus(state=RevocationState.UNKNOWN, this_update=this_update, next_update=next_update,
                                detail="the CA does not know this certificate")
