"""Logging in (process 1 of the regulations) and out: a citizen by IIN + password or EDS, an organisation's
representative by BIN + IIN + password or the organisation's EDS.

The only state a failed login changes on purpose is the failed-login counter that leads to lock-out."""

from __future__ import annotations

from cryptography import x509
from sqlalchemy import update
from sqlmodel import col

from services.portal.store import Account, OrganisationAccount, organisation_key
from services.portal.usecases.eds import confirm_citizen, confirm_organisation
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import LockOut, Login, Logins
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin
from shared.logging import get_logger
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Usage

log = get_logger(__name__)


class SigningIn:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, logins: Logins, lockout: LockOut,
                 organisation_lockout: LockOut) -> None:
        """``lockout`` counts a citizen's wrong passwords by IIN, ``organisation_lockout`` a representative's by
        BIN:IIN (``store.organisation_key``)."""
        self._sessions = sessions
        self._clock = clock
        self._logins = logins
        self._lockout = lockout
        self._organisation_lockout = organisation_lockout

    async def login(self, *, iin: str, password: str, precise: bool = False) -> Login:
        """Log in with a password. To an anonymous caller an IIN without an account, or with an EDS-only one,
        answers exactly as a wrong password would (counted, then locked: ``LockOut.refuse_unknown``); test
        tooling with the admin token (``precise``) is told ACCOUNT_NOT_FOUND / PASSWORD_NOT_SET."""
        parse_iin(iin)
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        await self._lockout.password_login(iin, account, password=password, now=self._clock.now(), scope="portal",
                                           precise=precise,
                                           not_found=f"no portal account for IIN {iin}: register first")
        return await self._start_session(iin=iin, method="password", serial=None)

    async def login_with_eds(self, *, challenge_id: str, signature: str, iin: str | None) -> Login:
        if iin is not None:
            parse_iin(iin)
        cert_iin, serial = await confirm_citizen(self._logins, challenge_id=challenge_id, signature=signature,
                                                 purpose="login", iin=iin)
        async with self._sessions() as session:
            account = await session.get(Account, cert_iin)
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {cert_iin}: register first")
        return await self._start_session(iin=cert_iin, method="eds", serial=serial)

    async def login_organisation(self, *, bin_: str, iin: str, password: str, precise: bool = False) -> Login:
        """Process 1 by BIN: the BIN, the representative's IIN and the password (condition 1). As for a citizen, a
        pair without an account (or an EDS-only one) answers as a wrong password would, lock-out included; test
        tooling with the admin token (``precise``) is told ACCOUNT_NOT_FOUND / PASSWORD_NOT_SET."""
        parse_bin(bin_)
        parse_iin(iin)
        key = organisation_key(bin_=bin_, iin=iin)
        async with self._sessions() as session:
            account = await session.get(OrganisationAccount, key)
        await self._organisation_lockout.password_login(
            key, account, password=password, now=self._clock.now(), scope="portal-org", precise=precise,
            not_found=f"no portal account of {iin} for BIN {bin_}: register first")
        assert account is not None
        if account.certificate_pem:  # the certificate that vouched for the BIN: revoked or expired, no entry
            await self._logins.recheck(x509.load_pem_x509_certificate(account.certificate_pem.encode()),
                                       expect=Expectation(usage=Usage.AUTH))
        return await self._start_organisation_session(account, method="password", serial=None)

    async def login_organisation_with_eds(self, *, bin_: str, challenge_id: str, signature: str) -> Login:
        """The login challenge signed with the authentication key of the organisation's certificate (condition 2:
        its BIN is the one named); the representative is the certificate's IIN."""
        parse_bin(bin_)
        info, pem = await confirm_organisation(self._logins, challenge_id=challenge_id, signature=signature,
                                               purpose="login", bin_=bin_)
        assert info.iin is not None
        async with self._sessions() as session:
            account = await session.get(OrganisationAccount, organisation_key(bin_=bin_, iin=info.iin))
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account of {info.iin} for BIN {bin_}: register first")
        return await self._start_organisation_session(account, method="eds", serial=info.serial, pem=pem)

    async def logout(self, token: str | None) -> None:
        """End the login ``token`` is (SESSION_* when it is none)."""
        await self._logins.end(token)

    async def _start_session(self, *, iin: str, method: str, serial: str | None) -> Login:
        login = await self._logins.start(subject=iin, method=method, serial=serial)
        async with self._sessions() as session, session.begin():
            await session.exec(update(Account).where(col(Account.iin) == iin)
                               .values(failed_logins=0, locked_until=None, last_login_at=self._clock.now()))
        log.info("login_succeeded", method=method)
        return login

    async def _start_organisation_session(self, account: OrganisationAccount, *, method: str,
                                          serial: str | None, pem: str | None = None) -> Login:
        login = await self._logins.start(subject=account.bin, method=method, serial=serial, representative=account.iin)
        async with self._sessions() as session, session.begin():
            await session.exec(update(OrganisationAccount).where(col(OrganisationAccount.id) == account.id).values(
                failed_logins=0, locked_until=None, last_login_at=self._clock.now(),
                **({"certificate_pem": pem} if pem else {})))  # the latest certificate that proved the BIN
        log.info("login_succeeded", method=method, holder="organisation")
        return login
