"""ИС ЦОН simulator: the service-centre operators' system, a member of the mesh as ``con``; it follows the
status of every application (whatever channel it came through) as the regulations require."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.con_operator.api import build_router
from services.con_operator.settings import ConOperatorSettings
from shared.admin_auth import admin_guard
from shared.bus import Bus
from shared.case_tracking import CaseNotice, TrackedCase, follow
from shared.contracts import EMPLOYMENT_SERVICES
from shared.idempotency import IdempotencyRecord, purge_keys
from shared.member_app import create_member_app
from shared.member_node import MemberNode


def create_app(settings: ConOperatorSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or ConOperatorSettings()

    def wire(node: MemberNode, app: FastAPI) -> None:
        runtime = node.runtime(settings.member_id)
        follow(runtime, services=EMPLOYMENT_SERVICES, clock_now=node.clock.now)
        node.relay.also_purge(lambda: purge_keys(node.sessions))
        app.include_router(build_router(sessions=node.sessions, runtime=runtime, clock=node.clock,
                                        admin=admin_guard(token=settings.mesh.admin_token.get_secret_value)))

    return create_member_app(settings=settings, service="con_operator", title="con_operator — ИС ЦОН simulator",
                             description="Service-centre operators: statuses of applications in every channel; "
                                         "intake on behalf of citizens.",
                             members=[settings.member_id], models=[TrackedCase, CaseNotice, IdempotencyRecord],
                             wire=wire, bus=bus, http=http)
