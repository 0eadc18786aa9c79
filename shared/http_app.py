"""What every service's FastAPI app has: /health, /ready, and errors rendered as {code, message}."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import MeshError
from shared.readiness import Readiness


def error_response(*, status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(status_code=status, content=body)


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

    @app.get("/health", tags=["ops"], summary="Alive (the process answers)")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready", tags=["ops"], summary="Ready: 200 while start-up is done and the broker connection, the "
             "database and the trust store (and the gateway's ingress) are working; else 503 naming what is down")
    async def ready() -> JSONResponse:
        ok, checks = await readiness.check()
        return JSONResponse(status_code=200 if ok else 503, content={"ready": ok, "checks": checks})

    return app
