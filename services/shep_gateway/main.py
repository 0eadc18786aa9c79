"""ШЭП / РШЭП simulator: the only road between member systems.

It verifies every message (sender, system signature, certificate, route), keeps the chained and signed
message log, routes the asynchronous and synchronous channels over RabbitMQ, answers Server.Timeout when a
provider misses a deadline, and is the authority for the mesh clock.

``create_app`` wires it in named steps: the broker (``_broker``: the administrator, the gateway's own login),
the objects (``_wire``), the start-up steps run in order until each succeeds (``StartUp``), and the routes
(``services.shep_gateway.routes``), which find the objects on ``app.state``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from services.shep_gateway.consumers import IngressWorker
from services.shep_gateway.handlers import Gateway
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.routes import ROUTERS
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import (
    ClockRow,
    DeliveryRow,
    LogAnchor,
    LogHead,
    LogRecord,
    MemberCertificate,
    MemberRow,
    MeshSnapshotRow,
    ParkedRequest,
    SeedMark,
    ServiceRow,
    SyncCall,
    backfill_real_times,
)
from services.shep_gateway.usecases.broker_accounts import BrokerAccounts
from services.shep_gateway.usecases.chaos import ChaosBus, GatewayChaos, PipelineFaults
from services.shep_gateway.usecases.clock_authority import ClockAuthority
from services.shep_gateway.usecases.district_lookup import parked_count
from services.shep_gateway.usecases.mesh_reset import NOT_MEMBERS, MemberCalls, MeshReset
from services.shep_gateway.usecases.message_log import MessageLog
from services.shep_gateway.usecases.settle import MemberProbe, Settler
from services.shep_gateway.usecases.snapshots import MeshSnapshots
from services.shep_gateway.usecases.soap_door import SoapDoor
from services.shep_gateway.usecases.soap_push import SoapPush
from shared.clock import MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.logging import configure_logging, get_logger
from shared.mesh.background import BackgroundTask
from shared.mesh.broker_accounts import BrokerAdmin, BrokerLogin, RabbitManagement
from shared.mesh.bus import Bus
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.chaos import ChaosBook
from shared.mesh.control_clients import NucClient
from shared.mesh.identity import RetiredIdentityRecord, SystemIdentityRecord, load_keyring, load_or_enroll
from shared.mesh.journal import service_journal
from shared.mesh.member import Composer
from shared.mesh.member_node import scrape_outbox
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.readiness import Readiness, broker_probe, database_probe, trust_probe, until_done
from shared.mesh.topology import DEAD_QUEUE, INGRESS_QUEUES, declare_gateway
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.telemetry import ServiceMetrics, configure_tracing, metrics, propagate_trace, serving
from shared.web.admin_auth import admin_guard
from shared.web.http_app import build_app
from shared.web.journal_http import JournalSources, Peer
from shared.web.mesh_descriptor import mesh_descriptor_router, service_urls

log = get_logger(__name__)
MODELS: list[type[SQLModel]] = [
    OutboxMessage, SystemIdentityRecord, RetiredIdentityRecord, MemberRow, ServiceRow, SeedMark, MemberCertificate,
    LogRecord, LogHead, LogAnchor, SyncCall, ClockRow, ParkedRequest, DeliveryRow, MeshSnapshotRow]
SERVICE = "shep_gateway"
STEPS = ["database", "clock", "broker", "trust", "identity", "registry", "topology", "consumers"]


@dataclass
class Parts:
    """The gateway's objects, made once by ``_wire``; start-up, the lifespan and the routes use them."""

    settings: GatewaySettings
    engine: AsyncEngine
    sessions: Sessions
    clock: MeshClock
    http: httpx.AsyncClient
    owns_http: bool
    bus: Bus
    accounts: BrokerAccounts
    relay: OutboxRelay
    composer: Composer
    book: RegistryBook
    message_log: MessageLog
    gateway: Gateway
    worker: IngressWorker
    nuc: NucClient
    clock_authority: ClockAuthority
    readiness: Readiness
    delivery_watch: BackgroundTask
    faults: PipelineFaults
    soap_door: SoapDoor
    soap_push: SoapPush


