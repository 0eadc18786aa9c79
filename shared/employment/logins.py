"""Logging people in, the same way for citizens (portal), МИО staff and ЦОН operators: passwords (argon2id,
lock-out after repeated failures), EDS challenges signed with an authentication certificate (single use,
expiring on the mesh clock), and bearer sessions that expire on the mesh clock.

Each service keeps its own accounts; this module keeps the sessions and challenges (in the service's own
database) and the rules.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography import x509
from sqlalchemy import JSON, Column, LargeBinary, and_, case, literal, or_, update
from sqlmodel import Field, SQLModel, col, select

from shared.clock import MeshClock
from shared.db import Sessions, UtcDateTime, insert_if_absent
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.settings import MeshSettings
from shared.pki.cert_check import CertCheckResult, CertFailure, CertificateVerifier, Expectation
from shared.pki.cert_profile import CertificateInfo, Holder, describe_certificate
from shared.pki.signing import SignerIdentity

log = get_logger(__name__)
_hasher = PasswordHasher()
_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def use_fast_hashing() -> None:
    """Cheap argon2id parameters, for tests only (the in-process mesh, and the end-to-end tests' private meshes
    through ``configure_hashing``): a test's mesh registers hundreds of citizens, and the standard cost (64 MiB,
    three passes) is what a real system should pay."""
    global _hasher  # one hasher per process, switched once before anything is hashed
    _hasher = _CHEAP


def configure_hashing(mesh: MeshSettings) -> None:
    """The cost a service hashes new passwords at, as its settings say: a test's throw-away mesh
    (``MESH_ARGON2_COST=cheap``, refused outside ``MESH_ENV=test``) registers hundreds of citizens, each a third of
    a CPU-second at the standard cost. Every hash still says its own parameters, so a check verifies either;
    nothing is checked less."""
    if mesh.argon2_cost == "cheap":
        use_fast_hashing()


class EmployeeAccount(SQLModel):
    """The columns of an employee's account — ИС МИО staff, ЦОН operators: a password (hashed; the test identity's
    own kept for the admin to read) with its lock-out, and the НУЦ signing and authentication keys as PKCS#12."""

    iin: str = Field(primary_key=True, max_length=12)
    surname: str = Field(max_length=64)
    name: str = Field(max_length=64)
    password_hash: str = Field(max_length=256)
    demo_password: str | None = Field(default=None, max_length=64, description="test identities (seeded, or minted "
                                      "through the admin API): an admin reads it to act as them")
    failed_logins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    signing_p12: bytes = Field(sa_type=LargeBinary)
    auth_p12: bytes = Field(sa_type=LargeBinary)
    p12_password: str = Field(max_length=64)


def employee_public(account: EmployeeAccount, *, secrets_too: bool) -> dict[str, Any]:
    """An employee's account as the APIs show it; ``secrets_too`` (test support, the admin): the test identity's
    password and PKCS#12 files, to act as them."""
    out: dict[str, Any] = {"iin": account.iin, "surname": account.surname, "name": account.name,
                           "failedLogins": account.failed_logins,
                           "lockedUntil": account.locked_until.isoformat() if account.locked_until else None}
    if secrets_too:
        out |= {"password": account.demo_password, "pkcs12Password": account.p12_password,
                "signingP12Base64": base64.b64encode(account.signing_p12).decode(),
                "authP12Base64": base64.b64encode(account.auth_p12).decode()}
    return out


