"""ИС ЦОН HTTP API: the statuses of applications (as operators see them) and, for now, test-support intake.

Operator logins and the operator's own intake (queue, power of attorney, ГБД ФЛ check) come with their issue;
until then an admin can send an application through ИС ЦОН to exercise the ЦОН channel of the regulations.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from shared.case_tracking import case_out, cases, notice_out, notices, submit_once
from shared.clock import MeshClock
from shared.contracts import EMPLOYMENT_SERVICES, ApplicationForm, ApplicationRequest
from shared.db import Sessions
from shared.errors import MeshError
from shared.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.member import MemberRuntime


class IntakeIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    form: ApplicationForm
    form_signature: str = Field(alias="formSignature", max_length=20_000)
    signed_by: Literal["applicant", "operator"] = Field(default="operator", alias="signedBy")
    district: str | None = None


def build_router(*, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock, admin: object) -> APIRouter:
    router = APIRouter(tags=["statuses"], dependencies=[Depends(admin)])

    @router.post("/admin/applications", status_code=202, summary="Send an application through ИС ЦОН (test support)",
                 description="`Idempotency-Key` (a UUID) makes the call safe to repeat: a repeat with the same key "
                             "and body answers with the same case (`Idempotent-Replayed: true`).")
    async def intake(body: IntakeIn, response: Response,
                     key: Annotated[str | None, Header(alias=HEADER)] = None) -> dict:
        if body.form.service_id not in EMPLOYMENT_SERVICES:
            raise MeshError("SERVICE_UNKNOWN", f"ИС ЦОН sends {', '.join(EMPLOYMENT_SERVICES)}", status=422)
        request = ApplicationRequest(form=body.form, form_signature=body.form_signature, signed_by=body.signed_by)
        sent = await submit_once(sessions, runtime=runtime, request=request, route_id=body.district, now=clock.now(),
                                 scope="admin", key=valid_key(key))
        if sent.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return case_out(sent.case)

    @router.get("/admin/cases", summary="Applications ИС ЦОН sent, with their current status")
    async def case_list(iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None) -> dict:
        return {"applications": [case_out(c) for c in await cases(sessions, iin=iin)]}

    @router.get("/admin/notices", summary="Status notices received from ИС МИО («Поступившие», «В работе», …)")
    async def notice_list(number: Annotated[str | None, Query(alias="applicationNumber")] = None,
                          iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None) -> dict:
        return {"notices": [notice_out(n) for n in await notices(sessions, iin=iin, number=number)]}

    return router
