"""МИО staff: one test identity per role each district's regulations need (канцелярия, руководитель,
ответственный исполнитель, специалист…), with НУЦ employee certificates, and their logins.

Seeded staff are test identities: an admin can read their passwords and PKCS#12 files to act as them.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
import string
from typing import Any

from sqlmodel import col, select

from services.mio_workstation.store import StaffAccount
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import (
    LockOut,
    Login,
    Logins,
    SigningKeys,
    employee_public,
    hash_password,
)
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError
from shared.ids import make_iin, parse_iin
from shared.logging import get_logger
from shared.mesh.control_clients import GatewayControlClient, NucClient
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Holder, Usage
from shared.pki.signing import SignerIdentity

log = get_logger(__name__)
MAX_FAILED, LOCK = 5, dt.timedelta(minutes=15)
CENTRE = "con"  # ИС ЦОН's member id: its organisation is the State Corporation
_SURNAMES = ("Ахметов", "Сейткали", "Жумагулов", "Нурпеисов", "Ибраев", "Кусаинов", "Лукин", "Оспанов")
_NAMES = ("Ерлан", "Айгуль", "Бахыт", "Гульмира", "Дамир", "Салима", "Олег", "Жанар")
ROLE_TITLES = {"clerk": "сотрудник канцелярии", "head": "руководитель", "executor": "ответственный исполнитель",
               "specialist": "специалист", "centre_specialist": "специалист Центра занятости",
               "employee": "сотрудник МИО"}


def _password() -> str:
    return "Mio" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(9)) + "7!"


def certificate_role(*, staff_role: str, signer_roles: dict[str, str]) -> str:
    """The НУЦ role OID a staff member's certificate carries: head, signer (may sign), or plain employee."""
    return signer_roles.get(staff_role, "employee")


