"""The portal's use cases (services/portal/usecases/) each built alone — no mesh, no HTTP: a SQLite database, the
in-memory broker under the portal's member runtime (its outbox), a fixed mesh clock, a real НУЦ (tests/unit/
conftest.py's ``pki``) and a real ГБД ФЛ answering from its own SQLite database. Each rule that was tested only
through the whole mesh has its test here; the file runs in seconds."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func
from sqlmodel import select

from meshkit.sdk import application_form, attachments_for
from services.gbd_fl.domain import Wanted
from services.gbd_fl.population import DISTRICT_BY_SLUG
from services.gbd_fl.registry import Registry as Gbd
from services.gbd_fl.settings import GbdFlSettings
from services.gbd_fl.store import Person, PopulationState, RegistryFacts
from services.nuc_pki.domain import PersonName
from services.portal.mailbox import MailMessage
from services.portal.main import create_app
from services.portal.settings import PortalSettings
from services.portal.store import Account, CitizenCopy, OrganisationAccount, SurveyAnswer
from services.portal.usecases.accounts import Accounts
from services.portal.usecases.citizen_application import CitizenApplication
from services.portal.usecases.document_verification import DocumentVerification
from services.portal.usecases.following import Following, follow_applications
from services.portal.usecases.form_checks import FormChecks
from services.portal.usecases.mail_outbox import MailOutbox
from services.portal.usecases.organisation_application import OrganisationApplication
from services.portal.usecases.profile import Profile
from services.portal.usecases.registration import Registration
from services.portal.usecases.result_documents import ResultDocuments
from services.portal.usecases.signing_in import SigningIn
from services.portal.usecases.survey import Survey
from shared.clock import MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.employment.attachments import decode, wire
from shared.employment.case_tracking import CaseNotice, TrackedCase
from shared.employment.documents import QrReference, SignedResult
from shared.employment.forms import kinds_of
from shared.employment.logins import Challenge, LockOut, LoginGuess, Logins, LoginSession, use_fast_hashing
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.errors import MeshError
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.contracts import ApplicationRequest, PersonData, StatusNotification
from shared.mesh.envelope import MessageType, envelope_of, unsigned_envelope
from shared.mesh.inbox import InboxMessage
from shared.mesh.member import Incoming, MemberRuntime
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.payload_crypto import Keyring
from shared.mesh.topology import GATEWAY_ID
from shared.pki.signing import SignerIdentity, sign_json, sign_wire
from shared.web.idempotency import IdempotencyRecord
from tests.support.stapling import assert_stapled, sent_application
from tests.unit.conftest import Pki

ORG_BIN, OTHER_BIN = "040540010011", "940140000385"
PASSWORD = "Kz-2026-secure"
SERVICE = "employment.job-seeker-registration"
PORTAL_MODELS = [Account, LoginSession, Challenge, LoginGuess, TrackedCase, CaseNotice, IdempotencyRecord,
                 CitizenCopy, OrganisationAccount, SurveyAnswer, MailMessage, OutboxMessage, InboxMessage]


@dataclass
class Portal:
    """What the use cases are built from, and the people the tests act as."""

    sessions: Sessions
    clock: MeshClock
    runtime: MemberRuntime
    logins: Logins
    gbd: Gbd
    regulations: RegulationBook
    pki: Pki
    gateway: Keyring  # what opens the payloads the portal encrypts to the gateway

    async def person(self, **wanted: Any) -> Person:
        district = wanted.pop("district", "almaty")
        return await self.gbd.new_people.create(Wanted(district=district, min_age=30, max_age=50, **wanted))

    async def registry(self, iin: str, *, timeout_s: float | None = None) -> PersonData | None:
        """ГБД ФЛ's own answer to ``gbdfl.person-by-iin``, from its database."""
        return (await self.gbd.person_by_iin.look_up(iin)).person

    async def keys(self, iin: str, *, bin_: str | None = None) -> tuple[SignerIdentity, SignerIdentity]:
        """A signing and an authentication key of НУЦ for ``iin`` (an organisation's, with ``bin_``)."""
        signing, auth = await self.pki.ca.issue_person_pair(
            iin=iin, person=PersonName(surname="Тестов", name="Тест", patronymic=None),
            organisation="ТОО «Тест»" if bin_ else None, bin_=bin_, role=None, email=None, signing_key=None,
            auth_key=None)
        return self.pki.identity(signing), self.pki.identity(auth)

    async def signed_challenge(self, auth: SignerIdentity, *, purpose: str) -> dict[str, str]:
        content = await self.logins.challenge(purpose=purpose)
        return {"challenge_id": content["challengeId"], "signature": sign_json(value=content, signer=auth)}

    def lockouts(self) -> tuple[LockOut, LockOut]:
        lock = dt.timedelta(minutes=15)
        return (LockOut(sessions=self.sessions, model=Account, key="iin", limit=3, lock=lock),
                LockOut(sessions=self.sessions, model=OrganisationAccount, key="id", limit=3, lock=lock))

    def registration(self) -> Registration:
        return Registration(sessions=self.sessions, clock=self.clock, logins=self.logins, registry=self.registry)

    def signing_in(self) -> SigningIn:
        lockout, organisation_lockout = self.lockouts()
        return SigningIn(sessions=self.sessions, clock=self.clock, logins=self.logins, lockout=lockout,
                         organisation_lockout=organisation_lockout)

    def checks(self) -> FormChecks:
        return FormChecks(sessions=self.sessions, regulations=self.regulations, registry=self.registry,
                          channel_check_timeout_s=1.0)

    def citizen_application(self) -> CitizenApplication:
        return CitizenApplication(sessions=self.sessions, runtime=self.runtime, clock=self.clock,
                                  checks=self.checks())

    def organisation_application(self) -> OrganisationApplication:
        return OrganisationApplication(sessions=self.sessions, runtime=self.runtime, clock=self.clock,
                                       checks=self.checks())

    async def count(self, model: Any) -> int:
        async with self.sessions() as session:
            return (await session.exec(select(func.count()).select_from(model))).one()

    async def sent(self) -> ApplicationRequest:
        return await sent_application(self.sessions, self.gateway)


