"""The test-support API's people: a record and its registry facts read, created or replaced, changed in part,
removed. Every check runs before the write, so a refused change leaves the record as it was."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col

from services.gbd_fl.domain import check_facts, check_person
from services.gbd_fl.store import Person, RegistryFacts
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_iin


class Records:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, iin: str) -> tuple[Person, RegistryFacts | None]:
        parse_iin(iin)
        async with self._sessions() as session:
            person = await session.get(Person, iin)
            facts = await session.get(RegistryFacts, iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", f"no person with IIN {iin}")
        return person, facts

    async def put(self, person: Person) -> Person:
        """Create or replace: a replaced person keeps where it came from and whether the kit claimed it."""
        check_person(person)
        async with self._sessions() as session, session.begin():
            existing = await session.get(Person, person.iin)
            if existing is not None:
                person.origin, person.claimed_at = existing.origin, existing.claimed_at
                person.changed_at = _now()
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
            await session.exec(update(Person).where(col(Person.iin) == iin)
                               .values(**{k: getattr(updated, k) for k in changes}, changed_at=_now()))
        return (await self.get(iin))[0]

    async def set_facts(self, facts: RegistryFacts) -> RegistryFacts:
        """What the employment, education and pension registries say of a known person, all three at once."""
        await self.get(facts.iin)
        check_facts(facts)
        async with self._sessions() as session, session.begin():
            await session.merge(facts)
            await session.exec(update(Person).where(col(Person.iin) == facts.iin).values(changed_at=_now()))
        return facts

    async def delete(self, iin: str) -> None:
        await self.get(iin)
        async with self._sessions() as session, session.begin():
            await session.exec(delete(RegistryFacts).where(col(RegistryFacts.iin) == iin))
            await session.exec(delete(Person).where(col(Person.iin) == iin))


def _now() -> dt.datetime:
    """Only a mark that the record is no longer as seeded (a reset's, a snapshot's concern): real time will do."""
    return dt.datetime.now(dt.UTC)
