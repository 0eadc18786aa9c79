"""Start-up and shutdown of a member service process: database, broker, trust, identity, registration,
clock, consumers — each step retried until it succeeds, each visible on /ready until then.

Services start in any order (as with ``docker compose up``): a step that needs НУЦ or the gateway waits
for it, and /ready stays 503 with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import httpx
import orjson
from sqlmodel import SQLModel

from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.logging import get_logger
from shared.mesh.background import BackgroundTask
from shared.mesh.bus import Bus, ForwardingBus, OutgoingMessage
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.clock_follower import ClockFollower
from shared.mesh.control_clients import GatewayControlClient, NucClient
from shared.mesh.identity import RetiredIdentityRecord, SystemIdentityRecord, load_keyring, load_or_enroll
from shared.mesh.in_flight import WorkProbe
from shared.mesh.inbox import InboxMessage, purge_inbox
from shared.mesh.member import MemberRuntime
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.readiness import Readiness, broker_probe, database_probe, trust_probe, until_done
from shared.mesh.scenarios import flow_http_headers
from shared.mesh.settings import ServiceSettings
from shared.mesh.topology import member_queue, member_sync_queue
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.pki.signing import certificate_pem
from shared.telemetry import ServiceMetrics, metrics, propagate_trace

log = get_logger(__name__)


class MemberBuses(ForwardingBus):
    """The connections of a process hosting several members, as one bus: a message is published on the
    connection of its ``publisher`` (so its AMQP user-id is that member's own login); everything else goes
    through the first member's connection."""

    def __init__(self, buses: dict[str, Bus]) -> None:
        super().__init__(next(iter(buses.values())))
        self._buses = buses

    async def connect(self) -> None:
        for bus in self._buses.values():
            if not bus.is_connected:
                await bus.connect()

    async def close(self) -> None:
        for bus in self._buses.values():
            await bus.close()

    @property
    def is_connected(self) -> bool:
        return all(bus.is_connected for bus in self._buses.values())

    async def publish(self, *, exchange: str, routing_key: str, message: OutgoingMessage,
                      mandatory: bool = True) -> None:
        bus = self._buses.get(message.publisher or _sender_of(message.body) or "", self._inner)
        await bus.publish(exchange=exchange, routing_key=routing_key, message=message, mandatory=mandatory)


async def scrape_outbox(counted: ServiceMetrics, relay: OutboxRelay) -> None:
    pending, lag_s = await relay.lag()
    counted.outbox_pending.labels(counted.service).set(pending)
    counted.outbox_lag.labels(counted.service).set(lag_s)


def _sender_of(body: bytes) -> str | None:
    """The envelope's sender, for an outbox row written before rows named their publisher."""
    try:
        sender = orjson.loads(body).get("sender")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return sender if isinstance(sender, str) else None


BASE_STEPS = ["database", "trust", "broker", "identity", "registration", "clock", "consumers"]
INFRA_MODELS: list[type[SQLModel]] = [OutboxMessage, InboxMessage, SystemIdentityRecord, RetiredIdentityRecord]


class MemberNode:
    def __init__(self, *, settings: ServiceSettings, service: str, members: list[str],
                 models: list[type[SQLModel]], extra_steps: list[str] | None = None, bus: Bus | None = None,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.service = service
        self.members = members
        self.models = INFRA_MODELS + models
        self.readiness = Readiness(steps=BASE_STEPS + (extra_steps or []))
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessions(self.engine)
        self.clock = MeshClock()
        mesh = settings.mesh
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(event_hooks={"request": [propagate_trace]})
        token = settings.mesh.admin_token.get_secret_value()
        self.nuc = NucClient(base_url=settings.mesh.nuc_url, admin_token=token, http=self.http)
        self.gateway = GatewayControlClient(base_url=settings.mesh.gateway_url, admin_token=token, http=self.http)
        # One connection per member, each under the member's own broker account (made by the gateway).
        template = bus or RabbitBus(url=settings.mesh.amqp_url, connection_name=service)
        self.buses = {m: template.sibling(connection_name=f"{service}:{m}", login=self.gateway.login_source(m))
                      for m in members}
        self.bus = MemberBuses(self.buses)
        self.relay = OutboxRelay(sessions=self.sessions, bus=self.bus,
                                 keep_sent=dt.timedelta(seconds=mesh.outbox_keep_s))
        self.relay.also_purge(lambda: purge_inbox(self.sessions, older_than=dt.timedelta(days=mesh.inbox_keep_days)))
        self.ocsp = OcspClient(url=self.nuc.ocsp_url, http=self.http, clock=self.clock,
                               max_age_s=settings.mesh.ocsp_max_age_s, flow_headers=flow_http_headers)
        self.verifier: CertificateVerifier | None = None
        self.runtimes = {m: MemberRuntime(member_id=m, bus=self.buses[m], sessions=self.sessions, clock=self.clock,
                                          relay=self.relay, sync_timeout_s=settings.mesh.sync_timeout_s,
                                          policy=mesh.retry_policy())
                         for m in members}
        first = members[0]
        self.clock_follower = ClockFollower(bus=self.buses[first], clock=self.clock,
                                            verify=self.runtimes[first].checks.verify, name=first)
        self._startup = BackgroundTask(name=f"{service}-startup", run=self._start)
        # What the service knows besides its messages (steps due, its cases), for the gateway's settle; the
        # service's wiring sets it (``shared.mesh.in_flight``).
        self.work_probe: WorkProbe | None = None
        self._after_start: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._before_consumers: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._before_identity: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self.readiness.watch("broker", broker_probe(self.bus))
        self.readiness.watch("database", database_probe(self.engine))
        self.readiness.watch("trust", trust_probe(lambda: self.verifier, self.clock))
        metrics(service).on_scrape("node", self._scrape)

    async def _scrape(self, counted: ServiceMetrics) -> None:
        """The gauges ``/metrics`` reads: its members' queues' depth, the outbox's backlog and lag."""
        await scrape_outbox(counted, self.relay)
        for member in self.members:
            for queue in (member_queue(member), member_sync_queue(member)):
                status = await self.bus.queue_status(queue=queue)
                counted.queue_depth.labels(counted.service, queue).set(status.ready)

    def runtime(self, member_id: str) -> MemberRuntime:
        return self.runtimes[member_id]

    def then(self, step: str, action: Callable[[], Awaitable[None]]) -> None:
        """A service-specific step (seed data…) run after the mesh steps; it must be in ``extra_steps``."""
        self._after_start.append((step, action))

    def before_consumers(self, step: str, action: Callable[[], Awaitable[None]]) -> None:
        """A step whose data handling a message needs (the registry's people, the organisations' BINs): run
        before the members take messages, so none is handled without it; it must be in ``extra_steps``."""
        self._before_consumers.append((step, action))

    def before_identity(self, step: str, action: Callable[[], Awaitable[None]]) -> None:
        """A step that must precede enrolment (putting the service's members in the gateway registry)."""
        self._before_identity.append((step, action))

    def on_stop(self, action: Callable[[], Awaitable[None]]) -> None:
        """Something to stop before the node's connections close (a scheduler, a worker)."""
        self._on_stop.append(action)

    def start(self) -> None:
        self._startup.start()

    async def _start(self) -> None:
        r = self.readiness
        await until_done(readiness=r, step="database", action=self._database)
        await until_done(readiness=r, step="trust", action=self._trust)
        for step, action in self._before_identity:  # a new member joins the registry before it asks for a login
            await until_done(readiness=r, step=step, action=action)
        await until_done(readiness=r, step="broker", action=self.bus.connect)
        await until_done(readiness=r, step="identity", action=self._identities)
        await until_done(readiness=r, step="registration", action=self._register)
        await until_done(readiness=r, step="clock", action=self._clock)
        for step, action in self._before_consumers:
            await until_done(readiness=r, step=step, action=action)
        await until_done(readiness=r, step="consumers", action=self._consumers)
        for step, action in self._after_start:
            await until_done(readiness=r, step=step, action=action)

    async def _database(self) -> None:
        await create_tables(self.engine, models=self.models)

    async def _trust(self) -> None:
        chain = await self.nuc.ca_chain()
        self.verifier = CertificateVerifier(trust=TrustStore.from_certificates(chain), ocsp=self.ocsp, clock=self.clock)

    async def _identities(self) -> None:
        assert self.verifier is not None
        entries = await self.gateway.entries(self.members)  # organisation and BIN as the gateway registered them
        gateway_certificate = await self.gateway.certificate()  # what payloads to the gateway are encrypted to
        passphrase = self.settings.mesh.key_passphrase.get_secret_value()
        for member_id, entry in entries.items():
            signer = await load_or_enroll(
                sessions=self.sessions, member_id=member_id, organisation=entry["organisation"], bin_=entry["bin"],
                nuc=self.nuc, passphrase=passphrase, verifier=self.verifier, clock=self.clock)
            keyring = await load_keyring(sessions=self.sessions, member_id=member_id, passphrase=passphrase,
                                         current=signer)
            self.runtimes[member_id].attach(signer=signer, verifier=self.verifier, keyring=keyring,
                                            gateway_certificate=gateway_certificate)

    async def _register(self) -> None:
        for member_id, runtime in self.runtimes.items():
            assert runtime.composer.signer is not None
            await self.gateway.register_certificate(member_id=member_id,
                                                    certificate_pem=certificate_pem(runtime.composer.signer.certificate))

    async def _clock(self) -> None:
        await self.clock_follower.start()  # subscribe first, then read: no change can fall in between
        await self.clock_follower.adopt(await self.gateway.clock())

    async def _consumers(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.start()
        self.relay.start()
        self.relay.kick()

    async def stop(self) -> None:
        await self._startup.stop()
        for action in self._on_stop:
            await action()
        for runtime in self.runtimes.values():
            await runtime.stop()
        await self.clock_follower.stop()
        await self.relay.stop()
        await self.bus.close()
        if self._owns_http:
            await self.http.aclose()
        await self.engine.dispose()
