"""Test support (the admin token): cards put on the register directly, assistance noted, staff identities listed,
minted and unlocked, staff modes, and the simulated staff's schedule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.mio_workstation.routes.deps import ADMIN, MioDep
from services.mio_workstation.schemas import (
    ApplicationOut,
    AssistanceIn,
    CardOut,
    ModeIn,
    ModeOut,
    OpenCardIn,
    ScheduleOut,
    StaffIn,
    StaffListOut,
    StaffPublic,
    StaffWithSecrets,
    application_out,
    card_out,
    staff_public,
)
from shared.web.openapi_errors import error_responses

router = APIRouter(prefix="/admin", tags=["test support"], dependencies=ADMIN)
IIN_CODES = ("IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED",
             "IIN_NOT_DIGITS")


@router.post("/districts/{district}/register/cards", status_code=201, response_model=CardOut,
             response_model_exclude_unset=True,
             summary="Put a person on the register directly (already a job seeker or unemployed)",
             responses=error_responses("CARD_EXISTS", "DISTRICT_UNKNOWN", *IIN_CODES))
async def open_card(district: str, body: OpenCardIn, mio: MioDep) -> dict:
    mio.districts.runtime(district)
    card = await mio.register.open_directly(district=district, iin=body.iin, kind=body.kind)
    return card_out(card, [])


@router.post("/districts/{district}/register/assistance", status_code=201, response_model=CardOut,
             response_model_exclude_unset=True,
             summary="Note targeted social or housing assistance on a person's open card (the unemployed "
                     "certificate, 003 app. 5, lists it)",
             description="404 CARD_NOT_FOUND without an open card in the district; 422 ASSISTANCE_PERIOD_INVALID "
                         "when `until` is before `grantedOn`.",
             responses=error_responses("CARD_NOT_FOUND", "ASSISTANCE_PERIOD_INVALID", "DISTRICT_UNKNOWN",
                                       *IIN_CODES))
async def record_assistance(district: str, body: AssistanceIn, mio: MioDep) -> dict:
    mio.districts.runtime(district)
    card = await mio.register.record_assistance(district=district, iin=body.iin, kind=body.kind,
                                                granted=body.granted_on, until=body.until, decision=body.decision)
    return card_out(card, await mio.register.history(card.id))


@router.get("/staff", response_model=StaffListOut, response_model_exclude_unset=True,
            summary="Seeded staff identities with their passwords and PKCS#12 files (test identities)")
async def staff_list(mio: MioDep) -> dict:
    return {"staff": [staff_public(s, secrets_too=True) for s in await mio.staff.everyone()]}


@router.post("/districts/{district}/staff", status_code=201, response_model=StaffWithSecrets,
             response_model_exclude_unset=True,
             summary="Mint one more staff member of a role the district's regulations have (a second executor…), "
                     "with НУЦ certificates; its password and PKCS#12 files as /admin/staff gives them",
             description="422 DISTRICT_UNKNOWN; 422 ROLE_NOT_IN_DISTRICT (with the district's roles). The seeded "
                         "member of the role stays the district's first (default assignments, simulated staff).",
             responses=error_responses("STAFF_NOT_FOUND", "DISTRICT_UNKNOWN", "ROLE_NOT_IN_DISTRICT"))
async def mint_staff(district: str, body: StaffIn, mio: MioDep) -> dict:
    return staff_public(await mio.enrolment.mint(district=district, role=body.role), secrets_too=True)


@router.post("/staff/{iin}/unlock", response_model=StaffPublic, summary="Lift a staff member's lock-out (admin)",
             responses=error_responses("STAFF_NOT_FOUND"))
async def staff_unlock(iin: str, mio: MioDep) -> dict:
    return staff_public(await mio.logins.unlock(iin), secrets_too=False)


@router.put("/districts/{district}/mode", response_model=ModeOut,
            summary="auto (simulated staff) or manual (staff act through the API) for a district",
            responses=error_responses("APPLICATION_NOT_FOUND", "DISTRICT_UNKNOWN"))
async def district_mode(district: str, body: ModeIn, mio: MioDep) -> dict:
    await mio.modes.set_district(district=district, mode=body.mode, share=body.auto_share)
    return {"district": district, "mode": body.mode}


@router.put("/applications/{number}/mode", response_model=ApplicationOut, response_model_exclude_unset=True,
            summary="auto or manual for one application",
            responses=error_responses("APPLICATION_NOT_FOUND", "DISTRICT_UNKNOWN"))
async def application_mode(number: str, body: ModeIn, mio: MioDep) -> dict:
    await mio.modes.set_application(number=number, mode=body.mode, share=body.auto_share)
    view = await mio.reads.application(number)
    return application_out(view.app, view=view, book=mio.book)


@router.get("/schedule", response_model=ScheduleOut,
            summary="When simulated staff act next (mesh time) and how many steps are due now — for `settle`")
async def schedule(mio: MioDep, number: Annotated[str | None, Query()] = None) -> dict:
    return await mio.reads.schedule(number=number)
