"""``gbdfl.social-status-by-iin``: what the simulated external registries (employment contracts, full-time study,
pensions) know of a person, kept apart from the identity record as the real registries are."""

from __future__ import annotations

from typing import Any

from services.gbd_fl.domain import social_status
from services.gbd_fl.store import Person, RegistryFacts
from shared.db import Sessions
from shared.ids import parse_iin
from shared.mesh.contracts import SocialStatusRequest, SocialStatusResponse
from shared.mesh.member import Incoming


class SocialStatusByIin:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions

    async def answer(self, incoming: Incoming) -> dict[str, Any]:
        """The mesh's handler: the contract's request in, its response's wire form out."""
        request = incoming.payload
        assert isinstance(request, SocialStatusRequest)
        return (await self.look_up(request.iin)).model_dump(by_alias=True, exclude_none=True)

    async def look_up(self, iin: str) -> SocialStatusResponse:
        """A known person without facts is "none of the three" (each fact false); an unknown IIN is «нет данных»."""
        parse_iin(iin)
        async with self._sessions() as session:
            person = await session.get(Person, iin)
            facts = await session.get(RegistryFacts, iin)
        return social_status(facts, known=person is not None)
