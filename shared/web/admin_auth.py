"""The admin token guard for test-support and operator endpoints (Authorization: Bearer <token>)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Header

from shared.errors import MeshError
from shared.web.openapi_errors import raises

ADMIN_REFUSALS = ("ADMIN_TOKEN_MISSING", "ADMIN_TOKEN_INVALID")


def admin_guard(*, token: Callable[[], str]) -> Callable[..., None]:
    @raises(*ADMIN_REFUSALS)
    def check(authorization: str | None = Header(default=None, description="Bearer <admin token>")) -> None:
        if not authorization or not authorization.startswith("Bearer "):
            raise MeshError("ADMIN_TOKEN_MISSING", "this endpoint needs 'Authorization: Bearer <admin token>'")
        if not hmac.compare_digest(authorization.removeprefix("Bearer ").encode(), token().encode()):
            raise MeshError("ADMIN_TOKEN_INVALID", "the admin token is not valid")
    return check


def admin_or_anonymous(*, token: Callable[[], str]) -> Callable[..., bool]:
    """True when the caller gave the admin token, False when it gave none. Endpoints open to everyone use it
    to answer test tooling precisely and anonymous callers without telling who exists; a wrong token is 403."""
    guard = admin_guard(token=token)

    @raises(*ADMIN_REFUSALS)
    def check(authorization: str | None = Header(default=None, description="Bearer <admin token>: precise "
                                                 "answers for test tooling")) -> bool:
        if not authorization:
            return False
        guard(authorization=authorization)
        return True
    return check
