"""What every service's FastAPI app has: /health, /ready, and errors rendered as {code, message}."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.envelope import MAX_ENVELOPE_BYTES
from shared.errors import MeshError
from shared.readiness import Readiness

MAX_REQUEST_BYTES = MAX_ENVELOPE_BYTES + 1024 * 1024  # the largest request: an application with its copies


def error_response(*, status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(status_code=status, content=body)


class BoundedBody:
    """A body larger than any request of the mesh may carry (an application with its copies, which travel in one
    message: MAX_ENVELOPE_BYTES) is refused by its Content-Length before it is read or parsed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            declared = dict(scope.get("headers") or []).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
                refusal = error_response(status=413, code="REQUEST_TOO_LARGE",
                                         message=f"a request body is at most {MAX_REQUEST_BYTES} bytes")
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_body(request: Request, *, limit: int, code: str, what: str) -> bytes:
    """The request's body, refused (413 ``code``: «``what`` is at most ``limit`` bytes») as soon as it is known to
    be larger — by its Content-Length before anything is read, else while it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise MeshError(code, f"{what} is at most {limit} bytes", status=413)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise MeshError(code, f"{what} is at most {limit} bytes", status=413)
    return bytes(data)


def build_app(*, title: str, description: str, readiness: Readiness,
              lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)

    @app.exception_handler(MeshError)
    async def _mesh_error(_request: Request, exc: MeshError) -> JSONResponse:
        return error_response(status=exc.status, code=exc.code, message=exc.message, details=exc.details or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        first = problems[0] if problems else {"field": "body", "problem": "invalid"}
        return error_response(status=422, code="REQUEST_INVALID",
                              message=f"{first['field']}: {first['problem']}", details=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}.get(
            exc.status_code, "HTTP_ERROR")
        return error_response(status=exc.status_code, code=code, message=str(exc.detail))

    app.add_middleware(BoundedBody)

    @app.get("/health", tags=["ops"], summary="Alive (the process answers)")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready", tags=["ops"], summary="Ready: 200 while start-up is done and the broker connection, the "
             "database and the trust store (and the gateway's ingress) are working; else 503 naming what is down")
    async def ready() -> JSONResponse:
        ok, checks = await readiness.check()
        return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, "checks": checks})

    return app
