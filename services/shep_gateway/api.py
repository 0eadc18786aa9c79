"""Gateway HTTP API: metaservices (members, services), the message log, the clock, registry administration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.shep_gateway.clock_authority import ClockAuthority
from services.shep_gateway.domain import MemberDef, ServiceDef
from services.shep_gateway.message_log import MessageLog
from services.shep_gateway.registry_book import RegistryBook
from shared.errors import MeshError


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


def _clock_out(authority: ClockAuthority) -> dict[str, Any]:
    clock = authority.clock
    return {"state": clock.state.model_dump(), "now": clock.now().isoformat(),
            "localNow": clock.local_now().isoformat()}


def build_router(*, book: RegistryBook, clock_authority: ClockAuthority, message_log: MessageLog,
                 admin: object) -> APIRouter:
    router = APIRouter()
    guarded = [Depends(admin)]

    @router.get("/members", tags=["metaservices"], summary="Registered member systems and their pinned certificates")
    async def members() -> dict:
        registry = book.loaded_or_fail()
        pins = await book.member_certificates()
        return {"members": [{**m.model_dump(mode="json", by_alias=True), "certificates": pins.get(m.id, [])}
                            for m in registry.members.values()]}

    @router.get("/services", tags=["metaservices"],
                summary="Services in the registry; with ?caller=, only those that member may call")
    async def services(caller: Annotated[str | None, Query()] = None) -> dict:
        registry = book.loaded_or_fail()
        if caller is not None and caller not in registry.members:
            raise MeshError("MEMBER_NOT_FOUND", f"no member {caller!r} in the registry", status=404)
        chosen = registry.services_for(caller) if caller else list(registry.services.values())
        return {"caller": caller, "services": [s.model_dump(mode="json", by_alias=True) for s in chosen]}

    @router.get("/clock", tags=["clock"], summary="The mesh clock: state, mesh now (UTC and Kazakhstan time)")
    async def clock() -> dict:
        return _clock_out(clock_authority)

    @router.post("/admin/clock", tags=["clock"], dependencies=guarded,
                 summary="Advance the mesh clock (seconds or working days), set its speed, or reset it; mesh-wide")
    async def change_clock(body: ClockChange) -> dict:
        await clock_authority.change(advance_s=body.advance_seconds, advance_working_days=body.advance_working_days,
                                     speed=body.speed, reset=body.reset)
        return _clock_out(clock_authority)

    @router.get("/log", tags=["message log"], dependencies=guarded,
                summary="Messages of one case (by correlationId), or the latest ones")
    async def case_log(correlation_id: Annotated[str | None, Query(alias="correlationId")] = None,
                       outcome: Annotated[str | None, Query(pattern="^(ROUTED|REFUSED|TIMEOUT)$")] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
        if correlation_id is not None:
            records = await message_log.case_log(correlation_id=correlation_id)
        else:
            records = await message_log.recent_log(limit=limit, outcome=outcome)
        return {"records": [r.public() for r in records]}

    @router.get("/log/verify", tags=["message log"], dependencies=guarded,
                summary="Verify the whole chain: hashes, links and the gateway's signature on every record")
    async def verify() -> dict:
        return await message_log.verify_chain()

    @router.get("/log/{message_id}", tags=["message log"], dependencies=guarded, summary="One record by messageId")
    async def record(message_id: str) -> dict:
        return (await message_log.log_record(message_id=message_id)).public()

    @router.put("/admin/members/{member_id}/certificate", tags=["registry"], dependencies=guarded,
                summary="Pin a member's system certificate (checked: chain, validity, OCSP, CN = member, BIN)")
    async def register_certificate(member_id: str, body: CertificateBody) -> dict:
        return await book.register_certificate(member_id=member_id, pem=body.certificate_pem)

    @router.put("/admin/members/{member_id}", tags=["registry"], dependencies=guarded,
                summary="Add or change a member system")
    async def put_member(member_id: str, body: MemberDef) -> dict:
        if body.id != member_id:
            raise MeshError("ID_MISMATCH", f"path says {member_id}, body says {body.id}", status=422)
        await book.upsert_member(body)
        return body.model_dump(mode="json", by_alias=True)

    @router.put("/admin/services/{service_id}", tags=["registry"], dependencies=guarded,
                summary="Add or change a service: channel, providers, who may call it, who is notified")
    async def put_service(service_id: str, body: ServiceDef) -> dict:
        if body.id != service_id:
            raise MeshError("ID_MISMATCH", f"path says {service_id}, body says {body.id}", status=422)
        await book.upsert_service(body)
        return body.model_dump(mode="json", by_alias=True)

    return router
