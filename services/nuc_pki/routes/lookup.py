"""Look-up: a certificate by serial (its status for anyone, the whole of it for the admin), certificates by IIN, BIN
or member id (admin), and how many begin after a mesh time (admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.nuc_pki.deps import IsAdmin, LookupDep, admin_only
from services.nuc_pki.models import (
    CertificateDetailOut,
    CertificateListOut,
    CertificateOut,
    CertificateStatusOut,
    NotYetValidOut,
)
from services.nuc_pki.routes.issuance import BIN_CODES, IIN_CODES
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["look-up"])
guarded = [Depends(admin_only)]


@router.get("/certificates/{serial}", summary="A certificate's status by serial (hex); the whole certificate with "
            "the admin token",
            description="Anonymous callers get the status only (what the public CRL and OCSP say anyway): the "
                        "certificate names its holder (IIN, name), which is personal data.",
            openapi_extra={"security": [{}]},  # the admin token is optional here: without it, the status only
            responses=error_responses("CERTIFICATE_NOT_FOUND"))
async def by_serial(serial: str, lookup: LookupDep, is_admin: IsAdmin) -> CertificateDetailOut | CertificateStatusOut:
    record = await lookup.by_serial(serial)
    if not is_admin:
        return CertificateStatusOut.of(record)
    return CertificateDetailOut.described(record)


@router.get("/certificates", dependencies=guarded,
            summary="Certificates by IIN, BIN or member id (admin: IINs are personal data)",
            responses=error_responses(*BIN_CODES, *IIN_CODES, "SEARCH_CRITERION_MISSING"))
async def search(lookup: LookupDep, iin: Annotated[str | None, Query()] = None,
                 bin: Annotated[str | None, Query()] = None,
                 member_id: Annotated[str | None, Query(alias="memberId")] = None) -> CertificateListOut:
    records = await lookup.search(iin=iin, bin_=bin, member_id=member_id)
    return CertificateListOut(certificates=[CertificateOut.of(r) for r in records])


@router.get("/admin/certificates/not-yet-valid", dependencies=guarded,
            summary="How many certificates begin after a mesh time (default: now) — what a clock reset leaves",
            responses=error_responses("TIME_WITHOUT_OFFSET"))
async def not_yet_valid(lookup: LookupDep, at: Annotated[dt.datetime | None, Query(
        description="an ISO 8601 instant with its offset; default: the mesh clock's now")] = None,
) -> NotYetValidOut:
    return NotYetValidOut.of(await lookup.not_yet_valid(at=at))
