"""ИС МИО simulator: the local authorities' workstation — one mesh member ``mio.<district>`` per district,
regulations as data, the staff workflow on the mesh clock, «Еңбек нарығы», status notifications."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlmodel import SQLModel

from services.mio_workstation.consumers import wire_consumers
from services.mio_workstation.onboarding import join_mesh
from services.mio_workstation.routes import ROUTERS
from services.mio_workstation.settings import MioSettings
from services.mio_workstation.state import office_state
from services.mio_workstation.store import (
    Application,
    ApplicationDocument,
    DistrictMode,
    DocumentCounter,
    LabourCard,
    LabourCardEvent,
    NumberCounter,
    StaffAccount,
    StepRecord,
)
from services.mio_workstation.usecases.in_flight import staff_work
from services.mio_workstation.wiring import assemble
from shared.employment.logins import Challenge, LoginGuess, LoginSession, configure_hashing
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook, RegulationError
from shared.mesh.bus import Bus
from shared.mesh.member_node import MemberNode
from shared.web.idempotency import IdempotencyRecord, purge_keys
from shared.web.member_app import create_member_app

MODELS: list[type[SQLModel]] = [
    StaffAccount, DistrictMode, NumberCounter, Application, StepRecord, LabourCard, LabourCardEvent, LoginSession,
    Challenge, LoginGuess, IdempotencyRecord, ApplicationDocument, DocumentCounter]


def create_app(settings: MioSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or MioSettings()
    configure_hashing(settings.mesh)
    # a broken regulation file stops the service here, naming the file and the field
    book = RegulationBook.load(settings.regulations_dir or REGULATIONS_DIR)
    districts = settings.districts or book.districts
    idle = [d for d in districts if not book.for_district(d)]
    if idle:
        raise RegulationError(f"MIO_DISTRICTS names {', '.join(idle)}, which no regulation file serves")

    def wire(node: MemberNode, app: FastAPI) -> None:
        mio = assemble(node=node, settings=settings, book=book, districts=districts)
        wire_consumers(runtimes=node.runtimes, receiving=mio.receiving, districts=mio.districts)

        async def clock_changed(_state: object) -> None:
            mio.runner.wake()

        node.clock_follower.on_change(clock_changed)
        node.work_probe = staff_work(sessions=node.sessions, reads=mio.reads)  # for the gateway's settle
        node.before_identity("onboarding", lambda: join_mesh(gateway=node.gateway, book=book, districts=districts))
        node.before_consumers("organisations", mio.enrolment.load_organisations)
        node.then("staff", mio.enrolment.seed)
        node.then("runner", mio.runner.start)
        node.on_stop(mio.runner.stop)
        node.relay.also_purge(lambda: purge_keys(node.sessions))
        app.state.mio = mio
        app.state.state_plan = office_state(
            wake=mio.runner.wake, rejoin=lambda: join_mesh(gateway=node.gateway, book=book, districts=districts))
        for router in ROUTERS:
            app.include_router(router)

    return create_member_app(settings=settings, service="mio_workstation", title="egov-mesh ISMIO",
                             summary="ИС МИО simulator",
                             description="Local executive bodies: applications through the regulations' staff "
                                         "steps, EDS-signed results, «Еңбек нарығы», status notifications.",
                             members=[f"mio.{d}" for d in districts], models=MODELS, wire=wire,
                             extra_steps=["onboarding", "organisations", "staff", "runner"],
                             bus=bus, http=http)
