"""Explain a case (admin token): its hops, steps and faults as JSON, as a Mermaid sequence diagram, and drawn as an
SVG a person opens as it is (``usecases.explain``)."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from services.shep_gateway.routes.deps import ADMIN_ONLY, message_log_of
from services.shep_gateway.usecases.explain import CaseExplainer, diagram_of
from shared.web.journal_http import JournalSources
from shared.web.models import CamelModel
from shared.web.openapi_errors import error_responses
from shared.web.sequence_diagram import to_mermaid, to_svg

router = APIRouter(tags=["explain"], dependencies=ADMIN_ONLY)
REF = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$",
                          description="a correlation id, or an application number (ALA-2026-000001)")]
NOT_FOUND = error_responses("CASE_NOT_FOUND")
MERMAID: dict[int | str, dict[str, Any]] = {200: {"description": "Mermaid text", "content": {"text/plain": {}}}}
DRAWING: dict[int | str, dict[str, Any]] = {200: {"description": "a standalone SVG",
                                                  "content": {"image/svg+xml": {}}}}


class HopOut(CamelModel):
    """One hop: a message through ШЭП (``message``, ``receipt``: from the signed log, with its checks), an HTTP
    exchange at a service's edge (``http``) or a delivery its recipient consumed (``consumed``: from the journal)."""

    kind: str
    mesh_at: str | None = Field(description="on the mesh clock")
    source: str | None = Field(default=None, alias="from")
    to: str | None = None
    via: str | None = None
    service: str | None = None
    service_id: str | None = None
    message_type: str | None = None
    message_id: str | None = None
    method: str | None = None
    route: str | None = None
    status: str | int | None = Field(default=None, description="a notice's status, or an HTTP status")
    outcome: str | None = None
    code: str | None = None
    reason: str | None = None
    checks: dict[str, Any] | None = None
    log_seq: int | None = None
    journal_seq: int | None = None
    trace_id: str | None = None
    delivery: dict[str, Any] | None = Field(default=None, description="state, attempts, settledAt, settledBy")


class StepOut(CamelModel):
    system: str = Field(description="mio or con")
    member: str
    step: str
    role: str | None
    action: str | None
    max: str | None
    started_at: str | None
    due_at: str | None
    finished_at: str | None
    actor: str | None
    overdue: bool


class ExplainOut(CamelModel):
    ref: str
    correlation_id: str
    application_number: str | None
    service_id: str | None
    channel: str | None
    status: str | None
    hops: list[HopOut]
    steps: list[StepOut]
    faults: list[dict[str, Any]] = Field(description="every fault injected into the case (the journal's)")


def explainer_of(request: Request) -> CaseExplainer:
    """The explainer over the gateway's log and the journals it merges (and their services, for the timelines)."""
    sources = cast(JournalSources, request.app.state.journal_sources)
    log = message_log_of(request)
    urls = {peer.name: peer.url.rstrip("/") for peer in sources.peers}

    async def records(correlation_id: str) -> list[dict[str, Any]]:
        return [r.public() for r in await log.case_log(correlation_id=correlation_id)]

    async def deliveries(correlation_id: str) -> list[dict[str, Any]]:
        return await log.deliveries(correlation_id=correlation_id, state=None, limit=1000)

    async def journal(filters: dict[str, str]) -> list[dict[str, Any]]:
        return (await sources.gather("find", filters)).entries

    async def peer(service: str, path: str, params: dict[str, str]) -> dict[str, Any] | None:
        if service not in urls or sources.http is None:
            return None
        reply = await sources.http.get(f"{urls[service]}{path}", params=params, timeout=10.0,
                                       headers={"Authorization": f"Bearer {sources.token()}"})
        return cast(dict[str, Any], reply.json()) if reply.status_code == 200 else None

    return CaseExplainer(records=records, deliveries=deliveries, journal=journal, peer=peer)


ExplainerDep = Annotated[CaseExplainer, Depends(explainer_of)]


@router.get("/admin/cases/{ref}/explain", response_model=ExplainOut, response_model_exclude_unset=True,
            summary="What happened to a case, hop by hop: the signed log, the journal, ИС МИО's and ИС ЦОН's steps",
            responses=NOT_FOUND)
async def explain(ref: REF, explainer: ExplainerDep) -> Any:
    return await explainer.explain(ref)


@router.get("/admin/cases/{ref}/explain.mmd", response_class=Response, summary="The case as a Mermaid sequence diagram",
            responses=MERMAID | NOT_FOUND)
async def explain_mermaid(ref: REF, explainer: ExplainerDep) -> Response:
    text = to_mermaid(diagram_of(await explainer.explain(ref)))
    return Response(text, media_type="text/plain; charset=utf-8")


@router.get("/admin/cases/{ref}/explain.svg", response_class=Response, summary="The case drawn as an SVG",
            responses=DRAWING | NOT_FOUND)
async def explain_svg(ref: REF, explainer: ExplainerDep) -> Response:
    return Response(to_svg(diagram_of(await explainer.explain(ref))), media_type="image/svg+xml")
