"""A person nobody else is using, for one test: a living seeded one matching the wishes if any is left, else a new
one — so testers running at once never share a person, and a small population never runs dry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from services.gbd_fl.domain import Wanted, check_wanted
from services.gbd_fl.population import add_years
from services.gbd_fl.store import Person, RegistryFacts
from services.gbd_fl.usecases.new_person import NewPeople
from shared.clock import MeshClock
from shared.db import Sessions

_ATTEMPTS = 20


class Claims:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, new_people: NewPeople) -> None:
        self._sessions = sessions
        self._clock = clock
        self._new_people = new_people

    async def claim(self, wanted: Wanted) -> tuple[Person, bool]:
        """A living seeded person matching ``wanted`` whom no one has claimed yet, else a new one.

        Claiming is one conditional UPDATE, so two testers asking at once never get the same person.
        Returns the person and whether it was created.
        """
        check_wanted(wanted)
        for _ in range(_ATTEMPTS):
            async with self._sessions() as session, session.begin():
                candidate = (await session.exec(self.candidates(wanted).limit(1))).first()
                if candidate is None:
                    break
                taken = await session.exec(update(Person).where(
                    col(Person.iin) == candidate, col(Person.claimed_at).is_(None),
                ).values(claimed_at=self._clock.now()))
                if taken.rowcount == 1:
                    person = await session.get(Person, candidate)
                    assert person is not None
                    return person, False
        return await self._new_people.create(wanted, claimed=True), True

    def candidates(self, wanted: Wanted) -> Any:
        """The unclaimed living seeded people matching ``wanted``, by IIN (a select of IINs)."""
        today = self._clock.local_now().date()
        query = (select(Person.iin).where(col(Person.claimed_at).is_(None), col(Person.alive).is_(True),
                                          Person.origin == "seed").order_by(col(Person.iin)))
        for column, value in ((Person.district, wanted.district), (Person.region, wanted.region),
                              (Person.sex, wanted.sex)):
            if value:
                query = query.where(column == value)
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
