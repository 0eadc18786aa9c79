"""Certificates by the НУЦ profile: a signing and an authentication certificate for a person (an individual, or an
employee of an organisation with a role), a signing certificate for an information system; from the holder's CSR or
with keys НУЦ makes (handed over as PKCS#12). Every check runs before anything is recorded, so a refused request
issues nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.nuc_pki.domain import (
    BadKind,
    PersonName,
    PublicKey,
    ca_certificate,
    check_role,
    leaf_certificate,
    person_subject,
    system_subject,
    validity_for,
)
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import IssuedCertificate
from services.nuc_pki.usecases.keys import CaKeys, rsa_key
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin
from shared.logging import get_logger
from shared.pki.cert_profile import Holder, Usage, describe_certificate
from shared.pki.signing import SignerIdentity, certificate_pem

log = get_logger(__name__)
HolderKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    record: IssuedCertificate
    certificate: x509.Certificate
    key: HolderKey | None = None  # present when НУЦ generated the key


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class Issuance:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, settings: NucSettings, keys: CaKeys) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._keys = keys

    def _holder_key(self) -> HolderKey:
        """A key НУЦ makes for a holder: RSA-2048 as the real НУЦ («(RSA)» line), or P-256 where tests ask for
        speed (``NUC_HOLDER_KEYS=ec``); verifiers accept both, the profile is the same."""
        if self._settings.holder_keys == "ec":
            return ec.generate_private_key(ec.SECP256R1())
        return rsa_key()

    async def issue(self, *, subject: x509.Name, public_key: PublicKey | None, usage: Usage, holder: Holder,
                    role: str | None = None, member_id: str | None = None, defect: BadKind | None = None) -> Issued:
        """One certificate, recorded; ``defect`` makes it faulty on purpose (a test's negative case)."""
        issuer, issuer_key = self._keys.ready()
        key = None
        if public_key is None:
            # in a thread (OpenSSL lets go of the GIL): НУЦ answers others, and makes another's key, meanwhile
            key = await asyncio.to_thread(self._holder_key)
            public_key = key.public_key()
        not_before, not_after = validity_for(kind=defect, now=self._clock.now(), earliest=self._clock.earliest_now(),
                                             days=self._settings.leaf_validity_days)
        if defect is BadKind.UNTRUSTED:
            # A look-alike of the issuing CA that no root vouches for.
            rogue_key = rsa_key()
            issuer = ca_certificate(subject=issuer.subject, key=rogue_key, issuer=None, issuer_key=rogue_key,
                                    not_before=not_before, not_after=not_after + dt.timedelta(days=1), path_length=0)
            issuer_key = rogue_key
        cert = leaf_certificate(subject=subject, public_key=public_key, usage=usage, holder=holder, role=role,
                                issuer=issuer, issuer_key=issuer_key, not_before=not_before, not_after=not_after,
                                urls=self._keys.urls, broken_usage=defect is BadKind.WRONG_USAGE)
        info = describe_certificate(cert)
        record = IssuedCertificate(
            serial=info.serial, holder=holder.value, usage=usage.value, common_name=info.common_name, iin=info.iin,
            bin=info.bin, member_id=member_id, roles=list(info.roles), defect=defect.value if defect else None,
            not_before=not_before, not_after=not_after, issued_at=self._clock.now(),
            certificate_pem=certificate_pem(cert))
        async with self._sessions() as session, session.begin():
            session.add(record)
        log.info("certificate_issued", serial=info.serial, holder=holder.value, usage=usage.value,
                 defect=record.defect)
        return Issued(record=record, certificate=cert, key=key)

    async def issue_person_pair(self, *, iin: str, person: PersonName, organisation: str | None, bin_: str | None,
                                role: str | None, email: str | None, signing_key: PublicKey | None,
                                auth_key: PublicKey | None, defect: BadKind | None = None) -> tuple[Issued, Issued]:
        """A signing and an authentication certificate, as НУЦ issues them together."""
        parse_iin(iin)
        if bin_ is not None:
            parse_bin(bin_)
        check_role(role)
        if signing_key is not None and auth_key is not None and _spki(signing_key) == _spki(auth_key):
            raise MeshError("CSR_KEY_REUSED", "the signing and the authentication CSR carry the same key: a key "
                            "serves one purpose only — make a key pair for each")
        holder = Holder.EMPLOYEE if bin_ else Holder.INDIVIDUAL
        subject = person_subject(iin=iin, person=person, organisation=organisation, bin_=bin_, email=email)
        signing = await self.issue(subject=subject, public_key=signing_key, usage=Usage.SIGN, holder=holder,
                                   role=role, defect=defect)
        auth = await self.issue(subject=subject, public_key=auth_key, usage=Usage.AUTH, holder=holder, role=role,
                                defect=defect)
        return signing, auth

    async def issue_system(self, *, member_id: str, organisation: str, bin_: str, public_key: PublicKey | None,
                           defect: BadKind | None = None) -> Issued:
        """An information system's signing certificate: its member id is its common name."""
        parse_bin(bin_)
        return await self.issue(subject=system_subject(member_id=member_id, organisation=organisation, bin_=bin_),
                                public_key=public_key, usage=Usage.SIGN, holder=Holder.SYSTEM, member_id=member_id,
                                defect=defect)

    def pkcs12(self, issued: Issued, *, password: str) -> bytes:
        """The key НУЦ made, its certificate and the chain, as the holder takes them home."""
        if issued.key is None:
            raise MeshError("PKCS12_WITHOUT_KEY", "the key of this certificate was made by its holder")
        identity = SignerIdentity(key=issued.key, certificate=issued.certificate, chain=tuple(self._keys.chain()))
        return identity.to_pkcs12(password=password, friendly_name=issued.record.common_name)
