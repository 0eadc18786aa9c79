"""The shape of every JSON answer: a closed model (``additionalProperties: false`` in the OpenAPI), so a client
generated from ``/openapi.json`` gets typed objects and schemathesis can hold each answer to its schema.

Families as the FastAPI full-stack template has them: ``…Base`` (the fields a resource has), ``…Create`` (what a
request gives), ``…Public`` / ``…Out`` (what an answer shows). Wire names are the mesh's: camelCase where the API
speaks camelCase (``CamelModel``), as given otherwise (``ClosedModel``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ClosedModel(BaseModel):
    """An answer (or a request) with exactly these fields: anything else is a bug of ours (an answer) or the
    caller's (a request, 422 ``REQUEST_INVALID``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class CamelModel(ClosedModel):
    """A closed model whose snake_case fields travel as camelCase (``issuer_bin`` → ``issuerBin``)."""

    model_config = ConfigDict(alias_generator=to_camel)


class Accepted(ClosedModel):
    """An answer that only says what happened (``{"status": "REQUESTED"}``…)."""

    status: str


class Alive(ClosedModel):
    """``GET /health``: the process answers."""

    status: str = "alive"


class ReadinessOut(ClosedModel):
    """``GET /ready``: 200 when ready, 503 naming what is down (each check: ``ok`` or ``down: <why>``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"ready": False, "checks": {"database": "ok", "broker": "down: the connection to RabbitMQ is lost"}}]})

    ready: bool
    checks: dict[str, str]