async def _system(pki: Pki, member_id: str) -> SignerIdentity:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = await pki.ca.issue_system(member_id=member_id, organisation="АО «НИТ»", bin_=ORG_BIN,
                                       public_key=key.public_key())
    return SignerIdentity(key=key, certificate=issued.certificate, chain=tuple(pki.ca.chain()))


@pytest.fixture
async def portal(pki: Pki, tmp_path: Path) -> AsyncIterator[Portal]:
    use_fast_hashing()  # as the in-process mesh does: argon2id's standard cost is for a real system
    now = time.time()
    clock = MeshClock(real_time=lambda: now)  # fixed: nothing here waits on time
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    await create_tables(engine, models=PORTAL_MODELS)
    gbd_engine = make_engine(f"sqlite:///{tmp_path / 'gbd.db'}")
    await create_tables(gbd_engine, models=[Person, RegistryFacts, PopulationState])
    sessions, bus = make_sessions(engine), MemoryBus(broker=MemoryBroker())
    runtime = MemberRuntime(member_id="portal", bus=bus, sessions=sessions, clock=clock,
                            relay=OutboxRelay(sessions=sessions, bus=bus))
    verifier = pki.verifier(clock=clock)
    gateway = await _system(pki, GATEWAY_ID)
    runtime.attach(signer=await _system(pki, "portal"), verifier=verifier, gateway_certificate=gateway.certificate)
    logins = Logins(sessions=sessions, clock=clock, audience="egov-mesh portal", verifier=lambda: verifier,
                    session_minutes=60, challenge_seconds=300)
    gbd = Gbd.over(sessions=make_sessions(gbd_engine), settings=GbdFlSettings(database_url="sqlite://"), clock=clock)
    yield Portal(sessions=sessions, clock=clock, runtime=runtime, logins=logins, gbd=gbd,
                 regulations=RegulationBook.load(REGULATIONS_DIR), pki=pki,
                 gateway=Keyring([(gateway.certificate, gateway.key)]))
    await engine.dispose()
    await gbd_engine.dispose()


