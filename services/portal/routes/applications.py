"""A citizen's applications: the service catalogue, applying with a signed form (``usecases.citizen_application``),
«История получения услуг» and «Уведомления» (``usecases.following``), and the copies they attached."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from services.portal.catalogue import catalogue
from services.portal.deps import CurrentLogin, PortalDep
from services.portal.schemas.cases import CasePublic, CasesOut, NoticePublic, NotificationsOut
from services.portal.schemas.catalogue import CatalogueOut
from services.portal.schemas.requests import ApplyIn
from shared.employment.attachments import decode, wire
from shared.employment.logins import refuse_unless_citizen as own
from shared.mesh.contracts import ATTACHMENT_TYPES, ApplicationRequest
from shared.mesh.scenarios import using
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses
from shared.web.scenario_header import ScenarioNamed

router = APIRouter()

COPY_CONTENT: dict[int | str, dict[str, Any]] = {200: {
    "description": "the copy as it was attached, in its own media type",
    "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in ATTACHMENT_TYPES}}}


@router.get("/services", response_model=CatalogueOut, response_model_exclude_unset=True, tags=["services"],
            summary="The service catalogue: each service's form (JSON Schema, "
            "labels in Russian and Kazakh), its documents, and per region the channels it is offered through")
async def service_catalogue(portal: PortalDep) -> CatalogueOut:
    return CatalogueOut.model_validate({"services": catalogue(portal.regulations)})


@router.post("/citizens/{iin}/applications", response_model=CasePublic, tags=["services"], status_code=202,
             summary="Apply for a service with a form signed by the citizen's EDS (checked, then sent)",
             description="Send an `Idempotency-Key` header (a UUID) to make the call safe to repeat: a repeat "
                         "with the same key and body answers with the case the first call made (header "
                         "`Idempotent-Replayed: true`), never a second application; the same key with another "
                         "body is refused with 422 IDEMPOTENCY_KEY_REUSED.",
             responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "EDS_BIN_MISMATCH",
                                       "EDS_CERTIFICATE_EXPIRED", "EDS_CERTIFICATE_NOT_YET_VALID",
                                       "EDS_CERTIFICATE_REVOKED", "EDS_CERTIFICATE_STATUS_UNKNOWN",
                                       "EDS_CERTIFICATE_UNTRUSTED", "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING",
                                       "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE",
                                       "NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED", "ATTACHMENTS_TOO_LARGE",
                                       "ATTACHMENT_TOO_LARGE", "ATTACHMENT_TYPE_NOT_ALLOWED",
                                       "ATTACHMENT_DIGEST_MISMATCH", "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY",
                                       "ATTACHMENT_MISMATCH", "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64",
                                       "ATTACHMENT_NOT_SIGNED", "ATTACHMENT_TOO_MANY", "CHANNEL_NOT_OFFERED",
                                       "DISTRICT_UNKNOWN", "FORM_INVALID", "IDEMPOTENCY_KEY_REUSED",
                                       "SERVICE_UNKNOWN", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
async def apply(iin: str, body: ApplyIn, response: Response, login: CurrentLogin, portal: PortalDep,
                scenario: ScenarioNamed, key: Annotated[str | None, Header(alias=HEADER)] = None) -> CasePublic:
    own(iin, login)
    copies = decode([c.model_dump(by_alias=True) for c in body.attachments])
    request = ApplicationRequest(form=body.form, form_signature=body.form_signature, signed_by="applicant",
                                 attachments=wire(copies))
    with using(scenario):  # what the submission sends names the flow's scenario (docs/scenarios.md)
        sent = await portal.citizen_application.submit(iin=iin, request=request, district=body.district,
                                                       idempotency_key=valid_key(key), copies=copies)
    if sent.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return CasePublic.of(sent.case)


@router.get("/citizens/{iin}/documents/{sha256}", tags=["services"], response_class=Response,
            summary="An electronic copy the citizen attached to an application (their own only)",
            responses=COPY_CONTENT | error_responses("NOT_YOUR_DATA", "DOCUMENT_COPY_NOT_FOUND"))
async def citizen_copy(iin: str, sha256: str, login: CurrentLogin, portal: PortalDep) -> Response:
    own(iin, login)
    copy = await portal.documents.copy(iin=iin, sha256=sha256)
    return Response(content=copy.content, media_type=copy.content_type, headers={
        "Content-Disposition": f'attachment; filename="{sha256[:16]}"', "X-Content-Type-Options": "nosniff"})


@router.get("/citizens/{iin}/applications", response_model=CasesOut, tags=["services"],
            summary="«История получения услуг»: the citizen's applications and their current status",
            responses=error_responses("NOT_YOUR_DATA"))
async def history(iin: str, login: CurrentLogin, portal: PortalDep) -> CasesOut:
    own(iin, login)
    return CasesOut(applications=[CasePublic.of(c) for c in await portal.following.cases(iin=iin)])


@router.get("/citizens/{iin}/notifications", response_model=NotificationsOut, tags=["services"],
            summary="«Уведомления»: every status change, with the signed result when there is one",
            responses=error_responses("NOT_YOUR_DATA"))
async def notifications(iin: str, login: CurrentLogin, portal: PortalDep) -> NotificationsOut:
    own(iin, login)
    return NotificationsOut(notifications=[NoticePublic.of(n) for n in await portal.following.notices(iin)])
