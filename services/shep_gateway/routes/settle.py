"""``POST /admin/settle``: run the mesh until nothing is in flight and nothing is scheduled, for one case or all
(``usecases/settle.py``), jumping the mesh clock to each scheduled step — the admin token's, as the clock is."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter

from services.shep_gateway.routes.deps import ADMIN_ONLY, SettlerDep
from services.shep_gateway.routes.models import SettledCaseOut, SettleIn, SettleOut
from services.shep_gateway.usecases.settle import SettleReport
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["clock"])


def _out(report: SettleReport) -> SettleOut:
    return SettleOut(outcome=cast(Any, report.outcome), jumps=report.jumps, clock_from=report.clock_from.isoformat(),
                     clock_to=report.clock_to.isoformat(), case=report.case,
                     cases=[SettledCaseOut(service=service, role=view.role, status=view.status,
                                           correlation_id=view.correlation_id,
                                           application_number=view.application_number)
                            for service, view in report.cases],
                     in_flight=report.in_flight,
                     next_due=report.next_due.isoformat() if report.next_due else None)


@router.post("/admin/settle", dependencies=ADMIN_ONLY, response_model=SettleOut,
             summary="Run the mesh until nothing is in flight and nothing is scheduled (for one case, or all), "
                     "jumping the mesh clock to each scheduled step",
             responses=error_responses("SETTLE_TIMEOUT_REQUIRED", "SETTLE_TIMEOUT_OUT_OF_RANGE",
                                       "SETTLE_JUMPS_OUT_OF_RANGE", "SETTLE_CASE_UNKNOWN", "IDENTITY_NOT_READY"))
async def settle(body: SettleIn, settler: SettlerDep) -> SettleOut:
    return _out(await settler.settle(case=body.case, timeout_s=body.timeout_seconds, max_jumps=body.max_jumps))
