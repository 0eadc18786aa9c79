"""The result: the notice ЦОН forms where the regulation gives it the State Corporation (drafted, then signed by
the operator), and the hand-out — in person, identity checked, or by e-mail through the mesh's mail outbox."""

from __future__ import annotations

from fastapi import APIRouter

from services.con_operator.deps import CentreDep, CurrentOperator
from services.con_operator.routes.operators import EDS_REFUSALS
from services.con_operator.routes.visits import visit_out
from services.con_operator.schemas import HandOutIn, ResultDraftOut, ResultIn, VisitOut
from services.con_operator.usecases.hand_out import HandOutRequest
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["result"])


@router.post("/visits/{visit_id}/result/draft",
             summary="The notice to form and sign (where the regulation gives it to the State Corporation); "
                     "made once and kept, so the draft signed is the draft stored",
             responses=error_responses("NOT_YOUR_BRANCH", "BRANCH_NOT_FOUND", "VISIT_NOT_FOUND",
                                       "RESULT_NOT_FORMED_HERE", "RESULT_NOT_READY", "RESULT_REFUSED"))
async def draft(visit_id: str, operator: CurrentOperator, centre: CentreDep) -> ResultDraftOut:
    return ResultDraftOut(content=await centre.results.draft(operator, visit_id=visit_id))


@router.post("/visits/{visit_id}/result", summary="Form the result: the operator's EDS over the draft",
             responses=error_responses(*EDS_REFUSALS, "NOT_YOUR_BRANCH", "VISIT_NOT_FOUND", "RESULT_ALREADY_FORMED",
                                       "RESULT_DRAFTED_FOR_ANOTHER", "RESULT_NOT_DRAFTED", "SIGNING_TIME_MISSING",
                                       "SIGNING_TIME_SKEWED"))
async def form_result(visit_id: str, body: ResultIn, operator: CurrentOperator, centre: CentreDep) -> VisitOut:
    return await visit_out(centre, await centre.results.form(operator, visit_id=visit_id, signature=body.signature))


@router.post("/visits/{visit_id}/hand-out",
             summary="Hand the result out: in person (identity checked) or by e-mail (the mesh mail outbox)",
             responses=error_responses("IDENTITY_MISMATCH", "NOT_YOUR_BRANCH", "TICKET_NOT_YOURS",
                                       "TICKET_NOT_FOUND", "VISIT_NOT_FOUND", "RESULT_ALREADY_HANDED_OUT",
                                       "RESULT_NOT_FORMED", "RESULT_NOT_READY", "TICKET_CLOSED",
                                       "TICKET_NOT_CALLED", "EMAIL_REQUIRED", "IDENTITY_REQUIRED", "MAIL_INVALID",
                                       "POWER_OF_ATTORNEY_EXPIRED", "TICKET_REQUIRED"))
async def hand_out(visit_id: str, body: HandOutIn, operator: CurrentOperator, centre: CentreDep) -> VisitOut:
    visit = await centre.hand_out(operator, visit_id=visit_id, request=HandOutRequest(
        delivery=body.delivery, ticket_id=body.ticket_id, presented_iin=body.presented_iin, email=body.email))
    return await visit_out(centre, visit)
