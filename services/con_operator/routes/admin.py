"""Test support and operating ИС ЦОН, behind the admin token: operators (with their test passwords and PKCS#12
files), minting and unlocking them, applications sent without a visit (batches, benchmarks), what was sent and
heard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime

from services.con_operator.deps import ADMIN, CentreDep
from services.con_operator.operators import operator_public
from services.con_operator.schemas import (
    IIN,
    AdminIntakeIn,
    CaseOut,
    CasesOut,
    MintIn,
    NoticeOut,
    NoticesOut,
    OperatorOut,
    OperatorsOut,
    OperatorWithSecretsOut,
)
from services.con_operator.usecases.admin import AdminApplication
from shared.employment.case_tracking import case_out, cases, notice_out, notices
from shared.mesh.scenarios import using
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses
from shared.web.scenario_header import ScenarioNamed

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=ADMIN)


@router.get("/operators", summary="Operators, with their test passwords and PKCS#12 files")
async def operator_list(centre: CentreDep, branch: str | None = None) -> OperatorsOut:
    return OperatorsOut(operators=[OperatorWithSecretsOut.model_validate(operator_public(
        o, branch=centre.branches.all.get(o.branch), secrets_too=True))
        for o in await centre.operators.everyone(branch)])


@router.post("/operators", status_code=201, summary="Mint a new operator of a branch (НУЦ certificates)",
             responses=error_responses("BRANCH_NOT_FOUND"))
async def mint(body: MintIn, centre: CentreDep) -> OperatorWithSecretsOut:
    branch = centre.branches.get(body.branch)
    account, _ = await centre.operators.mint(branch)
    return OperatorWithSecretsOut.model_validate(operator_public(account, branch=branch, secrets_too=True))


@router.post("/operators/{iin}/unlock", summary="Lift an operator's lock-out",
             responses=error_responses("OPERATOR_NOT_FOUND"))
async def unlock(iin: str, centre: CentreDep) -> OperatorOut:
    account = await centre.operators.unlock(iin)
    return OperatorOut.model_validate(operator_public(account, branch=centre.branches.all.get(account.branch),
                                                      secrets_too=False))


@router.post("/applications", status_code=202,
             summary="Send an application through ИС ЦОН without a visit (test support: batches, benchmarks)",
             description="Skips the queue and the desk, not the rules: the form is signed by the applicant, or (no "
                         "`formSignature`) by a seeded operator of the branch serving `district`, and ИС МИО "
                         "checks it as any ЦОН application. `Idempotency-Key` makes it safe to repeat.",
             responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "BRANCH_NOT_FOUND",
                                       "OPERATOR_NOT_FOUND", "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_TOO_LARGE",
                                       "ATTACHMENT_TYPE_NOT_ALLOWED", "ATTACHMENT_DIGEST_MISMATCH",
                                       "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY", "ATTACHMENT_MISMATCH",
                                       "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64", "ATTACHMENT_NOT_SIGNED",
                                       "ATTACHMENT_TOO_MANY", "IDEMPOTENCY_KEY_REUSED", "SERVICE_UNKNOWN",
                                       "SIGNATURE_REQUIRED"))
async def admin_intake(body: AdminIntakeIn, response: Response, centre: CentreDep, scenario: ScenarioNamed,
                       key: Annotated[str | None, Header(alias=HEADER)] = None) -> CaseOut:
    with using(scenario):  # docs/scenarios.md
        sent = await centre.admin.send(AdminApplication(
            form=body.form, form_signature=body.form_signature, signed_by=body.signed_by, district=body.district,
            attachments=[a.model_dump(by_alias=True) for a in body.attachments]), key=valid_key(key))
    if sent.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return CaseOut.model_validate(case_out(sent.case))


@router.get("/cases", summary="Applications ИС ЦОН sent, with their current status")
async def case_list(centre: CentreDep, iin: Annotated[str | None, Query(pattern=IIN)] = None,
                    updated_since: Annotated[AwareDatetime | None, Query(alias="updatedSince", description=(
                        "only cases whose status changed at or after this mesh time"))] = None) -> CasesOut:
    return CasesOut(applications=[CaseOut.model_validate(case_out(c))
                                  for c in await cases(centre.sessions, iin=iin, updated_since=updated_since)])


@router.get("/notices", summary="Status notices received from ИС МИО («Поступившие», «В работе», …)")
async def notice_list(centre: CentreDep, number: Annotated[str | None, Query(alias="applicationNumber")] = None,
                      iin: Annotated[str | None, Query(pattern=IIN)] = None) -> NoticesOut:
    return NoticesOut(notices=[NoticeOut.model_validate(notice_out(n))
                               for n in await notices(centre.sessions, iin=iin, number=number)])