class SigningKeys:
    """Employees' signing keys, opened once each (opening a PKCS#12 costs its key derivation), reopened when the
    account's file changes."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[bytes, SignerIdentity]] = {}

    def of(self, account: EmployeeAccount) -> SignerIdentity:
        cached = self._open.get(account.iin)
        if cached is None or cached[0] != account.signing_p12:
            cached = (account.signing_p12, SignerIdentity.from_pkcs12(data=account.signing_p12,
                                                                      password=account.p12_password))
            self._open[account.iin] = cached
        return cached[1]


class LoginSession(SQLModel, table=True):
    __tablename__ = "login_session"

    token_hash: str = Field(primary_key=True, max_length=64, description="SHA-256 of the bearer token")
    subject: str = Field(index=True, max_length=12, description="the IIN of who logged in; for an organisation's "
                         "login (portal, seed 001 «ИИН/БИН») its BIN — never equal to an IIN (digit 5 of a BIN is "
                         "4-6, of an IIN the tens of a day, 0-3), so a citizen's resources never open to it")
    method: str = Field(max_length=8, description="password | eds")
    representative_iin: str | None = Field(default=None, max_length=12, description="an organisation's login: "
                                           "the IIN of the representative who logged in for it")
    certificate_serial: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class Challenge(SQLModel, table=True):
    """What someone signs with their authentication key to log in or register with EDS: single use."""

    __tablename__ = "eds_challenge"

    id: str = Field(primary_key=True, max_length=36)
    purpose: str = Field(max_length=16)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class LoginGuess(SQLModel, table=True):
    """Password guesses at an IIN that has no account, counted as an account's are: to an anonymous caller an
    unknown IIN answers exactly as a known one with a wrong password — the same code, the same attempts left,
    the same lock-out, about the same time taken — so logging in does not tell who has an account."""

    __tablename__ = "login_guess"

    key: str = Field(primary_key=True, max_length=64, description="scope:IIN")
    failed_logins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_demo_password(password: str) -> str:
    """A seeded demo account's password (ИС МИО staff, ЦОН operators), hashed at the cheap cost whatever the mesh's.
    That password is no secret: `make run` prints it, ``GET /admin/staff`` and ``/admin/operators`` serve it, and
    the account's own row keeps it in clear (``demo_password``) — the standard cost (64 MiB, three passes, a third
    of a CPU-second here) would guard nothing, and two dozen of them were seconds of a cold `make run` (issue 22).
    The first login with it puts it at the process's cost (``LockOut.password_login``), as any hash made at a
    lower cost than today's would be."""
    return _CHEAP.hash(password)


def _weaker_than_ours(password_hash: str) -> bool:
    """A hash made at a lower cost than this process hashes at (never the other way: a test mesh's cheap hasher
    does not weaken a standard hash it checks)."""
    try:
        made = extract_parameters(password_hash)
    except InvalidHashError:
        return False
    ours = (_hasher.memory_cost, _hasher.time_cost)
    return made.memory_cost <= ours[0] and made.time_cost <= ours[1] and (made.memory_cost, made.time_cost) != ours


_decoy: dict[PasswordHasher, str] = {}


