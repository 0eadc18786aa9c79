"""ГБД ФЛ simulator: the state database of individuals, a seeded synthetic population, answering look-ups by
IIN through the gateway."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.gbd_fl.consumers import wire_consumers
from services.gbd_fl.registry import Registry
from services.gbd_fl.routes import facts, people, population
from services.gbd_fl.settings import GbdFlSettings
from services.gbd_fl.state import registry_state
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from shared.mesh.bus import Bus
from shared.mesh.member_node import MemberNode
from shared.web.member_app import create_member_app


def create_app(settings: GbdFlSettings | None = None, *, bus: Bus | None = None,
               http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or GbdFlSettings()

    def wire(node: MemberNode, app: FastAPI) -> None:
        registry = Registry.over(sessions=node.sessions, settings=settings, clock=node.clock)
        wire_consumers(runtime=node.runtime(settings.member_id), registry=registry)
        # before the consumers: no "no data" for a person the first start has not seeded yet
        node.before_consumers("population", registry.population.seed_if_empty)
        app.state.registry = registry
        app.state.state_plan = registry_state(registry.population)
        app.state.admin_token = settings.mesh.admin_token.get_secret_value
        for routes in (population, people, facts):
            app.include_router(routes.router)

    return create_member_app(settings=settings, service="gbd_fl", title="egov-mesh GBDFL",
                             summary="ГБД ФЛ simulator",
                             description="Person data by IIN and external registries' facts, served synchronously "
                                         "through the gateway; a seeded synthetic population.",
                             members=[settings.member_id], models=[Person, RegistryFacts, PopulationState],
                             wire=wire, extra_steps=["population"], bus=bus, http=http)
