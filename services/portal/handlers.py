"""Portal use cases: registration (IIN + password, or EDS), login (password or EDS), sessions, and a
citizen's own data from ГБД ФЛ through the gateway.

Nothing is written until every check has passed, so a refused request changes nothing; the only state a
failure changes on purpose is the failed-login counter that leads to lock-out.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from services.portal.domain import describe_faults, password_faults
from services.portal.settings import PortalSettings
from services.portal.store import Account
from shared.case_tracking import Submission, signed_form, submit_once
from shared.cert_check import Expectation
from shared.cert_profile import Holder, Usage
from shared.clock import MeshClock
from shared.contracts import EMPLOYMENT_SERVICES, ApplicationRequest, PersonData
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_iin
from shared.logging import get_logger, message_context
from shared.logins import (
    LockOut,
    Login,
    Logins,
    decoy_check,
    eds_error,
    hash_password,
    password_matches,
    refuse_if_locked,
)
from shared.member import MemberRuntime
from shared.registry_calls import unavailable

log = get_logger(__name__)


def refuse_weak(password: str, *, iin: str) -> None:
    faults = password_faults(password, iin=iin)
    if faults:
        raise MeshError("PASSWORD_WEAK", describe_faults(faults), status=422, details={"rules": faults})
PERSON_BY_IIN = "gbdfl.person-by-iin"


class Portal:
    def __init__(self, *, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock,
                 settings: PortalSettings) -> None:
        self._sessions = sessions
        self.sessions = sessions
        self._runtime = runtime
        self._clock = clock
        self._settings = settings
        self.logins = Logins(sessions=sessions, clock=clock, audience="egov-mesh portal",
                             verifier=lambda: runtime.verifier, session_minutes=settings.session_minutes,
                             challenge_seconds=settings.challenge_seconds)
        self.lockout = LockOut(sessions=sessions, model=Account, key="iin", limit=settings.max_failed_logins,
                               lock=dt.timedelta(minutes=settings.lockout_minutes))

    # ---- ГБД ФЛ through the gateway -------------------------------------------------------------------
    async def person(self, iin: str) -> PersonData | None:
        try:
            answer = await self._runtime.request(service_id=PERSON_BY_IIN, data={"iin": iin},
                                                 timeout_s=self._settings.registry_timeout_s)
        except MeshError as exc:
            raise unavailable(exc) from None
        data = answer.envelope.data
        return PersonData.model_validate(data["person"]) if data.get("found") else None

    async def _registrable(self, iin: str) -> PersonData:
        person = await self.person(iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", "Сведения по указанному ИИН отсутствуют в ГБД ФЛ: "
                            "registration is possible only for a person the registry knows", status=422)
        if not person.alive:
            raise MeshError("PERSON_DECEASED", "ГБД ФЛ records this person as deceased", status=422)
        return person

    # ---- registration ----------------------------------------------------------------------------------
    async def register(self, *, iin: str, password: str, email: str | None, phone: str | None) -> Account:
        parse_iin(iin)
        refuse_weak(password, iin=iin)
        await self._not_registered(iin)
        await self._registrable(iin)
        return await self._create(Account(iin=iin, password_hash=hash_password(password), email=email, phone=phone,
                                          registered_by="password", registered_at=self._clock.now()))

    async def register_quietly(self, *, iin: str, password: str, email: str | None, phone: str | None) -> None:
        """``register`` for an anonymous caller: the same answer, and the same work (a ГБД ФЛ look-up, a password
        hash), whether the IIN is unknown, already has an account, or gets one now — registration must not tell
        a stranger who exists. A weak password or ГБД ФЛ being down are said, as they say nothing about the IIN."""
        parse_iin(iin)
        refuse_weak(password, iin=iin)
        person = await self.person(iin)
        password_hash = hash_password(password)
        async with self._sessions() as session:
            exists = await session.get(Account, iin) is not None
        if person is None or not person.alive or exists:
            log.info("registration_quietly_refused")
            return
        with contextlib.suppress(MeshError):  # registered by someone else at this very moment: the same answer
            await self._create(Account(iin=iin, password_hash=password_hash, email=email, phone=phone,
                                       registered_by="password", registered_at=self._clock.now()))

    async def register_with_eds(self, *, challenge_id: str, signature: str, password: str | None,
                                email: str | None, phone: str | None) -> Account:
        """Almaty's way: register with the EDS; the IIN is the authentication certificate's."""
        iin, _serial = await self._confirm_eds(challenge_id=challenge_id, signature=signature, purpose="register",
                                               iin=None)
        if password is not None:
            refuse_weak(password, iin=iin)
        await self._not_registered(iin)
        await self._registrable(iin)
        return await self._create(Account(iin=iin, password_hash=hash_password(password) if password else None,
                                          email=email, phone=phone, registered_by="eds",
                                          registered_at=self._clock.now()))

    async def _not_registered(self, iin: str) -> None:
        async with self._sessions() as session:
            if await session.get(Account, iin) is not None:
                raise MeshError("ACCOUNT_EXISTS", f"an account for IIN {iin} is already registered", status=409)

    async def _create(self, account: Account) -> Account:
        try:
            async with self._sessions() as session, session.begin():
                session.add(account)
        except IntegrityError:
            raise MeshError("ACCOUNT_EXISTS", f"an account for IIN {account.iin} is already registered",
                            status=409) from None
        log.info("account_registered", method=account.registered_by)
        return account

    # ---- login -----------------------------------------------------------------------------------------
    async def login(self, *, iin: str, password: str, precise: bool = False) -> Login:
        """Log in with a password. To an anonymous caller an IIN without an account, or with an EDS-only one,
        answers exactly as a wrong password would (counted, then locked: ``LockOut.refuse_unknown``); test
        tooling with the admin token (``precise``) is told ACCOUNT_NOT_FOUND / PASSWORD_NOT_SET."""
        parse_iin(iin)
        now = self._clock.now()
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        if account is None:
            if precise:
                raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {iin}: register first", status=401)
            raise await self.lockout.refuse_unknown(iin, scope="portal", now=now, password=password)
        refuse_if_locked(account.locked_until, now=now)
        password_hash = account.password_hash
        if password_hash is None:
            if precise:
                raise MeshError("PASSWORD_NOT_SET", "this account signs in with EDS only", status=401)
            await self.lockout.check_password(iin, now=now, matches=lambda: decoy_check(password))
        try:
            await self.lockout.check_password(iin, now=now, matches=lambda: password_matches(password_hash, password))
        except MeshError as refusal:
            log.info("login_refused", reason=refusal.code, attempts_left=refusal.details.get("attemptsLeft"))
            raise
        return await self._start_session(iin=iin, method="password", serial=None)

    async def login_with_eds(self, *, challenge_id: str, signature: str, iin: str | None) -> Login:
        if iin is not None:
            parse_iin(iin)
        cert_iin, serial = await self._confirm_eds(challenge_id=challenge_id, signature=signature, purpose="login",
                                                   iin=iin)
        async with self._sessions() as session:
            account = await session.get(Account, cert_iin)
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {cert_iin}: register first", status=401)
        return await self._start_session(iin=cert_iin, method="eds", serial=serial)

    async def _start_session(self, *, iin: str, method: str, serial: str | None) -> Login:
        login = await self.logins.start(subject=iin, method=method, serial=serial)
        async with self._sessions() as session, session.begin():
            await session.exec(update(Account).where(col(Account.iin) == iin)  # type: ignore[call-overload]
                               .values(failed_logins=0, locked_until=None, last_login_at=self._clock.now()))
        log.info("login_succeeded", method=method)
        return login

    async def _confirm_eds(self, *, challenge_id: str, signature: str, purpose: str,
                           iin: str | None) -> tuple[str, str]:
        """Condition 2 of the regulations: a valid, unrevoked authentication certificate of this person."""
        info = await self.logins.confirm_eds(challenge_id=challenge_id, signature=signature, purpose=purpose,
                                             expect=Expectation(usage=Usage.AUTH, holder=Holder.INDIVIDUAL, iin=iin))
        assert info.iin is not None
        return info.iin, info.serial

    # ---- applications (process 3 to 5 of the regulations) ---------------------------------------------------
    async def apply(self, *, iin: str, request: ApplicationRequest, district: str | None,
                    idempotency_key: str | None = None) -> Submission:
        """Check the citizen's EDS on the form (condition 2), then send it through the gateway — once per
        ``idempotency_key``: a repeat returns the case the first call made."""
        if request.form.applicant_iin != iin:
            raise MeshError("NOT_YOUR_DATA", "a citizen applies only for themself", status=403)
        if request.form.service_id not in EMPLOYMENT_SERVICES:
            raise MeshError("SERVICE_UNKNOWN", f"the portal offers {', '.join(EMPLOYMENT_SERVICES)}", status=422)
        result, _ = await self._runtime.verifier_or_fail().verify_signed_json(
            value=signed_form(request), signature_b64=request.form_signature,
            expect=Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=iin))
        if not result.ok:
            raise eds_error(result)  # process 4: refusal because the EDS was not confirmed
        sent = await submit_once(self._sessions, runtime=self._runtime, request=request, route_id=district,
                                 now=self._clock.now(), scope=f"citizen:{iin}", key=idempotency_key)
        with message_context(correlation_id=sent.case.correlation_id, service_id=request.form.service_id):
            log.info("application_replayed" if sent.replayed else "application_sent")
        return sent

    async def account(self, iin: str) -> Account:
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {iin}", status=404)
        return account

    async def unlock(self, iin: str) -> Account:
        await self.account(iin)
        await self.lockout.unlock(iin)
        return await self.account(iin)