async def _refused(code: str, call: Any) -> MeshError:
    with pytest.raises(MeshError) as refused:
        await call
    assert refused.value.code == code, refused.value.message
    return refused.value


# ---- registration ----------------------------------------------------------------------------------------------
async def test_registering_with_a_password_keeps_the_district_gbd_fl_gives_and_happens_once(portal: Portal):
    person = await portal.person()
    registration = portal.registration()
    account = await registration.register(iin=person.iin, password=PASSWORD, email=None, phone=None)
    assert (account.registered_by, account.district) == ("password", person.district)
    await _refused("ACCOUNT_EXISTS", registration.register(iin=person.iin, password=PASSWORD, email=None, phone=None))


async def test_a_refused_registration_writes_nothing(portal: Portal):
    registration, person = portal.registration(), await portal.person()
    weak = await _refused("PASSWORD_WEAK", registration.register(iin=person.iin, password="short", email=None,
                                                                 phone=None))
    assert "uppercase" in weak.details["rules"]
    await _refused("PERSON_NOT_FOUND", registration.register(iin="850701300007", password=PASSWORD, email=None,
                                                             phone=None))
    dead = await portal.person()
    await portal.gbd.records.change(dead.iin, changes={"alive": False, "death_date": dt.date(2025, 5, 1)})
    await _refused("PERSON_DECEASED", registration.register(iin=dead.iin, password=PASSWORD, email=None, phone=None))
    await _refused("IIN_LENGTH", registration.register(iin="123", password=PASSWORD, email=None, phone=None))
    assert await portal.count(Account) == 0


async def test_an_anonymous_registration_answers_alike_whoever_the_iin_is(portal: Portal):
    registration, person, taken = portal.registration(), await portal.person(), await portal.person()
    await registration.register(iin=taken.iin, password=PASSWORD, email=None, phone=None)
    for iin in (person.iin, taken.iin, "850701300007"):  # new, registered already, unknown to ГБД ФЛ
        assert await registration.register_quietly(iin=iin, password=PASSWORD, email=None, phone=None) is None
    assert await portal.count(Account) == 2
    await _refused("PASSWORD_WEAK", registration.register_quietly(iin=person.iin, password="weak", email=None,
                                                                  phone=None))


async def test_registering_with_eds_takes_the_iin_from_the_certificate_and_a_challenge_once(portal: Portal):
    person = await portal.person()
    _signing, auth = await portal.keys(person.iin)
    signed = await portal.signed_challenge(auth, purpose="register")
    account = await portal.registration().register_with_eds(**signed, password=None, email=None, phone=None)
    assert (account.iin, account.registered_by, account.password_hash) == (person.iin, "eds", None)
    await _refused("CHALLENGE_REPLAYED", portal.registration().register_with_eds(**signed, password=None, email=None,
                                                                                 phone=None))


async def test_an_organisation_registers_only_with_its_own_certificate(portal: Portal):
    representative = await portal.person()
    _s, personal = await portal.keys(representative.iin)
    _s, organisations = await portal.keys(representative.iin, bin_=ORG_BIN)
    registration = portal.registration()
    await _refused("EDS_NOT_ORGANISATION", registration.register_organisation(
        bin_=ORG_BIN, **await portal.signed_challenge(personal, purpose="register"), password=None, email=None,
        phone=None))
    await _refused("EDS_BIN_MISMATCH", registration.register_organisation(
        bin_=OTHER_BIN, **await portal.signed_challenge(organisations, purpose="register"), password=None,
        email=None, phone=None))
    await _refused("PASSWORD_WEAK", registration.register_organisation(
        bin_=ORG_BIN, **await portal.signed_challenge(organisations, purpose="register"),
        password=f"Aa!{ORG_BIN}", email=None, phone=None))
    assert await portal.count(OrganisationAccount) == 0
    account = await registration.register_organisation(
        bin_=ORG_BIN, **await portal.signed_challenge(organisations, purpose="register"), password=PASSWORD,
        email=None, phone=None)
    assert (account.bin, account.iin, account.organisation) == (ORG_BIN, representative.iin, "ТОО «Тест»")
    assert account.certificate_pem is not None
    assert account.certificate_pem.startswith("-----BEGIN CERTIFICATE")


