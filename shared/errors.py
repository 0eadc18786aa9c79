"""One error type that carries a machine-readable code, so every refusal names its reason; its HTTP status is the
code's, from the catalogue (``shared.error_catalogue``)."""

from __future__ import annotations

from typing import Any

from shared.error_catalogue import CATALOGUE

UNCATALOGUED_STATUS = 500
"""The status of a code the catalogue does not hold: a bug of ours (the catalogue test finds every code the source
raises, so only a code made at run time can get here)."""

strict = False
"""True under the test suite (tests/conftest.py): making an error with an uncatalogued code raises there and then.
In a running service it does not: a refusal that cannot be made would become a crash in the middle of refusing
(a 500 without the reason, or a message retried instead of dead-lettered) — the code goes out with status 500."""


class UncataloguedCode(LookupError):
    """A code that is not in shared.error_catalogue (raised only when ``strict``)."""


def status_of(code: str) -> int:
    """The HTTP status of ``code`` (500 for a code the catalogue does not hold; under ``strict``, UncataloguedCode)."""
    found = CATALOGUE.get(code)
    if found is not None:
        return found.status
    if strict:
        raise UncataloguedCode(f"{code!r} is not in shared/error_catalogue.py: catalogue it (status, fault, meaning)")
    return UNCATALOGUED_STATUS


class MeshError(Exception):
    """A refusal with a stable code (``IIN_BAD_CHECK_DIGIT``, ``Client.AccessDenied``) and a human message.

    ``status`` is the HTTP status an API maps it to — the code's, from the catalogue; message consumers use
    ``code`` alone."""

    def __init__(self, code: str, message: str, *, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self._status = status_of(code)

    @property
    def status(self) -> int:
        return self._status

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class RelayedError(MeshError):
    """Another system's refusal passed on: a call through the mesh that ended in an ERROR (the status says which hop
    failed: 502, 504 for ``Server.Timeout``, 503 for a refusal that heals by itself), or an HTTP service's answer
    (its own status). The code is theirs, so it is not looked up: not every system runs this catalogue's version."""

    def __init__(self, code: str, message: str, *, status: int, details: dict | None = None):
        Exception.__init__(self, f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self._status = status
