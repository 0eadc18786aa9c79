"""Logging in and out (``usecases.signing_in``): a citizen by password or EDS, an organisation's representative by
BIN + IIN + password or the organisation's EDS. The token answered is the ``portalSession`` scheme's bearer."""

from __future__ import annotations

from fastapi import APIRouter

from services.portal.deps import PortalDep, Precise
from services.portal.schemas.accounts import LoggedOut, LoginPublic, OrganisationLoginPublic
from services.portal.schemas.requests import EdsLoginIn, LoginIn, OrganisationEdsLoginIn, OrganisationLoginIn
from shared.web.openapi_errors import error_responses
from shared.web.security import PortalCredentials, token_of

router = APIRouter()


@router.post("/auth/login", response_model=LoginPublic, tags=["login"], summary="Log in with IIN and password",
             description="An IIN without an account answers as a wrong password would (`401 PASSWORD_WRONG`, "
                         "attempts left, then `423 ACCOUNT_LOCKED`); with the admin token, `ACCOUNT_NOT_FOUND`.",
             responses=error_responses("PASSWORD_NOT_SET", "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND",
                                       "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                       "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED"))
async def login(body: LoginIn, portal: PortalDep, is_admin: Precise) -> LoginPublic:
    return LoginPublic.of(await portal.signing_in.login(iin=body.iin, password=body.password, precise=is_admin))


@router.post("/auth/login/eds", response_model=LoginPublic, tags=["login"],
             summary="Log in with EDS: the signed login challenge",
             responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                       "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                       "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "ACCOUNT_NOT_FOUND",
                                       "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                       "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "EDS_CLOCK_SKEW",
                                       "EDS_OCSP_UNREACHABLE", "NOT_READY"))
async def login_eds(body: EdsLoginIn, portal: PortalDep) -> LoginPublic:
    return LoginPublic.of(await portal.signing_in.login_with_eds(challenge_id=body.challenge_id,
                                                                 signature=body.signature, iin=body.iin))


@router.post("/auth/login/organisation", tags=["login"], response_model=OrganisationLoginPublic,
             summary="Log in as an organisation's representative with BIN, IIN and password",
             description="As for a citizen: a pair without an account answers as a wrong password would "
                         "(`401 PASSWORD_WRONG`, attempts left, then `423 ACCOUNT_LOCKED`); with the admin "
                         "token, `ACCOUNT_NOT_FOUND` / `PASSWORD_NOT_SET`. A malformed BIN or IIN: its rule's "
                         "code (422).",
             responses=error_responses("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                       "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "PASSWORD_NOT_SET",
                                       "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND", "BIN_BAD_CHECK_DIGIT",
                                       "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
                                       "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS", "IIN_BAD_BIRTH_DATE",
                                       "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                       "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED", "EDS_CLOCK_SKEW",
                                       "EDS_OCSP_UNREACHABLE", "NOT_READY"))
async def login_organisation(body: OrganisationLoginIn, portal: PortalDep,
                             is_admin: Precise) -> OrganisationLoginPublic:
    return OrganisationLoginPublic.of(await portal.signing_in.login_organisation(
        bin_=body.bin, iin=body.iin, password=body.password, precise=is_admin))


@router.post("/auth/login/organisation/eds", tags=["login"], response_model=OrganisationLoginPublic,
             summary="Log in as an organisation's representative with EDS: the login challenge signed with the "
                     "organisation's certificate, whose BIN is the one named",
             description="`401 EDS_NOT_ORGANISATION` for a personal certificate, `401 EDS_BIN_MISMATCH` for "
                         "another organisation's, `404 ACCOUNT_NOT_FOUND` before registration.",
             responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                       "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_NOT_ORGANISATION", "EDS_ROLE_MISSING",
                                       "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE",
                                       "ACCOUNT_NOT_FOUND", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                       "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                       "BIN_NOT_DIGITS", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
async def login_organisation_eds(body: OrganisationEdsLoginIn, portal: PortalDep) -> OrganisationLoginPublic:
    return OrganisationLoginPublic.of(await portal.signing_in.login_organisation_with_eds(
        bin_=body.bin, challenge_id=body.challenge_id, signature=body.signature))


@router.post("/auth/logout", response_model=LoggedOut, tags=["login"], summary="End this login",
             responses=error_responses("SESSION_EXPIRED", "SESSION_INVALID", "SESSION_MISSING"))
async def logout(portal: PortalDep, credentials: PortalCredentials) -> LoggedOut:
    await portal.signing_in.logout(token_of(credentials))
    return LoggedOut(logged_out=True)
