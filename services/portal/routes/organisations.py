"""An organisation's applications (seed 001 п. 9, «ИИН/БИН»): applying with a form signed by its certificate
(``usecases.organisation_application``), its history and «Уведомления» — only for a login of that BIN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.portal.deps import CurrentLogin, PortalDep, own_organisation
from services.portal.schemas.cases import CasePublic, CasesOut, NoticePublic, NotificationsOut
from services.portal.schemas.requests import OrganisationApplyIn
from shared.employment.attachments import decode, wire
from shared.mesh.contracts import ApplicationRequest
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses

router = APIRouter()


@router.post("/organisations/{bin}/applications", response_model=CasePublic, tags=["services"], status_code=202,
             summary="Apply as an organisation (seed 001: «ИИН/БИН»): a form naming it (applicantBin) and its "
                     "representative (representativeIin), signed with the organisation's certificate",
             description="`applicantIin` is the person the service is for (ИС МИО checks their card and facts, "
                         "and the result names them as ГБД ФЛ holds them: a form naming them otherwise is "
                         "refused); `district` is the department applied to, where it is sent. Every answer is "
                         "the same whoever the form names. Refused: `403 ORGANISATION_LOGIN_REQUIRED` (a "
                         "citizen's login), `403 NOT_YOUR_DATA` (another BIN), `422 ORGANISATION_NOT_NAMED`, "
                         "`403 REPRESENTATIVE_MISMATCH`, condition 2: `401 EDS_NOT_ORGANISATION` / "
                         "`EDS_BIN_MISMATCH` / `EDS_IIN_MISMATCH` and the certificate's own faults, `422 "
                         "DISTRICT_REQUIRED`, the district's channel and the form's checks as for a citizen, `403 "
                         "SERVICE_NOT_FOR_ORGANISATIONS` (the district's regulation admits individuals only). "
                         "`Idempotency-Key` as for a citizen.",
             responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "EDS_BIN_MISMATCH",
                                       "EDS_CERTIFICATE_EXPIRED", "EDS_CERTIFICATE_NOT_YET_VALID",
                                       "EDS_CERTIFICATE_REVOKED", "EDS_CERTIFICATE_STATUS_UNKNOWN",
                                       "EDS_CERTIFICATE_UNTRUSTED", "EDS_IIN_MISMATCH", "EDS_NOT_ORGANISATION",
                                       "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER",
                                       "EDS_WRONG_KEY_USAGE", "NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED",
                                       "REPRESENTATIVE_MISMATCH", "SERVICE_NOT_FOR_ORGANISATIONS",
                                       "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_TOO_LARGE",
                                       "ATTACHMENT_TYPE_NOT_ALLOWED", "ATTACHMENT_DIGEST_MISMATCH",
                                       "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY", "ATTACHMENT_MISMATCH",
                                       "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64", "ATTACHMENT_NOT_SIGNED",
                                       "ATTACHMENT_TOO_MANY", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                       "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                       "BIN_NOT_DIGITS", "CHANNEL_NOT_OFFERED", "DISTRICT_REQUIRED",
                                       "DISTRICT_UNKNOWN", "FORM_INVALID", "IDEMPOTENCY_KEY_REUSED",
                                       "ORGANISATION_NOT_NAMED", "SERVICE_UNKNOWN", "EDS_CLOCK_SKEW",
                                       "EDS_OCSP_UNREACHABLE", "NOT_READY"))
async def apply_as_organisation(bin: str, body: OrganisationApplyIn, response: Response, login: CurrentLogin,
                                portal: PortalDep, key: Annotated[str | None, Header(alias=HEADER)] = None
                                ) -> CasePublic:
    representative = own_organisation(bin, login)
    copies = decode([c.model_dump(by_alias=True) for c in body.attachments])
    request = ApplicationRequest(form=body.form, form_signature=body.form_signature, signed_by="organisation",
                                 attachments=wire(copies))
    sent = await portal.organisation_application.submit(bin_=bin, representative=representative, request=request,
                                                        district=body.district, idempotency_key=valid_key(key),
                                                        copies=copies)
    if sent.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return CasePublic.of(sent.case)


@router.get("/organisations/{bin}/applications", response_model=CasesOut, tags=["services"],
            summary="The organisation's «История получения услуг»: the applications it submitted, with status",
            responses=error_responses("NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED", "BIN_BAD_CHECK_DIGIT",
                                      "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                      "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS"))
async def organisation_history(bin: str, login: CurrentLogin, portal: PortalDep) -> CasesOut:
    own_organisation(bin, login)
    return CasesOut(applications=[CasePublic.of(c) for c in await portal.following.organisation_cases(bin)])


@router.get("/organisations/{bin}/notifications", response_model=NotificationsOut, tags=["services"],
            summary="The organisation's «Уведомления»: every status change of its applications, with the signed "
                    "result when there is one",
            responses=error_responses("NOT_YOUR_DATA", "ORGANISATION_LOGIN_REQUIRED", "BIN_BAD_CHECK_DIGIT",
                                      "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                      "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS"))
async def organisation_notifications(bin: str, login: CurrentLogin, portal: PortalDep) -> NotificationsOut:
    own_organisation(bin, login)
    return NotificationsOut(notifications=[NoticePublic.of(n)
                                           for n in await portal.following.organisation_notices(bin)])
