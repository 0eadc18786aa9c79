"""Fault injection at a service's HTTP edge (``ChaosEdge``), and the admin routes every service has for its rules
(``chaos_router``: ``/admin/chaos/rules``, ``/admin/chaos/fired``; docs/chaos.md).

At the edge a rule can hold a request (``delay``, ``slow``) or answer it in the route's stead (``error``: a catalogued
``Server.*`` code, with its status or a 5xx given); the route never sees a request answered so. Matched by the route's
template, the method and the ``X-Correlation-Id`` header. The edge sits inside the journal's (``JournalEdge``): the
exchange as the caller saw it — held, or answered by the fault — is journalled next to the ``fault`` entry.

What the routes act on is ``app.state.chaos`` (a ``ChaosAdmin``): on a service, its own edge (``EdgeChaos``); on the
gateway, its pipeline and every service's edge, which it passes rules on to (``services.shep_gateway.usecases.chaos``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import Field
from starlette.routing import Match

from shared.error_catalogue import CATALOGUE
from shared.errors import MeshError, status_of
from shared.mesh.chaos import (
    EDGE_KINDS,
    EDGE_MATCH,
    EDGE_PREFIX,
    ChaosBook,
    RuleIn,
    check_error_code,
    check_place,
    parse_rule,
)
from shared.web.journal_http import JournalEntryOut, JournalSources
from shared.web.models import CamelModel
from shared.web.openapi_errors import error_responses

UNTOUCHED = ("/health", "/ready", "/metrics", "/admin/chaos", "/admin/journal", "/openapi.json", "/docs", "/redoc")
"""Never faulted: what tells a tester the service is there, and the routes that remove the faults."""
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def route_of(app: FastAPI, scope: Any) -> str | None:
    """The template of the route ``scope`` goes to (``/citizens/{iin}``), found as the router will find it (looked
    for only while a rule is in place)."""
    for context in iter_route_contexts(app.routes):
        match, _ = context.matches(scope)
        if match is Match.FULL:
            return str(context.path)
    return None


def routes_of(app: FastAPI) -> set[str]:
    """Every route's template, those included through routers too."""
    return {str(context.path) for context in iter_route_contexts(app.routes)}


class ChaosEdge:
    """Fires the rules at ``http:<service>`` on the requests of this service's edge."""

    def __init__(self, app: Any, book: ChaosBook, owner: FastAPI, service: str) -> None:
        self.app = app
        self.book = book
        self.owner = owner
        self.where = EDGE_PREFIX + service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(UNTOUCHED) or not self.book.rules():
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
        facts = {"route": route_of(self.owner, scope), "method": str(scope.get("method", "")),
                 "correlationId": headers.get("x-correlation-id")}
        rule = self.book.firing(where=self.where, kinds=EDGE_KINDS, facts=facts)
        if rule is None:
            await self.app(scope, receive, send)
            return
        known = {"route": facts["route"], "method": facts["method"], "correlationId": facts["correlationId"]}
        if rule.kind == "error":
            code = str(rule.spec.fault.code)
            status = rule.spec.fault.status or status_of(code)
            self.book.record(rule, stage="edge", reason=f"answered {status} {code} in the route's stead",
                             code=code, status=status, **known)
            answer = JSONResponse(status_code=status, content={
                "code": code, "message": f"injected fault: rule {rule.id} answered for the route"})
            await answer(scope, receive, send)
            return
        held = rule.delay_s()
        self.book.record(rule, stage="edge", reason=f"request held {held * 1000:.0f} ms", **known)
        await asyncio.sleep(held)
        await self.app(scope, receive, send)


class ChaosAdmin(Protocol):
    """What the admin routes act on."""

    async def add(self, raw: dict[str, Any]) -> dict[str, Any]: ...

    async def rules(self) -> list[dict[str, Any]]: ...

    async def remove(self, rule_id: str) -> dict[str, Any]: ...

    async def clear(self) -> list[dict[str, Any]]: ...


class EdgeChaos:
    """A service's own edge: rules at ``http:<service>``, checked against its routes."""

    def __init__(self, *, book: ChaosBook, owner: FastAPI, service: str) -> None:
        self.book = book
        self.owner = owner
        self.service = service
        self.where = EDGE_PREFIX + service

    def check(self, rule: RuleIn) -> None:
        """The rule can fire here: an edge's kind and match fields, a route this service has, a real method, a
        catalogued Server.* code."""
        check_place(rule, kinds=EDGE_KINDS, fields=EDGE_MATCH, where=self.where)
        check_error_code(rule.fault, catalogue=CATALOGUE, edge=True)
        route, method = rule.match.route, rule.match.method
        if route is not None and route not in routes_of(self.owner):
            raise MeshError("CHAOS_RULE_MATCHES_NOTHING", f"{self.service} has no route {route!r} (a route's "
                            "template: /citizens/{iin})")
        if method is not None and method.upper() not in HTTP_METHODS:
            raise MeshError("CHAOS_RULE_MATCHES_NOTHING", f"{method!r} is not an HTTP method")

    async def add(self, raw: dict[str, Any]) -> dict[str, Any]:
        rule = parse_rule(raw)
        if rule.where != self.where:
            raise MeshError("CHAOS_RULE_MATCHES_NOTHING", f"this is {self.service}: its rules are at {self.where}, "
                            f"not {rule.where} (the gateway takes rules for every service)")
        self.check(rule)
        return self.book.add(rule).summary()

    async def rules(self) -> list[dict[str, Any]]:
        return [rule.summary() for rule in self.book.rules()]

    async def remove(self, rule_id: str) -> dict[str, Any]:
        return self.book.remove(rule_id).summary()

    async def clear(self) -> list[dict[str, Any]]:
        return [rule.summary() for rule in self.book.clear()]


