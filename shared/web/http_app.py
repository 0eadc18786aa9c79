"""What every service's FastAPI app has: /health, /ready, /metrics, errors rendered as {code, message, details} with
the code's status (shared/error_catalogue.py), an OpenAPI that lists each route's error answers
(shared.web.openapi_errors), and every request timed and traced (``Telemetry``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import MeshError, status_of
from shared.mesh.chaos import ChaosBook
from shared.mesh.envelope import MAX_ENVELOPE_BYTES
from shared.mesh.journal import Journal
from shared.mesh.readiness import Readiness
from shared.pki.canonical import MALFORMED_CODE, JsonRefused, parse_json
from shared.telemetry import (
    METRICS_CONTENT_TYPE,
    TRACEPARENT,
    TRACESTATE,
    SpanKind,
    metrics,
    serving,
    span,
    use_service,
)
from shared.web.admin_auth import admin_guard
from shared.web.chaos_http import ChaosEdge, EdgeChaos, chaos_router
from shared.web.journal_http import JournalEdge, JournalSources, journal_router
from shared.web.models import Alive, ReadinessOut
from shared.web.openapi_errors import complete_error_responses
from shared.web.openapi_shape import complete_shape

MAX_REQUEST_BYTES = MAX_ENVELOPE_BYTES + 1024 * 1024  # the largest request: an application with its copies
SQL_INT_MAX = 2**63 - 1
"""The largest integer a request may carry to the database (SQLite's INTEGER, PostgreSQL's BIGINT: signed 64-bit).
An id or count a request gives is bounded by it (422 ``REQUEST_INVALID``): beyond, SQLite raised OverflowError — a
500 — before the query ran."""


# The framework's own refusals (no route, a method the path does not take, …) by their status; any other status it
# gives is answered as HTTP_ERROR, with that status.
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}
_OTHER_HTTP_CODE = "HTTP_ERROR"


def error_response(*, code: str, message: str, details: Any = None, status: int | None = None) -> JSONResponse:
    """``{code, message, details}`` with the code's status (shared/error_catalogue.py); ``status`` only for one
    decided elsewhere: a relayed refusal (``RelayedError``), the framework's."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(status_code=status_of(code) if status is None else status, content=body)


class BoundedBody:
    """A body larger than any request of the mesh may carry (an application with its copies, which travel in one
    message: MAX_ENVELOPE_BYTES) is refused by its Content-Length before it is read or parsed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            declared = dict(scope.get("headers") or []).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
                refusal = error_response(code="REQUEST_TOO_LARGE",
                                         message=f"a request body is at most {MAX_REQUEST_BYTES} bytes")
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


NO_FRAMEWORK_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False,
                                           "operation_spans": False, "auto_configure": False}
UNTRACED_PATHS = frozenset({"/health", "/ready", "/metrics"})  # polled all the time: neither timed nor traced


class Telemetry:
    """Every request runs as its service's (``shared.telemetry.serving``: what it counts is that service's), inside a
    server span continuing the caller's W3C ``traceparent``, and is timed into ``http_request_duration_seconds``.
    Both name the route by its template (``/citizens/{iin}/applications``), never the path: a path can hold an IIN."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with serving(self.service):
            if scope.get("path") in UNTRACED_PATHS:
                await self.app(scope, receive, send)
                return
            await self._traced(scope, receive, send)

    async def _traced(self, scope: Any, receive: Any, send: Any) -> None:
        method = str(scope.get("method", ""))
        status = [500]

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        carried = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers") or []
                   if key in (TRACEPARENT.encode(), TRACESTATE.encode())}
        started = time.perf_counter()
        with span(method, kind=SpanKind.SERVER, parent=carried,
                  attributes={"http.request.method": method}) as current:
            try:
                await self.app(scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                current.update_name(f"{method} {route}")
                current.set_attribute("http.route", route)
                current.set_attribute("http.response.status_code", status[0])
                metrics(self.service).http_latency.labels(self.service, method, route, str(status[0])).observe(
                    time.perf_counter() - started)


def _json_body(scope: Any) -> bool:
    """Does the route parse this request's body as JSON? FastAPI does for ``application/json`` and ``+json`` types, and
    for a body sent without a content type; every other type (a PDF, a QR payload, a multipart upload) is left to the
    route, which reads it itself. A header given twice is read as Starlette reads it — its first value — so a second
    ``Content-Type: text/plain`` cannot walk a JSON body past the guard to a route that parses it as JSON."""
    headers = Headers(scope=scope)
    kind = headers.get("content-type", "").split(";")[0].strip().lower().encode("latin-1")
    if not kind:
        return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
    return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))


