"""Registry administration (admin token): members, their certificates, services, grants, back to the seed."""

from __future__ import annotations

from fastapi import APIRouter

from services.shep_gateway.domain import MemberDef, ServiceDef, ServiceGrant
from services.shep_gateway.routes.deps import ADMIN_ONLY, BookDep
from services.shep_gateway.routes.models import CertificateBody, GrantOut, PinnedOut, RegistryReset, ResetOut
from services.shep_gateway.usecases import registry_admin
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["registry"], dependencies=ADMIN_ONLY)


@router.put("/admin/members/{member_id}/certificate",
            summary="Pin a member's system certificate (checked: chain, validity, OCSP, CN = member, BIN)",
            responses=error_responses("MEMBER_NOT_FOUND", "CERTIFICATE_PINNED_ELSEWHERE", "CERTIFICATE_MALFORMED",
                                      "Client.BinMismatch", "Client.CertificateExpired",
                                      "Client.CertificateNotForSender", "Client.CertificateNotYetValid",
                                      "Client.CertificateRevoked", "Client.CertificateStatusUnknown",
                                      "Client.IinMismatch", "Client.InvalidSignature", "Client.RoleMissing",
                                      "Client.SignatureAlgorithmUnsupported", "Client.SignatureContentMismatch",
                                      "Client.SignatureMalformed", "Client.UntrustedCertificate",
                                      "Client.WrongKeyUsage", "GATEWAY_NOT_READY", "Server.ClockSkew",
                                      "Server.OcspResponderUnreachable"))
async def register_certificate(member_id: str, body: CertificateBody, book: BookDep) -> PinnedOut:
    return PinnedOut.model_validate(await book.register_certificate(member_id=member_id, pem=body.certificate_pem))


@router.put("/admin/members/{member_id}", response_model=MemberDef, summary="Add or change a member system",
            responses=error_responses("CERTIFICATE_MALFORMED", "ID_MISMATCH", "GATEWAY_NOT_READY"))
async def put_member(member_id: str, body: MemberDef, book: BookDep) -> MemberDef:
    return await registry_admin.put_member(book, member_id=member_id, member=body)


@router.put("/admin/services/{service_id}", response_model=ServiceDef,
            summary="Add or change a service: channel, providers, who may call it, who is notified",
            responses=error_responses("MEMBER_NOT_FOUND", "CERTIFICATE_MALFORMED", "ID_MISMATCH", "GATEWAY_NOT_READY"))
async def put_service(service_id: str, body: ServiceDef, book: BookDep) -> ServiceDef:
    return await registry_admin.put_service(book, service_id=service_id, service=body)


@router.post("/admin/services/{service_id}/grant",
             summary="Add providers, callers or notified members to a service; never removes or renames",
             description="Creates the service when it does not exist and the grant gives its `channel` and a "
                         "provider. Changing `channel` or `routeBy` of an existing service is a 409: PUT the "
                         "whole entry for that.",
             responses=error_responses("MEMBER_NOT_FOUND", "SERVICE_NOT_FOUND", "GRANT_CONFLICT",
                                       "CERTIFICATE_MALFORMED", "GATEWAY_NOT_READY"))
async def grant(service_id: str, body: ServiceGrant, book: BookDep) -> GrantOut:
    service, created = await book.grant(service_id=service_id, grant=body)
    return GrantOut(service=service, created=created)


@router.post("/admin/registry/reset",
             summary="Put one registry entry, or every entry of the seed file, back to the seed's version",
             description="With `kind` and `id`: that entry (404 NOT_IN_SEED if testers added it). Without: "
                         "every seed entry. Entries the seed lacks are kept and listed in `notInSeed`; "
                         "districts added by regulation files rejoin their services when ИС МИО restarts.",
             responses=error_responses("REGISTRY_FILE_INVALID", "NOT_IN_SEED", "CERTIFICATE_MALFORMED",
                                       "GATEWAY_NOT_READY"))
async def reset(body: RegistryReset, book: BookDep) -> ResetOut:
    outcome = await book.reset_to_seed(kind=body.kind, entry_id=body.id)
    return ResetOut.model_validate({"reset": outcome.reset, "notInSeed": outcome.not_in_seed})
