"""A district's inbox: its applications by status (Поступившие, В работе, overdue, done), and paper applications
entered at the office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from services.mio_workstation.routes.deps import CurrentStaff, MioDep, Viewer
from services.mio_workstation.schemas import ApplicationOut, InboxOut, application_out
from services.mio_workstation.usecases.roles import same_district
from shared.mesh.contracts import ApplicationRequest
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["inbox"])
STATUS_FILTER = "^(RECEIVED|IN_PROGRESS|OVERDUE|DONE|COMPLETED|REFUSED|NOT_ACCEPTED)$"


@router.get("/districts/{district}/applications", response_model=InboxOut, response_model_exclude_unset=True,
            summary="A district's inbox: ?status=RECEIVED (Поступившие), IN_PROGRESS (В работе), OVERDUE, DONE",
            responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "DISTRICT_UNKNOWN"))
async def inbox(district: str, mio: MioDep, who: Viewer,
                status: Annotated[str | None, Query(pattern=STATUS_FILTER)] = None) -> dict:
    same_district(who, district)
    mio.districts.runtime(district)
    apps, overdue_steps = await mio.reads.inbox(district=district, status=status)
    return {"district": district, "applications": [application_out(a, view=None, book=mio.book) for a in apps],
            "overdueSteps": overdue_steps}


@router.post("/districts/{district}/applications", status_code=201, response_model=ApplicationOut,
             response_model_exclude_unset=True,
             summary="Enter a paper application at the office (the accepting role of the regulation)",
             description="`Idempotency-Key` (a UUID) makes the call safe to repeat: a repeat with the same key "
                         "and body answers with the same application (`Idempotent-Replayed: true`).",
             responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "STAFF_NOT_FOUND",
                                       "WRONG_ROLE", "APPLICATION_NOT_FOUND", "CHANNEL_NOT_PROVIDED",
                                       "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_TOO_LARGE",
                                       "ATTACHMENT_TYPE_NOT_ALLOWED", "ATTACHMENT_DIGEST_MISMATCH",
                                       "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY", "ATTACHMENT_MISMATCH",
                                       "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64", "ATTACHMENT_NOT_SIGNED",
                                       "ATTACHMENT_TOO_MANY", "DISTRICT_UNKNOWN", "FORM_INVALID",
                                       "FORM_SIGNATURE_NOT_CONFIRMED", "IDEMPOTENCY_KEY_REUSED",
                                       "SIGNER_NOT_ALLOWED", "NOT_READY", "Server.ClockSkew",
                                       "Server.OcspResponderUnreachable"))
async def enter(district: str, body: ApplicationRequest, response: Response, mio: MioDep, who: CurrentStaff,
                key: Annotated[str | None, Header(alias=HEADER)] = None) -> dict:
    app, replayed = await mio.intake.enter(district=district, staff=who, request=body, idempotency_key=valid_key(key))
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    view = await mio.reads.application(app.number)
    return application_out(view.app, view=view, book=mio.book)
