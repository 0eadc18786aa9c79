"""The error answers of each route, in its OpenAPI: ``{code, message, details}`` (``ErrorOut``) under each status
the route can answer, the codes and what they mean in the response's description and, for a machine, in
``x-error-codes``.

A route declares what its own rules refuse next to it — ``responses=error_responses("PASSWORD_WRONG",
"ACCOUNT_LOCKED")`` (``python -m meshkit.route_errors`` lists what a route's call tree raises) — and the app factory
(``shared.web.http_app.build_app``) adds what every route can give anyway when it writes the OpenAPI
(``complete_error_responses``): 422 ``REQUEST_INVALID`` for a route with parameters or a body, the JSON body's
limits (413 ``REQUEST_TOO_LARGE``, ``JSON_*``) for a route that takes one, and whatever the route's dependencies
declare with ``raises`` (the admin token's 401/403, a login's 401 ``SESSION_*``).

Not listed: a refusal a member's call through the mesh came back with, passed on under its own code as 502, 503 or
504 (``shared.errors.RelayedError``; docs/errors.md says how).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from shared.error_catalogue import CATALOGUE

F = TypeVar("F", bound=Callable[..., Any])

SCHEMA_NAME = "ErrorOut"
ERROR_SCHEMA = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}
CODES_KEY = "x-error-codes"

JSON_BODY_CODES = ("REQUEST_TOO_LARGE", "JSON_TOO_DEEP", "JSON_STRING_INVALID", "JSON_TOO_MANY_ELEMENTS")


class ErrorOut(BaseModel):
    """A refusal. docs/errors.md lists every code, its status and what it means."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"code": "PASSWORD_WRONG", "message": "the IIN or the password is wrong; 2 attempt(s) left before lock-out",
         "details": {"attemptsLeft": 2}}]})

    code: str = Field(description="what is wrong, stable: one of the codes listed for this status")
    message: str = Field(description="for a person: names the value at fault")
    details: Any | None = Field(default=None, description="more to say, when there is (the fields at fault, the "
                                                          "attempts left, …); absent otherwise")


def _checked(codes: Iterable[str]) -> list[str]:
    codes = list(codes)
    unknown = [c for c in codes if c not in CATALOGUE]
    if unknown:
        raise ValueError(f"not in shared/error_catalogue.py: {', '.join(unknown)}")
    return codes


def _response(codes: Iterable[str]) -> dict[str, Any]:
    listed = sorted(set(codes))
    return {
        "description": "\n".join(f"- `{c}`: {CATALOGUE[c].description}" for c in listed),
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
        CODES_KEY: listed,
    }


def _by_status(codes: Iterable[str]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for code in _checked(codes):
        grouped[CATALOGUE[code].status].append(code)
    return dict(grouped)


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: the codes it can answer, each under its status (shared/error_catalogue.py)."""
    return {status: _response(listed) for status, listed in sorted(_by_status(codes).items())}


def raises(*codes: str) -> Callable[[F], F]:
    """Mark a dependency with the codes it can answer: every route that depends on it lists them."""
    checked = tuple(_checked(codes))

    def mark(function: F) -> F:
        function.__error_codes__ = checked  # type: ignore[attr-defined]
        return function
    return mark


def _dependency_codes(dependant: Dependant | None) -> set[str]:
    if dependant is None:
        return set()
    codes: set[str] = set(getattr(dependant.call, "__error_codes__", ()))
    for sub in dependant.dependencies:
        codes |= _dependency_codes(sub)
    return codes


def common_codes(route: Any) -> set[str]:
    """What a route (an APIRoute, or FastAPI's context of one included through a router) can answer whatever its
    handler does: its request's validation, its JSON body's limits, its dependencies' refusals."""
    dependant = route.dependant
    codes = _dependency_codes(dependant)
    params = dependant is not None and bool(get_flat_params(dependant))
    if route.body_field is not None or params:
        codes.add("REQUEST_INVALID")
    if route.body_field is not None:
        codes.update(JSON_BODY_CODES)
    return codes


def route_contexts(app: FastAPI) -> dict[str, Any]:
    """The app's routes by operation id, those included through routers too."""
    return {context.unique_id: context for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)}


def complete_error_responses(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI FastAPI made, each operation's error responses completed with its route's common codes (in
    place of FastAPI's own 422, which is not what the mesh answers), ``ErrorOut`` among the schemas."""
    routes = route_contexts(app)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            route = routes.get(operation.get("operationId", ""))
            if route is None:
                continue
            responses = operation.setdefault("responses", {})
            merged: dict[int, set[str]] = defaultdict(set)
            for status, response in responses.items():
                if status.isdigit():
                    merged[int(status)].update(response.get(CODES_KEY, ()))
            common = common_codes(route)
            if "requestBody" in operation:  # a body the route reads itself: sent as JSON, the guard refuses it first
                common.update(JSON_BODY_CODES)
            for status, listed in _by_status(common).items():
                merged[status].update(listed)
            for status, codes in merged.items():
                if codes:
                    responses[str(status)] = _response(codes)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas[SCHEMA_NAME] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    text = json.dumps(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced by REQUEST_INVALID
        if f"#/components/schemas/{unused}" not in text and unused in schemas \
                and f"#/components/schemas/{unused}" not in json.dumps(schemas):
            del schemas[unused]
    return schema


def declared_codes(operation: dict[str, Any]) -> dict[int, list[str]]:
    """The codes an operation of the OpenAPI lists, by status."""
    return {int(status): list(response[CODES_KEY]) for status, response in operation.get("responses", {}).items()
            if CODES_KEY in response}
