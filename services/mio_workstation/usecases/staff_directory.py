"""МИО staff as the use cases find them: one test identity per role each district's regulations need (канцелярия,
руководитель, ответственный исполнитель, специалист…), more minted on demand, each with НУЦ employee certificates;
and each district's organisation (its BIN: whom a staff member's certificate must name).

Seeded staff are test identities: an admin can read their passwords and PKCS#12 files to act as them.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlmodel import col, select

from services.mio_workstation.store import StaffAccount
from shared.db import Sessions
from shared.employment.logins import SigningKeys
from shared.errors import MeshError
from shared.ids import make_iin
from shared.pki.signing import SignerIdentity

SEEDED_SERIALS = (9950, 9999)  # a seeded member's IIN serial; minted ones have 9900-9949
MINTED_SERIALS = (9900, 9949)


def staff_iin(rng: random.Random, *, serials: tuple[int, int]) -> str:
    """A staff member's IIN: born 1970-1990, a serial in the given range (``make_iin`` refuses some: drawn again)."""
    while True:
        iin = make_iin(birth_date=dt.date(rng.randint(1970, 1990), rng.randint(1, 12), rng.randint(1, 28)),
                       sex=rng.choice("MF"), serial=rng.randint(*serials))  # type: ignore[arg-type]
        if iin is not None:
            return iin


def seeded_rng(*, district: str, role: str) -> random.Random:
    """The stable seed of a district's seeded member of a role: the same identity on every start."""
    return random.Random(f"{district}:{role}")  # noqa: S311 - a stable test identity, not a secret


def _seeded_first(staff: StaffAccount) -> tuple[bool, str]:
    """Orders the seeded member of a district's role (the IIN its stable seed gives) before minted ones."""
    return staff.iin != staff_iin(seeded_rng(district=staff.district, role=staff.role),
                                  serials=SEEDED_SERIALS), staff.iin


class StaffDirectory:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions
        self.organisations: dict[str, dict[str, str]] = {}  # district → its organisation's name and BIN
        self.centre: dict[str, str] = {}  # the State Corporation (ИС ЦОН's organisation): its operators' BIN
        self._signers = SigningKeys()

    def organisation(self, district: str) -> dict[str, str]:
        """The district's organisation (name, BIN) as the gateway registered it. Loaded at start-up before any
        message is taken (``StaffEnrolment.load_organisations``); asked before that, a retry, not a fault."""
        found = self.organisations.get(district)
        if found is None:
            raise MeshError("NOT_READY", f"the organisation of district {district!r} is not loaded yet")
        return found

    def organisation_bin(self, district: str) -> str:
        return self.organisation(district)["bin"]

    def centre_bin(self) -> str:
        """The State Corporation's BIN: whom a ЦОН operator's certificate must name."""
        if "bin" not in self.centre:
            raise MeshError("NOT_READY", "the State Corporation's BIN is not loaded yet")
        return self.centre["bin"]

    async def find(self, *, district: str, role: str) -> StaffAccount | None:
        """The district's staff member of the role: the seeded one (whom simulated staff act as and a default
        assignment names), however many more were minted."""
        async with self._sessions() as session:
            found = (await session.exec(select(StaffAccount).where(StaffAccount.district == district,
                                                                   StaffAccount.role == role))).all()
        return min(found, key=_seeded_first, default=None)

    async def get(self, iin: str) -> StaffAccount:
        async with self._sessions() as session:
            staff = await session.get(StaffAccount, iin)
        if staff is None:
            raise MeshError("STAFF_NOT_FOUND", f"no МИО staff account for IIN {iin}")
        return staff

    async def known(self, iin: str) -> StaffAccount | None:
        """The staff member with this IIN, or None (a name given by a caller, judged by the caller's rule)."""
        async with self._sessions() as session:
            return await session.get(StaffAccount, iin)

    async def everyone(self) -> list[StaffAccount]:
        """Every staff member, by district; the seeded member of each role before any minted one."""
        async with self._sessions() as session:
            staff = list((await session.exec(select(StaffAccount).order_by(col(StaffAccount.district)))).all())
        return sorted(staff, key=lambda s: (s.district, _seeded_first(s)))

    def signer(self, staff: StaffAccount) -> SignerIdentity:
        """The staff member's signing key (simulated staff sign with it)."""
        return self._signers.of(staff)
