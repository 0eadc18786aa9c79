"""ГБД ФЛ use cases: answer look-ups by IIN; seed, reset and change the population (test support); hand
the test kit a person nobody else is using."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.gbd_fl.domain import as_answer, check_facts, check_person, rows_of, social_status
from services.gbd_fl.population import (
    DISTRICT_BY_SLUG,
    DISTRICTS,
    KIT_SERIALS,
    IinAllocator,
    add_years,
    generate_population,
    make_person,
)
from services.gbd_fl.settings import GbdFlSettings
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_iin
from shared.logging import get_logger
from shared.mesh.contracts import PersonByIinRequest, SocialStatusRequest
from shared.mesh.member import Incoming

log = get_logger(__name__)
_BATCH = 500


@dataclass(frozen=True)
class Wanted:
    """What the test kit asks for; None means "any"."""

    district: str | None = None
    region: str | None = None
    sex: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    employed: bool | None = None
    jobless: bool | None = None  # True: neither employed, nor a full-time student, nor a pensioner

    def fits(self, facts: RegistryFacts) -> bool:
        """Whether a drawn person's facts are what was asked (the generator draws them at random)."""
        employed = facts.employer_bin is not None
        idle = not employed and facts.student_at is None and facts.pension_kind is None
        return (self.employed is None or employed == self.employed) and (self.jobless is None or idle == self.jobless)


