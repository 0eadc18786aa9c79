"""ИС МИО simulator: the local authorities' workstation, one mesh member ``mio.<district>`` per district."""

from __future__ import annotations

from fastapi import FastAPI

from services.mio_workstation.settings import MioSettings
from shared.bus import Bus
from shared.member_app import create_member_app
from shared.member_node import MemberNode


def create_app(settings: MioSettings | None = None, *, bus: Bus | None = None) -> FastAPI:
    settings = settings or MioSettings()

    def wire(_node: MemberNode, _app: FastAPI) -> None:
        """The staff workflow and the labour-market register arrive with their issue; districts connect here."""

    return create_member_app(settings=settings, service="mio_workstation",
                             title="mio_workstation — ИС МИО simulator",
                             description="Local executive bodies: applications, staff workflow, «Еңбек нарығы».",
                             members=settings.member_ids, models=[], wire=wire, bus=bus)
