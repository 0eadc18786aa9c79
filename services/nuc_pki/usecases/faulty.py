"""Deliberately faulty certificates for negative tests — expired, not yet valid, a key usage no verifier accepts, or
from a look-alike CA no root vouches for — for a person or an information system, with keys НУЦ makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.nuc_pki.domain import BadKind, PersonName
from services.nuc_pki.usecases.issuance import Issuance, Issued
from shared.errors import MeshError


@dataclass(frozen=True)
class FaultyWish:
    """What a test asks for; which fields it needs depends on ``holder``."""

    kind: BadKind
    holder: Literal["individual", "employee", "system"] = "individual"
    iin: str | None = None
    surname: str = "ТЕСТОВ"
    name: str = "ТЕСТ"
    organisation: str | None = None
    bin: str | None = None
    role: str | None = None
    member_id: str | None = None


class FaultyIssuance:
    def __init__(self, *, issuance: Issuance) -> None:
        self._issuance = issuance

    async def issue_faulty(self, wish: FaultyWish) -> tuple[Issued, Issued | None]:
        """A system's signing certificate (no authentication one: None), or a person's pair."""
        if wish.holder == "system":
            if not (wish.member_id and wish.organisation and wish.bin):
                raise MeshError("REQUEST_INVALID", "a system certificate needs memberId, organisation and bin")
            issued = await self._issuance.issue_system(member_id=wish.member_id, organisation=wish.organisation,
                                                       bin_=wish.bin, public_key=None, defect=wish.kind)
            return issued, None
        if wish.iin is None:
            raise MeshError("REQUEST_INVALID", "a personal certificate needs iin")
        employee = wish.holder == "employee"
        if employee and not (wish.organisation and wish.bin):
            raise MeshError("REQUEST_INVALID", "an employee certificate needs organisation and bin")
        return await self._issuance.issue_person_pair(
            iin=wish.iin, person=PersonName(surname=wish.surname, name=wish.name),
            organisation=wish.organisation if employee else None, bin_=wish.bin if employee else None,
            role=wish.role if employee else None, email=None, signing_key=None, auth_key=None, defect=wish.kind)
