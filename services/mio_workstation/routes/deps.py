"""What a route depends on, as ``Annotated`` types: the assembled workstation (``app.state.mio``), the staff member
logged in (``staffSession``), a reader who is staff or the admin, and the admin guard (``adminToken``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.mio_workstation.store import StaffAccount
from services.mio_workstation.wiring import Mio
from shared.employment.logins import SESSION_REFUSALS
from shared.web.admin_auth import ADMIN_REFUSALS, admin_guard, is_admin_token
from shared.web.openapi_errors import raises
from shared.web.security import AdminCredentials, StaffCredentials, token_of


def mio_of(request: Request) -> Mio:
    mio: Mio = request.app.state.mio
    return mio


MioDep = Annotated[Mio, Depends(mio_of)]


@raises(*SESSION_REFUSALS, "STAFF_NOT_FOUND")
async def current_staff(mio: MioDep, credentials: StaffCredentials) -> StaffAccount:
    return await mio.logins.staff_of(token_of(credentials))


@raises(*SESSION_REFUSALS, "STAFF_NOT_FOUND")
async def viewer(mio: MioDep, credentials: StaffCredentials, _admin: AdminCredentials) -> StaffAccount | None:
    """A staff member, or None for the admin token (test support reads everything). Both schemes are declared —
    either one will do; they travel in the same ``Authorization`` header."""
    token = token_of(credentials)
    if is_admin_token(token, mio.admin_token):
        return None
    return await mio.logins.staff_of(token)


@raises(*ADMIN_REFUSALS)
def admin_only(mio: MioDep, credentials: AdminCredentials) -> None:
    admin_guard(token=mio.admin_token)(credentials)


CurrentStaff = Annotated[StaffAccount, Depends(current_staff)]
Viewer = Annotated[StaffAccount | None, Depends(viewer)]
ADMIN = [Depends(admin_only)]