# ---- logging in ------------------------------------------------------------------------------------------------
async def test_wrong_passwords_count_to_a_lock_out_that_the_admin_lifts(portal: Portal):
    person = await portal.person()
    await portal.registration().register(iin=person.iin, password=PASSWORD, email=None, phone=None)
    signing_in = portal.signing_in()
    first = await _refused("PASSWORD_WRONG", signing_in.login(iin=person.iin, password="Wrong-2026-pass"))
    assert first.details["attemptsLeft"] == 2
    for _ in range(2):
        await _refused("PASSWORD_WRONG", signing_in.login(iin=person.iin, password="Wrong-2026-pass"))
    await _refused("ACCOUNT_LOCKED", signing_in.login(iin=person.iin, password=PASSWORD))
    lockout, organisation_lockout = portal.lockouts()
    await Accounts(sessions=portal.sessions, lockout=lockout, organisation_lockout=organisation_lockout).unlock(
        person.iin)
    login = await signing_in.login(iin=person.iin, password=PASSWORD)
    assert (await portal.logins.session_of(login.token)).subject == person.iin
    account = await Accounts(sessions=portal.sessions, lockout=lockout,
                             organisation_lockout=organisation_lockout).account(person.iin)
    assert (account.failed_logins, account.locked_until, account.last_login_at) == (0, None, portal.clock.now())


async def test_an_iin_without_an_account_answers_as_a_wrong_password_unless_the_admin_asks(portal: Portal):
    signing_in = portal.signing_in()
    unknown = await _refused("PASSWORD_WRONG", signing_in.login(iin="850701300007", password=PASSWORD))
    assert unknown.details["attemptsLeft"] == 2
    await _refused("ACCOUNT_NOT_FOUND", signing_in.login(iin="850701300007", password=PASSWORD, precise=True))


async def test_an_eds_login_needs_an_account_and_logout_ends_the_session(portal: Portal):
    person = await portal.person()
    _signing, auth = await portal.keys(person.iin)
    signing_in = portal.signing_in()
    await _refused("ACCOUNT_NOT_FOUND", signing_in.login_with_eds(
        **await portal.signed_challenge(auth, purpose="login"), iin=None))
    await portal.registration().register(iin=person.iin, password=PASSWORD, email=None, phone=None)
    login = await signing_in.login_with_eds(**await portal.signed_challenge(auth, purpose="login"), iin=person.iin)
    assert (login.method, login.subject) == ("eds", person.iin)
    await signing_in.logout(login.token)
    await _refused("SESSION_INVALID", portal.logins.session_of(login.token))
    await _refused("SESSION_MISSING", signing_in.logout(None))


