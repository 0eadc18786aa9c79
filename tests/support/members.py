"""Test members: real member systems built in the test process from the same MemberRuntime the services
use, each with its own НУЦ certificate, gateway registration, database and RabbitMQ connection."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus_rabbit import RabbitBus
from shared.cert_check import CertificateVerifier, TrustStore
from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.envelope import MessageType
from shared.ids import make_bin
from shared.inbox import InboxMessage
from shared.member import Incoming, MemberRuntime
from shared.ocsp_client import OcspClient
from shared.outbox import OutboxMessage, OutboxRelay
from shared.signing import SignerIdentity, load_pem_certificates
from tests.support.mesh import MeshHandle


def random_bin() -> str:
    while True:
        value = make_bin(year=random.randint(2000, 2020), month=random.randint(1, 12), serial=random.randint(0, 99999))
        if value:
            return value


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Enrolled:
    member_id: str
    bin: str
    identity: SignerIdentity
    chain: list[x509.Certificate]

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "key.pem").write_bytes(self.identity.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (directory / "cert.pem").write_bytes(self.identity.certificate.public_bytes(serialization.Encoding.PEM))
        (directory / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain))


async def enroll(mesh: MeshHandle, *, member_id: str, register: bool = True) -> Enrolled:
    """Put a member in the gateway registry (unless ``register`` is False), get its НУЦ certificate, pin it."""
    bin_ = random_bin()
    organisation = "ТОО «Тестовая система»"
    async with mesh.client() as http:
        if register:
            reply = await http.put(f"{mesh.gateway}/admin/members/{member_id}", headers=mesh.admin, json={
                "id": member_id, "name": f"test member {member_id}", "kind": "test", "organisation": organisation,
                "bin": bin_})
            reply.raise_for_status()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, member_id)])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        reply = await http.post(f"{mesh.nuc}/certificates/system", headers=mesh.admin, json={
            "memberId": member_id, "organisation": organisation, "bin": bin_,
            "csrPem": csr.public_bytes(serialization.Encoding.PEM).decode()})
        reply.raise_for_status()
        body = reply.json()
        if register:
            reply = await http.put(f"{mesh.gateway}/admin/members/{member_id}/certificate", headers=mesh.admin,
                                   json={"certificatePem": body["certificatePem"]})
            reply.raise_for_status()
    chain = load_pem_certificates(body["chainPem"])
    return Enrolled(member_id=member_id, bin=bin_, chain=chain, identity=SignerIdentity(
        key=key, certificate=load_pem_certificates(body["certificatePem"])[0], chain=tuple(chain)))


async def grant(mesh: MeshHandle, *, service_id: str, channel: str, providers: list[str], callers: list[str],
                notify: list[str] | None = None) -> None:
    async with mesh.client() as http:
        reply = await http.put(f"{mesh.gateway}/admin/services/{service_id}", headers=mesh.admin, json={
            "id": service_id, "title": f"test service {service_id}", "channel": channel, "providers": providers,
            "callers": callers, "notify": notify or []})
        reply.raise_for_status()


@dataclass
class TestMember:
    enrolled: Enrolled
    runtime: MemberRuntime
    bus: RabbitBus
    relay: OutboxRelay
    engine: Any
    http: httpx.AsyncClient
    received: list[Incoming] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def member_id(self) -> str:
        return self.enrolled.member_id

    async def _record(self, _session: AsyncSession, incoming: Incoming) -> None:
        self.received.append(incoming)
        self._arrived.set()

    async def wait_for(self, predicate: Callable[[Incoming], bool], *, timeout_s: float = 15.0) -> Incoming:
        async def look() -> Incoming:
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                self._arrived.clear()
                await self._arrived.wait()
        return await asyncio.wait_for(look(), timeout=timeout_s)

    def got(self, message_id: str) -> bool:
        return any(str(i.envelope.message_id) == message_id for i in self.received)

    async def send(self, **compose: Any) -> dict[str, Any]:
        async with self.runtime.sessions() as session, session.begin():
            wire = self.runtime.send(session, **compose)
        self.relay.kick()
        return wire

    async def close(self) -> None:
        await self.runtime.stop()
        await self.relay.stop()
        await self.bus.close()
        await self.http.aclose()
        await self.engine.dispose()


async def start_member(mesh: MeshHandle, enrolled: Enrolled, *, db_dir: Path) -> TestMember:
    engine = make_engine(f"sqlite:///{db_dir / (enrolled.member_id + '.db')}")
    await create_tables(engine, models=[OutboxMessage, InboxMessage])
    sessions = make_sessions(engine)
    bus = RabbitBus(url=mesh.rabbit.amqp_url, connection_name=enrolled.member_id)
    await bus.connect()
    clock = MeshClock()
    http = httpx.AsyncClient()
    relay = OutboxRelay(sessions=sessions, bus=bus)
    runtime = MemberRuntime(member_id=enrolled.member_id, bus=bus, sessions=sessions, clock=clock, relay=relay)
    verifier = CertificateVerifier(trust=TrustStore.from_certificates(enrolled.chain), clock=clock,
                                   ocsp=OcspClient(url=f"{mesh.nuc}/ocsp", http=http, clock=clock, max_age_s=1))
    runtime.attach(signer=enrolled.identity, verifier=verifier)
    member = TestMember(enrolled=enrolled, runtime=runtime, bus=bus, relay=relay, engine=engine, http=http)
    for kind in MessageType:
        runtime.on_message(message_type=kind, handler=member._record)
    await runtime.start()
    relay.start()
    return member
