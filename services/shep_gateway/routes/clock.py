"""The mesh clock: read by anyone, changed with the admin token (mesh-wide: the gateway is its authority)."""

from __future__ import annotations

from fastapi import APIRouter

from services.shep_gateway.routes.deps import ADMIN_ONLY, ClockAuthorityDep
from services.shep_gateway.routes.models import ClockChange, ClockChangedOut, ClockOut, ClockStateOut
from services.shep_gateway.usecases.clock_authority import ClockAuthority
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["clock"])


def _clock_out(authority: ClockAuthority) -> ClockOut:
    clock = authority.clock
    return ClockOut(state=ClockStateOut.model_validate(clock.state.model_dump()), now=clock.now().isoformat(),
                    local_now=clock.local_now().isoformat())


@router.get("/clock", summary="The mesh clock: state, mesh now (UTC and Kazakhstan time)")
async def clock(authority: ClockAuthorityDep) -> ClockOut:
    return _clock_out(authority)


@router.post("/admin/clock", dependencies=ADMIN_ONLY,
             summary="Advance the mesh clock (seconds or working days), set its speed, or reset it; mesh-wide",
             responses=error_responses("IDENTITY_NOT_READY", "CLOCK_OUTSIDE_VALIDITY"))
async def change_clock(body: ClockChange, authority: ClockAuthorityDep) -> ClockChangedOut:
    changed = await authority.change(advance_s=body.advance_seconds, advance_working_days=body.advance_working_days,
                                     speed=body.speed, reset=body.reset, force=body.force)
    return ClockChangedOut(**_clock_out(authority).model_dump(), warnings=changed.warnings)