async def test_an_organisation_logs_in_by_bin_and_the_certificate_that_vouched_for_it(portal: Portal):
    representative = await portal.person()
    _s, auth = await portal.keys(representative.iin, bin_=ORG_BIN)
    await portal.registration().register_organisation(
        bin_=ORG_BIN, **await portal.signed_challenge(auth, purpose="register"), password=PASSWORD, email=None,
        phone=None)
    signing_in = portal.signing_in()
    by_password = await signing_in.login_organisation(bin_=ORG_BIN, iin=representative.iin, password=PASSWORD)
    by_eds = await signing_in.login_organisation_with_eds(bin_=ORG_BIN,
                                                          **await portal.signed_challenge(auth, purpose="login"))
    for login in (by_password, by_eds):
        assert (login.subject, login.representative) == (ORG_BIN, representative.iin)
    await _refused("EDS_BIN_MISMATCH", signing_in.login_organisation_with_eds(
        bin_=OTHER_BIN, **await portal.signed_challenge(auth, purpose="login")))
    await _refused("ACCOUNT_NOT_FOUND", signing_in.login_organisation(bin_=OTHER_BIN, iin=representative.iin,
                                                                      password=PASSWORD, precise=True))


# ---- applications ----------------------------------------------------------------------------------------------
def _request(form: dict[str, Any], signing: SignerIdentity, *, signed_by: str = "applicant",
             attachments: list[dict[str, str]] | None = None) -> tuple[ApplicationRequest, list[Any]]:
    copies = decode(attachments_for(form) if attachments is None else attachments)
    return ApplicationRequest.model_validate({"form": form, "formSignature": sign_json(value=form, signer=signing),
                                              "signedBy": signed_by, "attachments": wire(copies)}), copies


def _form(person: Person, service: str = SERVICE, **fields: Any) -> dict[str, Any]:
    return application_form(service_id=service, iin=person.iin, surname=person.surname, name=person.name,
                            patronymic=person.patronymic, **fields)


async def test_an_application_is_sent_with_its_copies_in_one_transaction_and_once_per_key(portal: Portal):
    person = await portal.person()
    await portal.registration().register(iin=person.iin, password=PASSWORD, email=None, phone=None)
    signing, _auth = await portal.keys(person.iin)
    request, copies = _request(_form(person), signing)
    key = str(uuid.uuid4())
    first = await portal.citizen_application().submit(iin=person.iin, request=request, district=None,
                                                      idempotency_key=key, copies=copies)
    again = await portal.citizen_application().submit(iin=person.iin, request=request, district=None,
                                                      idempotency_key=key, copies=copies)
    assert (first.replayed, again.replayed, again.case.correlation_id) == (False, True, first.case.correlation_id)
    assert (first.case.status, first.case.channel, first.case.route_id) == ("SENT", "portal", None)
    assert (await portal.count(OutboxMessage), await portal.count(TrackedCase), await portal.count(CitizenCopy)) == (
        1, 1, 1)
    async with portal.sessions() as session:
        body = (await session.exec(select(OutboxMessage))).one().body
    assert person.iin.encode() not in body, "the payload travels encrypted to the gateway"
    assert_stapled(await portal.sent(), signing.certificate)


async def test_a_refused_application_sends_and_keeps_nothing(portal: Portal):
    person, other = await portal.person(), await portal.person()
    signing, _auth = await portal.keys(person.iin)
    application = portal.citizen_application()
    request, copies = _request(_form(person), signing)
    await _refused("NOT_YOUR_DATA", application.submit(iin=other.iin, request=request, district=None, copies=copies))
    await _refused("DISTRICT_UNKNOWN", application.submit(iin=person.iin, request=request, district="atlantis",
                                                          copies=copies))
    await _refused("ATTACHMENT_MISSING", application.submit(iin=person.iin, request=request, district=None,
                                                            copies=[]))
    forged, copies = _request(_form(person), (await portal.keys(other.iin))[0])
    await _refused("EDS_IIN_MISMATCH", application.submit(iin=person.iin, request=forged, district=None,
                                                          copies=copies))
    organisation_form, copies = _request(_form(person, applicantBin=ORG_BIN, representativeIin=person.iin), signing)
    await _refused("ORGANISATION_LOGIN_REQUIRED", application.submit(iin=person.iin, request=organisation_form,
                                                                     district=None, copies=copies))
    assert (await portal.count(OutboxMessage), await portal.count(TrackedCase), await portal.count(CitizenCopy)) == (
        0, 0, 0)


