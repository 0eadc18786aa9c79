"""Staff logins: by IIN and password (with lock-out), by EDS (an employee's authentication certificate of the
district's organisation), who a token is, logging out, and (test support) lifting a lock-out."""

from __future__ import annotations

import datetime as dt

from services.mio_workstation.store import StaffAccount
from services.mio_workstation.usecases.staff_directory import StaffDirectory
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.logins import LockOut, Login, Logins
from shared.errors import MeshError
from shared.ids import parse_iin
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Holder, Usage

MAX_FAILED, LOCK = 5, dt.timedelta(minutes=15)


class StaffLogins:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, directory: StaffDirectory, logins: Logins) -> None:
        self._sessions = sessions
        self._clock = clock
        self._directory = directory
        self.logins = logins
        self.lockout = LockOut(sessions=sessions, model=StaffAccount, key="iin", limit=MAX_FAILED, lock=LOCK)

    async def login(self, *, iin: str, password: str) -> Login:
        """An IIN that is no staff member's answers as a wrong password would (``LockOut.refuse_unknown``): the
        login form does not tell who works here."""
        parse_iin(iin)
        staff = await self._directory.known(iin)
        await self.lockout.password_login(iin, staff, password=password, now=self._clock.now(), scope="mio-staff")
        return await self.logins.start(subject=iin, method="password", serial=None)

    async def login_with_eds(self, *, challenge_id: str, signature: str) -> Login:
        info = await self.logins.confirm_eds(challenge_id=challenge_id, signature=signature, purpose="login",
                                             expect=Expectation(usage=Usage.AUTH, holder=Holder.EMPLOYEE))
        assert info.iin is not None
        staff = await self._directory.get(info.iin)
        if info.bin != self._directory.organisations.get(staff.district, {}).get("bin"):
            raise MeshError("EDS_BIN_MISMATCH", "the certificate is not issued for this district's organisation")
        return await self.logins.start(subject=staff.iin, method="eds", serial=info.serial)

    async def staff_of(self, token: str | None) -> StaffAccount:
        login = await self.logins.session_of(token)
        return await self._directory.get(login.subject)

    async def logout(self, token: str | None) -> None:
        await self.logins.end(token)

    async def unlock(self, iin: str) -> StaffAccount:
        """Lift a lock-out (test support: a lock-out test should not leave a seeded clerk locked)."""
        await self._directory.get(iin)
        await self.lockout.unlock(iin)
        return await self._directory.get(iin)
