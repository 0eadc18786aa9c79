"""The admin token guard for test-support and operator endpoints (Authorization: Bearer <token>), declared in the
OpenAPI as the ``adminToken`` security scheme (shared.web.security)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from shared.errors import MeshError
from shared.web.openapi_errors import raises
from shared.web.openapi_shape import optional_security
from shared.web.security import AdminCredentials, token_of

ADMIN_REFUSALS = ("ADMIN_TOKEN_MISSING", "ADMIN_TOKEN_INVALID")


def is_admin_token(given: str | None, token: Callable[[], str]) -> bool:
    """Whether the bearer token given is the admin token — compared in constant time, so that a route open to a
    session or the admin token (an operator's or a staff member's list) tells nothing of the token by its timing."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), token().encode())


def _judge(given: str | None, token: Callable[[], str]) -> None:
    if not given:
        raise MeshError("ADMIN_TOKEN_MISSING", "this endpoint needs 'Authorization: Bearer <admin token>'")
    if not is_admin_token(given, token):
        raise MeshError("ADMIN_TOKEN_INVALID", "the admin token is not valid")


def admin_guard(*, token: Callable[[], str]) -> Callable[..., None]:
    @raises(*ADMIN_REFUSALS)
    def check(credentials: AdminCredentials) -> None:
        _judge(token_of(credentials), token)
    return check


def admin_or_anonymous(*, token: Callable[[], str]) -> Callable[..., bool]:
    """True when the caller gave the admin token, False when it gave none. Endpoints open to everyone use it
    to answer test tooling precisely and anonymous callers without telling who exists; a wrong token is 403."""

    @optional_security
    @raises(*ADMIN_REFUSALS)
    def check(credentials: AdminCredentials) -> bool:
        given = token_of(credentials)
        if not given:
            return False
        _judge(given, token)
        return True
    return check
