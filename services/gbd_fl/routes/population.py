"""The population: its seed, size and spread; regenerated from a seed."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from services.gbd_fl.deps import PopulationDep, admin_only
from services.gbd_fl.models import PopulationOut, ResetIn

router = APIRouter(tags=["test support"], dependencies=[Depends(admin_only)])


@router.get("/admin/population", summary="The population's seed, size and spread")
async def population(population: PopulationDep) -> PopulationOut:
    return PopulationOut.of(await population.summary())


@router.post("/admin/population/reset", summary="Regenerate the population from a seed (default: configured)")
async def reset(body: ResetIn, population: PopulationDep) -> PopulationOut:
    return PopulationOut.of(await population.reset(seed=body.seed, size=body.size))
