"""The accounts as they are: a citizen's own (the cabinet), any one and an organisation's representatives (the
admin's reads), and lifting a lock-out (admin)."""

from __future__ import annotations

from sqlmodel import col, select

from services.portal.store import Account, OrganisationAccount, organisation_key
from shared.db import Sessions
from shared.employment.logins import LockOut
from shared.errors import MeshError
from shared.ids import parse_bin


class Accounts:
    def __init__(self, *, sessions: Sessions, lockout: LockOut, organisation_lockout: LockOut) -> None:
        self._sessions = sessions
        self._lockout = lockout
        self._organisation_lockout = organisation_lockout

    async def account(self, iin: str) -> Account:
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {iin}")
        return account

    async def unlock(self, iin: str) -> Account:
        await self.account(iin)
        await self._lockout.unlock(iin)
        return await self.account(iin)

    async def organisation_account(self, *, bin_: str, iin: str) -> OrganisationAccount:
        async with self._sessions() as session:
            account = await session.get(OrganisationAccount, organisation_key(bin_=bin_, iin=iin))
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account of {iin} for BIN {bin_}")
        return account

    async def organisation_accounts(self, bin_: str) -> list[OrganisationAccount]:
        parse_bin(bin_)
        async with self._sessions() as session:
            return list((await session.exec(select(OrganisationAccount).where(
                OrganisationAccount.bin == bin_).order_by(col(OrganisationAccount.registered_at)))).all())

    async def unlock_organisation(self, *, bin_: str, iin: str) -> OrganisationAccount:
        account = await self.organisation_account(bin_=bin_, iin=iin)
        await self._organisation_lockout.unlock(account.id)
        return await self.organisation_account(bin_=bin_, iin=iin)