async def test_a_service_the_district_does_not_offer_through_the_portal_is_refused_at_once(portal: Portal):
    checks = portal.checks()
    offered = {(d, r.service) for r in portal.regulations.all.values() if r.channel == "portal"
               for d in r.districts}
    district, service = next((d, s) for d in portal.regulations.districts
                             for s in ("employment.unemployed-certificate", SERVICE) if (d, s) not in offered)
    person = await portal.person(district=district)
    with pytest.raises(MeshError) as refused:
        await checks.refuse_unfit(iin=person.iin, form={"serviceId": service}, district=None)
    assert (refused.value.code, refused.value.details["district"]) == ("CHANNEL_NOT_OFFERED", district)


async def test_an_organisation_names_the_district_only_after_its_signature_holds(portal: Portal):
    representative, applicant = await portal.person(), await portal.person()
    signing, _auth = await portal.keys(representative.iin, bin_=ORG_BIN)
    application = portal.organisation_application()
    service = "employment.active-measures-referral"  # the one service a regulation admits organisations to
    districts = portal.checks().admitting(service)
    regulation = portal.regulations.find(district=districts[0], service=service, channel="portal")
    form = _form(applicant, service, applicantBin=ORG_BIN, representativeIin=representative.iin,
                 referralKind=kinds_of(regulation)[0])
    request, copies = _request(form, signing, signed_by="organisation")
    unsigned, _ = _request(form, (await portal.keys(representative.iin))[0], signed_by="organisation")
    await _refused("EDS_NOT_ORGANISATION", application.submit(bin_=ORG_BIN, representative=representative.iin,
                                                              request=unsigned, district=None, copies=copies))
    required = await _refused("DISTRICT_REQUIRED", application.submit(
        bin_=ORG_BIN, representative=representative.iin, request=request, district=None, copies=copies))
    assert required.details["districts"] == districts
    await _refused("REPRESENTATIVE_MISMATCH", application.submit(bin_=ORG_BIN, representative=applicant.iin,
                                                                 request=request, district=districts[0]))
    unnamed, _ = _request(_form(applicant, service), signing, signed_by="organisation")
    await _refused("ORGANISATION_NOT_NAMED", application.submit(bin_=ORG_BIN, representative=representative.iin,
                                                                request=unnamed, district=districts[0]))
    assert await portal.count(OutboxMessage) == 0
    sent = await application.submit(bin_=ORG_BIN, representative=representative.iin, request=request,
                                    district=districts[0], copies=copies)
    assert (sent.case.submitted_by, sent.case.route_id) == (ORG_BIN, districts[0])
    following = Following(sessions=portal.sessions, clock=portal.clock)
    assert [c.correlation_id for c in await following.organisation_cases(ORG_BIN)] == [sent.case.correlation_id]
    assert await portal.count(OutboxMessage) == 1
    assert_stapled(await portal.sent(), signing.certificate)


# ---- following, the cabinet ------------------------------------------------------------------------------------
async def _notice(portal: Portal, mio: SignerIdentity, *, correlation_id: str, iin: str, status: str,
                  at: str, document: dict[str, Any] | None = None) -> None:
    """A status notice as the portal's member takes it from its queue: the handler ``follow_applications`` wired,
    in the transaction the consumer opens for it."""
    notice = StatusNotification.model_validate({
        "applicationNumber": "KZ-2026-000042", "district": "almaty", "applicantIin": iin, "status": status,
        "statusText": status.title(), "at": at, "text": f"status {status}", "document": document,
        "channel": "con"})
    data = notice.model_dump(by_alias=True, exclude_none=True)
    raw = sign_wire(wire=unsigned_envelope(service_id=SERVICE, message_type=MessageType.NOTIFICATION,
                                           sender="mio.almaty", data=data, message_date=portal.clock.now(),
                                           correlation_id=correlation_id), signer=mio)
    incoming = Incoming(parsed=envelope_of(raw), payload=notice)
    async with portal.sessions() as session, session.begin():
        await portal.runtime._dispatch(session, incoming)


