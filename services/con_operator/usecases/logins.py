"""Operator logins — seed 003 п. 7: process 1 (authorisation), condition 1 (IIN and password, or EDS), process 2
(a refusal that says why): a password with its lock-out, or an EDS over a challenge with a State Corporation
employee's authentication certificate bearing the operator role; a login is a bearer token for a shift."""

from __future__ import annotations

from services.con_operator.operators import OPERATOR_ROLE, OperatorBook
from services.con_operator.store import OperatorAccount
from shared.clock import MeshClock
from shared.employment.logins import Login, Logins, refuse_if_locked
from shared.ids import parse_iin
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Holder, Usage

LOCKOUT_SCOPE = "con-operator"  # the lock-out's guesses are counted per IIN within this scope


class OperatorLogins:
    def __init__(self, *, clock: MeshClock, logins: Logins, operators: OperatorBook) -> None:
        self._clock = clock
        self.logins = logins
        self._operators = operators

    async def with_password(self, *, iin: str, password: str) -> Login:
        """An IIN that is no operator's answers as a wrong password would: the form does not tell who works here."""
        parse_iin(iin)
        account = await self._operators.find(iin)
        await self._operators.lockout.password_login(iin, account, password=password, now=self._clock.now(),
                                                     scope=LOCKOUT_SCOPE)
        return await self.logins.start(subject=iin, method="password", serial=None)

    async def challenge(self) -> dict[str, str]:
        return await self.logins.challenge(purpose="login")

    async def with_eds(self, *, challenge_id: str, signature: str) -> Login:
        """EDS login: an authentication certificate of the State Corporation with the operator role, whose IIN
        has an operator account here (and is not locked out)."""
        info = await self.logins.confirm_eds(
            challenge_id=challenge_id, signature=signature, purpose="login",
            expect=Expectation(usage=Usage.AUTH, holder=Holder.EMPLOYEE, bin=self._operators.centre["bin"],
                               role=OPERATOR_ROLE))
        assert info.iin is not None
        account = await self._operators.get(info.iin)
        refuse_if_locked(account.locked_until, now=self._clock.now())
        return await self.logins.start(subject=account.iin, method="eds", serial=info.serial)

    async def operator_of(self, token: str | None) -> OperatorAccount:
        """The operator a bearer token is a current login of (SESSION_*, or OPERATOR_NOT_FOUND)."""
        login = await self.logins.session_of(token)
        return await self._operators.get(login.subject)

    async def end(self, token: str | None) -> None:
        await self.logins.end(token)
