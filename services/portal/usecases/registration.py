"""Registration: a citizen by IIN + password (quietly for a stranger) or by EDS (Almaty's way), and an
organisation's representative by the organisation's certificate (seed 001 п. 9, «ИИН/БИН»).

Nothing is written until every check has passed, so a refused registration changes nothing."""

from __future__ import annotations

import contextlib

from sqlalchemy.exc import IntegrityError

from services.portal.domain import describe_faults, password_faults
from services.portal.store import Account, OrganisationAccount, organisation_key
from services.portal.usecases.eds import confirm_citizen, confirm_organisation
from services.portal.usecases.registry import Registry
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import Logins, hash_password
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin
from shared.logging import get_logger
from shared.mesh.contracts import PersonData

log = get_logger(__name__)


def refuse_weak(password: str, *, iin: str) -> None:
    faults = password_faults(password, iin=iin)
    if faults:
        raise MeshError("PASSWORD_WEAK", describe_faults(faults), details={"rules": faults})


class Registration:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, logins: Logins, registry: Registry) -> None:
        self._sessions = sessions
        self._clock = clock
        self._logins = logins
        self._registry = registry

    async def register(self, *, iin: str, password: str, email: str | None, phone: str | None) -> Account:
        parse_iin(iin)
        refuse_weak(password, iin=iin)
        await self._not_registered(iin)
        person = await self._registrable(iin)
        return await self._create(Account(iin=iin, password_hash=hash_password(password), email=email, phone=phone,
                                          registered_by="password", registered_at=self._clock.now(),
                                          district=person.district))

    async def register_quietly(self, *, iin: str, password: str, email: str | None, phone: str | None) -> None:
        """``register`` for an anonymous caller: the same answer, and the same work (a ГБД ФЛ look-up, a password
        hash), whether the IIN is unknown, already has an account, or gets one now — registration must not tell
        a stranger who exists. A weak password or ГБД ФЛ being down are said, as they say nothing about the IIN."""
        parse_iin(iin)
        refuse_weak(password, iin=iin)
        person = await self._registry(iin)
        password_hash = hash_password(password)
        async with self._sessions() as session:
            exists = await session.get(Account, iin) is not None
        if person is None or not person.alive or exists:
            log.info("registration_quietly_refused")
            return
        with contextlib.suppress(MeshError):  # registered by someone else at this very moment: the same answer
            await self._create(Account(iin=iin, password_hash=password_hash, email=email, phone=phone,
                                       registered_by="password", registered_at=self._clock.now(),
                                       district=person.district))

    async def register_with_eds(self, *, challenge_id: str, signature: str, password: str | None,
                                email: str | None, phone: str | None) -> Account:
        """Almaty's way: register with the EDS; the IIN is the authentication certificate's."""
        iin, _serial = await confirm_citizen(self._logins, challenge_id=challenge_id, signature=signature,
                                             purpose="register", iin=None)
        if password is not None:
            refuse_weak(password, iin=iin)
        await self._not_registered(iin)
        person = await self._registrable(iin)
        return await self._create(Account(iin=iin, password_hash=hash_password(password) if password else None,
                                          email=email, phone=phone, registered_by="eds",
                                          registered_at=self._clock.now(), district=person.district))

    async def register_organisation(self, *, bin_: str, challenge_id: str, signature: str, password: str | None,
                                    email: str | None, phone: str | None) -> OrganisationAccount:
        """Register a representative of an organisation: the register challenge signed with the authentication key
        of the organisation's certificate, whose BIN is the one named (condition 2) and whose IIN is a living
        person ГБД ФЛ knows. The certificate is what vouches for the BIN: the mesh has no registry of legal
        entities, and НУЦ certifies an organisation's people only at its request."""
        parse_bin(bin_)
        info, pem = await confirm_organisation(self._logins, challenge_id=challenge_id, signature=signature,
                                               purpose="register", bin_=bin_)
        assert info.iin is not None
        if password is not None:
            refuse_weak(password, iin=info.iin)
            if bin_ in password:
                raise MeshError("PASSWORD_WEAK", "the password must not be the BIN, nor contain it",
                                details={"rules": ["no_bin"]})
        key = organisation_key(bin_=bin_, iin=info.iin)
        async with self._sessions() as session:
            if await session.get(OrganisationAccount, key) is not None:
                raise MeshError("ACCOUNT_EXISTS", f"{info.iin} is already registered for BIN {bin_}")
        await self._registrable(info.iin)
        account = OrganisationAccount(id=key, bin=bin_, iin=info.iin, organisation=(info.organisation or "")[:128],
                                      password_hash=hash_password(password) if password else None, email=email,
                                      phone=phone, registered_by="eds", registered_at=self._clock.now(),
                                      certificate_pem=pem)
        try:
            async with self._sessions() as session, session.begin():
                session.add(account)
        except IntegrityError:
            raise MeshError("ACCOUNT_EXISTS", f"{info.iin} is already registered for BIN {bin_}") from None
        log.info("organisation_registered", method="eds")
        return account

    async def _registrable(self, iin: str) -> PersonData:
        person = await self._registry(iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", "Сведения по указанному ИИН отсутствуют в ГБД ФЛ: "
                            "registration is possible only for a person the registry knows")
        if not person.alive:
            raise MeshError("PERSON_DECEASED", "ГБД ФЛ records this person as deceased")
        return person

    async def _not_registered(self, iin: str) -> None:
        async with self._sessions() as session:
            if await session.get(Account, iin) is not None:
                raise MeshError("ACCOUNT_EXISTS", f"an account for IIN {iin} is already registered")

    async def _create(self, account: Account) -> Account:
        try:
            async with self._sessions() as session, session.begin():
                session.add(account)
        except IntegrityError:
            raise MeshError("ACCOUNT_EXISTS", f"an account for IIN {account.iin} is already registered") from None
        log.info("account_registered", method=account.registered_by)
        return account