async def test_notices_adopt_an_application_of_another_channel_and_never_move_it_back(portal: Portal):
    follow_applications(portal.runtime, clock=portal.clock)
    person, mio = await portal.person(), await _system(portal.pki, "mio.almaty")
    correlation_id = str(uuid.uuid4())
    await _notice(portal, mio, correlation_id=correlation_id, iin=person.iin, status="COMPLETED",
                  at="2026-03-03T10:00:00+05:00", document={"content": {"documentNumber": "1"}, "signature": "MII"})
    await _notice(portal, mio, correlation_id=correlation_id, iin=person.iin, status="RECEIVED",
                  at="2026-03-02T10:00:00+05:00")  # late: its first delivery was retried
    following = Following(sessions=portal.sessions, clock=portal.clock)
    [case] = await following.cases(iin=person.iin)
    assert (case.correlation_id, case.status, case.channel) == (correlation_id, "COMPLETED", "con")
    assert [n.status for n in await following.notices(person.iin)] == ["RECEIVED", "COMPLETED"]
    [first, _last] = await following.unread(person.iin)
    assert await following.mark_read(person.iin, ids=[first.id or 0]) == 1
    assert await following.unread_count(person.iin) == 1
    assert await following.mark_read("850701300007", ids=None) == 0, "another's notices stay as they are"
    assert await following.mark_read(person.iin, ids=None) == 1
    document = await ResultDocuments(sessions=portal.sessions, verify_url="http://portal.test/documents/verify"
                                     ).document(iin=person.iin, correlation_id=correlation_id)
    assert document.content == {"documentNumber": "1"}
    survey = Survey(sessions=portal.sessions, clock=portal.clock)
    assert await survey.answer(iin=person.iin, correlation_id=correlation_id, quality=3, information=2) == \
        portal.clock.now()
    await _refused("SURVEY_ALREADY_ANSWERED", survey.answer(iin=person.iin, correlation_id=correlation_id,
                                                            quality=1, information=1))
    assert await survey.results() == (1, {"quality": {1: 0, 2: 0, 3: 1}, "information": {1: 0, 2: 1, 3: 0}})


async def test_a_citizen_reads_only_their_own_documents_and_only_once_signed(portal: Portal):
    person = await portal.person()
    await portal.registration().register(iin=person.iin, password=PASSWORD, email=None, phone=None)
    signing, _auth = await portal.keys(person.iin)
    request, copies = _request(_form(person), signing)
    sent = await portal.citizen_application().submit(iin=person.iin, request=request, district=None, copies=copies)
    documents = ResultDocuments(sessions=portal.sessions, verify_url="http://portal.test/documents/verify")
    not_ready = await _refused("DOCUMENT_NOT_READY", documents.document(iin=person.iin,
                                                                        correlation_id=sent.case.correlation_id))
    assert not_ready.details == {"status": "SENT"}
    await _refused("APPLICATION_NOT_FOUND", documents.document(iin="850701300007",
                                                               correlation_id=sent.case.correlation_id))
    assert (await documents.copy(iin=person.iin, sha256=copies[0].sha256)).content == copies[0].data
    await _refused("DOCUMENT_COPY_NOT_FOUND", documents.copy(iin="850701300007", sha256=copies[0].sha256))
    survey = Survey(sessions=portal.sessions, clock=portal.clock)
    await _refused("SURVEY_NOT_YET", survey.answer(iin=person.iin, correlation_id=sent.case.correlation_id,
                                                   quality=3, information=3))
    await _refused("APPLICATION_NOT_FOUND", survey.answer(iin="850701300007", correlation_id=sent.case.correlation_id,
                                                          quality=3, information=3))


