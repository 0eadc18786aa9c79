"""ЦОН operators: accounts per branch with НУЦ employee certificates of the State Corporation (the operator's IIN,
the Corporation's BIN, the ``operator`` role), seeded at start and minted by the admin; their logins are
``usecases/logins.py``'s.

Seeded operators are test identities: an admin reads their passwords and PKCS#12 files to act as them.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import random
import secrets
import string
from typing import Any

from sqlmodel import col, func, select

from services.con_operator.branches import Branch, BranchBook
from services.con_operator.store import OperatorAccount
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import LockOut, SigningKeys, employee_public, hash_demo_password
from shared.errors import MeshError
from shared.ids import make_iin
from shared.logging import get_logger
from shared.mesh.control_clients import GatewayControlClient, NucClient
from shared.pki.signing import SignerIdentity

log = get_logger(__name__)
MAX_FAILED, LOCK = 5, dt.timedelta(minutes=15)  # as the portal's and ИС МИО's
OPERATOR_ROLE = "operator"
CENTRE_MEMBER = "con"
_SURNAMES = ("Абенов", "Байжанова", "Ермекова", "Жаксылыков", "Исмаилова", "Каримов", "Мусина", "Сарсенов")
_NAMES = ("Асель", "Бауыржан", "Динара", "Ержан", "Камила", "Марат", "Назерке", "Тимур")


def _password() -> str:
    return "Con" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(9)) + "7!"


class OperatorBook:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, branches: BranchBook, nuc: NucClient,
                 gateway: GatewayControlClient) -> None:
        self._sessions = sessions
        self._clock = clock
        self._branches = branches
        self._nuc = nuc
        self._gateway = gateway
        self.lockout = LockOut(sessions=sessions, model=OperatorAccount, key="iin", limit=MAX_FAILED, lock=LOCK)
        # the State Corporation: name and BIN, as the gateway registered ИС ЦОН; filled in place at start-up, so the
        # use cases given this dict read it once it is known
        self.centre: dict[str, str] = {}
        self._signers = SigningKeys()

    async def seed(self) -> None:
        """Every branch's operators, the branches side by side: an operator costs a НУЦ round trip (two keys made
        there), so with one branch after another this service sat idle while НУЦ worked. The password is hashed
        at the cheap cost (``hash_demo_password``: it is kept in clear beside the hash). Within a branch they are
        made in order, so its first operator stays the first."""
        entry = (await self._gateway.entries([CENTRE_MEMBER]))[CENTRE_MEMBER]
        self.centre.update(name=entry["organisation"], bin=entry["bin"])
        async with asyncio.TaskGroup() as group:  # one failing cancels the rest: the step is retried whole
            for branch in self._branches.all.values():
                group.create_task(self._seed_branch(branch))

    async def _seed_branch(self, branch: Branch) -> None:
        async with self._sessions() as session:
            have = (await session.exec(select(func.count()).select_from(OperatorAccount)
                                       .where(OperatorAccount.branch == branch.id))).one()
        for index in range(have, branch.operators):
            await self.mint(branch, seed=f"{branch.id}:{index}")

    async def mint(self, branch: Branch, *, seed: str | None = None) -> tuple[OperatorAccount, str]:
        """A new operator of ``branch`` with certificates from НУЦ; the password is returned once."""
        rng = random.Random(seed) if seed else random.SystemRandom()  # noqa: S311 - a stable test identity
        iin = None
        while iin is None or await self._exists(iin):
            iin = make_iin(birth_date=dt.date(rng.randint(1975, 2000), rng.randint(1, 12), rng.randint(1, 28)),
                           sex=rng.choice("MF"), serial=rng.randint(9900, 9949))  # type: ignore[arg-type]
        surname, name = rng.choice(_SURNAMES), rng.choice(_NAMES)
        p12_password = secrets.token_urlsafe(12)
        pair = await self._nuc.issue_employee(iin=iin, surname=surname, name=name, organisation=self.centre["name"],
                                              bin_=self.centre["bin"], role=OPERATOR_ROLE, pkcs12_password=p12_password)
        password = _password()
        account = OperatorAccount(
            iin=iin, branch=branch.id, surname=surname, name=name,
            password_hash=hash_demo_password(password),
            demo_password=password, signing_p12=base64.b64decode(pair["signing"]["pkcs12Base64"]),
            auth_p12=base64.b64decode(pair["authentication"]["pkcs12Base64"]), p12_password=p12_password,
            created_at=self._clock.now())
        async with self._sessions() as session, session.begin():
            session.add(account)
        log.info("operator_created", branch=branch.id)
        return account, password

    async def _exists(self, iin: str) -> bool:
        return await self.find(iin) is not None

    async def find(self, iin: str) -> OperatorAccount | None:
        async with self._sessions() as session:
            return await session.get(OperatorAccount, iin)

    async def get(self, iin: str) -> OperatorAccount:
        account = await self.find(iin)
        if account is None:
            raise MeshError("OPERATOR_NOT_FOUND", f"no ЦОН operator account for IIN {iin}")
        return account

    async def everyone(self, branch: str | None = None) -> list[OperatorAccount]:
        query = select(OperatorAccount).order_by(col(OperatorAccount.branch), col(OperatorAccount.created_at))
        if branch:
            query = query.where(OperatorAccount.branch == branch)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    def signer(self, account: OperatorAccount) -> SignerIdentity:
        """The operator's signing key (test support: the admin intake signs as a seeded operator)."""
        return self._signers.of(account)

    async def unlock(self, iin: str) -> OperatorAccount:
        await self.get(iin)
        await self.lockout.unlock(iin)
        return await self.get(iin)



def operator_public(account: OperatorAccount, *, branch: Branch | None, secrets_too: bool) -> dict[str, Any]:
    return employee_public(account, secrets_too=secrets_too) | {
        "branch": account.branch, "branchName": branch.name if branch else None}
