"""What ИС ЦОН's routes depend on, as ``Annotated`` types: its objects (``app.state.centre``, wired by main.py) and
who is calling — an operator's login (``operatorSession``), the admin token (``adminToken``), or either where the
admin reads what an operator reads. Each dependency declares the codes it can refuse with (``raises``), so every
route behind it lists them in its OpenAPI."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.con_operator.centre import Centre
from services.con_operator.store import OperatorAccount
from shared.employment.logins import SESSION_REFUSALS
from shared.web.admin_auth import ADMIN_REFUSALS, admin_guard, is_admin_token
from shared.web.openapi_errors import raises
from shared.web.security import AdminCredentials, OperatorCredentials, token_of


def centre_of(request: Request) -> Centre:
    centre: Centre = request.app.state.centre
    return centre


CentreDep = Annotated[Centre, Depends(centre_of)]


@raises(*SESSION_REFUSALS, "OPERATOR_NOT_FOUND")
async def current_operator(centre: CentreDep, credentials: OperatorCredentials) -> OperatorAccount:
    """The operator whose login the bearer token is."""
    return await centre.logins.operator_of(token_of(credentials))


@raises(*SESSION_REFUSALS, "OPERATOR_NOT_FOUND")
async def operator_or_admin(centre: CentreDep, operator: OperatorCredentials,
                            admin: AdminCredentials) -> OperatorAccount | None:
    """An operator, or None for the admin token (test support reads everything). Both schemes read the one
    ``Authorization`` header: a token that is not the admin's is taken for an operator's login."""
    token = token_of(operator) or token_of(admin)
    if is_admin_token(token, centre.admin_token):
        return None
    return await centre.logins.operator_of(token)


@raises(*ADMIN_REFUSALS)
def admin_only(centre: CentreDep, credentials: AdminCredentials) -> None:
    """The admin token (test support and operating the mesh), checked as every service checks it."""
    admin_guard(token=centre.admin_token)(credentials)


CurrentOperator = Annotated[OperatorAccount, Depends(current_operator)]
Viewer = Annotated[OperatorAccount | None, Depends(operator_or_admin)]
ADMIN = [Depends(admin_only)]  # a route's ``dependencies=``: the admin token, or 401/403
