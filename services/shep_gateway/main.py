"""ШЭП / РШЭП simulator: the only road between member systems.

It verifies every message (sender, system signature, certificate, route), keeps the chained and signed
message log, routes the asynchronous and synchronous channels over RabbitMQ, answers Server.Timeout when a
provider misses a deadline, and is the authority for the mesh clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
from fastapi import FastAPI

from services.shep_gateway.accounts import BrokerAccounts
from services.shep_gateway.api import build_router
from services.shep_gateway.clock_authority import ClockAuthority
from services.shep_gateway.consumers import IngressWorker
from services.shep_gateway.handlers import Gateway
from services.shep_gateway.message_log import MessageLog
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import (
    ClockRow,
    DeliveryRow,
    LogAnchor,
    LogHead,
    LogRecord,
    MemberCertificate,
    MemberRow,
    ParkedRequest,
    SeedMark,
    ServiceRow,
    SyncCall,
    backfill_real_times,
)
from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.logging import configure_logging, get_logger
from shared.mesh.background import BackgroundTask
from shared.mesh.broker_accounts import BrokerAdmin, BrokerLogin, RabbitManagement
from shared.mesh.bus import Bus
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.control_clients import NucClient
from shared.mesh.identity import RetiredIdentityRecord, SystemIdentityRecord, load_keyring, load_or_enroll
from shared.mesh.member import Composer
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.readiness import Readiness, broker_probe, database_probe, trust_probe, until_done
from shared.mesh.topology import declare_gateway
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.web.admin_auth import admin_guard
from shared.web.http_app import build_app
from shared.web.mesh_descriptor import mesh_descriptor_router

log = get_logger(__name__)
MODELS = [OutboxMessage, SystemIdentityRecord, RetiredIdentityRecord, MemberRow, ServiceRow, SeedMark,
          MemberCertificate, LogRecord, LogHead, LogAnchor, SyncCall, ClockRow, ParkedRequest, DeliveryRow]


def create_app(settings: GatewaySettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    """``bus`` and ``http`` replace RabbitMQ and the HTTP client to НУЦ (the in-process mesh of the tests)."""
    settings = settings or GatewaySettings()
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    clock = MeshClock()
    configure_logging(service="shep_gateway", level=settings.mesh.log_level, clock=clock)
    owns_http = http is None
    http = http or httpx.AsyncClient()
    template = bus or RabbitBus(url=settings.mesh.amqp_url, connection_name="shep_gateway")
    admin: BrokerAdmin | None = template.accounts()
    administrator: BrokerLogin | None = None
    if settings.broker_admin_url:
        if settings.broker_admin_password is None:
            raise MeshError("BROKER_ADMIN_PASSWORD_MISSING", "SHEP_BROKER_ADMIN_URL is set without "
                            "SHEP_BROKER_ADMIN_PASSWORD: the broker has no guest to fall back on")
        administrator = BrokerLogin(user=settings.broker_admin_user,
                                    password=settings.broker_admin_password.get_secret_value())
        admin = RabbitManagement(url=settings.broker_admin_url, http=http, admin=administrator)
    bus = template.sibling(connection_name="shep_gateway", login=lambda: accounts.own_login())
    # The gateway publishes what each transaction commits itself; the relay only recovers what a crash left.
    relay = OutboxRelay(sessions=sessions, bus=bus, min_age=dt.timedelta(seconds=5),
                        keep_sent=dt.timedelta(seconds=settings.mesh.outbox_keep_s))
    composer = Composer(member_id=settings.member_id, clock=clock)
    book = RegistryBook(settings=settings, sessions=sessions, bus=bus, clock=clock)
    message_log = MessageLog(sessions=sessions, book=book, own_id=settings.member_id)
    accounts = BrokerAccounts(admin=admin, secret=settings.mesh.key_passphrase.get_secret_value(), book=book,
                              bus=bus, administrator=administrator, management_url=settings.broker_admin_url)
    gateway = Gateway(settings=settings, sessions=sessions, bus=bus, clock=clock, composer=composer, relay=relay,
                      book=book, accounts_enforced=accounts.enforced)
    relay.also_purge(lambda: gateway.purge_log(older_than=dt.timedelta(days=settings.log_retention_days)))
    relay.also_purge(lambda: gateway.purge_deliveries(older_than=dt.timedelta(seconds=settings.mesh.outbox_keep_s)))

    async def watch_deliveries() -> None:
        """Deliveries not acknowledged in time are delivered again, then NOT_DELIVERED (``shared.mesh.receipts``)."""
        while True:
            try:
                wait = await gateway.redeliver_due()
            except Exception:  # looked at again shortly; a delivery stays ON_DELIVERY meanwhile
                log.exception("delivery_watch_failed")
                wait = 1.0
            timeout = settings.receipt_timeout_s
            await asyncio.sleep(max(0.05, min(timeout if wait is None else wait, timeout, 5.0)))

    delivery_watch = BackgroundTask(name="gateway-deliveries", run=watch_deliveries)
    worker = IngressWorker(gateway=gateway, bus=bus, batch_size=settings.batch_size, prefetch=settings.prefetch,
                           stall_s=settings.ingress_stall_s)
    nuc = NucClient(base_url=settings.mesh.nuc_url, admin_token=settings.mesh.admin_token.get_secret_value(), http=http)
    clock_authority = ClockAuthority(sessions=sessions, bus=bus, clock=clock, composer=composer, nuc=nuc)
    readiness = Readiness(steps=["database", "clock", "broker", "trust", "identity", "registry", "topology",
                                 "consumers"])
    readiness.watch("broker", broker_probe(bus))
    readiness.watch("database", database_probe(engine))
    readiness.watch("trust", trust_probe(lambda: book.verifier, clock))
    readiness.watch("ingress", worker.progress)

    async def trust() -> None:
        book.verifier = CertificateVerifier(
            trust=TrustStore.from_certificates(await nuc.ca_chain()), clock=clock, skew_wait_s=0.0,
            ocsp=OcspClient(url=nuc.ocsp_url, http=http, clock=clock, max_age_s=settings.mesh.ocsp_max_age_s))

    async def identity() -> None:
        assert book.verifier is not None
        member = book.registry.members.get(settings.member_id)
        if member is None:
            raise RuntimeError(f"the registry has no member {settings.member_id!r} for the gateway itself")
        composer.signer = await load_or_enroll(
            sessions=sessions, member_id=settings.member_id, organisation=member.organisation, bin_=member.bin,
            nuc=nuc, passphrase=settings.mesh.key_passphrase.get_secret_value(), verifier=book.verifier,
            clock=clock)
        await book.pin_own(member_id=settings.member_id, certificate=composer.signer.certificate)
        gateway.keyring = await load_keyring(sessions=sessions, member_id=settings.member_id,
                                             passphrase=settings.mesh.key_passphrase.get_secret_value(),
                                             current=composer.signer)

    async def registry() -> None:
        await book.seed_registry()
        await book.load_registry()

    async def topology() -> None:
        await accounts.remove_guest()
        await declare_gateway(bus)
        await accounts.bound_dead_letters(max_length=settings.dead_letters_max_length,
                                          max_bytes=settings.dead_letters_max_bytes)
        await book.declare_topology()

    async def consumers() -> None:
        await gateway.restore_timers()
        delivery_watch.start()
        relay.start()
        relay.kick()
        await worker.start()
        await clock_authority.broadcast()

    async def background() -> None:
        """Heartbeat of the clock for late joiners, and registry refresh so replicas converge."""
        while True:
            await asyncio.sleep(settings.clock_heartbeat_s)
            with suppress(Exception):
                await book.load_registry()
                await clock_authority.broadcast()

    async def database() -> None:
        await create_tables(engine, models=MODELS)
        await backfill_real_times(sessions)

    async def start() -> None:
        r = readiness
        await until_done(readiness=r, step="database", action=database)
        await until_done(readiness=r, step="clock", action=clock_authority.load)
        await until_done(readiness=r, step="broker", action=bus.connect)
        await until_done(readiness=r, step="registry", action=registry)
        await until_done(readiness=r, step="trust", action=trust)
        await until_done(readiness=r, step="identity", action=identity)
        await until_done(readiness=r, step="topology", action=topology)
        await until_done(readiness=r, step="consumers", action=consumers)
        await background()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        startup = BackgroundTask(name="gateway-startup", run=start)
        startup.start()
        yield
        await startup.stop()
        await worker.stop()
        await delivery_watch.stop()
        gateway.cancel_timers()
        await relay.stop()
        await bus.close()
        if owns_http:
            await http.aclose()
        await engine.dispose()

    app = build_app(title="egov-mesh SHEP gateway",
                    summary="ШЭП/РШЭП simulator",
                    description="Verifies, authorises, logs and routes every message between member systems.",
                    readiness=readiness, lifespan=lifespan)
    guard = admin_guard(token=settings.mesh.admin_token.get_secret_value)
    app.include_router(build_router(book=book, clock_authority=clock_authority, message_log=message_log, admin=guard,
                                    accounts=accounts))
    app.include_router(mesh_descriptor_router(token=settings.mesh.admin_token.get_secret_value))
    app.state.gateway = gateway
    return app