# ---- the routes ------------------------------------------------------------------------------------------------
class RuleOut(CamelModel):
    """A rule in place (or just removed): what was asked, its seed, and what it has done."""

    id: str
    where: str
    match: dict[str, str] = Field(default_factory=dict)
    fault: dict[str, Any]
    probability: float
    times: int | None = None
    for_s: float | None = None
    seed: int
    active: bool = Field(description="still firing: not removed, times not used up, forS not over")
    matched: int = Field(description="requests or messages it matched so far")
    fired: int = Field(description="faults it fired so far")
    ends_in_s: float | None = Field(default=None, description="seconds until forS is over")
    held: int | None = Field(default=None, description="down: deliveries held for the member now")


class RulesOut(CamelModel):
    rules: list[RuleOut]


class FiredOut(CamelModel):
    count: int
    fired: list[JournalEntryOut] = Field(description="the journal's fault entries, oldest first")


def chaos_of(request: Request) -> ChaosAdmin:
    chaos: ChaosAdmin = request.app.state.chaos
    return chaos


Chaos = Annotated[ChaosAdmin, Depends(chaos_of)]
RULE_REFUSALS = ("CHAOS_RULE_FIELD_UNKNOWN", "CHAOS_PROBABILITY_OUT_OF_RANGE", "CHAOS_RULE_INVALID",
                 "CHAOS_RULE_MATCHES_NOTHING", "CHAOS_KIND_NOT_HERE", "CHAOS_ERROR_CODE_UNKNOWN", "CHAOS_RULE_EXISTS",
                 "CHAOS_PEER_UNREACHABLE")
RULE_EXAMPLE = {"where": "gateway", "match": {"recipient": "portal", "messageType": "NOTIFICATION"},
                "fault": {"kind": "drop"}, "times": 1, "seed": 7}


def chaos_router(*, admin: Any) -> APIRouter:
    """``/admin/chaos/rules`` (add, list, remove one, remove all) and ``/admin/chaos/fired``, behind the admin token
    (``admin``: the service's admin dependency)."""
    router = APIRouter(prefix="/admin/chaos", tags=["chaos"], dependencies=[Depends(admin)])

    @router.post("/rules", response_model=RuleOut, response_model_exclude_none=True, status_code=201,
                 responses=error_responses(*RULE_REFUSALS),
                 summary="Put a fault-injection rule in place (docs/chaos.md)")
    async def add(chaos: Chaos, body: Annotated[dict[str, Any], Body(
            description="a rule: {id?, where, match, fault: {kind, …}, probability, times, forS, seed}",
            examples=[RULE_EXAMPLE])]) -> RuleOut:
        return RuleOut.model_validate(await chaos.add(body))

    @router.get("/rules", response_model=RulesOut, response_model_exclude_none=True,
                summary="The fault-injection rules in place (on the gateway: every service's)")
    async def listing(chaos: Chaos) -> RulesOut:
        return RulesOut(rules=[RuleOut.model_validate(rule) for rule in await chaos.rules()])

    @router.delete("/rules/{rule_id}", response_model=RuleOut, response_model_exclude_none=True,
                   responses=error_responses("CHAOS_RULE_NOT_FOUND", "CHAOS_PEER_UNREACHABLE"),
                   summary="Remove a rule (a down member's held deliveries go out)")
    async def remove(chaos: Chaos, rule_id: str) -> RuleOut:
        return RuleOut.model_validate(await chaos.remove(rule_id))

    @router.delete("/rules", response_model=RulesOut, response_model_exclude_none=True,
                   responses=error_responses("CHAOS_PEER_UNREACHABLE"), summary="Remove every rule")
    async def clear(chaos: Chaos) -> RulesOut:
        return RulesOut(rules=[RuleOut.model_validate(rule) for rule in await chaos.clear()])

    @router.get("/fired", response_model=FiredOut, response_model_exclude_none=True,
                summary="Every fault fired (the journal's fault entries; on the gateway: the whole mesh's)")
    async def fired(request: Request, rule_id: Annotated[str | None, Query(alias="ruleId")] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> FiredOut:
        sources: JournalSources = request.app.state.journal_sources
        found = await sources.gather("find", {"kind": "fault", "outcome": "fired"} | (
            {"ruleId": rule_id} if rule_id else {}))
        return FiredOut(count=len(found.entries),
                        fired=[JournalEntryOut.model_validate(e) for e in found.entries[-limit:]])

    return router
