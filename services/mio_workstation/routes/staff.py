"""Staff logins: by IIN and password, by EDS (a challenge signed with the employee's authentication key), who is
logged in, and logging out."""

from __future__ import annotations

from fastapi import APIRouter

from services.mio_workstation.routes.deps import CurrentStaff, MioDep
from services.mio_workstation.schemas import (
    ChallengeOut,
    EdsLoginIn,
    LoggedOut,
    LoginIn,
    LoginOut,
    StaffPublic,
    staff_public,
)
from shared.web.openapi_errors import error_responses
from shared.web.security import StaffCredentials, token_of

router = APIRouter(prefix="/staff", tags=["staff"])


@router.post("/login", summary="Log in with IIN and password", response_model=LoginOut,
             responses=error_responses("PASSWORD_NOT_SET", "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND",
                                       "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                       "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED"))
async def login(body: LoginIn, mio: MioDep) -> dict:
    return (await mio.logins.login(iin=body.iin, password=body.password)).public()


@router.post("/challenges", status_code=201, summary="An EDS challenge to log in with", response_model=ChallengeOut)
async def challenge(mio: MioDep) -> dict:
    return await mio.logins.logins.challenge(purpose="login")


@router.post("/login/eds", summary="Log in with EDS (employee authentication certificate)", response_model=LoginOut,
             responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                       "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                       "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                       "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                       "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                       "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "STAFF_NOT_FOUND",
                                       "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
async def login_eds(body: EdsLoginIn, mio: MioDep) -> dict:
    return (await mio.logins.login_with_eds(challenge_id=body.challenge_id, signature=body.signature)).public()


@router.post("/logout", summary="End this login", response_model=LoggedOut,
             responses=error_responses("SESSION_EXPIRED", "SESSION_INVALID", "SESSION_MISSING"))
async def logout(mio: MioDep, credentials: StaffCredentials) -> dict:
    await mio.logins.logout(token_of(credentials))
    return {"loggedOut": True}


@router.get("/me", summary="Who is logged in", response_model=StaffPublic,
            responses=error_responses("STAFF_NOT_FOUND"))
async def me(who: CurrentStaff) -> dict:
    return staff_public(who, secrets_too=False)