def create_app(settings: GatewaySettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    """``bus`` and ``http`` replace RabbitMQ and the HTTP client to НУЦ (the in-process mesh of the tests)."""
    parts = _wire(settings or GatewaySettings(), bus=bus, http=http)
    token = parts.settings.mesh.admin_token.get_secret_value
    journal = service_journal(service=SERVICE, settings=parts.settings, clock=parts.clock)
    parts.gateway.outcomes.journal = journal
    parts.soap_door.journal = parts.soap_push.journal = journal
    chaos = ChaosBook(journal=journal)  # fault injection: the pipeline's rules and this edge's (docs/chaos.md)
    parts.faults.attach(chaos)
    app = build_app(service=SERVICE, title="egov-mesh SHEP gateway",
                    summary="ШЭП/РШЭП simulator",
                    description="Verifies, authorises, logs and routes every message between member systems.",
                    readiness=parts.readiness, lifespan=_lifespan(parts), journal=journal, admin_token=token,
                    chaos=chaos)
    # GET /admin/journal here is the whole mesh's: the gateway's own entries merged with every service's
    app.state.journal_sources = JournalSources(journal=journal, peers=journal_peers(parts.settings),
                                               http=parts.http, token=token)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(mesh_descriptor_router(token=parts.settings.mesh.admin_token.get_secret_value))
    app.state.chaos = GatewayChaos(book=chaos, faults=parts.faults, edge=app.state.chaos,
                                   registry=lambda: parts.book.registry, peers=journal_peers(parts.settings),
                                   http=parts.http, token=token)
    app.state.gateway = parts.gateway
    app.state.soap_door = parts.soap_door
    app.state.book = parts.book
    app.state.clock_authority = parts.clock_authority
    app.state.message_log = parts.message_log
    app.state.accounts = parts.accounts
    app.state.admin_guard = admin_guard(token=parts.settings.mesh.admin_token.get_secret_value)
    app.state.mesh_reset = _mesh_reset(parts, forget=app.state.journal_sources.clear,
                                       end_faults=app.state.chaos.clear)
    app.state.snapshots = MeshSnapshots(sessions=parts.sessions, reset=app.state.mesh_reset)
    app.state.settler = _settler(parts)
    return app


def peer_urls(settings: GatewaySettings) -> dict[str, str]:
    """The mesh's other services, where the gateway asks them over HTTP (``SHEP_PEER_URLS``, else the mesh
    descriptor's ``MESH_SERVICE_URLS``): the merged journal and fault rules, a mesh reset, the settle."""
    return {name: url for name, url in service_urls(settings.peer_urls).items() if name != SERVICE}


def journal_peers(settings: GatewaySettings) -> list[Peer]:
    return [Peer(name=name, url=url) for name, url in peer_urls(settings).items()]


def _mesh_reset(parts: Parts, *, forget: Callable[[], Awaitable[int]],
                end_faults: Callable[[], Awaitable[list[dict[str, Any]]]]) -> MeshReset:
    """The member services among the gateway's peers (``peer_urls``)."""
    settings = parts.settings
    members = MemberCalls(http=parts.http, admin_token=settings.mesh.admin_token.get_secret_value,
                          urls=lambda: {n: u for n, u in peer_urls(settings).items() if n not in NOT_MEMBERS})
    return MeshReset(sessions=parts.sessions, bus=parts.bus, members=members, worker=parts.worker,
                     gateway=parts.gateway, book=parts.book, clock=parts.clock_authority,
                     own_ready=parts.readiness.check, forget=forget, end_faults=end_faults)


def _settler(parts: Parts) -> Settler:
    """The settle asks every other service of the mesh, at the addresses the mesh's members reach them by."""
    probes = [MemberProbe(name=name, url=url) for name, url in peer_urls(parts.settings).items()]
    return Settler(bus=parts.bus, members=lambda: list(parts.book.registry.members), holding=parts.worker.holding,
                   relay=parts.relay, parked=lambda: parked_count(parts.sessions), authority=parts.clock_authority,
                   http=parts.http, probes=probes,
                   admin_token=parts.settings.mesh.admin_token.get_secret_value)


def _broker_admin(settings: GatewaySettings, template: Bus,
                  http: httpx.AsyncClient) -> tuple[BrokerAdmin | None, BrokerLogin | None]:
    """Who makes the members' broker accounts: RabbitMQ's management API with the administrator's login, or the
    in-memory broker itself; neither (a plain broker) turns accounts off."""
    if not settings.broker_admin_url:
        return template.accounts(), None
    if settings.broker_admin_password is None:
        raise MeshError("BROKER_ADMIN_PASSWORD_MISSING", "SHEP_BROKER_ADMIN_URL is set without "
                        "SHEP_BROKER_ADMIN_PASSWORD: the broker has no guest to fall back on")
    administrator = BrokerLogin(user=settings.broker_admin_user,
                                password=settings.broker_admin_password.get_secret_value())
    return RabbitManagement(url=settings.broker_admin_url, http=http, admin=administrator), administrator


def _broker(settings: GatewaySettings, template: Bus, http: httpx.AsyncClient) -> tuple[Bus, Callable[
        [RegistryBook], BrokerAccounts]]:
    """The gateway's connection, publishing under its own broker login — which the accounts make, once they
    exist: so the connection asks for it at each connect, and the accounts are made from the returned maker."""
    admin, administrator = _broker_admin(settings, template, http)
    made: list[BrokerAccounts] = []

    async def own_login() -> BrokerLogin | None:
        return await made[0].own_login()

    bus = template.sibling(connection_name="shep_gateway", login=own_login)

    def accounts(book: RegistryBook) -> BrokerAccounts:
        made.append(BrokerAccounts(admin=admin, secret=settings.mesh.key_passphrase.get_secret_value(), book=book,
                                   bus=bus, administrator=administrator, management_url=settings.broker_admin_url))
        return made[0]
    return bus, accounts


def _wire(settings: GatewaySettings, *, bus: Bus | None, http: httpx.AsyncClient | None) -> Parts:
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    clock = MeshClock()
    configure_logging(service=SERVICE, level=settings.mesh.log_level, clock=clock)
    configure_tracing(SERVICE)
    client = http or httpx.AsyncClient(event_hooks={"request": [propagate_trace]})
    own_bus, make_accounts = _broker(settings, bus or RabbitBus(url=settings.mesh.amqp_url,
                                                                connection_name="shep_gateway"), client)
    # The gateway publishes what each transaction commits itself; the relay only recovers what a crash left.
    faults = PipelineFaults()  # what it publishes to members passes the fault-injection rules (docs/chaos.md)
    own_bus = ChaosBus(own_bus, faults)
    relay = OutboxRelay(sessions=sessions, bus=own_bus, min_age=dt.timedelta(seconds=5),
                        keep_sent=dt.timedelta(seconds=settings.mesh.outbox_keep_s))
    composer = Composer(member_id=settings.member_id, clock=clock)
    book = RegistryBook(settings=settings, sessions=sessions, bus=own_bus, clock=clock)
    accounts = make_accounts(book)
    gateway = Gateway(settings=settings, sessions=sessions, bus=own_bus, clock=clock, composer=composer, relay=relay,
                      book=book, accounts_enforced=accounts.enforced)
    gateway.decision.faults = faults.ingress
    gateway.redelivery.down = faults.down_reason
    relay.also_purge(lambda: gateway.purge_log(older_than=dt.timedelta(days=settings.log_retention_days)))
    relay.also_purge(lambda: gateway.purge_deliveries(older_than=dt.timedelta(seconds=settings.mesh.outbox_keep_s)))
    worker = IngressWorker(gateway=gateway, bus=own_bus, batch_size=settings.batch_size, prefetch=settings.prefetch,
                           stall_s=settings.ingress_stall_s)
    nuc = NucClient(base_url=settings.mesh.nuc_url, admin_token=settings.mesh.admin_token.get_secret_value(),
                    http=client)
    readiness = Readiness(steps=list(STEPS))
    readiness.watch("broker", broker_probe(own_bus))
    readiness.watch("database", database_probe(engine))
    readiness.watch("trust", trust_probe(lambda: book.verifier, clock))
    readiness.watch("ingress", worker.progress)

    async def scrape(counted: ServiceMetrics) -> None:  # what /metrics reads: the outbox, the queues it minds
        await scrape_outbox(counted, relay)
        for queue in (*INGRESS_QUEUES, DEAD_QUEUE):
            counted.queue_depth.labels(counted.service, queue).set((await own_bus.queue_status(queue=queue)).ready)
    metrics(SERVICE).on_scrape("gateway", scrape)
    soap_door = SoapDoor(bus=own_bus, book=book, decision=gateway.decision, composer=composer, clock=clock,
                         keyring=lambda: gateway.keyring, secret=settings.mesh.key_passphrase.get_secret_value(),
                         sync_timeout_s=settings.mesh.sync_timeout_s, max_sync_deadline_s=settings.max_sync_deadline_s)
    soap_push = SoapPush(bus=own_bus, book=book, sessions=sessions, composer=composer, keyring=lambda: gateway.keyring,
                         http=client, door=soap_door)
    book.on_loaded.append(soap_push.refresh)
    return Parts(settings=settings, engine=engine, sessions=sessions, clock=clock, http=client, soap_door=soap_door,
                 soap_push=soap_push,
                 owns_http=http is None, bus=own_bus, accounts=accounts, relay=relay, composer=composer, book=book,
                 message_log=MessageLog(sessions=sessions, book=book, own_id=settings.member_id), gateway=gateway,
                 worker=worker, nuc=nuc, readiness=readiness, faults=faults,
                 clock_authority=ClockAuthority(sessions=sessions, bus=own_bus, clock=clock, composer=composer,
                                                nuc=nuc),
                 delivery_watch=BackgroundTask(name="gateway-deliveries", run=lambda: _watch_deliveries(gateway,
                                                                                                        settings)))


async def _watch_deliveries(gateway: Gateway, settings: GatewaySettings) -> None:
    """Deliveries not acknowledged in time are delivered again, then NOT_DELIVERED (``shared.mesh.receipts``)."""
    while True:
        try:
            wait = await gateway.redeliver_due()
        except Exception:  # looked at again shortly; a delivery stays ON_DELIVERY meanwhile
            log.exception("delivery_watch_failed")
            wait = 1.0
        timeout = settings.receipt_timeout_s
        await asyncio.sleep(max(0.05, min(timeout if wait is None else wait, timeout, 5.0)))


class StartUp:
    """The start-up steps, each run until it succeeds (its last error on /ready meanwhile), in this order:
    database, clock, broker, registry, trust, identity, topology, consumers; then the background refresh."""

    def __init__(self, parts: Parts) -> None:
        self._p = parts

    async def run(self) -> None:
        p, r = self._p, self._p.readiness
        await until_done(readiness=r, step="database", action=self.database)
        await until_done(readiness=r, step="clock", action=p.clock_authority.load)
        await until_done(readiness=r, step="broker", action=p.bus.connect)
        await until_done(readiness=r, step="registry", action=self.registry)
        await until_done(readiness=r, step="trust", action=self.trust)
        await until_done(readiness=r, step="identity", action=self.identity)
        await until_done(readiness=r, step="topology", action=self.topology)
        await until_done(readiness=r, step="consumers", action=self.consumers)
        await self.background()

    async def database(self) -> None:
        await create_tables(self._p.engine, models=MODELS)
        await backfill_real_times(self._p.sessions)

    async def registry(self) -> None:
        await self._p.book.seed_registry()
        await self._p.book.load_registry()

    async def trust(self) -> None:
        p = self._p
        p.book.verifier = CertificateVerifier(
            trust=TrustStore.from_certificates(await p.nuc.ca_chain()), clock=p.clock, skew_wait_s=0.0,
            ocsp=OcspClient(url=p.nuc.ocsp_url, http=p.http, clock=p.clock,
                            max_age_s=p.settings.mesh.ocsp_max_age_s))

    async def identity(self) -> None:
        """The gateway's own system certificate (enrolled at НУЦ the first time), pinned to it, and its keys."""
        p = self._p
        assert p.book.verifier is not None
        member_id, passphrase = p.settings.member_id, p.settings.mesh.key_passphrase.get_secret_value()
        member = p.book.registry.members.get(member_id)
        if member is None:
            raise RuntimeError(f"the registry has no member {member_id!r} for the gateway itself")
        sessions = p.sessions
        p.composer.signer = await load_or_enroll(
            sessions=sessions, member_id=member_id, organisation=member.organisation, bin_=member.bin, nuc=p.nuc,
            passphrase=passphrase, verifier=p.book.verifier, clock=p.clock)
        await p.book.pin_own(member_id=member_id, certificate=p.composer.signer.certificate)
        p.gateway.keyring = await load_keyring(sessions=sessions, member_id=member_id, passphrase=passphrase,
                                               current=p.composer.signer)

    async def topology(self) -> None:
        p = self._p
        await p.accounts.remove_guest()
        await declare_gateway(p.bus)
        await p.accounts.bound_dead_letters(max_length=p.settings.dead_letters_max_length,
                                            max_bytes=p.settings.dead_letters_max_bytes)
        await p.book.declare_topology()

    async def consumers(self) -> None:
        p = self._p
        await p.gateway.restore_timers()
        p.delivery_watch.start()
        p.relay.start()
        p.relay.kick()
        await p.worker.start()
        await p.soap_door.start()
        await p.soap_push.start()
        await p.clock_authority.broadcast()

    async def background(self) -> None:
        """Heartbeat of the clock for late joiners, and registry refresh so replicas converge."""
        while True:
            await asyncio.sleep(self._p.settings.clock_heartbeat_s)
            with suppress(Exception):
                await self._p.book.load_registry()
                await self._p.clock_authority.broadcast()


def _lifespan(parts: Parts) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        startup = BackgroundTask(name="gateway-startup", run=StartUp(parts).run)
        with serving(SERVICE):  # the gateway's tasks count and trace as its own
            startup.start()
        yield
        await startup.stop()
        await parts.soap_door.stop()
        await parts.soap_push.stop()
        await parts.worker.stop()
        await parts.delivery_watch.stop()
        parts.gateway.cancel_timers()
        await parts.relay.stop()
        await parts.bus.close()
        if parts.owns_http:
            await parts.http.aclose()
        await parts.engine.dispose()
    return lifespan
