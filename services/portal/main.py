"""ПЭП (egov.kz) simulator: the citizen-facing portal, a member of the mesh as ``portal``."""

from __future__ import annotations

from fastapi import FastAPI

from services.portal.settings import PortalSettings
from shared.bus import Bus
from shared.member_app import create_member_app
from shared.member_node import MemberNode


def create_app(settings: PortalSettings | None = None, *, bus: Bus | None = None) -> FastAPI:
    settings = settings or PortalSettings()

    def wire(_node: MemberNode, _app: FastAPI) -> None:
        """Citizen accounts, logins and requests arrive with their issues; the mesh connection is here."""

    return create_member_app(settings=settings, service="portal", title="portal — ПЭП simulator",
                             description="The e-government portal: citizens, logins, requests, «Уведомления».",
                             members=[settings.member_id], models=[], wire=wire, bus=bus)
