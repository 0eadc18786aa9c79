"""What the portal's routes depend on, reached through ``request.app.state`` (set once by ``main.create_app``):
the use cases (``PortalDep``), the login a request is made with (``CurrentLogin``, through the ``portalSession``
scheme), the admin token's guards (``ADMIN``; ``Precise``: the admin, or an anonymous caller) — so every router is a
module-level ``APIRouter``, and a route's security scheme and error answers are declared by its dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.portal.handlers import Portal
from shared.employment.logins import SESSION_REFUSALS, LoginSession
from shared.errors import MeshError
from shared.ids import parse_bin
from shared.web.admin_auth import ADMIN_REFUSALS
from shared.web.openapi_errors import raises
from shared.web.security import AdminCredentials, PortalCredentials, token_of


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(portal_of)]


@raises(*SESSION_REFUSALS)
async def current_login(portal: PortalDep, credentials: PortalCredentials) -> LoginSession:
    """The login the bearer token is (``SESSION_MISSING`` / ``SESSION_INVALID`` / ``SESSION_EXPIRED``)."""
    return await portal.logins.session_of(token_of(credentials))


CurrentLogin = Annotated[LoginSession, Depends(current_login)]


@raises(*ADMIN_REFUSALS)
def require_admin(portal: PortalDep, credentials: AdminCredentials) -> None:
    portal.admin(credentials)


ADMIN = [Depends(require_admin)]


@raises(*ADMIN_REFUSALS)
def admin_or_anonymous(portal: PortalDep, credentials: AdminCredentials) -> bool:
    """True for the admin token (test tooling, told precisely), False for none; a wrong token is refused."""
    return portal.precise(credentials)


Precise = Annotated[bool, Depends(admin_or_anonymous)]


def caller_of(request: Request) -> str:
    """The caller's address, which the anonymous rate limits count by."""
    return request.client.host if request.client else "unknown"


Caller = Annotated[str, Depends(caller_of)]


def own_organisation(bin_: str, login: LoginSession) -> str:
    """Every organisation resource: only a login for that organisation (by BIN); the representative's IIN."""
    parse_bin(bin_)
    if login.representative_iin is None:
        raise MeshError("ORGANISATION_LOGIN_REQUIRED", "log in by BIN as the organisation's representative "
                        "(/auth/login/organisation) to act for it")
    if login.subject != bin_:
        raise MeshError("NOT_YOUR_DATA", "an organisation sees only its own data")
    return login.representative_iin
