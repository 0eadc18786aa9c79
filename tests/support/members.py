"""Test members: real member systems built in the test process from the same MemberRuntime the services
use, each with its own НУЦ certificate, gateway registration, database and RabbitMQ connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meshkit.members import Endpoints, Enrolled, enroll, grant, unique_id
from shared.clock import ClockState, MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.mesh.bus import Bus
from shared.mesh.envelope import MessageType
from shared.mesh.inbox import InboxMessage
from shared.mesh.member import Incoming, MemberRuntime
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient

__all__ = ["Enrolled", "TestMember", "enroll", "grant", "start_member", "unique_id"]


class ReceivedRow(SQLModel, table=True):
    """What a test member applied, written in the transaction of the inbox: the exactly-once record."""

    __tablename__ = "received_message"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=64, index=True)


@dataclass
class TestMember:
    enrolled: Enrolled
    runtime: MemberRuntime
    bus: Bus
    relay: OutboxRelay
    engine: Any
    http: httpx.AsyncClient
    received: list[Incoming] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def member_id(self) -> str:
        return self.enrolled.member_id

    async def _record(self, session: AsyncSession, incoming: Incoming) -> None:
        session.add(ReceivedRow(message_id=str(incoming.envelope.message_id)))
        self.received.append(incoming)  # seen (for waiting); ``applied`` is what committed
        self._arrived.set()

    async def applied(self) -> list[str]:
        """Message ids whose effect committed, once per commit (a duplicate effect would show twice)."""
        async with self.runtime.sessions() as session:
            return list((await session.exec(select(ReceivedRow.message_id))).all())

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


class Target(Endpoints, Protocol):
    """A mesh test members can join: real processes on RabbitMQ (``MeshHandle``) or the in-process mesh."""

    def new_bus(self, connection_name: str) -> Bus: ...


async def start_member(mesh: Target, enrolled: Enrolled, *, db_dir: Path) -> TestMember:
    engine = make_engine(f"sqlite:///{db_dir / (enrolled.member_id + '.db')}")
    await create_tables(engine, models=[OutboxMessage, InboxMessage, ReceivedRow])
    sessions = make_sessions(engine)
    # under its own broker account, as a member must (the mesh's admin bus only lends its broker address)
    bus = mesh.new_bus(enrolled.member_id).sibling(connection_name=enrolled.member_id, login=enrolled.login)
    await bus.connect()
    http = mesh.client()
    # on the mesh clock, as a member starts (docs/own-member.md): the session's mesh may be days ahead after a
    # `settle`, and a member on the wall clock would take НУЦ's OCSP answers for answers "from the future"
    clock = MeshClock(state=ClockState.model_validate((await http.get(f"{mesh.gateway}/clock")).json()["state"]))
    relay = OutboxRelay(sessions=sessions, bus=bus)
    runtime = MemberRuntime(member_id=enrolled.member_id, bus=bus, sessions=sessions, clock=clock, relay=relay)
    verifier = CertificateVerifier(trust=TrustStore.from_certificates(enrolled.chain), clock=clock,
                                   ocsp=OcspClient(url=f"{mesh.nuc}/ocsp", http=http, clock=clock, max_age_s=1))
    runtime.attach(signer=enrolled.identity, verifier=verifier, gateway_certificate=enrolled.gateway_certificate)
    member = TestMember(enrolled=enrolled, runtime=runtime, bus=bus, relay=relay, engine=engine, http=http)
    for kind in MessageType:
        runtime.on_message(message_type=kind, handler=member._record)
    await runtime.start()
    relay.start()
    return member


@asynccontextmanager
async def member_factory_for(mesh: Target, *, db_dir: Path) -> AsyncIterator[Callable[..., Awaitable[TestMember]]]:
    """``make(prefix)``: a new test member of ``mesh``, enrolled and started; all closed when the block ends."""
    started: list[TestMember] = []

    async def make(prefix: str = "test", *, register: bool = True, enrolled: Enrolled | None = None) -> TestMember:
        enrolled = enrolled or await enroll(mesh, member_id=unique_id(prefix), register=register)
        member = await start_member(mesh, enrolled, db_dir=db_dir)
        started.append(member)
        return member

    try:
        yield make
    finally:
        for member in started:
            await member.close()
