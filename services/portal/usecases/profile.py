"""A citizen's own data as ГБД ФЛ holds it, asked through the gateway; the district it gives is remembered on the
account (a citizen who moved: the portal then sends their applications to the new district)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from services.portal.store import Account
from services.portal.usecases.registry import Registry
from shared.db import Sessions
from shared.errors import MeshError
from shared.mesh.contracts import PersonData


class Profile:
    def __init__(self, *, sessions: Sessions, registry: Registry) -> None:
        self._sessions = sessions
        self._registry = registry

    async def read(self, iin: str) -> PersonData:
        person = await self._registry(iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", "Сведения по указанному ИИН отсутствуют в ГБД ФЛ")
        await self.remember_district(iin, person.district)
        return person

    async def remember_district(self, iin: str, district: str) -> None:
        """The registered address's district as ГБД ФЛ just gave it (a citizen who moved: their profile says so)."""
        async with self._sessions() as session, session.begin():
            await session.exec(update(Account).where(col(Account.iin) == iin).values(district=district))
