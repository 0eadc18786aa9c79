"""An application: read with its timeline, its electronic copies, the draft to sign, the signed result as PDF,
and the current step's next action by its role."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Response

from services.mio_workstation.routes.deps import CurrentStaff, MioDep, Viewer
from services.mio_workstation.schemas import ActionIn, ApplicationOut, ResultDocument, application_out
from services.mio_workstation.usecases.actions import ActionBody
from services.mio_workstation.usecases.roles import same_district
from shared.employment.documents import SignedResult, filename, render_pdf
from shared.errors import MeshError
from shared.mesh.contracts import ATTACHMENT_TYPES
from shared.web.openapi_errors import error_responses

router = APIRouter(prefix="/applications/{number}", tags=["applications"])
COPY: dict[int | str, dict[str, Any]] = {200: {"content": {media: {} for media in ATTACHMENT_TYPES},
                                               "description": "the copy, as its content type"}}
PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}},
                                              "description": "the signed result, printable"}}


@router.get("", response_model=ApplicationOut, response_model_exclude_unset=True,
            summary="An application with its full timeline",
            description="Read from one snapshot; a step is overdue when it finished after its maximum, or is "
                        "still open past it and not scheduled to be done before it (on the mesh clock).",
            responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND"))
async def application(number: str, mio: MioDep, who: Viewer) -> dict:
    view = await mio.reads.application(number)
    same_district(who, view.app.district)
    return application_out(view.app, view=view, book=mio.book)


@router.get("/documents/{sha256}", response_class=Response,
            summary="An electronic copy the application came with (named on its signed form by this SHA-256)",
            responses=COPY | error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND",
                              "DOCUMENT_COPY_NOT_FOUND"))
async def document_copy(number: str, sha256: str, mio: MioDep, who: Viewer) -> Response:
    app = (await mio.reads.application(number)).app
    same_district(who, app.district)
    copy = await mio.reads.copy(number, sha256)
    return Response(content=copy.content, media_type=copy.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{sha256[:16]}"',
                             "X-Content-Type-Options": "nosniff"})


@router.get("/draft", response_model=ResultDocument, response_model_exclude_unset=True,
            summary="The result document to sign (its RFC 8785 form is what the head signs)",
            responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND",
                                      "NO_DRAFT_YET"))
async def draft(number: str, mio: MioDep, who: Viewer) -> dict:
    app = (await mio.reads.application(number)).app
    same_district(who, app.district)
    if app.draft is None:
        raise MeshError("NO_DRAFT_YET", f"application {number} has no decision yet")
    return app.draft


@router.get("/document.pdf", response_class=Response,
            responses=PDF | error_responses("NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND", "DOCUMENT_NOT_READY"),
            summary="The signed result as a printable bilingual (kk/ru) PDF with its QR code and the signed JSON "
                    "embedded (staff of the district, or admin)")
async def document_pdf(number: str, mio: MioDep, who: Viewer) -> Response:
    app = (await mio.reads.application(number)).app
    same_district(who, app.district)
    if app.draft is None or not app.document_signature:
        raise MeshError("DOCUMENT_NOT_READY", f"application {number} has no signed result yet")
    document = SignedResult(content=app.draft, signature=app.document_signature)
    return Response(content=await asyncio.to_thread(render_pdf, document), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename(document, "pdf")}"'})


@router.post("/actions/{action}", response_model=ApplicationOut, response_model_exclude_unset=True,
             summary="Do the current step's next action: accept, assign, decide, sign, issue (by its role)",
             description="`assign` names (`executorIin`, default: the seeded one) a staff member of the "
                         "application's district with the role of the deciding step — else `422 "
                         "EXECUTOR_NOT_IN_DISTRICT` / `NOT_AN_EXECUTOR`; `decide` is then that member's alone "
                         "(`403 NOT_THE_ASSIGNED_EXECUTOR`), and approving a form that does not name the person "
                         "as ГБД ФЛ holds them is `409 APPLICANT_NOT_CONFIRMED`. `403 WRONG_ROLE` for another "
                         "role's step.",
             responses=error_responses("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                       "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "STAFF_NOT_FOUND",
                                       "NOT_THE_ASSIGNED_EXECUTOR", "NOT_THE_NAMED_SIGNER", "NOT_YOUR_DISTRICT",
                                       "WRONG_ROLE", "APPLICATION_NOT_FOUND", "ACTION_NOT_DUE",
                                       "APPLICANT_NOT_CONFIRMED", "APPLICATION_CLOSED", "CARD_REQUIRED",
                                       "NO_SIGNER", "REFUSAL_NOT_PROVIDED", "STEP_ALREADY_DONE",
                                       "DECISION_REQUIRED", "DELIVERY_NOT_OFFICE", "DISTRICT_UNKNOWN",
                                       "EMAIL_INVALID", "EMAIL_REQUIRED", "EMAIL_WITHOUT_DELIVERY",
                                       "EXECUTOR_NOT_IN_DISTRICT", "MAIL_INVALID", "NOT_AN_EXECUTOR",
                                       "REASON_REQUIRED", "SIGNATURE_REQUIRED", "SIGNING_TIME_MISSING",
                                       "SIGNING_TIME_SKEWED", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE",
                                       "NOT_READY"))
async def act(number: str, action: Literal["accept", "assign", "decide", "sign", "issue"], body: ActionIn,
              mio: MioDep, who: CurrentStaff) -> dict:
    await mio.actions.act(number=number, action=action, actor=who, body=ActionBody(
        accept=body.accept, reason=body.reason, executor_iin=body.executor_iin, decision=body.decision,
        signature=body.signature, delivery=body.delivery, email=body.email))
    view = await mio.reads.application(number)
    return application_out(view.app, view=view, book=mio.book)
