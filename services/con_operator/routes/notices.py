"""Status notices ИС ЦОН heard from ИС МИО, for the operator's branch's district."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.con_operator.deps import CentreDep, Viewer
from services.con_operator.schemas import NoticeOut, NoticesOut
from services.con_operator.usecases.statuses import branch_notices as heard_by_branch
from shared.employment.case_tracking import notice_out
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["statuses"])


@router.get("/notices",
            summary="Status notices ИС ЦОН heard for your branch's district (every channel the seed routes)",
            responses=error_responses("BRANCH_NOT_FOUND"))
async def branch_notices(who: Viewer, centre: CentreDep,
                         number: Annotated[str | None, Query(alias="applicationNumber")] = None) -> NoticesOut:
    heard = await heard_by_branch(centre.sessions, centre.branches, who, number=number)
    return NoticesOut(notices=[NoticeOut.model_validate(notice_out(n)) for n in heard])
