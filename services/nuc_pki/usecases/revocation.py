"""Revoking a certificate, with one of RFC 5280's reasons. The record is locked while it is judged, so of two
revocations at once one wins and the other is told ``CERTIFICATE_ALREADY_REVOKED``; the first reason stands."""

from __future__ import annotations

from cryptography import x509

from services.nuc_pki.store import IssuedCertificate
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger

log = get_logger(__name__)

# Every reason but unspecified (say which) and removeFromCRL (a delta CRL's, and НУЦ never un-revokes).
REVOCATION_REASONS = {flag.value: flag for flag in x509.ReasonFlags
                      if flag not in (x509.ReasonFlags.unspecified, x509.ReasonFlags.remove_from_crl)}


class Revocation:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def revoke(self, *, serial: str, reason: str) -> IssuedCertificate:
        flag = REVOCATION_REASONS.get(reason)
        if flag is None:
            raise MeshError("REVOCATION_REASON_UNKNOWN",
                            f"reason must be one of {', '.join(sorted(REVOCATION_REASONS))}")
        async with self._sessions() as session, session.begin():
            record = await session.get(IssuedCertificate, serial.lower(), with_for_update=True)
            if record is None:
                raise MeshError("CERTIFICATE_NOT_FOUND", f"no certificate with serial {serial}")
            if record.revoked_at is not None:
                raise MeshError("CERTIFICATE_ALREADY_REVOKED",
                                f"certificate {serial} was revoked on {record.revoked_at.isoformat()}")
            record.revoked_at = self._clock.now()
            record.revocation_reason = flag.value
            session.add(record)
        log.info("certificate_revoked", serial=record.serial, reason=flag.value)
        return record
