"""What a route needs, reached through the app (``app.state``, set by ``main.create_app``) rather than captured by
a closure: a route module is then plain module-level code, and a test can build the app with other objects."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gbd_fl.registry import Registry
from services.gbd_fl.usecases.claim import Claims
from services.gbd_fl.usecases.new_person import NewPeople
from services.gbd_fl.usecases.records import Records
from services.gbd_fl.usecases.seeding import Population
from shared.web.admin_auth import ADMIN_REFUSALS, admin_guard
from shared.web.openapi_errors import raises
from shared.web.security import AdminCredentials


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


@raises(*ADMIN_REFUSALS)
def admin_only(request: Request, credentials: AdminCredentials) -> None:
    """The whole HTTP API is test support: the admin token (``adminToken``) or a catalogued refusal."""
    admin_guard(token=request.app.state.admin_token)(credentials)


def records_of(request: Request) -> Records:
    return registry_of(request).records


def claims_of(request: Request) -> Claims:
    return registry_of(request).claims


def new_people_of(request: Request) -> NewPeople:
    return registry_of(request).new_people


def population_of(request: Request) -> Population:
    return registry_of(request).population


RecordsDep = Annotated[Records, Depends(records_of)]
ClaimsDep = Annotated[Claims, Depends(claims_of)]
NewPeopleDep = Annotated[NewPeople, Depends(new_people_of)]
PopulationDep = Annotated[Population, Depends(population_of)]
