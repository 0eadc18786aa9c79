"""ИС ЦОН simulator: the service-centre operators' system, a member of the mesh as ``con``."""

from __future__ import annotations

from fastapi import FastAPI

from services.con_operator.settings import ConOperatorSettings
from shared.bus import Bus
from shared.member_app import create_member_app
from shared.member_node import MemberNode


def create_app(settings: ConOperatorSettings | None = None, *, bus: Bus | None = None) -> FastAPI:
    settings = settings or ConOperatorSettings()

    def wire(_node: MemberNode, _app: FastAPI) -> None:
        """Operator intake and status display arrive with their issues; the mesh connection is here."""

    return create_member_app(settings=settings, service="con_operator", title="con_operator — ИС ЦОН simulator",
                             description="Service-centre operators: intake on behalf of citizens, statuses, results.",
                             members=[settings.member_id], models=[], wire=wire, bus=bus)
