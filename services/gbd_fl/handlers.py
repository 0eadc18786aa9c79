"""ГБД ФЛ use cases: answer look-ups by IIN; keep records (test support)."""

from __future__ import annotations

from typing import Any

from services.gbd_fl.domain import as_answer, check_person
from services.gbd_fl.store import Person
from shared.contracts import PersonByIinRequest
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_iin
from shared.member import Incoming


class Registry:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions

    async def person_by_iin(self, incoming: Incoming) -> dict[str, Any]:
        request = incoming.payload
        assert isinstance(request, PersonByIinRequest)
        parse_iin(request.iin)  # a malformed IIN is the caller's error, answered with its precise code
        async with self._sessions() as session:
            person = await session.get(Person, request.iin)
        return as_answer(person).model_dump(by_alias=True, exclude_none=True)

    async def get(self, iin: str) -> Person:
        parse_iin(iin)
        async with self._sessions() as session:
            person = await session.get(Person, iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", f"no person with IIN {iin}", status=404)
        return person

    async def put(self, person: Person) -> Person:
        check_person(person)
        async with self._sessions() as session, session.begin():
            await session.merge(person)
        return person

    async def delete(self, iin: str) -> None:
        async with self._sessions() as session, session.begin():
            person = await session.get(Person, iin)
            if person is None:
                raise MeshError("PERSON_NOT_FOUND", f"no person with IIN {iin}", status=404)
            await session.delete(person)
