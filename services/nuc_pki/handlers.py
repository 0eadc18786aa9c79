"""НУЦ as wired: its use cases (``usecases/``) over one database, clock and pair of CA keys, built once at start-up —
what the routes reach through ``app.state.ca`` (``deps.py``) and what tests build on a temporary database.

The methods below only pass a call on to the use case that owns it: callers that think of НУЦ as one authority
(``ca.issue_person_pair``, ``ca.chain()``, ``ca.ocsp_response``) keep doing so."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from services.nuc_pki.domain import BadKind, PersonName, PublicKey, Urls
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import IssuedCertificate
from services.nuc_pki.usecases.crl import EXPIRED_CERTS_ON_CRL, CrlPublisher
from services.nuc_pki.usecases.faulty import FaultyIssuance
from services.nuc_pki.usecases.issuance import Issuance, Issued
from services.nuc_pki.usecases.keys import CaKeys
from services.nuc_pki.usecases.lookup import CertificateLookup, NotYetValid
from services.nuc_pki.usecases.ocsp import OcspResponder
from services.nuc_pki.usecases.revocation import REVOCATION_REASONS, Revocation
from shared.clock import MeshClock
from shared.db import Sessions

__all__ = ["EXPIRED_CERTS_ON_CRL", "REVOCATION_REASONS", "CertificateAuthority", "Issued", "NotYetValid"]


class CertificateAuthority:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, settings: NucSettings) -> None:
        self._sessions = sessions
        self.keys = CaKeys(sessions=sessions, clock=clock, settings=settings)
        self.issuance = Issuance(sessions=sessions, clock=clock, settings=settings, keys=self.keys)
        self.faulty = FaultyIssuance(issuance=self.issuance)
        self.revocation = Revocation(sessions=sessions, clock=clock)
        self.lookup = CertificateLookup(sessions=sessions, clock=clock)
        self.ocsp = OcspResponder(sessions=sessions, clock=clock, settings=settings, keys=self.keys)
        self.crls = CrlPublisher(sessions=sessions, clock=clock, settings=settings, keys=self.keys)

    # ---- the CA itself -----------------------------------------------------------------------------------
    async def load_or_create(self) -> None:
        await self.keys.load_or_create()

    @property
    def urls(self) -> Urls:
        return self.keys.urls

    def chain(self) -> list[x509.Certificate]:
        return self.keys.chain()

    # ---- issuance, revocation, look-up -------------------------------------------------------------------
    async def issue_person_pair(self, *, iin: str, person: PersonName, organisation: str | None, bin_: str | None,
                                role: str | None, email: str | None, signing_key: PublicKey | None,
                                auth_key: PublicKey | None, defect: BadKind | None = None) -> tuple[Issued, Issued]:
        return await self.issuance.issue_person_pair(
            iin=iin, person=person, organisation=organisation, bin_=bin_, role=role, email=email,
            signing_key=signing_key, auth_key=auth_key, defect=defect)

    async def issue_system(self, *, member_id: str, organisation: str, bin_: str, public_key: PublicKey | None,
                           defect: BadKind | None = None) -> Issued:
        return await self.issuance.issue_system(member_id=member_id, organisation=organisation, bin_=bin_,
                                                public_key=public_key, defect=defect)

    def pkcs12(self, issued: Issued, *, password: str) -> bytes:
        return self.issuance.pkcs12(issued, password=password)

    async def revoke(self, *, serial: str, reason: str) -> IssuedCertificate:
        return await self.revocation.revoke(serial=serial, reason=reason)

    async def get(self, serial: str) -> IssuedCertificate:
        return await self.lookup.by_serial(serial)

    async def not_yet_valid(self, *, at: dt.datetime | None = None) -> NotYetValid:
        return await self.lookup.not_yet_valid(at=at)

    # ---- status publication ------------------------------------------------------------------------------
    async def ocsp_response(self, request_der: bytes) -> tuple[bytes, str | None]:
        return await self.ocsp.ocsp_response(request_der)

    async def crl(self) -> x509.CertificateRevocationList:
        return await self.crls.crl()

    def root_crl(self) -> x509.CertificateRevocationList:
        return self.crls.root_crl()
