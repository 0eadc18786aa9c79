"""Gateway HTTP API: metaservices (members, services), the message log, the clock, registry administration."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.shep_gateway.accounts import BrokerAccounts
from services.shep_gateway.clock_authority import ClockAuthority
from services.shep_gateway.domain import MemberDef, ServiceDef, ServiceGrant
from services.shep_gateway.message_log import MessageLog
from services.shep_gateway.registry_book import RegistryBook
from shared.errors import MeshError
from shared.pki.cert_profile import serial_hex
from shared.pki.signing import certificate_pem
from shared.web.openapi_errors import error_responses


class CertificateBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    certificate_pem: str = Field(alias="certificatePem", min_length=1)


class ClockChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    advance_seconds: float | None = Field(default=None, alias="advanceSeconds", ge=0, le=10 * 365 * 86400)
    advance_working_days: int | None = Field(default=None, alias="advanceWorkingDays", ge=0, le=3650)
    speed: float | None = Field(default=None, gt=0, le=100_000)
    reset: bool = False

    @model_validator(mode="after")
    def _something(self) -> ClockChange:
        if not self.reset and self.advance_seconds is None and self.advance_working_days is None and self.speed is None:
            raise ValueError("give advanceSeconds, advanceWorkingDays, speed or reset")
        if self.reset and (self.advance_seconds or self.advance_working_days or self.speed):
            raise ValueError("reset cannot be combined with other changes")
        return self


class GrantOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    service: ServiceDef
    created: bool


class RegistryReset(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: Literal["member", "service"] | None = None
    id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _both_or_neither(self) -> RegistryReset:
        if (self.kind is None) != (self.id is None):
            raise ValueError("give both kind and id (one entry), or neither (every entry of the seed)")
        return self


class ResetOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    reset: list[dict[str, Any]] = Field(description="entries that differed from the seed: kind, id, and `was`")
    not_in_seed: list[dict[str, str]] = Field(alias="notInSeed")


class BrokerLoginOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    user: str
    password: str = Field(description="derived by the gateway from the mesh secret: the same at every call")
    permissions: dict[str, str] = Field(description="RabbitMQ's configure/write/read expressions for it")


class BrokerAdministratorOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    user: str
    password: str
    management_url: str = Field(alias="managementUrl")


def _clock_out(authority: ClockAuthority) -> dict[str, Any]:
    clock = authority.clock
    return {"state": clock.state.model_dump(), "now": clock.now().isoformat(),
            "localNow": clock.local_now().isoformat()}


def build_router(*, book: RegistryBook, clock_authority: ClockAuthority, message_log: MessageLog,
                 admin: object, accounts: BrokerAccounts) -> APIRouter:
    router = APIRouter()
    guarded = [Depends(admin)]

    @router.get("/members", tags=["metaservices"], summary="Registered member systems and their pinned certificates",
                responses=error_responses("GATEWAY_NOT_READY"))
    async def members() -> dict:
        registry = book.loaded_or_fail()
        pins = await book.member_certificates()
        return {"members": [{**m.model_dump(mode="json", by_alias=True), "certificates": pins.get(m.id, [])}
                            for m in registry.members.values()]}

    @router.get("/services", tags=["metaservices"],
                summary="Services in the registry; with ?caller=, only those that member may call",
                responses=error_responses("MEMBER_NOT_FOUND", "GATEWAY_NOT_READY"))
    async def services(caller: Annotated[str | None, Query()] = None) -> dict:
        registry = book.loaded_or_fail()
        if caller is not None and caller not in registry.members:
            raise MeshError("MEMBER_NOT_FOUND", f"no member {caller!r} in the registry")
        chosen = registry.services_for(caller) if caller else list(registry.services.values())
        return {"caller": caller, "services": [s.model_dump(mode="json", by_alias=True) for s in chosen]}

    @router.get("/certificate", tags=["metaservices"],
                summary="The gateway's system certificate: members encrypt their payloads to its key",
                description="Payloads travel encrypted hop by hop (JWE, ECDH-ES + A256GCM, `kid` = this serial): "
                            "a member encrypts `data` and its signature to this certificate; the gateway, after its "
                            "checks, to the recipient's. 503 GATEWAY_NOT_READY before the gateway has enrolled.",
                responses=error_responses("GATEWAY_NOT_READY"))
    async def certificate() -> dict:
        own = book.own_certificate()
        return {"memberId": book.own_id, "serial": serial_hex(own), "certificatePem": certificate_pem(own)}

    @router.get("/clock", tags=["clock"], summary="The mesh clock: state, mesh now (UTC and Kazakhstan time)")
    async def clock() -> dict:
        return _clock_out(clock_authority)

    @router.post("/admin/clock", tags=["clock"], dependencies=guarded,
                 summary="Advance the mesh clock (seconds or working days), set its speed, or reset it; mesh-wide",
                 responses=error_responses("IDENTITY_NOT_READY"))
    async def change_clock(body: ClockChange) -> dict:
        changed = await clock_authority.change(advance_s=body.advance_seconds,
                                               advance_working_days=body.advance_working_days, speed=body.speed,
                                               reset=body.reset)
        return _clock_out(clock_authority) | {"warnings": changed.warnings}

    @router.get("/log", tags=["message log"], dependencies=guarded,
                summary="Messages of one case (by correlationId), or the latest ones")
    async def case_log(correlation_id: Annotated[str | None, Query(alias="correlationId")] = None,
                       outcome: Annotated[str | None, Query(pattern="^(ROUTED|REFUSED|TIMEOUT|NOT_DELIVERED)$")] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
        if correlation_id is not None:
            records = await message_log.case_log(correlation_id=correlation_id)
        else:
            records = await message_log.recent_log(limit=limit, outcome=outcome)
        return {"records": [r.public() for r in records]}

    @router.get("/deliveries", tags=["message log"], dependencies=guarded,
                summary="Deliveries on members' queues: ON_DELIVERY until the member's receipt, DELIVERED, or "
                        "NOT_DELIVERED after every attempt (newest first)")
    async def deliveries(correlation_id: Annotated[str | None, Query(alias="correlationId")] = None,
                         state: Annotated[str | None, Query(pattern="^(ON_DELIVERY|DELIVERED|NOT_DELIVERED)$")] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
        return {"deliveries": await message_log.deliveries(correlation_id=correlation_id, state=state, limit=limit)}

    @router.get("/log/verify", tags=["message log"], dependencies=guarded,
                summary="Verify the whole chain: hashes, links and the gateway's signature on every record")
    async def verify() -> dict:
        return await message_log.verify_chain()

    @router.get("/log/{message_id}", tags=["message log"], dependencies=guarded, summary="One record by messageId",
                responses=error_responses("LOG_RECORD_NOT_FOUND"))
    async def record(message_id: str) -> dict:
        return (await message_log.log_record(message_id=message_id)).public()

    @router.put("/admin/members/{member_id}/certificate", tags=["registry"], dependencies=guarded,
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
    async def register_certificate(member_id: str, body: CertificateBody) -> dict:
        return await book.register_certificate(member_id=member_id, pem=body.certificate_pem)

    @router.put("/admin/members/{member_id}", tags=["registry"], dependencies=guarded,
                summary="Add or change a member system",
                responses=error_responses("CERTIFICATE_MALFORMED", "ID_MISMATCH", "GATEWAY_NOT_READY"))
    async def put_member(member_id: str, body: MemberDef) -> dict:
        if body.id != member_id:
            raise MeshError("ID_MISMATCH", f"path says {member_id}, body says {body.id}")
        await book.upsert_member(body)
        return body.model_dump(mode="json", by_alias=True)

    @router.put("/admin/services/{service_id}", tags=["registry"], dependencies=guarded,
                summary="Add or change a service: channel, providers, who may call it, who is notified",
                responses=error_responses("MEMBER_NOT_FOUND", "CERTIFICATE_MALFORMED", "ID_MISMATCH",
                                          "GATEWAY_NOT_READY"))
    async def put_service(service_id: str, body: ServiceDef) -> dict:
        if body.id != service_id:
            raise MeshError("ID_MISMATCH", f"path says {service_id}, body says {body.id}")
        await book.upsert_service(body)
        return body.model_dump(mode="json", by_alias=True)

    @router.post("/admin/services/{service_id}/grant", tags=["registry"], dependencies=guarded,
                 response_model=GrantOut, response_model_by_alias=True,
                 summary="Add providers, callers or notified members to a service; never removes or renames",
                 description="Creates the service when it does not exist and the grant gives its `channel` and a "
                             "provider. Changing `channel` or `routeBy` of an existing service is a 409: PUT the "
                             "whole entry for that.",
                 responses=error_responses("MEMBER_NOT_FOUND", "SERVICE_NOT_FOUND", "GRANT_CONFLICT",
                                           "CERTIFICATE_MALFORMED", "GATEWAY_NOT_READY"))
    async def grant(service_id: str, body: ServiceGrant) -> GrantOut:
        service, created = await book.grant(service_id=service_id, grant=body)
        return GrantOut(service=service, created=created)

    @router.post("/admin/broker-accounts/{account}", tags=["registry"], dependencies=guarded,
                 response_model=BrokerLoginOut, summary="A member's own broker login (made if missing)",
                 description="The account may publish only to `shep.ingress` (and the dead-letter exchange, its own "
                             "retry tiers), read and declare only its own queues. The member's queues are declared "
                             "and bound to its delivery routes. 409 BROKER_ACCOUNTS_OFF when the gateway has no "
                             "broker administrator; 404 MEMBER_NOT_FOUND before the member is in the registry.",
                 responses=error_responses("ACCOUNT_RESERVED", "MEMBER_NOT_FOUND", "BROKER_ACCOUNTS_OFF",
                                           "GATEWAY_NOT_READY"))
    async def broker_account(account: str) -> BrokerLoginOut:
        login, permissions = await accounts.login_for(account)
        return BrokerLoginOut(user=login.user, password=login.password,
                              permissions={"configure": permissions.configure, "write": permissions.write,
                                           "read": permissions.read})

    @router.get("/admin/broker/administrator", tags=["registry"], dependencies=guarded,
                response_model=BrokerAdministratorOut, summary="The broker administrator's login (admin token)",
                description="The one administrator of the broker (there is no guest): the gateway's, to make members' "
                            "accounts; testers use it for the management UI. 404 BROKER_ADMIN_NOT_CONFIGURED when "
                            "the gateway has none (an in-process broker).",
                responses=error_responses("BROKER_ADMIN_NOT_CONFIGURED"))
    async def broker_administrator() -> BrokerAdministratorOut:
        login, management_url = accounts.administrator()
        return BrokerAdministratorOut(user=login.user, password=login.password, management_url=management_url)

    @router.post("/admin/registry/reset", tags=["registry"], dependencies=guarded, response_model=ResetOut,
                 response_model_by_alias=True,
                 summary="Put one registry entry, or every entry of the seed file, back to the seed's version",
                 description="With `kind` and `id`: that entry (404 NOT_IN_SEED if testers added it). Without: "
                             "every seed entry. Entries the seed lacks are kept and listed in `notInSeed`; "
                             "districts added by regulation files rejoin their services when ИС МИО restarts.",
                 responses=error_responses("REGISTRY_FILE_INVALID", "NOT_IN_SEED", "CERTIFICATE_MALFORMED",
                                           "GATEWAY_NOT_READY"))
    async def reset(body: RegistryReset) -> ResetOut:
        outcome = await book.reset_to_seed(kind=body.kind, entry_id=body.id)
        return ResetOut(reset=outcome.reset, not_in_seed=outcome.not_in_seed)

    return router
