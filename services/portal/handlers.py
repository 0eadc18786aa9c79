"""Portal use cases: registration (IIN + password, or EDS), login (password or EDS), sessions, and a
citizen's own data from ГБД ФЛ through the gateway.

Nothing is written until every check has passed, so a refused request changes nothing; the only state a
failure changes on purpose is the failed-login counter that leads to lock-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.portal.domain import describe_faults, password_faults
from services.portal.settings import PortalSettings
from services.portal.store import Account, CitizenCopy, OrganisationAccount, organisation_key
from services.portal.verification import DocumentVerifier
from shared.clock import MeshClock
from shared.db import Sessions, insert_if_absent
from shared.employment.attachments import Content, refuse_mismatched
from shared.employment.case_tracking import (
    NOTICE_ORDER,
    CaseNotice,
    Submission,
    TrackedCase,
    cases,
    notices,
    signed_form,
    submit_once,
)
from shared.employment.documents import QrReference, SignedResult, render_pdf
from shared.employment.forms import kinds_of, refuse_unfit
from shared.employment.logins import (
    LockOut,
    Login,
    Logins,
    eds_error,
    hash_password,
    organisation_refusal,
)
from shared.employment.registry_calls import person_by_iin
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin
from shared.logging import get_logger, message_context
from shared.mesh.contracts import EMPLOYMENT_SERVICES, ApplicationRequest, PersonData
from shared.mesh.member import MemberRuntime
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import CertificateInfo, Holder, Usage, describe_certificate
from shared.web.rate_limit import RateLimit

log = get_logger(__name__)


def refuse_weak(password: str, *, iin: str) -> None:
    faults = password_faults(password, iin=iin)
    if faults:
        raise MeshError("PASSWORD_WEAK", describe_faults(faults), details={"rules": faults})


def refuse_organisation_form(request: ApplicationRequest) -> None:
    """A form naming an organisation (``applicantBin``) is sent by the organisation's login, signed with its
    certificate — never by a citizen's (seed 001 п. 9: the IIN/BIN of the request is the certificate's)."""
    if request.form.applicant_bin is not None:
        raise MeshError("ORGANISATION_LOGIN_REQUIRED", "a form naming an organisation (applicantBin) is sent by its "
                        "representative logged in by BIN, to /organisations/{bin}/applications")


class Portal:
    def __init__(self, *, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock,
                 settings: PortalSettings, regulations: RegulationBook,
                 members: Callable[[], Awaitable[list[dict]]]) -> None:
        """``members``: the gateway's member registry (its public ``GET /members``), which says which BIN is whose
        when a result document is verified."""
        self._sessions = sessions
        self.regulations = regulations
        self.sessions = sessions
        self._runtime = runtime
        self._clock = clock
        self._settings = settings
        self.logins = Logins(sessions=sessions, clock=clock, audience="egov-mesh portal",
                             verifier=lambda: runtime.verifier, session_minutes=settings.session_minutes,
                             challenge_seconds=settings.challenge_seconds)
        self.lockout = LockOut(sessions=sessions, model=Account, key="iin", limit=settings.max_failed_logins,
                               lock=dt.timedelta(minutes=settings.lockout_minutes))
        self.organisation_lockout = LockOut(sessions=sessions, model=OrganisationAccount, key="id",
                                            limit=settings.max_failed_logins,
                                            lock=dt.timedelta(minutes=settings.lockout_minutes))
        self.documents = DocumentVerifier(verifier=runtime.verifier_or_fail, members=members, book=regulations,
                                          clock=clock)

    # ---- ГБД ФЛ through the gateway -------------------------------------------------------------------
    async def person(self, iin: str, *, timeout_s: float | None = None) -> PersonData | None:
        return await person_by_iin(self._runtime, iin, timeout_s=timeout_s or self._settings.registry_timeout_s)

    async def _registrable(self, iin: str) -> PersonData:
        person = await self.person(iin)
        if person is None:
            raise MeshError("PERSON_NOT_FOUND", "Сведения по указанному ИИН отсутствуют в ГБД ФЛ: "
                            "registration is possible only for a person the registry knows")
        if not person.alive:
            raise MeshError("PERSON_DECEASED", "ГБД ФЛ records this person as deceased")
        return person

    # ---- registration ----------------------------------------------------------------------------------
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
        person = await self.person(iin)
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
        iin, _serial = await self._confirm_eds(challenge_id=challenge_id, signature=signature, purpose="register",
                                               iin=None)
        if password is not None:
            refuse_weak(password, iin=iin)
        await self._not_registered(iin)
        person = await self._registrable(iin)
        return await self._create(Account(iin=iin, password_hash=hash_password(password) if password else None,
                                          email=email, phone=phone, registered_by="eds",
                                          registered_at=self._clock.now(), district=person.district))

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

    # ---- login -----------------------------------------------------------------------------------------
    async def login(self, *, iin: str, password: str, precise: bool = False) -> Login:
        """Log in with a password. To an anonymous caller an IIN without an account, or with an EDS-only one,
        answers exactly as a wrong password would (counted, then locked: ``LockOut.refuse_unknown``); test
        tooling with the admin token (``precise``) is told ACCOUNT_NOT_FOUND / PASSWORD_NOT_SET."""
        parse_iin(iin)
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        await self.lockout.password_login(iin, account, password=password, now=self._clock.now(), scope="portal",
                                          precise=precise, not_found=f"no portal account for IIN {iin}: register first")
        return await self._start_session(iin=iin, method="password", serial=None)

    async def login_with_eds(self, *, challenge_id: str, signature: str, iin: str | None) -> Login:
        if iin is not None:
            parse_iin(iin)
        cert_iin, serial = await self._confirm_eds(challenge_id=challenge_id, signature=signature, purpose="login",
                                                   iin=iin)
        async with self._sessions() as session:
            account = await session.get(Account, cert_iin)
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {cert_iin}: register first")
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

    # ---- organisations: registration and login by BIN (seed 001 п. 9, «ИИН/БИН») -------------------------------
    async def register_organisation(self, *, bin_: str, challenge_id: str, signature: str, password: str | None,
                                    email: str | None, phone: str | None) -> OrganisationAccount:
        """Register a representative of an organisation: the register challenge signed with the authentication key
        of the organisation's certificate, whose BIN is the one named (condition 2) and whose IIN is a living
        person ГБД ФЛ knows. The certificate is what vouches for the BIN: the mesh has no registry of legal
        entities, and НУЦ certifies an organisation's people only at its request."""
        parse_bin(bin_)
        info, pem = await self._confirm_organisation(challenge_id=challenge_id, signature=signature,
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

    async def login_organisation(self, *, bin_: str, iin: str, password: str, precise: bool = False) -> Login:
        """Process 1 by BIN: the BIN, the representative's IIN and the password (condition 1). As for a citizen, a
        pair without an account (or an EDS-only one) answers as a wrong password would, lock-out included; test
        tooling with the admin token (``precise``) is told ACCOUNT_NOT_FOUND / PASSWORD_NOT_SET."""
        parse_bin(bin_)
        parse_iin(iin)
        key = organisation_key(bin_=bin_, iin=iin)
        async with self._sessions() as session:
            account = await session.get(OrganisationAccount, key)
        await self.organisation_lockout.password_login(
            key, account, password=password, now=self._clock.now(), scope="portal-org", precise=precise,
            not_found=f"no portal account of {iin} for BIN {bin_}: register first")
        assert account is not None
        if account.certificate_pem:  # the certificate that vouched for the BIN: revoked or expired, no entry
            await self.logins.recheck(x509.load_pem_x509_certificate(account.certificate_pem.encode()),
                                      expect=Expectation(usage=Usage.AUTH))
        return await self._start_organisation_session(account, method="password", serial=None)

    async def login_organisation_with_eds(self, *, bin_: str, challenge_id: str, signature: str) -> Login:
        """The login challenge signed with the authentication key of the organisation's certificate (condition 2:
        its BIN is the one named); the representative is the certificate's IIN."""
        parse_bin(bin_)
        info, pem = await self._confirm_organisation(challenge_id=challenge_id, signature=signature,
                                                     purpose="login", bin_=bin_)
        assert info.iin is not None
        async with self._sessions() as session:
            account = await session.get(OrganisationAccount, organisation_key(bin_=bin_, iin=info.iin))
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account of {info.iin} for BIN {bin_}: register first")
        return await self._start_organisation_session(account, method="eds", serial=info.serial, pem=pem)

    async def _confirm_organisation(self, *, challenge_id: str, signature: str, purpose: str,
                                    bin_: str) -> tuple[CertificateInfo, str]:
        """The organisation certificate the challenge was signed with (its description and PEM), if it is one of
        the BIN named."""
        certificate = await self.logins.confirm_eds_certificate(
            challenge_id=challenge_id, signature=signature, purpose=purpose, expect=Expectation(usage=Usage.AUTH))
        info = describe_certificate(certificate)
        refusal = organisation_refusal(info, bin_=bin_)
        if refusal is not None:
            log.info("organisation_eds_refused", reason=refusal.code, purpose=purpose)
            raise refusal
        return info, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    async def _start_organisation_session(self, account: OrganisationAccount, *, method: str,
                                          serial: str | None, pem: str | None = None) -> Login:
        login = await self.logins.start(subject=account.bin, method=method, serial=serial, representative=account.iin)
        async with self._sessions() as session, session.begin():
            await session.exec(update(OrganisationAccount).where(  # type: ignore[call-overload]
                col(OrganisationAccount.id) == account.id).values(
                failed_logins=0, locked_until=None, last_login_at=self._clock.now(),
                **({"certificate_pem": pem} if pem else {})))  # the latest certificate that proved the BIN
        log.info("login_succeeded", method=method, holder="organisation")
        return login

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
        await self.organisation_lockout.unlock(account.id)
        return await self.organisation_account(bin_=bin_, iin=iin)

    # ---- applications (process 3 to 5 of the regulations) ---------------------------------------------------
    async def apply(self, *, iin: str, request: ApplicationRequest, district: str | None,
                    idempotency_key: str | None = None, copies: list[Content] | None = None) -> Submission:
        """Check the form, its electronic copies against the digests it names, and the citizen's EDS on it
        (condition 2), then send it with the copies through the gateway and keep the copies — once per
        ``idempotency_key``: a repeat returns the case the first call made."""
        refuse_organisation_form(request)
        if request.form.applicant_iin != iin:
            raise MeshError("NOT_YOUR_DATA", "a citizen applies only for themself")
        if request.form.service_id not in EMPLOYMENT_SERVICES:
            raise MeshError("SERVICE_UNKNOWN", f"the portal offers {', '.join(EMPLOYMENT_SERVICES)}")
        await self._refuse_unfit(iin=iin, form=signed_form(request), district=district)
        copies = copies or []
        refuse_mismatched(signed_form(request).get("documents") or [], copies, content_required=True)
        result, _ = await self._runtime.verifier_or_fail().verify_signed_json(
            value=signed_form(request), signature_b64=request.form_signature,
            expect=Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=iin))
        if not result.ok:
            raise eds_error(result)  # process 4: refusal because the EDS was not confirmed
        sent = await submit_once(self._sessions, runtime=self._runtime, request=request, route_id=district,
                                 now=self._clock.now(), scope=f"citizen:{iin}", key=idempotency_key,
                                 keep=self._keeper(iin, copies))
        with message_context(correlation_id=sent.case.correlation_id, service_id=request.form.service_id):
            log.info("application_replayed" if sent.replayed else "application_sent")
        return sent

    def _keeper(self, owner: str, copies: list[Content]) -> Callable[[AsyncSession], Awaitable[None]]:
        """What the portal keeps of an application it sends: the copies, under the citizen's IIN (or the
        organisation's BIN), in the transaction that sends it."""
        now = self._clock.now()

        async def keep(session: AsyncSession) -> None:
            for copy in copies:
                await insert_if_absent(session, CitizenCopy.__table__, {  # type: ignore[attr-defined]
                    "iin": owner, "sha256": copy.sha256, "content_type": copy.content_type, "size": len(copy.data),
                    "content": copy.data, "stored_at": now})
        return keep

    async def copy(self, *, iin: str, sha256: str) -> CitizenCopy:
        """A copy this citizen attached (another citizen's is not found, whoever asks)."""
        async with self._sessions() as session:
            copy = await session.get(CitizenCopy, (iin, sha256))
        if copy is None:
            raise MeshError("DOCUMENT_COPY_NOT_FOUND", f"no copy {sha256} among your applications' documents")
        return copy

    async def remember_district(self, iin: str, district: str) -> None:
        """The registered address's district as ГБД ФЛ just gave it (a citizen who moved: their profile says so)."""
        async with self._sessions() as session, session.begin():
            await session.exec(update(Account).where(col(Account.iin) == iin).values(  # type: ignore[call-overload]
                district=district))

    async def _refuse_unfit(self, *, iin: str, form: dict[str, Any], district: str | None) -> str | None:
        """Before anything is sent: the service is offered through the portal in the citizen's district (the one
        named, else the registered address's as the portal knows it from ГБД ФЛ — at registration, at the last
        profile read, or asked now) — ``CHANNEL_NOT_OFFERED`` at once — and the form fits
        its service's schema and the region's regulation (``FORM_INVALID``, every field named). When ГБД ФЛ cannot
        be asked now, the district checks are left to the gateway and ИС МИО, as before. Returns the district
        judged (None: not known now)."""
        district = district or await self._district_of(iin)
        regulation = None
        if district is not None and district not in self.regulations.districts:
            raise MeshError("DISTRICT_UNKNOWN", f"no district {district!r}; the regulations serve "
                            f"{', '.join(self.regulations.districts)}")
        if district is not None:
            regulation = self.regulations.find(district=district, service=form["serviceId"], channel="portal")
            if regulation is None:
                offered = sorted({r.channel for r in self.regulations.for_district(district)
                                  if r.service == form["serviceId"]})
                raise MeshError("CHANNEL_NOT_OFFERED", f"{form['serviceId']} is not offered through the portal in "
                                f"{district}" + (f" (only: {', '.join(offered)})" if offered else ""),
                                details={"district": district, "channels": offered})
        refuse_unfit(form, referral_kinds=kinds_of(regulation))
        return district

    async def account(self, iin: str) -> Account:
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        if account is None:
            raise MeshError("ACCOUNT_NOT_FOUND", f"no portal account for IIN {iin}")
        return account

    async def unlock(self, iin: str) -> Account:
        await self.account(iin)
        await self.lockout.unlock(iin)
        return await self.account(iin)

    # ---- applications by an organisation (seed 001 п. 9: «ИИН/БИН» in the request and in the EDS) ----------------
    async def apply_as_organisation(self, *, bin_: str, representative: str, request: ApplicationRequest,
                                    district: str | None, idempotency_key: str | None = None,
                                    copies: list[Content] | None = None) -> Submission:
        """An organisation's application: the form names it (``applicantBin``) and the representative logged in
        (``representativeIin``); ``applicantIin`` is the person the service is for — whose card and facts ИС МИО
        decides on. The organisation names the ``district`` whose department it applies to, and it is sent there:
        the portal looks up no one's address for an organisation, so every answer here is the same whoever the form
        names (a person of any district, or an IIN ГБД ФЛ does not know) — nothing is learnt of a person by naming
        them. Only a service whose regulation admits organisations in that district (``applicants``); the EDS on the
        form is the organisation's certificate of that representative (condition 2). Sent once per
        ``idempotency_key``, followed as submitted by the BIN."""
        form = request.form
        unnamed = [name for name, value in (("applicantBin", form.applicant_bin),
                                            ("representativeIin", form.representative_iin)) if value is None]
        if unnamed:
            raise MeshError("ORGANISATION_NOT_NAMED", f"an organisation's form names {' and '.join(unnamed)}: the "
                            "organisation applying and its representative who signs", details={"fields": unnamed})
        if form.applicant_bin != bin_:
            raise MeshError("NOT_YOUR_DATA", f"an organisation applies only in its own name: the form names BIN "
                            f"{form.applicant_bin}, the login is for {bin_}")
        if form.representative_iin != representative:
            raise MeshError("REPRESENTATIVE_MISMATCH", "the representative the form names is not the one logged in")
        if form.service_id not in EMPLOYMENT_SERVICES:
            raise MeshError("SERVICE_UNKNOWN", f"the portal offers {', '.join(EMPLOYMENT_SERVICES)}")
        signed = signed_form(request)
        # condition 2 first: nothing about the person (their district, the channels there) is looked up or told
        # for a form the organisation has not signed with its certificate
        result, _ = await self._runtime.verifier_or_fail().verify_signed_json(
            value=signed, signature_b64=request.form_signature, expect=Expectation(usage=Usage.SIGN))
        if not result.ok:
            raise eds_error(result)  # process 4
        assert result.certificate is not None
        refusal = organisation_refusal(result.certificate, bin_=bin_, iin=representative)
        if refusal is not None:
            raise refusal
        if district is None:  # never the person's: their address is not the organisation's to learn, even by a probe
            admitting = self._admitting(form.service_id)
            raise MeshError("DISTRICT_REQUIRED", "an organisation names the district whose department it applies to "
                            "(`district`): the portal does not look up where the person lives for it" + (
                                f"; organisations may apply for {form.service_id} in {', '.join(admitting)}"
                                if admitting else ""), details={"districts": admitting})
        await self._refuse_unfit(iin=form.applicant_iin, form=signed, district=district)
        self._refuse_not_for_organisations(form.service_id, district=district)
        copies = copies or []
        refuse_mismatched(signed.get("documents") or [], copies, content_required=True)
        sent = await submit_once(self._sessions, runtime=self._runtime, request=request, route_id=district,
                                 now=self._clock.now(), scope=f"organisation:{bin_}", key=idempotency_key,
                                 submitted_by=bin_, keep=self._keeper(bin_, copies))
        with message_context(correlation_id=sent.case.correlation_id, service_id=form.service_id):
            log.info("application_replayed" if sent.replayed else "application_sent", applicant="organisation")
        return sent

    async def _district_of(self, iin: str) -> str | None:
        """A citizen's own district: as the portal knows it (their account: ГБД ФЛ's at registration or the last
        profile read), else as ГБД ФЛ says now (briefly: an account from before the portal kept it); None when neither
        can tell — the gateway and ИС МИО then judge. Never asked for someone an organisation names."""
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        if account is not None and account.district is not None:
            return account.district
        try:
            person = await self.person(iin, timeout_s=self._settings.channel_check_timeout_s)
        except MeshError:
            return None
        return person.district if person is not None else None

    def _admitting(self, service: str) -> list[str]:
        """The districts whose portal regulation of the service admits organisations."""
        return sorted({d for r in self.regulations.all.values() if r.service == service and r.channel == "portal"
                       and r.admits_organisations for d in r.districts})

    def _refuse_not_for_organisations(self, service: str, *, district: str | None) -> None:
        """``SERVICE_NOT_FOR_ORGANISATIONS`` unless the district's portal regulation of the service admits
        organisations (its ``applicants``); with no district known, unless some region's does — ИС МИО then holds
        the district's file to it (an organisation's signature is accepted only where the file admits it)."""
        admitting = self._admitting(service)
        if district is not None:
            regulation = self.regulations.find(district=district, service=service, channel="portal")
            admits = regulation is not None and regulation.admits_organisations
        else:
            admits = bool(admitting)
        if not admits:
            raise MeshError("SERVICE_NOT_FOR_ORGANISATIONS", f"{service} is applied for through the portal by a "
                            f"person (IIN), not an organisation (BIN)" + (f", in {district}" if district else "") + (
                                f"; organisations may apply in {', '.join(admitting)}" if admitting else ""),
                            details={"district": district, "districts": admitting})

    async def organisation_cases(self, bin_: str) -> list[TrackedCase]:
        """The organisation's «История получения услуг»: the applications it submitted (by any representative)."""
        async with self._sessions() as session:
            return list((await session.exec(select(TrackedCase).where(TrackedCase.submitted_by == bin_)
                                            .order_by(col(TrackedCase.submitted_at)))).all())

    async def organisation_notices(self, bin_: str) -> list[CaseNotice]:
        """Every status notice of the organisation's applications, the signed result with the final one."""
        theirs = select(TrackedCase.correlation_id).where(TrackedCase.submitted_by == bin_)
        async with self._sessions() as session:
            return list((await session.exec(select(CaseNotice).where(col(CaseNotice.correlation_id).in_(theirs))
                                            .order_by(*NOTICE_ORDER))).all())

    # ---- result documents: the citizen's own, and anyone's verification ------------------------------------
    async def document(self, *, iin: str, correlation_id: str) -> SignedResult:
        """The signed result of one of the citizen's applications, as ИС МИО's notice brought it."""
        found = await cases(self._sessions, iin=iin, correlation_id=correlation_id)
        if not found:
            raise MeshError("APPLICATION_NOT_FOUND", "you have no application with this id")
        signed = [n for n in await notices(self._sessions, iin=iin, correlation_id=correlation_id) if n.document]
        if not signed:
            raise MeshError("DOCUMENT_NOT_READY", f"the application has no signed result yet (status "
                            f"{found[0].status})", details={"status": found[0].status})
        return SignedResult.parse(signed[-1].document)

    @property
    def verify_url(self) -> str:
        return self._settings.document_verify_url or f"{self._settings.base_url.rstrip('/')}/documents/verify"

    async def document_pdf(self, document: SignedResult) -> bytes:
        return await asyncio.to_thread(render_pdf, document, verify_url=self.verify_url)

    @functools.cached_property
    def verifications(self) -> RateLimit:
        return RateLimit(per_minute=self._settings.anonymous_verifications_per_minute, what="document verifications")

    async def verify_document(self, given: SignedResult | QrReference, *, source: str,
                              qr: str | None = None) -> dict[str, Any]:
        """Is it what was signed, by an official of the issuer it names entitled to sign it, when their certificate
        was valid and not revoked (``services.portal.verification``)? Every failure is named; nothing stored is looked
        at: only what was given, and what the mesh knows (its member registry, the regulations, НУЦ)."""
        out = await self.documents.verify(given, source=source, qr=qr)
        log.info("document_verified", source=source, valid=out["valid"], failures=[f["code"] for f in out["failures"]])
        return out

    @property
    def verify_limit(self) -> int:
        return self._settings.document_max_bytes
