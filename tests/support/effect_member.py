"""A member process for crash tests: each REQUEST it receives writes one row in its own database.

    python -m tests.support.effect_member --member-id ID --amqp URL --nuc URL --db PATH --identity DIR \
        [--hold {before-commit,after-commit}] --marker PATH

``--hold`` makes the first message stop at that point (writing the marker file first) so the test can
kill the process exactly there: in the handler before the commit, or after the commit before the ack.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Column
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import ClockState, MeshClock
from shared.db import UtcDateTime, create_tables, make_engine, make_sessions
from shared.logging import configure_logging, get_logger
from shared.mesh.bus import Delivery, Handler, Subscription
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.envelope import MessageType
from shared.mesh.inbox import InboxMessage
from shared.mesh.member import Incoming, MemberRuntime
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.pki.signing import SignerIdentity, load_pem_certificates

log = get_logger("effect_member")


class Effect(SQLModel, table=True):
    __tablename__ = "effect"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=64)
    applied_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


async def _hang(marker: Path) -> None:
    marker.write_text("holding")
    await asyncio.Event().wait()


class _HeldDelivery:
    """A delivery whose first ack never happens: the process holds right after its commit."""

    def __init__(self, inner: Delivery, marker: Path) -> None:
        self._inner = inner
        self._marker = marker

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def ack(self) -> None:
        if not self._marker.exists():
            await _hang(self._marker)
        await self._inner.ack()

    async def reject(self, *, requeue: bool) -> None:
        await self._inner.reject(requeue=requeue)


class HoldAfterCommitBus(RabbitBus):
    def __init__(self, *, marker: Path, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._marker = marker

    async def consume(self, *, queue: str, handler: Handler, prefetch: int = 32) -> Subscription:
        async def wrapped(delivery: Delivery) -> None:
            await handler(_HeldDelivery(delivery, self._marker))  # type: ignore[arg-type]

        return await super().consume(queue=queue, handler=wrapped, prefetch=prefetch)


async def main(args: argparse.Namespace) -> None:
    configure_logging(service="effect_member")
    marker = Path(args.marker)
    identity_dir = Path(args.identity)
    key = serialization.load_pem_private_key((identity_dir / "key.pem").read_bytes(), password=None)
    chain = load_pem_certificates((identity_dir / "chain.pem").read_bytes())
    signer = SignerIdentity(key=key, certificate=load_pem_certificates((identity_dir / "cert.pem").read_bytes())[0],  # type: ignore[arg-type]
                            chain=tuple(chain))
    engine = make_engine(f"sqlite:///{args.db}")
    await create_tables(engine, models=[OutboxMessage, InboxMessage, Effect])
    sessions = make_sessions(engine)
    bus = (HoldAfterCommitBus(marker=marker, url=args.amqp, connection_name=args.member_id)
           if args.hold == "after-commit" else RabbitBus(url=args.amqp, connection_name=args.member_id))
    await bus.connect()
    http = httpx.AsyncClient()
    # on the mesh clock, as a member starts: the session's mesh may be days ahead after a test settled it
    clock = MeshClock(state=ClockState.model_validate((await http.get(f"{args.gateway}/clock")).json()["state"]))
    relay = OutboxRelay(sessions=sessions, bus=bus)
    runtime = MemberRuntime(member_id=args.member_id, bus=bus, sessions=sessions, clock=clock, relay=relay)
    runtime.attach(signer=signer, verifier=CertificateVerifier(
        trust=TrustStore.from_certificates(chain), clock=clock,
        ocsp=OcspClient(url=f"{args.nuc}/ocsp", http=http, clock=clock)))

    async def apply(session: AsyncSession, incoming: Incoming) -> None:
        session.add(Effect(message_id=str(incoming.envelope.message_id), applied_at=clock.now()))
        await session.flush()
        if args.hold == "before-commit" and not marker.exists():
            await _hang(marker)
        log.info("effect_applied")

    runtime.on_message(message_type=MessageType.REQUEST, handler=apply)
    await runtime.start()
    relay.start()
    log.info("effect_member_consuming")
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("--member-id", "--amqp", "--nuc", "--gateway", "--db", "--identity", "--marker"):
        parser.add_argument(name, required=True)
    parser.add_argument("--hold", choices=["before-commit", "after-commit"])
    asyncio.run(main(parser.parse_args()))
