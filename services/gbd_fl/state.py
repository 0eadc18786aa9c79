"""What a reset and a snapshot of ГБД ФЛ cover (shared/web/state_admin.py).

A whole reset puts the seeded population back (the same people for the same seed): the people the kit or an admin
made go, those test support changed or deleted are made again from the seed, nobody is claimed. A snapshot does not
carry the 3 000 seeded people — a fresh mesh makes the same ones from the seed — but the population's seed and size
and the people tests touched: made by the kit or an admin, changed, or claimed. One citizen, one district: their
people the kit made are deleted, their seeded people unclaimed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.gbd_fl.models import ResetIn
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from services.gbd_fl.usecases.seeding import Population
from shared.web.state_admin import ScopeRule, StatePlan

TOUCHED = or_(col(Person.origin) != "seed", col(Person.claimed_at).is_not(None), col(Person.changed_at).is_not(None))


def _people(column: str) -> ScopeRule:
    async def rule(session: AsyncSession, value: str) -> int:
        where = getattr(Person, column) == value
        made = select(col(Person.iin)).where(where, col(Person.origin) != "seed")
        await session.exec(delete(RegistryFacts).where(col(RegistryFacts.iin).in_(made)))
        gone = await session.exec(delete(Person).where(where, col(Person.origin) != "seed"))
        freed = await session.exec(update(Person).where(where, col(Person.claimed_at).is_not(None))
                                   .values(claimed_at=None))
        return int(gone.rowcount or 0) + int(freed.rowcount or 0)
    rule.__name__ = "person"
    return rule


def registry_state(population: Population) -> StatePlan:
    async def seeded_again(rows: dict[str, list[dict[str, Any]]]) -> None:
        [state] = rows.get("population_state") or [{}]
        chosen = ResetIn.model_validate({"seed": state.get("seed"), "size": state.get("size")})  # the same bounds
        await population.reset(seed=chosen.seed, size=chosen.size)

    return StatePlan(
        state=[PopulationState, Person, RegistryFacts],
        scopes={"iin": [_people("iin")], "district": [_people("district")]},
        reset_state=population.put_back,
        exported={"person": TOUCHED,
                  "registry_facts": col(RegistryFacts.iin).in_(select(col(Person.iin)).where(TOUCHED))},
        restore_base=seeded_again)