def decoy_check(password: str) -> bool:
    """A password check against nothing, taking as long as a real one: an unknown IIN is not answered faster."""
    decoy = _decoy.get(_hasher) or _decoy.setdefault(_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    password_matches(decoy, password)
    return False


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


@dataclass(frozen=True)
class LockState:
    failed: int
    locked_until: dt.datetime | None


def refuse_if_locked(locked_until: dt.datetime | None, *, now: dt.datetime) -> None:
    if locked_until is not None and now < locked_until:
        raise MeshError("ACCOUNT_LOCKED", f"too many wrong passwords: locked until {locked_until.isoformat()}",
                        details={"lockedUntil": locked_until.isoformat()})


@dataclass(frozen=True)
class LockOut:
    """Lock-out after ``limit`` wrong passwords, counted by the database so that guesses sent at once count too.

    An attempt is *reserved* — the failure counter raised in one statement — before the password is checked,
    and refused outright when the account is locked or ``limit`` attempts are already counted (some still
    being checked): however many guesses arrive together, at most ``limit`` are ever checked per lock-out
    window. A right password clears the counter; the ``limit``-th wrong one locks the account for ``lock``.
    ``model`` is the account table (with ``failed_logins`` and ``locked_until``), ``key`` its key column.
    """

    sessions: Sessions
    model: Any
    key: str
    limit: int
    lock: dt.timedelta

    async def check_password(self, key: str, *, now: dt.datetime, matches: Callable[[], bool]) -> None:
        failed = await self._reserve(key, now=now)
        if matches():
            await self._set(key, failed=0, locked_until=None)
            return
        raise wrong_password(LockState(failed=failed, locked_until=now + self.lock if failed >= self.limit else None),
                             limit=self.limit)

    async def _reserve(self, key: str, *, now: dt.datetime) -> int:
        """Count this attempt in one statement. The ``limit``-th one locks the account in that same statement
        (a right password unlocks it again), so a process dying between the check and its answer, or a check
        that fails, can never leave an account that counts as full but is not locked — it unlocks in time."""
        table, column = self.model, getattr(self.model, self.key)
        expired = and_(col(table.locked_until).is_not(None), col(table.locked_until) <= now)
        counted = case((expired, 1), else_=col(table.failed_logins) + 1)
        async with self.sessions() as session, session.begin():
            row = (await session.exec(
                update(table).where(column == key, or_(
                    and_(col(table.locked_until).is_(None), col(table.failed_logins) < self.limit), expired))
                .values(failed_logins=counted,
                        locked_until=case((counted >= self.limit, literal(now + self.lock, UtcDateTime())),
                                          else_=None))
                .returning(col(table.failed_logins)))).first()
            if row is not None:
                return int(row[0])
            locked_until = (await session.exec(select(table.locked_until).where(column == key))).first()
        until = locked_until or now + self.lock
        raise MeshError("ACCOUNT_LOCKED", f"too many wrong passwords: locked until {until.isoformat()}",
                        details={"lockedUntil": until.isoformat()})

    async def _set(self, key: str, *, failed: int, locked_until: dt.datetime | None) -> None:
        async with self.sessions() as session, session.begin():
            await session.exec(update(self.model).where(getattr(self.model, self.key) == key)
                               .values(failed_logins=failed, locked_until=locked_until))

    async def unlock(self, key: str) -> None:
        await self._set(key, failed=0, locked_until=None)

    async def password_login(self, key: str, account: Any | None, *, password: str, now: dt.datetime, scope: str,
                             precise: bool = False, not_found: str = "no account: register first") -> None:
        """A password login's check, one sequence for every kind of account: an unknown ``key`` (or an account
        without a password) answers as a wrong password would — counted, then locked — so the form does not tell
        who has an account; a locked account is refused; else the password is checked. Test tooling (``precise``)
        is told ``ACCOUNT_NOT_FOUND`` / ``PASSWORD_NOT_SET`` instead. Returns when the password is right."""
        if account is None:
            if precise:
                raise MeshError("ACCOUNT_NOT_FOUND", not_found)
            raise await self.refuse_unknown(key, scope=scope, now=now, password=password)
        refuse_if_locked(account.locked_until, now=now)
        password_hash = account.password_hash
        if password_hash is None:
            if precise:
                raise MeshError("PASSWORD_NOT_SET", "this account signs in with EDS only")
            await self.check_password(key, now=now, matches=lambda: decoy_check(password))
        try:
            await self.check_password(key, now=now, matches=lambda: password_matches(password_hash, password))
        except MeshError as refusal:
            log.info("login_refused", reason=refusal.code, attempts_left=refusal.details.get("attemptsLeft"))
            raise
        if _weaker_than_ours(password_hash):  # a seeded demo account's first login (``hash_demo_password``)
            stronger = await asyncio.to_thread(hash_password, password)
            unchanged = and_(getattr(self.model, self.key) == key, col(self.model.password_hash) == password_hash)
            async with self.sessions() as session, session.begin():
                await session.exec(update(self.model).where(unchanged).values(password_hash=stronger))

    async def refuse_unknown(self, key: str, *, scope: str, now: dt.datetime, password: str) -> MeshError:
        """The refusal for ``key`` (an IIN) that has no account: counted in ``login_guess`` and answered as a
        wrong password (then ACCOUNT_LOCKED) would be for one that has. Returns it, for the caller to raise."""
        guess = f"{scope}:{key}"
        async with self.sessions() as session, session.begin():
            await insert_if_absent(session, LoginGuess.__table__, {  # type: ignore[attr-defined]
                "key": guess, "failed_logins": 0, "locked_until": None})
        guesses = LockOut(sessions=self.sessions, model=LoginGuess, key="key", limit=self.limit, lock=self.lock)
        try:
            await guesses.check_password(guess, now=now, matches=lambda: decoy_check(password))
        except MeshError as refusal:
            return refusal
        raise AssertionError("a decoy check never matches")


def wrong_password(state: LockState, *, limit: int) -> MeshError:
    """The refusal of a wrong password, saying how many attempts are left or until when the account is locked."""
    left = max(0, limit - state.failed)
    details: dict[str, Any] = {"attemptsLeft": left}
    if state.locked_until is not None:
        details["lockedUntil"] = state.locked_until.isoformat()
    return MeshError("PASSWORD_WRONG", "the IIN or the password is wrong" + (
        f"; the account is locked until {state.locked_until.isoformat()}" if state.locked_until else
        f"; {left} attempt(s) left before lock-out"), details=details)


_EDS_CODES = {
    CertFailure.BAD_SIGNATURE: "EDS_SIGNATURE_INVALID",
    CertFailure.UNTRUSTED_CHAIN: "EDS_CERTIFICATE_UNTRUSTED",
    CertFailure.NOT_YET_VALID: "EDS_CERTIFICATE_NOT_YET_VALID",
    CertFailure.EXPIRED: "EDS_CERTIFICATE_EXPIRED",
    CertFailure.WRONG_KEY_USAGE: "EDS_WRONG_KEY_USAGE",
    CertFailure.IIN_MISMATCH: "EDS_IIN_MISMATCH",
    CertFailure.BIN_MISMATCH: "EDS_BIN_MISMATCH",
    CertFailure.HOLDER_MISMATCH: "EDS_WRONG_HOLDER",
    CertFailure.ROLE_MISSING: "EDS_ROLE_MISSING",
    CertFailure.REVOKED: "EDS_CERTIFICATE_REVOKED",
    CertFailure.STATUS_UNKNOWN: "EDS_CERTIFICATE_STATUS_UNKNOWN",
    CertFailure.RESPONDER_UNREACHABLE: "EDS_OCSP_UNREACHABLE",
    CertFailure.CLOCK_SKEW: "EDS_CLOCK_SKEW",
}


def eds_refusal(result: CertCheckResult) -> str:
    """The code of an EDS that was not confirmed (the regulations' "process 4": refusal, with why) — whether it
    proves a login or signs a form or a result: 401, or 503 while НУЦ cannot say (``EDS_OCSP_UNREACHABLE``,
    ``EDS_CLOCK_SKEW``)."""
    assert result.failure is not None
    return _EDS_CODES[result.failure]


def eds_error(result: CertCheckResult) -> MeshError:
    return MeshError(eds_refusal(result), result.message)


def organisation_refusal(info: CertificateInfo, *, bin_: str, iin: str | None = None) -> MeshError | None:
    """Condition 2 for an organisation (seed 001 п. 9, «ИИН/БИН»): the certificate is of a person acting for an
    organisation — an IIN and a BIN (``EDS_NOT_ORGANISATION`` for a personal or a system certificate) — the
    organisation named (``EDS_BIN_MISMATCH``) and, when asked, that person (``EDS_IIN_MISMATCH``)."""
    if info.holder is not Holder.EMPLOYEE:
        return MeshError("EDS_NOT_ORGANISATION", f"a certificate of a person acting for an organisation (an IIN and "
                         f"a BIN) is required, got a certificate of a {info.holder.value}")
    if info.bin != bin_:
        return MeshError("EDS_BIN_MISMATCH", f"the certificate is of the organisation with BIN {info.bin}, not the "
                         f"BIN named ({bin_})")
    if iin is not None and info.iin != iin:
        return MeshError("EDS_IIN_MISMATCH", "the certificate is of another representative than the one named")
    return None


@dataclass(frozen=True)
class Login:
    token: str
    subject: str
    method: str
    expires_at: dt.datetime
    representative: str | None = None  # an organisation's login (``subject`` its BIN): who logged in for it

    def public(self) -> dict[str, Any]:
        if self.representative is not None:
            return {"token": self.token, "bin": self.subject, "iin": self.representative, "method": self.method,
                    "expiresAt": self.expires_at.isoformat()}
        return {"token": self.token, "iin": self.subject, "method": self.method,
                "expiresAt": self.expires_at.isoformat()}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Logins:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, audience: str,
                 verifier: Callable[[], CertificateVerifier | None], session_minutes: int,
                 challenge_seconds: int) -> None:
        self._sessions = sessions
        self._clock = clock
        self._audience = audience
        self._verifier = verifier
        self._session_minutes = session_minutes
        self._challenge_seconds = challenge_seconds

    async def challenge(self, *, purpose: str) -> dict[str, str]:
        now = self._clock.now()
        expires = now + dt.timedelta(seconds=self._challenge_seconds)
        challenge_id = str(uuid.uuid4())
        content = {"audience": self._audience, "challengeId": challenge_id,
                   "nonce": base64.b64encode(os.urandom(32)).decode(), "purpose": purpose,
                   "issuedAt": now.isoformat(), "expiresAt": expires.isoformat()}
        async with self._sessions() as session, session.begin():
            session.add(Challenge(id=challenge_id, purpose=purpose, content=content, expires_at=expires))
        return content

    async def _use_challenge(self, *, challenge_id: str, purpose: str) -> dict[str, Any]:
        """Take the challenge out of play (single use, whatever the outcome); return what was to be signed."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            challenge = await session.get(Challenge, challenge_id)
            if challenge is None or challenge.purpose != purpose:
                raise MeshError("CHALLENGE_UNKNOWN", f"no {purpose} challenge {challenge_id}: ask for a new one")
            taken = await session.exec(update(Challenge).where(
                col(Challenge.id) == challenge_id, col(Challenge.used_at).is_(None)).values(used_at=now))
            if taken.rowcount == 0:
                raise MeshError("CHALLENGE_REPLAYED", "this challenge was already used: ask for a new one")
            if now > challenge.expires_at:
                raise MeshError("CHALLENGE_EXPIRED", f"the challenge expired at {challenge.expires_at.isoformat()}")
            return challenge.content

    async def confirm_eds(self, *, challenge_id: str, signature: str, purpose: str,
                          expect: Expectation) -> CertificateInfo:
        """The signer's certificate, once the challenge, the signature and the certificate all check out."""
        return describe_certificate(await self.confirm_eds_certificate(
            challenge_id=challenge_id, signature=signature, purpose=purpose, expect=expect))

    async def confirm_eds_certificate(self, *, challenge_id: str, signature: str, purpose: str,
                                      expect: Expectation) -> x509.Certificate:
        """``confirm_eds``, giving the certificate itself (to be kept and checked again later)."""
        content = await self._use_challenge(challenge_id=challenge_id, purpose=purpose)
        result, verified = await self._verifier_or_fail().verify_signed_json(value=content, signature_b64=signature,
                                                                            expect=expect)
        if not result.ok:
            raise eds_error(result)
        assert verified is not None
        return verified.signer

    async def recheck(self, certificate: x509.Certificate, *, expect: Expectation) -> None:
        """A certificate that vouched for a login before, checked again now (validity, revocation), or refused as
        an EDS would be (``EDS_CERTIFICATE_REVOKED``, ``EDS_CERTIFICATE_EXPIRED``; 503 when НУЦ cannot say)."""
        result = await self._verifier_or_fail().check(certificate=certificate, expect=expect)
        if not result.ok:
            raise eds_error(result)

    def _verifier_or_fail(self) -> CertificateVerifier:
        verifier = self._verifier()
        if verifier is None:
            raise MeshError("NOT_READY", "НУЦ's certificates are not loaded yet")
        return verifier

    async def start(self, *, subject: str, method: str, serial: str | None,
                    representative: str | None = None) -> Login:
        """A session for ``subject`` (an IIN; or a BIN, with the ``representative`` who logged in for it)."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires = now + dt.timedelta(minutes=self._session_minutes)
        async with self._sessions() as session, session.begin():
            session.add(LoginSession(token_hash=_token_hash(token), subject=subject, method=method,
                                     certificate_serial=serial, created_at=now, expires_at=expires,
                                     representative_iin=representative))
        return Login(token=token, subject=subject, method=method, expires_at=expires, representative=representative)

    async def session_of(self, token: str | None) -> LoginSession:
        """The login ``token`` is, or SESSION_REFUSALS' refusal."""
        if not token:
            raise MeshError("SESSION_MISSING", "log in and send 'Authorization: Bearer <token>'")
        async with self._sessions() as session:
            login = await session.get(LoginSession, _token_hash(token))
        if login is None or login.ended_at is not None:
            raise MeshError("SESSION_INVALID", "this token is not a current login")
        if self._clock.now() >= login.expires_at:
            raise MeshError("SESSION_EXPIRED", f"the login expired at {login.expires_at.isoformat()}")
        return login

    async def end(self, token: str | None) -> None:
        login = await self.session_of(token)
        async with self._sessions() as session, session.begin():
            await session.exec(update(LoginSession).where(
                col(LoginSession.token_hash) == login.token_hash).values(ended_at=self._clock.now()))


SESSION_REFUSALS = ("SESSION_MISSING", "SESSION_INVALID", "SESSION_EXPIRED")
"""What a route behind a login can answer before its handler runs (``Logins.session_of``); its OpenAPI lists them
(``shared.web.openapi_errors.raises``)."""


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ")
    return None


def refuse_unless_citizen(iin: str, login: LoginSession) -> None:
    """Every citizen resource is its owner's alone: a citizen's login for that IIN — never an organisation's
    login, whose subject is a BIN (``NOT_YOUR_DATA``, 403)."""
    if login.representative_iin is not None or login.subject != iin:
        raise MeshError("NOT_YOUR_DATA", "a citizen sees only their own data")
