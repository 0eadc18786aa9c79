"""The population itself: seeded on the first start, regenerated from a seed on request, summarised. The same seed,
size and reference date give the same people on any day, so a test run can be repeated person for person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, update
from sqlmodel import col, select

from services.gbd_fl.domain import rows_of
from services.gbd_fl.population import generate_population
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from shared.clock import MeshClock
from shared.db import Sessions
from shared.logging import get_logger

log = get_logger(__name__)
_BATCH = 500


@dataclass(frozen=True)
class PopulationSummary:
    seed: int | None
    size: int
    reference_date: dt.date | None
    by_district: dict[str, int]
    by_origin: dict[str, int]
    claimed: int


@dataclass(frozen=True)
class PopulationDefaults:
    """The configured population (GBDFL_POPULATION_*): what the first start and a reset without a seed make."""

    seed: int
    size: int
    reference_date: dt.date


class Population:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, defaults: PopulationDefaults) -> None:
        self._sessions = sessions
        self._clock = clock
        self._defaults = defaults

    async def seed_if_empty(self) -> None:
        """A start-up step: the configured population on the very first start, the database's on any later one."""
        async with self._sessions() as session:
            if await session.get(PopulationState, 1) is not None:
                return
        await self.reset()

    async def reset(self, *, seed: int | None = None, size: int | None = None) -> PopulationSummary:
        """Replace every person with the population of ``seed`` (default: configured); people the kit created go
        too. One transaction: a reader sees the old population or the new one, never half of each."""
        seed = self._defaults.seed if seed is None else seed
        size = self._defaults.size if size is None else size
        reference = self._defaults.reference_date
        people = generate_population(seed=seed, size=size, today=reference)
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RegistryFacts))
            await session.exec(delete(Person))
            for start in range(0, len(people), _BATCH):
                rows = [rows_of(p, origin="seed") for p in people[start:start + _BATCH]]
                await session.exec(Person.__table__.insert(),  # type: ignore[attr-defined]  # SQLModel sets __table__
                                   params=[r[0].model_dump() for r in rows])
                await session.exec(RegistryFacts.__table__.insert(),  # type: ignore[attr-defined]  # SQLModel sets __table__
                                   params=[r[1].model_dump() for r in rows])
            await session.merge(PopulationState(id=1, seed=seed, size=size, reference_date=reference,
                                                generated_at=self._clock.now()))
        log.info("population_generated", seed=seed, size=size)
        return await self.summary()

    async def put_back(self) -> None:
        """A mesh reset (issue 20): the configured population as seeded — the people the kit or an admin made gone,
        those test support changed or deleted made again from the seed, nobody claimed — without rewriting the
        thousands nobody touched (regenerating them all took most of a reset's seconds under load)."""
        async with self._sessions() as session:
            state = await session.get(PopulationState, 1)
        wanted = self._defaults
        if state is None or (state.seed, state.size, state.reference_date) != (wanted.seed, wanted.size,
                                                                              wanted.reference_date):
            await self.reset()
            return
        people = generate_population(seed=wanted.seed, size=wanted.size, today=wanted.reference_date)
        touched = select(Person.iin).where(or_(col(Person.origin) != "seed", col(Person.changed_at).is_not(None)))
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RegistryFacts).where(col(RegistryFacts.iin).in_(touched)))
            await session.exec(delete(Person).where(col(Person.iin).in_(touched)))
            present = set((await session.exec(select(Person.iin))).all())
            rows = [rows_of(p, origin="seed") for p in people if p.iin not in present]
            if rows:
                await session.exec(Person.__table__.insert(),  # type: ignore[attr-defined]  # SQLModel sets __table__
                                   params=[r[0].model_dump() for r in rows])
                await session.exec(RegistryFacts.__table__.insert(),  # type: ignore[attr-defined]  # SQLModel sets __table__
                                   params=[r[1].model_dump() for r in rows])
            await session.exec(update(Person).where(col(Person.claimed_at).is_not(None)).values(claimed_at=None))
        log.info("population_put_back", remade=len(rows))

    async def summary(self) -> PopulationSummary:
        async with self._sessions() as session:
            state = await session.get(PopulationState, 1)
            by_district = dict((await session.exec(
                select(Person.district, func.count()).group_by(Person.district))).all())
            by_origin = dict((await session.exec(
                select(Person.origin, func.count()).group_by(Person.origin))).all())
            claimed = (await session.exec(select(func.count()).where(col(Person.claimed_at).is_not(None)))).one()
        return PopulationSummary(seed=state.seed if state else None, size=state.size if state else 0,
                                 reference_date=state.reference_date if state else None, by_district=by_district,
                                 by_origin=by_origin, claimed=claimed)
