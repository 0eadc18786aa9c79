"""Registration: a citizen by IIN + password or by EDS, an organisation's representative by its certificate; the EDS
challenges both sign (``usecases.registration``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.portal.deps import Caller, PortalDep, Precise
from services.portal.schemas.accounts import (
    AccountPublic,
    ChallengePublic,
    OrganisationAccountPublic,
    RegistrationRequested,
)
from services.portal.schemas.requests import ChallengeIn, EdsRegisterIn, OrganisationRegisterIn, RegisterIn
from shared.web.openapi_errors import error_responses

router = APIRouter()

QUIETLY: dict[int | str, dict[str, Any]] = {202: {"model": RegistrationRequested, "description": "an anonymous "
                                                  "caller's one answer, whatever the IIN"}}

QUIET_REGISTRATION = ("Если ИИН есть в ГБД ФЛ и учётной записи у него ещё нет, она создана — войдите с этим "
                      "паролем. Если вход не удаётся, учётная запись была уже или ИИН неизвестен ГБД ФЛ: "
                      "зарегистрируйтесь с ЭЦП (ответ один и тот же при любом ИИН, чтобы регистрация не говорила, "
                      "кто есть на портале).")


@router.post("/auth/register", response_model=AccountPublic, tags=["registration"], status_code=201,
             summary="Register with IIN and password (the person must be alive in ГБД ФЛ)",
             description="An anonymous caller gets `202 REQUESTED` with one message whatever the IIN (unknown "
                         "to ГБД ФЛ, already registered, or registered now), and at most "
                         "`PORTAL_ANONYMOUS_REGISTRATIONS_PER_MINUTE` tries a minute (`429 TOO_MANY_ATTEMPTS`). "
                         "With the admin token: `201` and the account, or `409 ACCOUNT_EXISTS` / "
                         "`404 PERSON_NOT_FOUND` / `422 PERSON_DECEASED`.",
             responses=QUIETLY | error_responses("PERSON_NOT_FOUND", "ACCOUNT_EXISTS", "IIN_BAD_BIRTH_DATE",
                                       "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                       "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "PASSWORD_WEAK", "PERSON_DECEASED",
                                       "TOO_MANY_ATTEMPTS", "BROKER_UNAVAILABLE", "GATEWAY_UNAVAILABLE",
                                       "NUC_UNAVAILABLE", "REGISTRY_UNAVAILABLE"))
async def register(body: RegisterIn, portal: PortalDep, caller: Caller,
                   is_admin: Precise) -> AccountPublic | JSONResponse:
    if is_admin:
        return AccountPublic.of(await portal.registration.register(iin=body.iin, password=body.password,
                                                                   email=body.email, phone=body.phone))
    portal.registrations.check(caller)
    await portal.registration.register_quietly(iin=body.iin, password=body.password, email=body.email,
                                               phone=body.phone)
    return JSONResponse(status_code=202, content=RegistrationRequested(message=QUIET_REGISTRATION).model_dump())


@router.post("/auth/challenges", response_model=ChallengePublic, tags=["EDS"], status_code=201,
             summary="A challenge to sign with the authentication key (single use, expires on the mesh clock)")
async def challenge(body: ChallengeIn, portal: PortalDep) -> ChallengePublic:
    return ChallengePublic.model_validate(await portal.logins.challenge(purpose=body.purpose))


@router.post("/auth/register/eds", response_model=AccountPublic, tags=["registration"], status_code=201,
             summary="Register with EDS: the signed register challenge; the IIN is the certificate's",
             responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                       "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                       "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "PERSON_NOT_FOUND",
                                       "ACCOUNT_EXISTS", "PASSWORD_WEAK", "PERSON_DECEASED", "BROKER_UNAVAILABLE",
                                       "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "GATEWAY_UNAVAILABLE", "NOT_READY",
                                       "NUC_UNAVAILABLE", "REGISTRY_UNAVAILABLE"))
async def register_eds(body: EdsRegisterIn, portal: PortalDep) -> AccountPublic:
    return AccountPublic.of(await portal.registration.register_with_eds(
        challenge_id=body.challenge_id, signature=body.signature, password=body.password, email=body.email,
        phone=body.phone))


@router.post("/auth/register/organisation", tags=["registration"], status_code=201,
             response_model=OrganisationAccountPublic,
             summary="Register as an organisation's representative (seed 001: «ИИН/БИН»): the register challenge "
                     "signed with the organisation's certificate, whose BIN is the one named",
             description="The IIN is the certificate's (a living person ГБД ФЛ knows); the password, if given, "
                         "lets BIN + IIN + password log in too. A malformed BIN is refused by its rule "
                         "(`422 BIN_LENGTH`, `BIN_BAD_CHECK_DIGIT`…), a personal certificate with "
                         "`401 EDS_NOT_ORGANISATION`, another organisation's with `401 EDS_BIN_MISMATCH`, a "
                         "representative registered already with `409 ACCOUNT_EXISTS`.",
             responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                       "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_NOT_ORGANISATION", "EDS_ROLE_MISSING",
                                       "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE",
                                       "PERSON_NOT_FOUND", "ACCOUNT_EXISTS", "BIN_BAD_CHECK_DIGIT",
                                       "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                       "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS", "PASSWORD_WEAK", "PERSON_DECEASED",
                                       "BROKER_UNAVAILABLE", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE",
                                       "GATEWAY_UNAVAILABLE", "NOT_READY", "NUC_UNAVAILABLE",
                                       "REGISTRY_UNAVAILABLE"))
async def register_organisation(body: OrganisationRegisterIn, portal: PortalDep) -> OrganisationAccountPublic:
    return OrganisationAccountPublic.of(await portal.registration.register_organisation(
        bin_=body.bin, challenge_id=body.challenge_id, signature=body.signature, password=body.password,
        email=body.email, phone=body.phone))
