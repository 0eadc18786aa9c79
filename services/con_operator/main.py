"""ИС ЦОН simulator: the State Corporation's service-centre system, a member of the mesh as ``con`` — branches
with their electronic queue, operators with НУЦ certificates, intake with the ГБД ФЛ look-up, representatives,
scans, the operator's EDS, hand-out of results; it follows the status of the applications the regulations
route to it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlmodel import SQLModel

from services.con_operator.branches import BRANCHES_FILE, BranchBook
from services.con_operator.centre import build_centre
from services.con_operator.operators import OperatorBook
from services.con_operator.routes import ROUTERS
from services.con_operator.settings import ConOperatorSettings
from services.con_operator.state import centre_state
from services.con_operator.store import OperatorAccount, Scan, ScanRef, Ticket, TicketCounter, Visit
from shared.employment.case_probe import followed_cases
from shared.employment.case_tracking import CaseNotice, TrackedCase, follow
from shared.employment.logins import Challenge, LoginGuess, Logins, LoginSession, configure_hashing
from shared.employment.registry_calls import person_by_iin
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.mesh.bus import Bus
from shared.mesh.contracts import EMPLOYMENT_SERVICES, PersonData
from shared.mesh.member_node import MemberNode
from shared.web.idempotency import IdempotencyRecord, purge_keys
from shared.web.member_app import create_member_app

MODELS: list[type[SQLModel]] = [TrackedCase, CaseNotice, IdempotencyRecord, OperatorAccount, Ticket, TicketCounter,
                                Visit, Scan, ScanRef, LoginSession, Challenge, LoginGuess]


def create_app(settings: ConOperatorSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or ConOperatorSettings()
    configure_hashing(settings.mesh)
    # a broken branch or regulation file stops the service here, naming the file and the field
    regulations = RegulationBook.load(settings.regulations_dir or REGULATIONS_DIR)
    branches = BranchBook.load(regulations, settings.branches_file or BRANCHES_FILE)

    def wire(node: MemberNode, app: FastAPI) -> None:
        runtime = node.runtime(settings.member_id)
        follow(runtime, services=EMPLOYMENT_SERVICES, clock_now=node.clock.now)
        node.work_probe = followed_cases(node.sessions)  # for the gateway's settle: what the ЦОН heard
        node.relay.also_purge(lambda: purge_keys(node.sessions))
        logins = Logins(sessions=node.sessions, clock=node.clock, audience="egov-mesh ИС ЦОН",
                        verifier=lambda: node.verifier, session_minutes=settings.session_minutes,
                        challenge_seconds=settings.challenge_seconds)
        operators = OperatorBook(sessions=node.sessions, clock=node.clock, branches=branches, nuc=node.nuc,
                                 gateway=node.gateway)
        node.then("operators", operators.seed)

        async def person_lookup(iin: str) -> PersonData | None:
            return await person_by_iin(runtime, iin, timeout_s=settings.registry_timeout_s)

        app.state.centre = build_centre(settings=settings, sessions=node.sessions, clock=node.clock, runtime=runtime,
                                        branches=branches, regulations=regulations, logins=logins,
                                        operators=operators, person_lookup=person_lookup,
                                        admin_token=settings.mesh.admin_token.get_secret_value)
        app.state.state_plan = centre_state()
        for router in ROUTERS:
            app.include_router(router)

    return create_member_app(settings=settings, service="con_operator", title="egov-mesh ISCON",
                             summary="ИС ЦОН simulator",
                             description="The State Corporation's service centres: branches, the electronic queue, "
                                         "operators, intake with the ГБД ФЛ look-up, representatives, the operator's "
                                         "EDS, statuses, hand-out of results.",
                             members=[settings.member_id], models=MODELS, wire=wire, extra_steps=["operators"],
                             bus=bus, http=http)
