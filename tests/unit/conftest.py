"""Unit fixtures: a real НУЦ CertificateAuthority on a temporary database, its OCSP responder reachable
through an in-process HTTP transport, and a mesh clock the tests can move."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.nuc_pki.domain import BadKind, PersonName
from services.nuc_pki.handlers import CertificateAuthority, Issued
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial, IssuedCertificate
from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.pki.signing import SignerIdentity


@dataclass
class Pki:
    ca: CertificateAuthority
    clock: MeshClock
    http: httpx.AsyncClient
    responder_up: bool = True

    def verifier(self, *, max_age_s: float = 60.0, clock: MeshClock | None = None,
                 skew_wait_s: float = 3.0) -> CertificateVerifier:
        """A verifier on the CA's clock, or on a ``clock`` of its own (one that heard a jump the CA has not)."""
        clock = clock or self.clock
        return CertificateVerifier(trust=TrustStore.from_certificates(self.ca.chain()), clock=clock,
                                   skew_wait_s=skew_wait_s,
                                   ocsp=OcspClient(url="http://nuc.test/ocsp", http=self.http, clock=clock,
                                                   max_age_s=max_age_s))

    async def person(self, *, iin: str = "850701300007", defect: BadKind | None = None,
                     bin_: str | None = None, role: str | None = None) -> tuple[Issued, Issued]:
        return await self.ca.issue_person_pair(
            iin=iin, person=PersonName(surname="Тестов", name="Тест", patronymic="Тестович"),
            organisation="ТОО «Тест»" if bin_ else None, bin_=bin_, role=role, email=None, signing_key=None,
            auth_key=None, defect=defect)

    def identity(self, issued: Issued) -> SignerIdentity:
        assert issued.key is not None
        return SignerIdentity(key=issued.key, certificate=issued.certificate, chain=tuple(self.ca.chain()))


@contextlib.asynccontextmanager
async def running_pki(database: Path) -> AsyncIterator[Pki]:
    """A НУЦ on the SQLite file ``database`` with its OCSP responder behind an in-process transport (one a test
    can take down with ``responder_up``)."""
    engine = make_engine(f"sqlite:///{database}")
    await create_tables(engine, models=[CaMaterial, IssuedCertificate])
    clock = MeshClock()
    ca = CertificateAuthority(sessions=make_sessions(engine), clock=clock,
                              settings=NucSettings(database_url="sqlite://", public_url="http://nuc.test"))
    await ca.load_or_create()
    holder: dict[str, Pki] = {}

    async def respond(request: httpx.Request) -> httpx.Response:
        if not holder["pki"].responder_up:
            raise httpx.ConnectError("responder down", request=request)
        body, _error = await ca.ocsp_response(request.content)
        return httpx.Response(200, content=body, headers={"content-type": "application/ocsp-response"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    holder["pki"] = Pki(ca=ca, clock=clock, http=http)
    try:
        yield holder["pki"]
    finally:
        await http.aclose()
        await engine.dispose()


@pytest.fixture
async def pki(tmp_path: Path) -> AsyncIterator[Pki]:
    async with running_pki(tmp_path / "nuc.db") as made:
        yield made
