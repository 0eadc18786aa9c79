"""Branches and what they offer, and the electronic queue's kiosk: a ticket taken (anonymous, rate-limited per
address) and a branch's tickets with their waiting and service times."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.con_operator.branches import Branch, BranchBook
from services.con_operator.deps import CentreDep, Viewer
from services.con_operator.schemas import (
    BranchesOut,
    BranchOut,
    CentreStepOut,
    OfferOut,
    TicketIn,
    TicketOut,
    TicketsOut,
)
from services.con_operator.store import TicketStatus
from shared.errors import MeshError
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["queue"])


def branch_out(branches: BranchBook, branch: Branch) -> BranchOut:
    offers = []
    for regulation in branches.offers(branch):
        assert regulation.centre is not None
        offers.append(OfferOut(
            service_id=regulation.service, title=regulation.title, regulation=regulation.id,
            signed_by=list(regulation.centre.signed_by), forms_result=regulation.centre.forms_result,
            steps=[CentreStepOut(id=s.id, start=s.start.value, end=s.end.value, max=s.max.describe(),
                                 action=s.action, source=s.source) for s in regulation.centre.steps]))
    return BranchOut(id=branch.id, name=branch.name, region=branch.region, district=branch.district,
                     address=branch.address, offers=offers)


@router.get("/branches", summary="ЦОН branches, and the services each takes with their ЦОН-side steps")
async def branch_list(centre: CentreDep) -> BranchesOut:
    return BranchesOut(branches=[branch_out(centre.branches, b) for b in centre.branches.all.values()])


@router.post("/branches/{branch}/tickets", status_code=201,
             summary="Take a ticket of the electronic queue (the kiosk; anonymous, rate-limited)",
             responses=error_responses("BRANCH_NOT_FOUND", "SERVICE_NOT_OFFERED_AT_CON", "TOO_MANY_ATTEMPTS"))
async def take_ticket(branch: str, body: TicketIn, request: Request, centre: CentreDep) -> TicketOut:
    centre.kiosk.check(request.client.host if request.client else "unknown")
    ticket = await centre.queue.take_ticket(branch_id=branch, service_id=body.service_id, purpose=body.purpose)
    return TicketOut.of(ticket, now=centre.clock.now())


@router.get("/branches/{branch}/tickets",
            summary="The branch's tickets with their waiting and service times (mesh clock)",
            responses=error_responses("NOT_YOUR_BRANCH", "BRANCH_NOT_FOUND"))
async def ticket_list(branch: str, who: Viewer, centre: CentreDep, status: TicketStatus | None = None) -> TicketsOut:
    if who is not None and who.branch != branch:
        raise MeshError("NOT_YOUR_BRANCH", f"you serve {who.branch}, not {branch}")
    now = centre.clock.now()
    return TicketsOut(tickets=[TicketOut.of(t, now=now) for t in await centre.queue.tickets(branch_id=branch,
                                                                                             status=status)])
