"""Revocation (admin): a certificate revoked with a reason, seen at once by OCSP and the next CRL."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from services.nuc_pki.deps import RevocationDep, admin_only
from services.nuc_pki.models import CertificateOut, RevokeRequest
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["revocation"], dependencies=[Depends(admin_only)])


@router.post("/certificates/{serial}/revoke", summary="Revoke a certificate with a reason",
             responses=error_responses("CERTIFICATE_NOT_FOUND", "CERTIFICATE_ALREADY_REVOKED",
                                       "REVOCATION_REASON_UNKNOWN"))
async def revoke(serial: str, body: RevokeRequest, revocation: RevocationDep) -> CertificateOut:
    return CertificateOut.of(await revocation.revoke(serial=serial, reason=body.reason))