class JsonGuard:
    """Every JSON body is held to the mesh's JSON limit (``shared.pki.canonical.check_json``: nesting, strings that are
    text) before any route runs, whoever sends it: a refusal is 422 ``JSON_TOO_DEEP`` / ``JSON_STRING_INVALID`` and
    nothing has happened. FastAPI parses bodies with the stdlib, which recurses (a body nested ~900 deep was a
    RecursionError, a 500) and takes lone surrogates that later break signing and storage (500s again). A body that
    is not JSON at all passes on, to be refused by FastAPI as it always was (422 ``REQUEST_INVALID``). Bodies are
    read whole, at most MAX_REQUEST_BYTES (BoundedBody refuses a larger Content-Length before; a chunked body is
    counted here), and handed on unchanged. What the check costs is bounded before anything is parsed
    (``MAX_JSON_ELEMENTS``: 413 ``JSON_TOO_MANY_ELEMENTS``), so no body stalls the loop for long."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _json_body(scope):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: the route sees it as it would have
                await self.app(scope, _replay(bytes(body), message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > MAX_REQUEST_BYTES:
                refusal = error_response(code="REQUEST_TOO_LARGE",
                                         message=f"a request body is at most {MAX_REQUEST_BYTES} bytes")
                await refusal(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        if body:
            try:
                parse_json(bytes(body))
            except JsonRefused as exc:
                if exc.code != MALFORMED_CODE:
                    await error_response(code=exc.code, message=exc.message)(scope, receive, send)
                    return
        await self.app(scope, _replay(bytes(body), None, receive), send)


def _replay(body: bytes, then: Any, receive: Any) -> Any:
    """A ``receive`` that gives the body already read as one message, then ``then`` (a disconnect that came while it
    was read) or whatever the connection says next."""
    pending: list[Any] = [{"type": "http.request", "body": body, "more_body": False}] + ([then] if then else [])

    async def replayed() -> Any:
        return pending.pop(0) if pending else await receive()

    return replayed


async def read_body(request: Request, *, limit: int, code: str, what: str) -> bytes:
    """The request's body, refused (413 ``code``: «``what`` is at most ``limit`` bytes») as soon as it is known to
    be larger — by its Content-Length before anything is read, else while it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise MeshError(code, f"{what} is at most {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise MeshError(code, f"{what} is at most {limit} bytes")
    return bytes(data)


def build_app(*, service: str, title: str, summary: str, description: str, readiness: Readiness,
              lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]], journal: Journal | None = None,
              admin_token: Callable[[], str] | None = None, chaos: ChaosBook | None = None) -> FastAPI:
    """``service``: whose metrics ``/metrics`` serves and whose every request counts as (``Telemetry``);
    ``journal``: where its HTTP edge is recorded (``shared.web.journal_http``), queried at ``/admin/journal`` behind
    ``admin_token`` (``app.state.journal_sources`` says which journals a query reads: by default its own)."""
    use_service(service)
    journal = journal or Journal(service=service)
    # Swagger UI (/docs) and ReDoc (/redoc) with their scripts served from the package (fastapi-offline), not a CDN:
    # the mesh runs where nothing else on the internet is reachable.
    # FastAPI's own OpenTelemetry (0.165 has it) is off: its server spans carry the raw path (``url.path``), which can
    # hold an IIN, and it would trace every request twice; ``Telemetry`` below is the one HTTP instrumentation.
    @asynccontextmanager
    async def journalled(app: FastAPI) -> AsyncIterator[None]:
        """The service's own lifespan inside the journal's: its database opened first, what is left written last."""
        await journal.open()
        try:
            async with lifespan(app):
                yield
        finally:
            await journal.close()

    app = FastAPIOffline(title=title, summary=summary, description=description, version="0.1.0",
                         lifespan=journalled, telemetry=NO_FRAMEWORK_TELEMETRY)

    @app.exception_handler(MeshError)
    async def _mesh_error(_request: Request, exc: MeshError) -> JSONResponse:
        return error_response(status=exc.status, code=exc.code, message=exc.message, details=exc.details or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        first = problems[0] if problems else {"field": "body", "problem": "invalid"}
        return error_response(code="REQUEST_INVALID",
                              message=f"{first['field']}: {first['problem']}", details=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, _OTHER_HTTP_CODE)
        return error_response(code=code, message=str(exc.detail), status=exc.status_code)

    chaos = chaos or ChaosBook(journal=journal)  # fault injection at this edge (shared.web.chaos_http, docs/chaos.md)
    app.add_middleware(ChaosEdge, book=chaos, owner=app, service=service)
    app.add_middleware(JsonGuard)
    app.add_middleware(BoundedBody)  # a declared size too large is refused before anything is read
    app.add_middleware(JournalEdge, journal=journal)  # every exchange in the journal, refusals too
    app.add_middleware(Telemetry, service=service)  # outermost: a refusal is timed and traced too

    def openapi() -> dict[str, Any]:
        """FastAPI's OpenAPI, each route's error responses completed with what every route can give
        (shared.web.openapi_errors), binary answers and optional security said (shared.web.openapi_shape)."""
        if app.openapi_schema is None:
            app.openapi_schema = complete_shape(app, complete_error_responses(app, FastAPI.openapi(app)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.journal = journal
    app.state.journal_sources = JournalSources(journal=journal)
    if admin_token is not None:
        app.include_router(journal_router(admin=admin_guard(token=admin_token)))
        app.include_router(chaos_router(admin=admin_guard(token=admin_token)))
    app.state.chaos_book = chaos
    app.state.chaos = EdgeChaos(book=chaos, owner=app, service=service)

    @app.get("/health", tags=["ops"], summary="Alive (the process answers)")
    async def health() -> Alive:
        return Alive()

    # Prometheus' text format, for Prometheus (docs/operations.md): kept out of the OpenAPI, which describes the
    # JSON API that clients are generated from.
    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(await metrics(service).exposition(), media_type=METRICS_CONTENT_TYPE)

    @app.get("/ready", tags=["ops"], response_model=ReadinessOut,
             responses={503: {"model": ReadinessOut, "description": "not ready: the checks say what is down"}},
             summary="Ready: 200 while start-up is done and the broker connection, the "
             "database and the trust store (and the gateway's ingress) are working; else 503 naming what is down")
    async def ready() -> JSONResponse:
        ok, checks = await readiness.check()
        return JSONResponse(status_code=200 if ok else 503,
                            content=ReadinessOut(ready=ok, checks=checks).model_dump())

    return app
