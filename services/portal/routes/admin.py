"""Test support behind the admin token (``adminToken``): every application, any account, an organisation's
representatives, lifting a lock-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from services.portal.deps import ADMIN, PortalDep
from services.portal.schemas.accounts import AccountPublic, OrganisationAccountPublic, OrganisationAccountsOut
from services.portal.schemas.cases import CasePublic, CasesOut
from shared.web.openapi_errors import error_responses

router = APIRouter()


@router.get("/admin/organisations/{bin}/accounts", tags=["test support"], dependencies=ADMIN,
            response_model=OrganisationAccountsOut, summary="An organisation's representatives' accounts (admin)",
            responses=error_responses("BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT",
                                      "BIN_LENGTH", "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS"))
async def admin_organisation_accounts(bin: str, portal: PortalDep) -> OrganisationAccountsOut:
    return OrganisationAccountsOut(accounts=[OrganisationAccountPublic.of(a)
                                             for a in await portal.accounts.organisation_accounts(bin)])


@router.post("/admin/organisations/{bin}/accounts/{iin}/unlock", tags=["test support"],
             dependencies=ADMIN, response_model=OrganisationAccountPublic,
             summary="Lift a representative's lock-out (admin)",
             responses=error_responses("ACCOUNT_NOT_FOUND"))
async def unlock_organisation(bin: str, iin: str, portal: PortalDep) -> OrganisationAccountPublic:
    return OrganisationAccountPublic.of(await portal.accounts.unlock_organisation(bin_=bin, iin=iin))


@router.get("/admin/cases", response_model=CasesOut, tags=["test support"], dependencies=ADMIN,
            summary="Every application sent through the portal, with its current status (admin)")
async def admin_cases(portal: PortalDep, iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
                      correlation_id: Annotated[str | None, Query(alias="correlationId")] = None,
                      updated_since: Annotated[AwareDatetime | None, Query(alias="updatedSince", description=(
                          "only cases whose status changed at or after this mesh time"))] = None) -> CasesOut:
    return CasesOut(applications=[CasePublic.of(c) for c in await portal.following.cases(
        iin=iin, correlation_id=correlation_id, updated_since=updated_since)])


@router.get("/admin/accounts/{iin}", response_model=AccountPublic, tags=["test support"], dependencies=ADMIN,
            summary="Any account (admin)",
            responses=error_responses("ACCOUNT_NOT_FOUND"))
async def admin_account(iin: str, portal: PortalDep) -> AccountPublic:
    return AccountPublic.of(await portal.accounts.account(iin))


@router.post("/admin/accounts/{iin}/unlock", response_model=AccountPublic, tags=["test support"], dependencies=ADMIN,
             summary="Lift a lock-out (admin)",
             responses=error_responses("ACCOUNT_NOT_FOUND"))
async def unlock(iin: str, portal: PortalDep) -> AccountPublic:
    return AccountPublic.of(await portal.accounts.unlock(iin))
