"""The OCSP responder (RFC 6960): a signed answer for every request it can read — good, revoked (when and why) or
unknown — with the request's nonce echoed; an unsigned refusal, and the mesh's code for it, for one it cannot."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from services.nuc_pki.domain import BadKind
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import IssuedCertificate
from services.nuc_pki.usecases.keys import CaKeys
from services.nuc_pki.usecases.scenario_revocation import ScenarioRevocations
from shared.clock import MeshClock
from shared.db import Sessions
from shared.logging import get_logger

log = get_logger(__name__)


def _refusal(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def _status(record: IssuedCertificate | None) -> tuple[ocsp.OCSPCertStatus, dt.datetime | None,
                                                       x509.ReasonFlags | None]:
    """Answered from the records whether or not the certificate has expired: НУЦ never forgets a revocation (the
    CRL's ExpiredCertsOnCRL), so a verifier judging a signature made while the certificate was valid learns that it
    was revoked, and when and why, after its end too. A look-alike CA's certificate is none of НУЦ's: unknown."""
    if record is None or record.defect == BadKind.UNTRUSTED.value:
        return ocsp.OCSPCertStatus.UNKNOWN, None, None
    if record.revoked_at is None:
        return ocsp.OCSPCertStatus.GOOD, None, None
    reason = x509.ReasonFlags(record.revocation_reason) if record.revocation_reason else None
    return ocsp.OCSPCertStatus.REVOKED, record.revoked_at, reason


class OcspResponder:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, settings: NucSettings, keys: CaKeys) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._keys = keys
        self.scenarios: ScenarioRevocations | None = None  # set once НУЦ can reach the gateway (main)

    async def ocsp_response(self, request_der: bytes, *, scenario_id: str | None = None) -> tuple[bytes, str | None]:
        """RFC 6960 answer for a DER request, and an error code when the request itself was refused; a person's
        certificate asked in a flow whose scenario says ``nuc:revoked`` is answered revoked since it began
        (``scenario_revocation``)."""
        issuer, issuer_key = self._keys.ready()
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError as exc:
            log.info("ocsp_request_malformed", reason=str(exc)[:200])
            return _refusal(ocsp.OCSPResponseStatus.MALFORMED_REQUEST), "OCSP_MALFORMED_REQUEST"
        algorithm = request.hash_algorithm
        ours = self._keys.issuing_hashes.get(algorithm.name)
        if ours is None or ours != (request.issuer_name_hash, request.issuer_key_hash):
            return _refusal(ocsp.OCSPResponseStatus.UNAUTHORIZED), "OCSP_UNKNOWN_ISSUER"
        async with self._sessions() as session:
            record = await session.get(IssuedCertificate, format(request.serial_number, "x"))
        now = self._clock.now()
        status, revoked_at, reason = _status(record)
        if status is ocsp.OCSPCertStatus.GOOD and record is not None and self.scenarios is not None and \
                await self.scenarios.forces_revoked(scenario_id, holder=record.holder):
            status, revoked_at, reason = ocsp.OCSPCertStatus.REVOKED, record.not_before, None
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash, issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number, algorithm=algorithm, cert_status=status, this_update=now,
            next_update=now + dt.timedelta(minutes=self._settings.ocsp_validity_minutes),
            revocation_time=revoked_at, revocation_reason=reason,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
            builder = builder.add_extension(nonce.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER), None
