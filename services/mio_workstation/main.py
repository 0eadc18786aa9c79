"""ИС МИО simulator: the local authorities' workstation — one mesh member ``mio.<district>`` per district,
regulations as data, the staff workflow on the mesh clock, «Еңбек нарығы», status notifications."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.mio_workstation.api import build_router
from services.mio_workstation.auto_runner import AutoRunner
from services.mio_workstation.consumers import wire_consumers
from services.mio_workstation.handlers import Workstation
from services.mio_workstation.onboarding import join_mesh
from services.mio_workstation.settings import MioSettings
from services.mio_workstation.staff import StaffBook
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
from shared.employment.logins import Challenge, LoginGuess, Logins, LoginSession
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook, RegulationError
from shared.mesh.bus import Bus
from shared.mesh.member_node import MemberNode
from shared.web.admin_auth import admin_guard
from shared.web.idempotency import IdempotencyRecord, purge_keys
from shared.web.member_app import create_member_app
from shared.working_calendar import WorkingCalendar

MODELS = [StaffAccount, DistrictMode, NumberCounter, Application, StepRecord, LabourCard, LabourCardEvent,
          LoginSession, Challenge, LoginGuess, IdempotencyRecord, ApplicationDocument, DocumentCounter]


def create_app(settings: MioSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or MioSettings()
    # a broken regulation file stops the service here, naming the file and the field
    book = RegulationBook.load(settings.regulations_dir or REGULATIONS_DIR)
    districts = settings.districts or book.districts
    idle = [d for d in districts if not book.for_district(d)]
    if idle:
        raise RegulationError(f"MIO_DISTRICTS names {', '.join(idle)}, which no regulation file serves")

    def wire(node: MemberNode, app: FastAPI) -> None:
        logins = Logins(sessions=node.sessions, clock=node.clock, audience="egov-mesh ИС МИО",
                        verifier=lambda: node.verifier, session_minutes=settings.session_minutes,
                        challenge_seconds=settings.challenge_seconds)
        staff = StaffBook(sessions=node.sessions, clock=node.clock, book=book, nuc=node.nuc, gateway=node.gateway,
                          logins=logins, districts=districts)
        workstation = Workstation(sessions=node.sessions, clock=node.clock, book=book, staff=staff,
                                  runtimes=node.runtimes, calendar=WorkingCalendar(), default_share=settings.auto_share,
                                  default_mode=settings.default_mode)
        runner = AutoRunner(workstation=workstation, clock=node.clock)
        wire_consumers(runtimes=node.runtimes, workstation=workstation)

        async def clock_changed(_state: object) -> None:
            runner.wake()

        node.clock_follower.on_change(clock_changed)
        node.before_identity("onboarding", lambda: join_mesh(gateway=node.gateway, book=book, districts=districts))
        node.then("staff", staff.seed)
        node.then("runner", runner.start)
        node.on_stop(runner.stop)
        node.relay.also_purge(lambda: purge_keys(node.sessions))
        token = settings.mesh.admin_token.get_secret_value
        app.include_router(build_router(workstation=workstation, staff=staff, book=book,
                                        admin=admin_guard(token=token), admin_token=token))

    return create_member_app(settings=settings, service="mio_workstation", title="egov-mesh ISMIO",
                             summary="ИС МИО simulator",
                             description="Local executive bodies: applications through the regulations' staff "
                                         "steps, EDS-signed results, «Еңбек нарығы», status notifications.",
                             members=[f"mio.{d}" for d in districts], models=MODELS, wire=wire,
                             extra_steps=["onboarding", "staff", "runner"],
                             bus=bus, http=http)
