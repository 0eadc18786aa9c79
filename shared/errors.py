"""One error type that carries a machine-readable code, so every refusal names its reason."""

from __future__ import annotations


class MeshError(Exception):
    """A refusal with a stable code (``IIN_BAD_CHECK_DIGIT``, ``Client.AccessDenied``) and a human message.

    ``status`` is the HTTP status an API maps it to; message consumers use ``code`` alone.
    """

    status: int = 400

    def __init__(self, code: str, message: str, *, status: int | None = None, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body