class StaffBook:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, book: RegulationBook, nuc: NucClient,
                 gateway: GatewayControlClient, logins: Logins, districts: list[str]) -> None:
        self._sessions = sessions
        self._clock = clock
        self._book = book
        self._nuc = nuc
        self._gateway = gateway
        self.logins = logins
        self.lockout = LockOut(sessions=sessions, model=StaffAccount, key="iin", limit=MAX_FAILED, lock=LOCK)
        self._districts = districts
        self.organisations: dict[str, dict[str, str]] = {}
        self.centre: dict[str, str] = {}  # the State Corporation (ИС ЦОН's organisation): its operators' BIN
        self._signers = SigningKeys()

    async def load_organisations(self) -> None:
        """Each district's organisation and BIN, as the gateway registered its ИС МИО."""
        entries = await self._gateway.entries([*(f"mio.{d}" for d in self._districts), CENTRE])
        self.centre = {"name": entries[CENTRE]["organisation"], "bin": entries[CENTRE]["bin"]}
        for district in self._districts:
            entry = entries[f"mio.{district}"]
            self.organisations[district] = {"name": entry["organisation"], "bin": entry["bin"]}

    async def seed(self) -> None:
        await self.load_organisations()
        for district in self._districts:
            signer_roles = {r.signature.role: r.signature.certificate_role for r in self._book.for_district(district)}
            for role in sorted(self._book.roles_in(district)):
                if await self.find(district=district, role=role) is None:
                    await self._create(district=district, role=role,
                                       cert_role=certificate_role(staff_role=role, signer_roles=signer_roles))

    async def mint(self, *, district: str, role: str) -> StaffAccount:
        """Test support: one more staff member of a role the district's regulations have (a second executor, to
        see that only the one assigned decides), with НУЦ certificates of their own. The seeded member of the role
        stays the one ``find`` gives."""
        if district not in self._districts:
            raise MeshError("DISTRICT_UNKNOWN", f"this ИС МИО serves no district {district!r}")
        roles = sorted(self._book.roles_in(district))
        if role not in roles:
            raise MeshError("ROLE_NOT_IN_DISTRICT", f"no regulation of {district} has a {role}'s step; its roles: "
                            f"{', '.join(roles)}", details={"roles": roles})
        signer_roles = {r.signature.role: r.signature.certificate_role for r in self._book.for_district(district)}
        rng = random.Random(secrets.randbits(64))  # noqa: S311 - a test identity, not a secret
        while True:
            iin = _staff_iin(rng, serials=(9900, 9949))  # the seeded ones have 9950-9999
            async with self._sessions() as session:
                if await session.get(StaffAccount, iin) is None:
                    break
        await self._create(district=district, role=role, iin=iin, rng=rng,
                           cert_role=certificate_role(staff_role=role, signer_roles=signer_roles))
        return await self.get(iin)

    async def _create(self, *, district: str, role: str, cert_role: str, iin: str | None = None,
                      rng: random.Random | None = None) -> None:
        if rng is None or iin is None:
            rng = random.Random(f"{district}:{role}")  # noqa: S311 - a stable test identity, not a secret
            iin = _staff_iin(rng, serials=(9950, 9999))
        surname, name = rng.choice(_SURNAMES), rng.choice(_NAMES)
        organisation = self.organisations[district]
        p12_password = secrets.token_urlsafe(12)
        pair = await self._nuc.issue_employee(iin=iin, surname=surname, name=name, organisation=organisation["name"],
                                              bin_=organisation["bin"], role=cert_role, pkcs12_password=p12_password)
        password = _password()
        async with self._sessions() as session, session.begin():
            session.add(StaffAccount(
                iin=iin, district=district, role=role, surname=surname, name=name,
                password_hash=hash_password(password), demo_password=password,
                signing_p12=base64.b64decode(pair["signing"]["pkcs12Base64"]),
                auth_p12=base64.b64decode(pair["authentication"]["pkcs12Base64"]), p12_password=p12_password))
        log.info("staff_seeded", district=district, role=role)

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

    async def everyone(self) -> list[StaffAccount]:
        """Every staff member, by district; the seeded member of each role before any minted one."""
        async with self._sessions() as session:
            staff = list((await session.exec(select(StaffAccount).order_by(col(StaffAccount.district)))).all())
        return sorted(staff, key=lambda s: (s.district, _seeded_first(s)))

    def signer(self, staff: StaffAccount) -> SignerIdentity:
        """The staff member's signing key (simulated staff sign with it)."""
        return self._signers.of(staff)

    # ---- logins -------------------------------------------------------------------------------------------
    async def login(self, *, iin: str, password: str) -> Login:
        """An IIN that is no staff member's answers as a wrong password would (``LockOut.refuse_unknown``): the
        login form does not tell who works here."""
        parse_iin(iin)
        async with self._sessions() as session:
            staff = await session.get(StaffAccount, iin)
        await self.lockout.password_login(iin, staff, password=password, now=self._clock.now(), scope="mio-staff")
        return await self.logins.start(subject=iin, method="password", serial=None)

    async def unlock(self, iin: str) -> StaffAccount:
        """Lift a lock-out (test support: a lock-out test should not leave a seeded clerk locked)."""
        await self.get(iin)
        await self.lockout.unlock(iin)
        return await self.get(iin)

    async def login_with_eds(self, *, challenge_id: str, signature: str) -> Login:
        info = await self.logins.confirm_eds(challenge_id=challenge_id, signature=signature, purpose="login",
                                             expect=Expectation(usage=Usage.AUTH, holder=Holder.EMPLOYEE))
        assert info.iin is not None
        staff = await self.get(info.iin)
        if info.bin != self.organisations.get(staff.district, {}).get("bin"):
            raise MeshError("EDS_BIN_MISMATCH", "the certificate is not issued for this district's organisation")
        return await self.logins.start(subject=staff.iin, method="eds", serial=info.serial)

    async def staff_of(self, token: str | None) -> StaffAccount:
        login = await self.logins.session_of(token)
        return await self.get(login.subject)


def _staff_iin(rng: random.Random, *, serials: tuple[int, int]) -> str:
    """A staff member's IIN: born 1970-1990, a serial in the given range (``make_iin`` refuses some: drawn again)."""
    while True:
        iin = make_iin(birth_date=dt.date(rng.randint(1970, 1990), rng.randint(1, 12), rng.randint(1, 28)),
                       sex=rng.choice("MF"), serial=rng.randint(*serials))  # type: ignore[arg-type]
        if iin is not None:
            return iin


def _seeded_first(staff: StaffAccount) -> tuple[bool, str]:
    """Orders the seeded member of a district's role (the IIN its stable seed gives) before minted ones."""
    return staff.iin != _staff_iin(random.Random(f"{staff.district}:{staff.role}"),  # noqa: S311 - not a secret
                                   serials=(9950, 9999)), staff.iin


def staff_public(staff: StaffAccount, *, secrets_too: bool) -> dict[str, Any]:
    return employee_public(staff, secrets_too=secrets_too) | {
        "district": staff.district, "role": staff.role, "roleTitle": ROLE_TITLES.get(staff.role, staff.role)}
