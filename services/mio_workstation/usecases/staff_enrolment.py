"""Staff enrolled at start-up and on demand: each district's organisation as the gateway registered it, a seeded
member of every role its regulations have, and (test support) one more of a role, each with НУЦ certificates."""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import string

from services.mio_workstation.store import StaffAccount
from services.mio_workstation.usecases.staff_directory import (
    MINTED_SERIALS,
    SEEDED_SERIALS,
    StaffDirectory,
    seeded_rng,
    staff_iin,
)
from shared.db import Sessions
from shared.employment.logins import hash_demo_password
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.control_clients import GatewayControlClient, NucClient

log = get_logger(__name__)
CENTRE = "con"  # ИС ЦОН's member id: its organisation is the State Corporation
_SURNAMES = ("Ахметов", "Сейткали", "Жумагулов", "Нурпеисов", "Ибраев", "Кусаинов", "Лукин", "Оспанов")
_NAMES = ("Ерлан", "Айгуль", "Бахыт", "Гульмира", "Дамир", "Салима", "Олег", "Жанар")


def _password() -> str:
    return "Mio" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(9)) + "7!"


def certificate_role(*, staff_role: str, signer_roles: dict[str, str]) -> str:
    """The НУЦ role OID a staff member's certificate carries: head, signer (may sign), or plain employee."""
    return signer_roles.get(staff_role, "employee")


class StaffEnrolment:
    def __init__(self, *, sessions: Sessions, book: RegulationBook, nuc: NucClient, gateway: GatewayControlClient,
                 directory: StaffDirectory, districts: list[str]) -> None:
        self._sessions = sessions
        self._book = book
        self._nuc = nuc
        self._gateway = gateway
        self._directory = directory
        self._districts = districts

    async def load_organisations(self) -> None:
        """Each district's organisation and BIN, as the gateway registered its ИС МИО, and the State Corporation's
        (ИС ЦОН's): a start-up step before the consumers, since checking a form's signature needs them."""
        entries = await self._gateway.entries([*(f"mio.{d}" for d in self._districts), CENTRE])
        self._directory.centre = {"name": entries[CENTRE]["organisation"], "bin": entries[CENTRE]["bin"]}
        for district in self._districts:
            entry = entries[f"mio.{district}"]
            self._directory.organisations[district] = {"name": entry["organisation"], "bin": entry["bin"]}

    def _signer_roles(self, district: str) -> dict[str, str]:
        return {str(r.signature.role): str(r.signature.certificate_role) for r in self._book.for_district(district)}

    async def seed(self) -> None:
        """Every district's staff, the districts side by side: a member costs a НУЦ round trip (two keys made
        there), so with one district after another this service sat idle while НУЦ worked. The password is hashed
        at the cheap cost (``hash_demo_password``: it is kept in clear beside the hash). Within a district the roles
        go in order, as before. The districts' organisations are already loaded: ``load_organisations`` is the step
        before the consumers, and this one comes after."""
        async with asyncio.TaskGroup() as group:  # one failing cancels the rest: the step is retried whole
            for district in self._districts:
                group.create_task(self._seed_district(district))

    async def _seed_district(self, district: str) -> None:
        for role in sorted(self._book.roles_in(district)):
            if await self._directory.find(district=district, role=role) is None:
                await self._create(district=district, role=role, cert_role=certificate_role(
                    staff_role=role, signer_roles=self._signer_roles(district)))

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
        rng = random.Random(secrets.randbits(64))  # noqa: S311 - a test identity, not a secret
        while True:
            iin = staff_iin(rng, serials=MINTED_SERIALS)
            if await self._directory.known(iin) is None:
                break
        await self._create(district=district, role=role, iin=iin, rng=rng,
                           cert_role=certificate_role(staff_role=role, signer_roles=self._signer_roles(district)))
        return await self._directory.get(iin)

    async def _create(self, *, district: str, role: str, cert_role: str, iin: str | None = None,
                      rng: random.Random | None = None) -> None:
        if rng is None or iin is None:
            rng = seeded_rng(district=district, role=role)
            iin = staff_iin(rng, serials=SEEDED_SERIALS)
        surname, name = rng.choice(_SURNAMES), rng.choice(_NAMES)
        organisation = self._directory.organisation(district)
        p12_password = secrets.token_urlsafe(12)
        pair = await self._nuc.issue_employee(iin=iin, surname=surname, name=name, organisation=organisation["name"],
                                              bin_=organisation["bin"], role=cert_role, pkcs12_password=p12_password)
        password = _password()
        async with self._sessions() as session, session.begin():
            session.add(StaffAccount(
                iin=iin, district=district, role=role, surname=surname, name=name,
                password_hash=hash_demo_password(password), demo_password=password,
                signing_p12=base64.b64decode(pair["signing"]["pkcs12Base64"]),
                auth_p12=base64.b64decode(pair["authentication"]["pkcs12Base64"]), p12_password=p12_password))
        log.info("staff_seeded", district=district, role=role)
