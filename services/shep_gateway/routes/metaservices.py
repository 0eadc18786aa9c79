"""Metaservices: who is in the registry, what each may call, and the gateway's own certificate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.shep_gateway.routes.deps import BookDep
from services.shep_gateway.routes.models import CertificateOut, MembersOut, ServicesOut
from services.shep_gateway.usecases import registry_admin
from shared.pki.cert_profile import serial_hex
from shared.pki.signing import certificate_pem
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["metaservices"])


@router.get("/members", summary="Registered member systems and their pinned certificates",
            responses=error_responses("GATEWAY_NOT_READY"))
async def members(book: BookDep) -> MembersOut:
    return MembersOut.model_validate({"members": await registry_admin.members_with_pins(book)})


@router.get("/services", summary="Services in the registry; with ?caller=, only those that member may call",
            responses=error_responses("MEMBER_NOT_FOUND", "GATEWAY_NOT_READY"))
async def services(book: BookDep, caller: Annotated[str | None, Query()] = None) -> ServicesOut:
    return ServicesOut(caller=caller, services=registry_admin.services_for(book, caller=caller))


@router.get("/certificate", summary="The gateway's system certificate: members encrypt their payloads to its key",
            description="Payloads travel encrypted hop by hop (JWE, ECDH-ES + A256GCM, `kid` = this serial): "
                        "a member encrypts `data` and its signature to this certificate; the gateway, after its "
                        "checks, to the recipient's. 503 GATEWAY_NOT_READY before the gateway has enrolled.",
            responses=error_responses("GATEWAY_NOT_READY"))
async def certificate(book: BookDep) -> CertificateOut:
    own = book.own_certificate()
    return CertificateOut(member_id=book.own_id, serial=serial_hex(own), certificate_pem=certificate_pem(own))
