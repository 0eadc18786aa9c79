"""The CRLs: the issuing CA's (every revocation НУЦ ever recorded) and the root's (the CA certificates it revoked),
each signed afresh on request with the mesh clock's now, so they agree with the OCSP answers of the same moment."""

from __future__ import annotations

import datetime as dt

from asn1crypto.core import GeneralizedTime
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlmodel import col, select

from services.nuc_pki.domain import BadKind, CaKey
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import IssuedCertificate
from services.nuc_pki.usecases.keys import CaKeys
from shared.clock import MeshClock
from shared.db import Sessions

# X.509 (ITU-T, 2005 onwards) id-ce-expiredCertsOnCRL: "this CRL keeps the entries of certificates that expired
# since" (a GeneralizedTime), as a CA whose revocation records outlive the certificates says on its CRL.
EXPIRED_CERTS_ON_CRL = x509.ObjectIdentifier("2.5.29.60")


def _generalized_time(moment: dt.datetime) -> bytes:
    return GeneralizedTime(moment.astimezone(dt.UTC).replace(microsecond=0)).dump()


class CrlPublisher:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, settings: NucSettings, keys: CaKeys) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._keys = keys

    def _builder(self, issuer: x509.Certificate, key: CaKey) -> x509.CertificateRevocationListBuilder:
        now = self._clock.now()
        return (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject).last_update(now)
                .next_update(now + dt.timedelta(hours=self._settings.crl_validity_hours))
                .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False))

    def root_crl(self) -> x509.CertificateRevocationList:
        """The root's CRL: the CA certificates it revoked (none — the simulator never revokes its issuing CA)."""
        root, root_key = self._keys.root_ready()
        return self._builder(root, root_key).sign(root_key, hashes.SHA256())

    async def crl(self) -> x509.CertificateRevocationList:
        """Every revocation НУЦ ever recorded, of expired certificates too: ExpiredCertsOnCRL names the issuing CA's
        first day, so relying parties know an expired certificate absent from it was never revoked."""
        issuer, issuer_key = self._keys.ready()
        async with self._sessions() as session:
            revoked = (await session.exec(select(IssuedCertificate).where(
                col(IssuedCertificate.revoked_at).is_not(None)))).all()
        builder = self._builder(issuer, issuer_key).add_extension(x509.UnrecognizedExtension(
            EXPIRED_CERTS_ON_CRL, _generalized_time(issuer.not_valid_before_utc)), critical=False)
        for record in revoked:
            if record.defect == BadKind.UNTRUSTED.value or record.revoked_at is None:
                continue  # a look-alike CA's certificate is none of НУЦ's to list
            entry = (x509.RevokedCertificateBuilder().serial_number(int(record.serial, 16))
                     .revocation_date(record.revoked_at))
            if record.revocation_reason:
                entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags(record.revocation_reason)), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(issuer_key, hashes.SHA256())
