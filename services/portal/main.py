"""ПЭП (egov.kz) simulator: citizens' accounts and logins (IIN + password, or EDS), their own data from
ГБД ФЛ through the gateway; a member of the mesh as ``portal``, and host of ``mail``, the mesh's SMS and e-mail
outbox (services/portal/mailbox.py)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.portal.handlers import Portal
from services.portal.mailbox import MailMessage, host_mailbox
from services.portal.routes import ROUTERS
from services.portal.settings import PortalSettings
from services.portal.state import portal_state
from services.portal.store import Account, CitizenCopy, OrganisationAccount, SurveyAnswer
from services.portal.usecases.following import follow_applications
from shared.employment.case_probe import followed_cases
from shared.employment.case_tracking import CaseNotice, TrackedCase
from shared.employment.logins import Challenge, LoginGuess, LoginSession, configure_hashing
from shared.employment.mail import MAIL_MEMBER
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.mesh.bus import Bus
from shared.mesh.member_node import MemberNode
from shared.web.admin_auth import admin_guard, admin_or_anonymous
from shared.web.idempotency import IdempotencyRecord, purge_keys
from shared.web.member_app import create_member_app


def create_app(settings: PortalSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    configure_hashing(settings.mesh)
    # the regulation files say which service each region offers through the portal (the catalogue, the checks)
    regulations = RegulationBook.load(settings.regulations_dir or REGULATIONS_DIR)

    def wire(node: MemberNode, app: FastAPI) -> None:
        runtime = node.runtime(settings.member_id)
        token = settings.mesh.admin_token.get_secret_value
        # the routes reach the use cases here (services.portal.deps), never by closure
        app.state.portal = Portal(sessions=node.sessions, runtime=runtime, clock=node.clock, settings=settings,
                                  regulations=regulations, members=node.gateway.members,
                                  admin=admin_guard(token=token), precise=admin_or_anonymous(token=token))
        follow_applications(runtime, clock=node.clock)
        node.work_probe = followed_cases(node.sessions)  # for the gateway's settle: what the citizen heard
        node.relay.also_purge(lambda: purge_keys(node.sessions))
        # the mesh's SMS and e-mail outbox: a member of its own (its own certificate, broker login and queues)
        host_mailbox(node.runtime(MAIL_MEMBER), clock=node.clock)
        app.state.state_plan = portal_state()
        for router in ROUTERS:
            app.include_router(router)

    return create_member_app(settings=settings, service="portal", title="egov-mesh portal",
                             summary="ПЭП simulator",
                             description="The e-government portal: citizens' registration and login (IIN + "
                                         "password or EDS), sessions, their own data.",
                             members=[settings.member_id, MAIL_MEMBER],
                             models=[Account, LoginSession, Challenge, LoginGuess, TrackedCase, CaseNotice,
                                     IdempotencyRecord, MailMessage, SurveyAnswer, CitizenCopy,
                                     OrganisationAccount],
                             wire=wire, bus=bus, http=http)
