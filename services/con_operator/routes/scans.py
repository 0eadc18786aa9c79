"""Scans at the desk: uploaded as the request's body (PDF, JPEG, PNG or TIFF), kept once by SHA-256, read back by
the branch that uploaded them (or the admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from services.con_operator.deps import CentreDep, CurrentOperator, Viewer
from services.con_operator.schemas import ScanOut
from services.con_operator.usecases.scans import SCAN_TYPES, scan_type
from shared.web.http_app import read_body
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["intake"])
SCAN_CONTENT: dict[int | str, dict[str, Any]] = {200: {"description": "the scan's bytes, of its media type",
                                                       "content": {kind: {} for kind in SCAN_TYPES}}}


@router.post("/scans", status_code=201,
             summary="Upload a scanned document (the body; PDF, JPEG, PNG or TIFF); kept once by SHA-256",
             # the route reads the body itself (bounded while it streams in): the OpenAPI says what it takes
             openapi_extra={"requestBody": {"required": True, "content": {
                 kind: {"schema": {"type": "string", "format": "binary"}} for kind in SCAN_TYPES}}},
             responses=error_responses("SCAN_NOT_FOUND", "REQUEST_TOO_LARGE", "SCAN_TOO_LARGE",
                                       "SCAN_TYPE_NOT_ALLOWED", "SCAN_EMPTY"))
async def upload(request: Request, operator: CurrentOperator, centre: CentreDep,
                 content_type: Annotated[str, Header(alias="Content-Type")] = "") -> ScanOut:
    scan_type(content_type)  # refused before the body is read
    content = await read_body(request, limit=centre.scans.max_scan_bytes, code="SCAN_TOO_LARGE", what="a scan")
    scan = await centre.scans.store(operator, content=content, content_type=content_type)
    return ScanOut(sha256=scan.sha256, content_type=scan.content_type, size=scan.size)


@router.get("/scans/{sha256}", summary="A scan's content", response_class=Response,
            responses=SCAN_CONTENT | error_responses("SCAN_NOT_FOUND"))
async def scan(sha256: str, who: Viewer, centre: CentreDep) -> Response:
    found = await centre.scans.get(sha256, branch=who.branch if who is not None else None)
    return Response(content=found.content, media_type=found.content_type)
