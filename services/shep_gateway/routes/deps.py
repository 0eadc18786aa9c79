"""What the gateway's routes depend on, reached through ``request.app.state`` (set by ``main.create_app``): the
registry book, the clock authority, the message log, the broker accounts, and the admin token's guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

from fastapi import Depends, Request

from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.usecases.broker_accounts import BrokerAccounts
from services.shep_gateway.usecases.clock_authority import ClockAuthority
from services.shep_gateway.usecases.message_log import MessageLog
from services.shep_gateway.usecases.scenarios import Scenarios
from services.shep_gateway.usecases.settle import Settler
from shared.web.admin_auth import ADMIN_REFUSALS
from shared.web.openapi_errors import raises
from shared.web.security import AdminCredentials


def book_of(request: Request) -> RegistryBook:
    return cast(RegistryBook, request.app.state.book)


def clock_authority_of(request: Request) -> ClockAuthority:
    return cast(ClockAuthority, request.app.state.clock_authority)


def message_log_of(request: Request) -> MessageLog:
    return cast(MessageLog, request.app.state.message_log)


def settler_of(request: Request) -> Settler:
    return cast(Settler, request.app.state.settler)


def accounts_of(request: Request) -> BrokerAccounts:
    return cast(BrokerAccounts, request.app.state.accounts)


def scenarios_of(request: Request) -> Scenarios:
    return cast(Scenarios, request.app.state.gateway.scenarios)


@raises(*ADMIN_REFUSALS)
def require_admin(request: Request, credentials: AdminCredentials) -> None:
    """The admin token (the ``adminToken`` scheme), judged by the guard ``create_app`` made from the settings."""
    guard = cast(Callable[..., None], request.app.state.admin_guard)
    guard(credentials)


BookDep = Annotated[RegistryBook, Depends(book_of)]
ClockAuthorityDep = Annotated[ClockAuthority, Depends(clock_authority_of)]
MessageLogDep = Annotated[MessageLog, Depends(message_log_of)]
AccountsDep = Annotated[BrokerAccounts, Depends(accounts_of)]
ScenariosDep = Annotated[Scenarios, Depends(scenarios_of)]
SettlerDep = Annotated[Settler, Depends(settler_of)]
ADMIN_ONLY = [Depends(require_admin)]
