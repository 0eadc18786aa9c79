"""НУЦ РК simulator: a root and an issuing CA, issuance, revocation, OCSP and CRL over HTTP.

It is not a gateway member (relying parties reach a CA over plain HTTP), but it follows the mesh clock so
that validity dates, OCSP times and CRLs agree with the rest of the mesh.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.nuc_pki.handlers import CertificateAuthority
from services.nuc_pki.routes import ca as ca_routes
from services.nuc_pki.routes import issuance, lookup, revocation, status
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial, IssuedCertificate
from services.nuc_pki.usecases.scenario_revocation import ScenarioRevocations
from shared.clock import MeshClock
from shared.db import create_tables, make_engine, make_sessions
from shared.logging import configure_logging, get_logger
from shared.mesh.background import BackgroundTask
from shared.mesh.bus import Bus
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.clock_follower import ClockFollower
from shared.mesh.control_clients import GatewayControlClient
from shared.mesh.journal import service_journal
from shared.mesh.member import EnvelopeVerifier
from shared.mesh.readiness import Readiness, broker_probe, database_probe, until_done
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.telemetry import configure_tracing, propagate_trace, serving
from shared.web.http_app import build_app

log = get_logger(__name__)
CLOCK_LISTENER = "nuc"  # НУЦ's broker account (services.shep_gateway.accounts.LISTENERS)


def create_app(settings: NucSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or NucSettings()
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    clock = MeshClock()
    configure_logging(service="nuc_pki", level=settings.mesh.log_level, clock=clock)
    configure_tracing("nuc_pki")
    ca = CertificateAuthority(sessions=sessions, clock=clock, settings=settings)
    readiness = Readiness(steps=["database", "ca"])
    owns_http = http is None
    http = http or httpx.AsyncClient(event_hooks={"request": [propagate_trace]})
    gateway = GatewayControlClient(base_url=settings.mesh.gateway_url,
                                   admin_token=settings.mesh.admin_token.get_secret_value(), http=http)
    ca.ocsp.scenarios = ScenarioRevocations(http=http, gateway_url=settings.mesh.gateway_url,
                                            admin_token=settings.mesh.admin_token.get_secret_value())
    template = bus or RabbitBus(url=settings.mesh.amqp_url, connection_name="nuc_pki")
    # НУЦ's own broker account (made by the gateway) may only follow the mesh clock.
    bus = template.sibling(connection_name="nuc_pki", login=gateway.login_source(CLOCK_LISTENER))
    readiness.watch("database", database_probe(engine))
    readiness.watch("broker", broker_probe(bus))  # mesh clock changes reach НУЦ over the broker

    async def follow_clock() -> None:
        """Best effort: НУЦ must not wait for the gateway, which itself waits for НУЦ."""
        if not bus.is_connected:
            await bus.connect()
        verifier = CertificateVerifier(trust=TrustStore.from_certificates(ca.chain()), clock=clock,
                                       ocsp=OcspClient(url=f"{settings.mesh.nuc_url}/ocsp", http=http, clock=clock,
                                                       max_age_s=settings.mesh.ocsp_max_age_s))
        checks = EnvelopeVerifier(member_id="nuc", verifier_ref=lambda: verifier)
        follower = ClockFollower(bus=bus, clock=clock, verify=checks.verify, name=CLOCK_LISTENER)
        await follower.start()
        try:
            await follower.adopt(await gateway.clock())
        except Exception as exc:  # the gateway may not be up yet; its next broadcast will reach us
            log.info("clock_not_fetched", reason=str(exc)[:200])

    async def start() -> None:
        await until_done(readiness=readiness, step="database",
                         action=lambda: create_tables(engine, models=[CaMaterial, IssuedCertificate]))
        await until_done(readiness=readiness, step="ca", action=ca.keys.load_or_create)
        await until_done(readiness=Readiness(steps=["clock"]), step="clock", action=follow_clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        startup = BackgroundTask(name="nuc-startup", run=start)
        with serving("nuc_pki"):
            startup.start()
        yield
        await startup.stop()
        await bus.close()
        if owns_http:
            await http.aclose()
        await engine.dispose()

    app = build_app(service="nuc_pki", title="egov-mesh NUC",
                    summary="НУЦ РК simulator",
                    description="Certificates by the НУЦ profile, revocation, OCSP (RFC 6960) and CRL.",
                    readiness=readiness, lifespan=lifespan,
                    journal=service_journal(service="nuc_pki", settings=settings, clock=clock),
                    admin_token=settings.mesh.admin_token.get_secret_value)
    for routes in (ca_routes.router, issuance.router, issuance.test_router, revocation.router, lookup.router,
                   status.router):
        app.include_router(routes)
    app.state.ca = ca
    app.state.admin_token = settings.mesh.admin_token.get_secret_value
    app.state.clock = clock
    return app
