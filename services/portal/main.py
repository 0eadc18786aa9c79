"""ПЭП (egov.kz) simulator: citizens' accounts and logins (IIN + password, or EDS), their own data from
ГБД ФЛ through the gateway; a member of the mesh as ``portal``, and host of ``mail``, the mesh's SMS and e-mail
outbox (services/portal/mailbox.py)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.portal.api import build_router
from services.portal.cabinet import SurveyAnswer, build_cabinet_router
from services.portal.handlers import Portal
from services.portal.mailbox import MailMessage, build_mail_router, host_mailbox
from services.portal.settings import PortalSettings
from services.portal.store import Account, CitizenCopy, OrganisationAccount
from shared.employment.case_tracking import CaseNotice, TrackedCase, follow
from shared.employment.logins import Challenge, LoginGuess, LoginSession
from shared.employment.mail import MAIL_MEMBER
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.mesh.bus import Bus
from shared.mesh.contracts import EMPLOYMENT_SERVICES
from shared.mesh.member_node import MemberNode
from shared.web.admin_auth import admin_guard, admin_or_anonymous
from shared.web.idempotency import IdempotencyRecord, purge_keys
from shared.web.member_app import create_member_app
from shared.web.rate_limit import RateLimit


def create_app(settings: PortalSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    # the regulation files say which service each region offers through the portal (the catalogue, the checks)
    regulations = RegulationBook.load(settings.regulations_dir or REGULATIONS_DIR)

    def wire(node: MemberNode, app: FastAPI) -> None:
        runtime = node.runtime(settings.member_id)
        portal = Portal(sessions=node.sessions, runtime=runtime, clock=node.clock, settings=settings,
                        regulations=regulations, members=node.gateway.members)
        follow(runtime, services=EMPLOYMENT_SERVICES, clock_now=node.clock.now, adopt=True)
        node.relay.also_purge(lambda: purge_keys(node.sessions))
        token = settings.mesh.admin_token.get_secret_value
        app.include_router(build_router(
            portal=portal, admin=admin_guard(token=token), precise=admin_or_anonymous(token=token),
            registrations=RateLimit(per_minute=settings.anonymous_registrations_per_minute, what="registrations")))
        # the mesh's SMS and e-mail outbox: a member of its own (its own certificate, broker login and queues)
        host_mailbox(node.runtime(MAIL_MEMBER), clock=node.clock)
        app.include_router(build_mail_router(sessions=node.sessions, admin=admin_guard(token=token)))
        app.include_router(build_cabinet_router(sessions=node.sessions, logins=portal.logins, clock=node.clock,
                                                admin=admin_guard(token=token)))

    return create_member_app(settings=settings, service="portal", title="egov-mesh portal",
                             summary="ПЭП simulator",
                             description="The e-government portal: citizens' registration and login (IIN + "
                                         "password or EDS), sessions, their own data.",
                             members=[settings.member_id, MAIL_MEMBER],
                             models=[Account, LoginSession, Challenge, LoginGuess, TrackedCase, CaseNotice,
                                     IdempotencyRecord, MailMessage, SurveyAnswer, CitizenCopy,
                                     OrganisationAccount],
                             wire=wire, bus=bus, http=http)
