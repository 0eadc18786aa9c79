"""The operator's side of the queue: call the next ticket (or one named), close the one being served."""

from __future__ import annotations

from fastapi import APIRouter

from services.con_operator.deps import CentreDep, CurrentOperator
from services.con_operator.schemas import CallIn, CloseIn, TicketOut
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["queue"])


@router.post("/tickets/call", summary="Call the next waiting ticket of your branch (or the one named)",
             responses=error_responses("NOT_YOUR_BRANCH", "QUEUE_EMPTY", "TICKET_NOT_FOUND", "OPERATOR_BUSY",
                                       "TICKET_ALREADY_CALLED"))
async def call(operator: CurrentOperator, centre: CentreDep, body: CallIn | None = None) -> TicketOut:
    ticket = await centre.queue.call(operator, ticket_id=body.ticket_id if body else None)
    return TicketOut.of(ticket, now=centre.clock.now())


@router.post("/tickets/{ticket_id}/close", summary="Close the ticket you are serving",
             responses=error_responses("NOT_YOUR_BRANCH", "TICKET_NOT_YOURS", "TICKET_NOT_FOUND", "TICKET_CLOSED",
                                       "TICKET_NOT_CALLED"))
async def close(ticket_id: str, operator: CurrentOperator, centre: CentreDep, body: CloseIn | None = None) -> TicketOut:
    ticket = await centre.queue.close(operator, ticket_id=ticket_id, note=body.note if body else None)
    return TicketOut.of(ticket, now=centre.clock.now())
