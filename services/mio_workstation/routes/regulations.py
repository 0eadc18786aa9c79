"""The regulations this workstation runs, and the districts it serves."""

from __future__ import annotations

from fastapi import APIRouter

from services.mio_workstation.routes.deps import MioDep
from services.mio_workstation.schemas import DistrictsOut, RegulationsOut
from shared.employment.regulations import Regulation
from shared.errors import MeshError
from shared.web.openapi_errors import error_responses

router = APIRouter()


@router.get("/regulations", tags=["regulations"], summary="Every regulation this workstation runs",
            response_model=RegulationsOut)
async def regulations(mio: MioDep) -> dict:
    return {"regulations": [{"id": r.id, "title": r.title, "service": r.service, "channel": r.channel,
                             "districts": list(r.districts), "act": r.act, "steps": len(r.steps)}
                            for r in mio.book.all.values()]}


@router.get("/regulations/{regulation_id}", tags=["regulations"], summary="A regulation: steps, term, sources",
            response_model=Regulation, responses=error_responses("REGULATION_NOT_FOUND"))
async def regulation(regulation_id: str, mio: MioDep) -> Regulation:
    found = mio.book.all.get(regulation_id)
    if found is None:
        raise MeshError("REGULATION_NOT_FOUND", f"no regulation {regulation_id}")
    return found


@router.get("/districts", tags=["districts"], summary="Districts served, their organisations and regulations",
            response_model=DistrictsOut, response_model_exclude_unset=True)
async def districts(mio: MioDep) -> dict:
    return {"districts": [{"district": d, "memberId": f"mio.{d}", **mio.staff.organisations.get(d, {}),
                           "regulations": [r.id for r in mio.book.for_district(d)]}
                          for d in mio.districts.names()]}
