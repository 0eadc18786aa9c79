"""Operator logins (seed 003 п. 7, process 1 and condition 1): IIN and password with a lock-out, or EDS over a
challenge; the login's token is the ``operatorSession`` bearer of every desk route."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.con_operator.deps import CentreDep, CurrentOperator
from services.con_operator.operators import operator_public
from services.con_operator.schemas import ChallengeOut, EdsLoginIn, LoginIn, LoginOut, OperatorOut
from shared.web.openapi_errors import error_responses
from shared.web.security import OperatorCredentials, token_of

router = APIRouter(tags=["operators"])
EDS_REFUSALS = ("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED", "EDS_CERTIFICATE_NOT_YET_VALID",
                "EDS_CERTIFICATE_REVOKED", "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID", "EDS_WRONG_HOLDER",
                "EDS_WRONG_KEY_USAGE", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY")


@router.post("/operators/login", summary="Log in with IIN and password (lock-out after 5 wrong passwords)",
             responses=error_responses("PASSWORD_NOT_SET", "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND",
                                       "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                       "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED"))
async def login(body: LoginIn, centre: CentreDep) -> LoginOut:
    return LoginOut.model_validate((await centre.logins.with_password(iin=body.iin, password=body.password)).public())


@router.post("/operators/login/eds/challenge", summary="A challenge to sign with the operator's authentication "
                                                      "certificate",
             responses=error_responses("TOO_MANY_ATTEMPTS"))
async def challenge(request: Request, centre: CentreDep) -> ChallengeOut:
    centre.challenges.check(request.client.host if request.client else "unknown")
    return ChallengeOut.model_validate(await centre.logins.challenge())


@router.post("/operators/login/eds",
             summary="Log in with EDS (State Corporation employee certificate with the operator role)",
             responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN", *EDS_REFUSALS,
                                       "OPERATOR_NOT_FOUND", "ACCOUNT_LOCKED"))
async def login_eds(body: EdsLoginIn, centre: CentreDep) -> LoginOut:
    login = await centre.logins.with_eds(challenge_id=body.challenge_id, signature=body.signature)
    return LoginOut.model_validate(login.public())


@router.post("/operators/logout", status_code=204, response_class=Response, summary="End this login",
             responses=error_responses("SESSION_EXPIRED", "SESSION_INVALID", "SESSION_MISSING"))
async def logout(credentials: OperatorCredentials, centre: CentreDep) -> Response:
    await centre.logins.end(token_of(credentials))
    return Response(status_code=204)


@router.get("/operators/me", summary="Who is logged in")
async def me(operator: CurrentOperator, centre: CentreDep) -> OperatorOut:
    return OperatorOut.model_validate(operator_public(operator, branch=centre.branches.all.get(operator.branch),
                                                     secrets_too=False))