class Registry:
    def __init__(self, *, sessions: Sessions, settings: GbdFlSettings, clock: MeshClock) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock

    # ---- the mesh services ---------------------------------------------------------------------------------
    async def person_by_iin(self, incoming: Incoming) -> dict[str, Any]:
        request = incoming.payload
        assert isinstance(request, PersonByIinRequest)
        parse_iin(request.iin)  # a malformed IIN is the caller's error, answered with its precise code
        async with self._sessions() as session:
            person = await session.get(Person, request.iin)
        return as_answer(person).model_dump(by_alias=True, exclude_none=True)

    async def social_status_by_iin(self, incoming: Incoming) -> dict[str, Any]:
        request = incoming.payload
        assert isinstance(request, SocialStatusRequest)
        parse_iin(request.iin)
        async with self._sessions() as session:
            person = await session.get(Person, request.iin)
            facts = await session.get(RegistryFacts, request.iin)
        return social_status(facts, known=person is not None).model_dump(by_alias=True, exclude_none=True)

    # ---- the population -------------------------------------------------------------------------------------
    async def seed_if_empty(self) -> None:
        async with self._sessions() as session:
            if await session.get(PopulationState, 1) is not None:
                return
        await self.reset(seed=self._settings.population_seed, size=self._settings.population_size)

    async def reset(self, *, seed: int, size: int) -> dict[str, Any]:
        """Replace every person with the population of ``seed``; people the kit created go too."""
        reference = self._settings.population_reference_date
        people = generate_population(seed=seed, size=size, today=reference)
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RegistryFacts))  # type: ignore[call-overload]
            await session.exec(delete(Person))  # type: ignore[call-overload]
            for start in range(0, len(people), _BATCH):
                rows = [rows_of(p, origin="seed") for p in people[start:start + _BATCH]]
                await session.exec(Person.__table__.insert(),  # type: ignore[attr-defined, call-overload]
                                   params=[r[0].model_dump() for r in rows])
                await session.exec(RegistryFacts.__table__.insert(),  # type: ignore[attr-defined, call-overload]
                                   params=[r[1].model_dump() for r in rows])
            await session.merge(PopulationState(id=1, seed=seed, size=size, reference_date=reference,
                                                generated_at=self._clock.now()))
        log.info("population_generated", seed=seed, size=size)
        return await self.summary()

    async def summary(self) -> dict[str, Any]:
        async with self._sessions() as session:
            state = await session.get(PopulationState, 1)
            by_district = dict((await session.exec(
                select(Person.district, func.count()).group_by(Person.district))).all())
            by_origin = dict((await session.exec(
                select(Person.origin, func.count()).group_by(Person.origin))).all())
            claimed = (await session.exec(select(func.count()).where(col(Person.claimed_at).is_not(None)))).one()
        return {"seed": state.seed if state else None, "size": state.size if state else 0,
                "referenceDate": state.reference_date.isoformat() if state else None,
                "byDistrict": by_district, "byOrigin": by_origin, "claimed": claimed}

    # ---- people for the test kit -----------------------------------------------------------------------------
    def _today(self) -> dt.date:
        return self._clock.local_now().date()

    async def claim(self, wanted: Wanted) -> tuple[Person, bool]:
        """A living seeded person matching ``wanted`` whom no one has claimed yet, else a new one.

        Claiming is one conditional UPDATE, so two testers asking at once never get the same person.
        Returns the person and whether it was created.
        """
        _check_wanted(wanted)
        for _ in range(20):
            async with self._sessions() as session, session.begin():
                candidate = (await session.exec(self._candidates(wanted).limit(1))).first()
                if candidate is None:
                    break
                taken = await session.exec(update(Person).where(  # type: ignore[call-overload]
                    col(Person.iin) == candidate, col(Person.claimed_at).is_(None),
                ).values(claimed_at=self._clock.now()))
                if taken.rowcount == 1:
                    person = await session.get(Person, candidate)
                    assert person is not None
                    return person, False
        return await self.create(wanted, claimed=True), True

    def _candidates(self, wanted: Wanted):
        today = self._today()
        query = (select(Person.iin).where(col(Person.claimed_at).is_(None), col(Person.alive).is_(True),
                                          Person.origin == "seed").order_by(col(Person.iin)))
        if wanted.district:
            query = query.where(Person.district == wanted.district)
        if wanted.region:
            query = query.where(Person.region == wanted.region)
        if wanted.sex:
            query = query.where(Person.sex == wanted.sex)
        if wanted.min_age is not None:
            query = query.where(col(Person.birth_date) <= add_years(today, -wanted.min_age))
        if wanted.max_age is not None:
            query = query.where(col(Person.birth_date) > add_years(today, -wanted.max_age - 1))
        if wanted.employed is not None:
            employed = select(RegistryFacts.iin).where(col(RegistryFacts.employer_bin).is_not(None))
            query = query.where(col(Person.iin).in_(employed) if wanted.employed else col(Person.iin).not_in(employed))
        if wanted.jobless is not None:
            idle = select(RegistryFacts.iin).where(col(RegistryFacts.employer_bin).is_(None),
                                                   col(RegistryFacts.student_at).is_(None),
                                                   col(RegistryFacts.pension_kind).is_(None))
            query = query.where(col(Person.iin).in_(idle) if wanted.jobless else col(Person.iin).not_in(idle))
        return query

    async def create(self, wanted: Wanted, *, claimed: bool = False) -> Person:
        """A brand-new person (serials 9000-9999, never the seeded population's)."""
        _check_wanted(wanted)
        rng = random.SystemRandom()
        district = DISTRICT_BY_SLUG[wanted.district] if wanted.district else None
        if district is None and wanted.region:
            district = rng.choice([d for d in DISTRICTS if d.region == wanted.region])
        # An age bound not given follows the one given (minAge 70 alone is 70 to 70+, not 70 to 60).
        low = wanted.min_age if wanted.min_age is not None else \
            min(18, 18 if wanted.max_age is None else wanted.max_age)
        high = wanted.max_age if wanted.max_age is not None else min(110, max(60, low + 10))
        for _ in range(200):
            seed = make_person(rng, today=self._today(), allocator=IinAllocator(), serials=KIT_SERIALS,
                               district=district, sex=wanted.sex, min_age=low, max_age=high, employed=wanted.employed)
            person, facts = rows_of(seed, origin="kit")
            if not wanted.fits(facts):
                continue
            if claimed:
                person.claimed_at = self._clock.now()
            try:
                async with self._sessions() as session, session.begin():
                    session.add(person)
                    await session.flush()
                    session.add(facts)
            except IntegrityError:  # someone took that IIN a moment ago: draw another
                continue
            return person
        raise MeshError("NO_PERSON_FITS", "no new person could be drawn with these constraints (free IINs, facts)")

    # ---- records -------------------------------------------------------------------------------------------
    async def get(self, iin: str) -> tuple[Person, RegistryFacts | None]:
        parse_iin(iin)
        async with self._sessions() as session:
            person = await session.get(Person, iin)
            facts = await session.get(RegistryFacts, iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", f"no person with IIN {iin}")
        return person, facts

    async def put(self, person: Person) -> Person:
        check_person(person)
        async with self._sessions() as session, session.begin():
            existing = await session.get(Person, person.iin)
            if existing is not None:
                person.origin, person.claimed_at = existing.origin, existing.claimed_at
            else:
                person.origin = "admin"
            await session.merge(person)
        return person

    async def change(self, iin: str, *, changes: dict[str, Any]) -> Person:
        """Change the named fields only (one UPDATE), so a concurrent claim of the person is never undone."""
        person, _ = await self.get(iin)
        updated = Person.model_validate({**person.model_dump(), **changes})
        check_person(updated)
        async with self._sessions() as session, session.begin():
            await session.exec(update(Person).where(col(Person.iin) == iin)  # type: ignore[call-overload]
                               .values(**{k: getattr(updated, k) for k in changes}))
        return (await self.get(iin))[0]

    async def set_facts(self, facts: RegistryFacts) -> RegistryFacts:
        await self.get(facts.iin)
        check_facts(facts)
        async with self._sessions() as session, session.begin():
            await session.merge(facts)
        return facts

    async def delete(self, iin: str) -> None:
        await self.get(iin)
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RegistryFacts).where(col(RegistryFacts.iin) == iin))  # type: ignore[call-overload]
            await session.exec(delete(Person).where(col(Person.iin) == iin))  # type: ignore[call-overload]


def _check_wanted(wanted: Wanted) -> None:
    if wanted.district and wanted.district not in DISTRICT_BY_SLUG:
        raise MeshError("DISTRICT_UNKNOWN", f"no district {wanted.district!r}; known: "
                        f"{', '.join(sorted(DISTRICT_BY_SLUG))}")
    if wanted.region and wanted.region not in {d.region for d in DISTRICT_BY_SLUG.values()}:
        raise MeshError("REGION_UNKNOWN", f"no region {wanted.region!r}")
    if wanted.region and wanted.district and DISTRICT_BY_SLUG[wanted.district].region != wanted.region:
        raise MeshError("REGION_MISMATCH", f"district {wanted.district} is not in region {wanted.region}")
    if wanted.employed and wanted.jobless:
        raise MeshError("WANTED_CONTRADICTS", "a person cannot be both employed and jobless")
    if wanted.min_age is not None and wanted.max_age is not None and wanted.min_age > wanted.max_age:
        raise MeshError("AGE_RANGE_EMPTY", "minAge is greater than maxAge")
