"""What FastAPI's OpenAPI leaves a generated client short of, completed in one place for every service.

- A non-JSON answer declared by its media type alone (``responses={200: {"content": {"application/pdf": {}}}}``)
  gets the schema of what it is — bytes (``string``/``binary``) — so a generator types it instead of dropping it
  («Unsupported content_type»).
- A route whose security is optional (the admin token makes its answer precise, anonymous callers are served too:
  ``shared.web.admin_auth.admin_or_anonymous``) lists the anonymous alternative, ``{}``, beside the scheme: FastAPI
  writes every security dependency as required, and a generated client then demands a token nobody needs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from shared.web.openapi_errors import route_contexts

BINARY = {"type": "string", "format": "binary"}
TEXT = {"type": "string"}
OPTIONAL_SECURITY = "__optional_security__"


def optional_security(function: Any) -> Any:
    """Mark a dependency whose bearer is optional: routes that depend on it list ``{}`` among their security."""
    setattr(function, OPTIONAL_SECURITY, True)
    return function


def _optional(dependant: Dependant | None) -> bool:
    if dependant is None:
        return False
    return bool(getattr(dependant.call, OPTIONAL_SECURITY, False)) or any(_optional(d) for d in dependant.dependencies)


def complete_shape(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    routes = route_contexts(app)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for media, content in response.get("content", {}).items():
                    if "schema" not in content and media != "application/json":
                        content["schema"] = TEXT if media.startswith("text/") else BINARY
            route = routes.get(operation.get("operationId", ""))
            security = operation.get("security")
            if route is not None and security and {} not in security and _optional(route.dependant):
                operation["security"] = [{}, *security]
    return schema
