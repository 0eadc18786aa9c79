"""Who may call a route, declared in the OpenAPI as a security scheme (Swagger's «Authorize» button, a generated
client's ``token=``): every guarded route reads its bearer through one of these, never from a bare header parameter.

Four schemes, all ``Authorization: Bearer <token>``, each a different kind of caller:
- ``adminToken``: test tooling and operators of the mesh (each service's ``MESH_ADMIN_TOKEN``);
- ``portalSession``: a citizen's or an organisation's login on the portal (``POST /auth/login``…);
- ``operatorSession``: a State Corporation operator's login at ИС ЦОН;
- ``staffSession``: a district office employee's login at ИС МИО.

``auto_error=False``: a missing or non-Bearer header reaches the route's own guard as ``None``, which refuses it
with the mesh's catalogued code (``ADMIN_TOKEN_MISSING``, ``SESSION_REQUIRED``…), not FastAPI's bare 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ADMIN_TOKEN = HTTPBearer(scheme_name="adminToken", auto_error=False,
                         description="The service's admin token (MESH_ADMIN_TOKEN; `make run` prints it): test "
                                     "support and operating the mesh.")
PORTAL_SESSION = HTTPBearer(scheme_name="portalSession", auto_error=False,
                            description="A portal login's token (POST /auth/login, /auth/login/eds, "
                                        "/auth/login/organisation, /auth/login/organisation/eds).")
OPERATOR_SESSION = HTTPBearer(scheme_name="operatorSession", auto_error=False,
                              description="An ИС ЦОН operator's login token (POST /operators/login, "
                                          "/operators/login/eds).")
STAFF_SESSION = HTTPBearer(scheme_name="staffSession", auto_error=False,
                           description="An ИС МИО employee's login token (POST /staff/login, /staff/login/eds).")

AdminCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(ADMIN_TOKEN)]
PortalCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(PORTAL_SESSION)]
OperatorCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(OPERATOR_SESSION)]
StaffCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(STAFF_SESSION)]


def token_of(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token given, or None when the request has no ``Authorization: Bearer …``."""
    return credentials.credentials if credentials is not None else None
