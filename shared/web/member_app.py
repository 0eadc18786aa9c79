"""The FastAPI app of a member service: health, readiness, its mesh status, and the node's lifecycle.

A service's ``main.create_app`` passes its members, tables and wiring; everything else is the same for
portal, con_operator, mio_workstation and gbd_fl.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import ConfigDict, Field
from sqlmodel import SQLModel

from shared.logging import configure_logging
from shared.mesh import in_flight
from shared.mesh.bus import Bus
from shared.mesh.inbox import InboxMessage
from shared.mesh.journal import service_journal
from shared.mesh.member_node import MemberNode
from shared.mesh.outbox import OutboxMessage
from shared.mesh.settings import ServiceSettings
from shared.mesh.topology import member_queue, member_sync_queue
from shared.pki.cert_profile import serial_hex
from shared.telemetry import configure_tracing, serving
from shared.web.admin_auth import admin_guard
from shared.web.http_app import build_app
from shared.web.models import CamelModel, ClosedModel
from shared.web.state_admin import StateKeeper, StatePlan, state_router


class MemberCertificateOut(CamelModel):
    member_id: str
    certificate_serial: str | None
    certificate_not_after: str | None


class ClockStateOut(ClosedModel):
    """The mesh clock's anchor, as the clock keeps it (snake_case, as it always was here): mesh time = anchor_mesh +
    (real time − anchor_real) × speed."""

    version: int
    anchor_real: float
    anchor_mesh: float
    speed: float


class ClockOut(ClosedModel):
    state: ClockStateOut
    now: str


class MeshStatus(CamelModel):
    """A member service's own view of the mesh: its members and certificates, readiness, clock, outbox."""

    service: str
    members: list[MemberCertificateOut]
    ready: bool
    clock: ClockOut
    outbox_pending: int


def _mesh_router(node: MemberNode) -> APIRouter:
    router = APIRouter()

    @router.get("/mesh", tags=["ops"], summary="This service's member systems, certificates and mesh clock")
    async def mesh_status() -> MeshStatus:
        members = []
        for member_id, runtime in node.runtimes.items():
            signer = runtime.composer.signer
            cert = signer.certificate if signer else None
            members.append(MemberCertificateOut(
                member_id=member_id, certificate_serial=serial_hex(cert) if cert else None,
                certificate_not_after=cert.not_valid_after_utc.isoformat() if cert else None))
        state = node.clock.state
        return MeshStatus(service=node.service, members=members, ready=node.readiness.ready,
                          clock=ClockOut(state=ClockStateOut(version=state.version, anchor_real=state.anchor_real,
                                                             anchor_mesh=state.anchor_mesh, speed=state.speed),
                                         now=node.clock.now().isoformat()),
                          outbox_pending=await node.relay.pending_count())

    return router


class CaseSeenOut(CamelModel):
    role: str = Field(description="origin: the portal or ИС ЦОН that sent it; provider: ИС МИО, which decides it")
    status: str
    correlation_id: str | None = None
    application_number: str | None = None


class InFlightOut(CamelModel):
    """What this service has in flight now — for the gateway's settle, which reads every service twice."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"service": "mio_workstation", "activity": 412, "handling": 0, "dueNow": 1,
         "nextDue": "2026-03-02T10:20:00+00:00", "outboxUnsent": 0, "clockVersion": 3, "cases": []}]})

    service: str
    activity: int = Field(description="publishes and handlers started or finished since start: only ever grows")
    handling: int = Field(description="messages a handler is working on now")
    due_now: int = Field(description="steps of simulated staff due now (work under way)")
    next_due: str | None = Field(description="mesh time of the next step scheduled (for the case, if one is asked)")
    outbox_unsent: int
    clock_version: int = Field(description="the mesh clock's version this service follows")
    cases: list[CaseSeenOut] = Field(description="the case asked about, as this service knows it")


def _in_flight_router(node: MemberNode, *, token: Callable[[], str]) -> APIRouter:
    router = APIRouter(tags=["test support"], dependencies=[Depends(admin_guard(token=token))])

    @router.get("/admin/in-flight", summary="What this service has in flight (for the gateway's settle)")
    async def in_flight_now(case: Annotated[str | None, Query(max_length=128)] = None) -> InFlightOut:
        # Read in the order a message moves through a service — the counter first, then handlers, steps due,
        # the outbox — so one that moves on while this is read shows in a later number or in the counter.
        mine = in_flight.counters(node.service)
        activity, handling = mine.activity, mine.handling
        work = await node.work_probe(case) if node.work_probe is not None else in_flight.WorkSeen()
        return InFlightOut(service=node.service, activity=activity, handling=handling, due_now=work.due_now,
                           next_due=work.next_due.isoformat() if work.next_due else None,
                           outbox_unsent=await node.relay.pending_count(), clock_version=node.clock.state.version,
                           cases=[CaseSeenOut(role=c.role, status=c.status, correlation_id=c.correlation_id,
                                              application_number=c.application_number) for c in work.cases])

    return router


def create_member_app(*, settings: ServiceSettings, service: str, title: str, summary: str, description: str,
                      members: list[str],
                      models: list[type[SQLModel]], wire: Callable[[MemberNode, FastAPI], None],
                      extra_steps: list[str] | None = None, bus: Bus | None = None,
                      http: httpx.AsyncClient | None = None) -> FastAPI:
    """``bus`` and ``http`` replace the RabbitMQ connection and the HTTP client (to НУЦ and the gateway's
    control API) — the in-process mesh of the use-case tests passes an in-memory broker and ASGI routes."""
    node = MemberNode(settings=settings, service=service, members=members, models=models, extra_steps=extra_steps,
                      bus=bus, http=http)
    configure_logging(service=service, level=settings.mesh.log_level, clock=node.clock)
    configure_tracing(service)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with serving(service):  # the node's tasks count and trace as this service's
            node.start()
        yield
        await node.stop()

    journal = service_journal(service=service, settings=settings, clock=node.clock)
    for runtime in node.runtimes.values():  # what its members consume goes into the same journal
        runtime.journal = journal
    app = build_app(service=service, title=title, summary=summary, description=description,
                    readiness=node.readiness, lifespan=lifespan, journal=journal,
                    admin_token=settings.mesh.admin_token.get_secret_value)
    app.include_router(_mesh_router(node))
    app.include_router(_in_flight_router(node, token=settings.mesh.admin_token.get_secret_value))
    app.state.node = node
    wire(node, app)
    app.state.state_keeper = state_keeper(node, getattr(app.state, "state_plan", None) or StatePlan(state=[]))
    app.include_router(state_router(lambda: app.state.state_keeper,
                                    guard=admin_guard(token=settings.mesh.admin_token.get_secret_value)))
    return app


def state_keeper(node: MemberNode, plan: StatePlan) -> StateKeeper:
    """The service's own plan (``app.state.state_plan``, set by its wiring) and what every member has: its outbox and
    inbox are transient, its members' queues are drained by a whole reset."""
    plan.transient = [*plan.transient, OutboxMessage, InboxMessage]
    plan.queues = [*plan.queues, *((node.buses[m], q) for m in node.members
                                   for q in (member_queue(m), member_sync_queue(m)))]
    return StateKeeper(service=node.service, sessions=node.sessions, plan=plan)
