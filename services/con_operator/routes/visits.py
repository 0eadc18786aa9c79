"""Visits: intake for the ticket an operator serves (ГБД ФЛ asked, the form filled), the form signed and sent to
ИС МИО, a branch's visits, one visit with its statuses and ЦОН-side steps, and its result as a printable PDF."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.con_operator.centre import Centre
from services.con_operator.deps import CentreDep, CurrentOperator, Viewer
from services.con_operator.routes.operators import EDS_REFUSALS
from services.con_operator.schemas import IIN, IntakeIn, SignIn, VisitOut, VisitsOut
from services.con_operator.store import Visit
from services.con_operator.usecases.intake import IntakeData, Representation
from shared.employment.documents import SignedResult, filename, render_pdf
from shared.errors import MeshError
from shared.mesh.scenarios import using
from shared.web.openapi_errors import error_responses
from shared.web.scenario_header import ScenarioNamed

router = APIRouter()
PDF: dict[int | str, dict[str, Any]] = {200: {"description": "the result, printable", "content": {
    "application/pdf": {}}}}


async def visit_out(centre: Centre, visit: Visit) -> VisitOut:
    return VisitOut.model_validate(await centre.visits.view(visit))


def intake_data(body: IntakeIn) -> IntakeData:
    """The desk's entries as the form names them (absent ones left out)."""
    fields = {"phone": body.phone, "email": body.email, "referralKind": body.referral_kind,
              "periodFrom": body.period_from.isoformat() if body.period_from else None,
              "periodTo": body.period_to.isoformat() if body.period_to else None}
    representative = None
    if body.representative is not None:
        representative = Representation(iin=body.representative.iin, name=body.representative.name,
                                        power_of_attorney=body.representative.power_of_attorney.model_dump(
                                            by_alias=True))
    return IntakeData(iin=body.iin, service_id=body.service_id,
                      fields={k: v for k, v in fields.items() if v is not None}, representative=representative,
                      scans=[s.model_dump(by_alias=True, mode="json", exclude_none=True) for s in body.scans])


@router.post("/tickets/{ticket_id}/intake", tags=["intake"],
             summary="Intake for the ticket you serve: ГБД ФЛ asked, the form filled (not yet signed)",
             responses=error_responses("NOT_YOUR_BRANCH", "TICKET_NOT_YOURS", "BRANCH_NOT_FOUND", "SCAN_NOT_FOUND",
                                       "TICKET_NOT_FOUND", "VISIT_NOT_FOUND", "TICKET_ALREADY_USED",
                                       "TICKET_CLOSED", "TICKET_NOT_CALLED", "TICKET_NOT_FOR_APPLYING",
                                       "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_DUPLICATE", "FORM_INVALID",
                                       "GBD_FL_NO_DATA", "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT",
                                       "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS",
                                       "PERSON_DECEASED", "POWER_OF_ATTORNEY_EXPIRED", "POWER_OF_ATTORNEY_FOREIGN",
                                       "POWER_OF_ATTORNEY_NOT_THIS_REPRESENTATIVE",
                                       "POWER_OF_ATTORNEY_NOT_YET_VALID", "POWER_OF_ATTORNEY_SCOPE",
                                       "REPRESENTATIVE_IS_APPLICANT", "SERVICE_NOT_OFFERED_AT_CON",
                                       "BROKER_UNAVAILABLE", "GATEWAY_UNAVAILABLE", "NUC_UNAVAILABLE",
                                       "REGISTRY_UNAVAILABLE"))
async def intake(ticket_id: str, body: IntakeIn, operator: CurrentOperator, centre: CentreDep,
                 scenario: ScenarioNamed) -> VisitOut:
    with using(scenario):  # its ГБД ФЛ look-up in the scenario's flow (docs/scenarios.md)
        visit = await centre.intake(operator, ticket_id=ticket_id, data=intake_data(body))
    return await visit_out(centre, visit)


@router.post("/visits/{visit_id}/sign", tags=["intake"],
             summary="Sign the form (RFC 8785 JSON of `form`) and send it through the gateway to ИС МИО",
             responses=error_responses(*EDS_REFUSALS, "NOT_YOUR_BRANCH", "TICKET_NOT_YOURS",
                                       "VISIT_NOT_YOURS", "SCAN_NOT_FOUND", "TICKET_NOT_FOUND", "VISIT_NOT_FOUND",
                                       "TICKET_CLOSED", "TICKET_NOT_CALLED", "VISIT_ALREADY_SENT", "VISIT_CHANGED",
                                       "SIGNER_NOT_ALLOWED"))
async def sign(visit_id: str, body: SignIn, operator: CurrentOperator, centre: CentreDep,
               scenario: ScenarioNamed) -> VisitOut:
    with using(scenario):  # the application sent names the scenario, and ИС МИО keeps it (docs/scenarios.md)
        visit = await centre.sign_and_send(operator, visit_id=visit_id, signature=body.signature,
                                           signed_by=body.signed_by)
    return await visit_out(centre, visit)


@router.get("/visits", tags=["visits"], summary="Visits of your branch")
async def visit_list(who: Viewer, centre: CentreDep, iin: Annotated[str | None, Query(pattern=IIN)] = None,
                     branch: str | None = None) -> VisitsOut:
    branch = who.branch if who is not None else branch
    return VisitsOut(visits=[await visit_out(centre, v) for v in await centre.visits.find(branch=branch, iin=iin)])


@router.get("/visits/{visit_id}", tags=["visits"],
            summary="A visit: form, statuses from ИС МИО, ЦОН-side steps with overdue flags, result",
            responses=error_responses("NOT_YOUR_BRANCH", "VISIT_NOT_FOUND"))
async def visit(visit_id: str, who: Viewer, centre: CentreDep) -> VisitOut:
    return await visit_out(centre, await centre.visits.visible(visit_id, who))


@router.get("/visits/{visit_id}/document.pdf", tags=["result"], response_class=Response,
            responses=PDF | error_responses("NOT_YOUR_BRANCH", "VISIT_NOT_FOUND", "DOCUMENT_NOT_READY"),
            summary="The result to hand out as a printable bilingual (kk/ru) PDF with its QR code and the signed "
                    "JSON embedded: the notice the operator formed where the ЦОН forms it, else ИС МИО's document")
async def document_pdf(visit_id: str, who: Viewer, centre: CentreDep) -> Response:
    view = await centre.visits.view(await centre.visits.visible(visit_id, who))
    formed = view.get("result") or {}
    signed = formed if formed.get("signature") else view.get("document")
    if not signed or not signed.get("signature"):
        raise MeshError("DOCUMENT_NOT_READY", "this visit has no signed result yet")
    document = SignedResult.parse(signed)
    return Response(content=await asyncio.to_thread(render_pdf, document), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename(document, "pdf")}"'})
