"""«Еңбек нарығы»: a district's personal cards with their history, and closing a card with the reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.mio_workstation.routes.deps import CurrentStaff, MioDep, Viewer
from services.mio_workstation.schemas import CardOut, CloseCardIn, RegisterOut, card_out
from services.mio_workstation.usecases.roles import same_district
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["enbek"])  # «Еңбек нарығы»: a Latin tag names the generated client's module


@router.get("/districts/{district}/register", response_model=RegisterOut, response_model_exclude_unset=True,
            summary="Personal cards of job seekers and unemployed people, with their history",
            responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT"))
async def register(district: str, mio: MioDep, who: Viewer,
                   iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None) -> dict:
    same_district(who, district)
    return {"cards": [card_out(c, e) for c, e in await mio.register.cards(district=district, iin=iin)]}


@router.post("/register/cards/{card_id}/close", response_model=CardOut, response_model_exclude_unset=True,
             summary="Close a card, with the reason",
             description="By staff of the card's district (`403 NOT_YOUR_DISTRICT`) whose role its regulation "
                         "files name as the register's keeper, `registerKeeper` — who enters people there (`403 "
                         "NOT_THE_REGISTER_KEEPER`, `details.roles`); `409 CARD_CLOSED`, `404 CARD_NOT_FOUND`.",
             responses=error_responses("STAFF_NOT_FOUND", "NOT_THE_REGISTER_KEEPER", "NOT_YOUR_DISTRICT",
                                       "CARD_NOT_FOUND", "CARD_CLOSED"))
async def close_card(card_id: str, body: CloseCardIn, mio: MioDep, who: CurrentStaff) -> dict:
    card = await mio.register.close(card_id=card_id, reason=body.reason, actor=who)
    return card_out(card, [])
