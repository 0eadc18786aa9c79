"""``gbdfl.person-by-iin``: a person's identity record as ГБД ФЛ answers it on the mesh (synchronously)."""

from __future__ import annotations

from typing import Any

from services.gbd_fl.domain import as_answer
from services.gbd_fl.store import Person
from shared.db import Sessions
from shared.ids import parse_iin
from shared.mesh.contracts import PersonByIinRequest, PersonByIinResponse
from shared.mesh.member import Incoming


class PersonByIin:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions

    async def answer(self, incoming: Incoming) -> dict[str, Any]:
        """The mesh's handler: the contract's request in, its response's wire form out."""
        request = incoming.payload
        assert isinstance(request, PersonByIinRequest)
        return (await self.look_up(request.iin)).model_dump(by_alias=True, exclude_none=True)

    async def look_up(self, iin: str) -> PersonByIinResponse:
        """The record, or ``found: false`` with ГБД ФЛ's «нет данных» for an IIN no one holds: an answer the caller
        must handle, not an error."""
        parse_iin(iin)  # a malformed IIN is the caller's error, answered with its precise code
        async with self._sessions() as session:
            person = await session.get(Person, iin)
        return as_answer(person)