async def test_reading_the_profile_remembers_the_district_gbd_fl_gives_now(portal: Portal):
    person = await portal.person(district="almaty")
    await portal.registration().register(iin=person.iin, password=PASSWORD, email=None, phone=None)
    moved = next(d for d in portal.regulations.districts if d != "almaty")
    await portal.gbd.records.change(person.iin, changes={"district": moved, "region": DISTRICT_BY_SLUG[moved].region})
    profile = Profile(sessions=portal.sessions, registry=portal.registry)
    assert (await profile.read(person.iin)).district == moved
    async with portal.sessions() as session:
        assert (await session.get(Account, person.iin)).district == moved
    await _refused("PERSON_NOT_FOUND", profile.read("850701300007"))


# ---- verification, the outbox ----------------------------------------------------------------------------------
async def test_verification_names_what_fails_and_a_registry_it_cannot_read(portal: Portal):
    async def registry_down() -> list[dict]:
        raise httpx.ConnectError("the gateway is down")

    verification = DocumentVerification(verifier=lambda: portal.pki.verifier(clock=portal.clock),
                                        members=registry_down, book=portal.regulations, clock=portal.clock)
    reference = QrReference(url="http://portal.test/documents/verify", sha256="0" * 64)
    await _refused("QR_HOLDS_REFERENCE_ONLY", verification.verify(reference, source="qr"))
    official, _auth = await portal.keys("850701300007", bin_=ORG_BIN)
    content = {"documentNumber": "KZ-1", "date": portal.clock.local_now().date().isoformat(), "issuerBin": ORG_BIN,
               "regulationId": next(iter(portal.regulations.all)), "signer": {"iin": "850701300007",
                                                                              "name": "Тестов Тест"}}
    signed = SignedResult(content=content, signature=sign_json(value=content, signer=official,
                                                               at=portal.clock.now()))
    answer = await verification.verify(signed, source="json")
    assert answer["checks"]["signature"] == answer["checks"]["content"] == "OK"
    assert answer["checks"]["issuer"] == "UNAVAILABLE"
    assert not answer["valid"]
    assert {"code": "ISSUER_UNVERIFIABLE", "transient": True} | answer["failures"][0] == answer["failures"][0]
    altered = SignedResult(content=content | {"documentNumber": "KZ-2"}, signature=signed.signature)
    answer = await verification.verify(altered, source="json")
    assert ([f["code"] for f in answer["failures"]], answer["checks"]["content"]) == (["CONTENT_ALTERED"], "ALTERED")


async def test_the_outbox_is_read_by_its_filters_and_an_unknown_id_is_not_found(portal: Portal):
    async with portal.sessions() as session, session.begin():
        for n, kind in enumerate(("email", "sms")):
            session.add(MailMessage(message_id=f"m{n}", correlation_id="c", sender="con", kind=kind,
                                    address="+77011234567" if kind == "sms" else "a@example.kz", text="text",
                                    message_date=portal.clock.now().isoformat(), received_at=portal.clock.now()))
    outbox = MailOutbox(sessions=portal.sessions)
    assert [m.kind for m in await outbox.messages()] == ["email", "sms"]
    assert [m.kind for m in await outbox.messages(kind="sms")] == ["sms"]
    assert await outbox.messages(to="nobody@example.kz") == []
    await _refused("MAIL_NOT_FOUND", outbox.message(2**63 - 1))


async def test_a_mail_id_beyond_64_bits_is_refused_before_the_database():
    """Schemathesis found ``GET /admin/mail/{mail_id}`` answering 500 for an id SQLite cannot hold (issue 18): the
    route's bound refuses it (422 REQUEST_INVALID). The app is not started: nothing reaches a database."""
    settings = PortalSettings(database_url="sqlite://")
    app = create_app(settings)
    token = settings.mesh.admin_token.get_secret_value()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as http:
        for mail_id in ("9" * 40, str(2**63), "0"):
            reply = await http.get(f"/admin/mail/{mail_id}", headers={"Authorization": f"Bearer {token}"})
            assert (reply.status_code, reply.json()["code"]) == (422, "REQUEST_INVALID"), reply.text
