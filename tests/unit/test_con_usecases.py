"""ИС ЦОН's use cases, each built alone — on SQLite, the in-memory bus and a clock that stands still, with a real
НУЦ (its CA and OCSP responder in process) for the certificates and no mesh: the rules of the queue, intake,
signing and sending, the result formed and handed out, logins and the admin's applications, each with the code it
refuses with and the proof that a refusal changes nothing (the visit as it was, nothing in the outbox).

The same rules through the whole in-process mesh: tests/usecases/test_centre.py (and tests/e2e/test_centre.py on
real processes and RabbitMQ)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import func, select

from services.con_operator.branches import BRANCHES_FILE, BranchBook
from services.con_operator.centre import Centre, build_centre
from services.con_operator.main import MODELS
from services.con_operator.operators import OPERATOR_ROLE, OperatorBook
from services.con_operator.settings import ConOperatorSettings
from services.con_operator.store import OperatorAccount, TicketPurpose, Visit
from services.con_operator.usecases.admin import AdminApplication
from services.con_operator.usecases.hand_out import HandOutRequest, check_identity
from services.con_operator.usecases.intake import IntakeData, Representation, check_representation
from services.con_operator.usecases.visits import timeline
from services.nuc_pki.domain import PersonName
from services.nuc_pki.handlers import CertificateAuthority, Issued
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial, IssuedCertificate
from shared.clock import ClockState, MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.employment.case_tracking import CaseNotice, TrackedCase
from shared.employment.logins import Logins, hash_password, use_fast_hashing
from shared.employment.registry_calls import unavailable
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.errors import MeshError
from shared.ids import make_iin
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.contracts import ApplicationForm, PersonData
from shared.mesh.control_clients import GatewayControlClient, NucClient
from shared.mesh.inbox import InboxMessage
from shared.mesh.member import MemberRuntime
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.payload_crypto import Keyring
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.pki.signing import SignerIdentity, sign_json
from tests.support.stapling import assert_stapled, sent_application

CERTIFICATE = "employment.unemployed-certificate"  # mamlyut: signed by the operator; ИС МИО's document handed out
JOB_SEEKER = "employment.job-seeker-registration"  # almaty: operator or citizen signs; ЦОН forms the notice
PERIOD = {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}
CENTRE = {"name": "НАО «Государственная корпорация «Правительство для граждан» (симулятор)", "bin": "140340020022"}
PASSWORD = "Con-Desk-2026!"


def _iin(day: int, serial: int) -> str:
    iin = make_iin(birth_date=dt.date(1990, 1, day), sex="M", serial=serial)
    assert iin is not None
    return iin


@dataclass
class Desk:
    """An operator account with their keys, as the use cases see them."""

    account: OperatorAccount
    signing: SignerIdentity
    auth: SignerIdentity


@dataclass
class Registry:
    """ГБД ФЛ's answers, as the gateway's synchronous channel would bring them: a person, «нет данных» (None), or
    the registry down (``unavailable``'s refusal, naming the hop)."""

    people: dict[str, PersonData] = field(default_factory=dict)
    down: bool = False
    asked: int = 0

    async def __call__(self, iin: str) -> PersonData | None:
        self.asked += 1
        if self.down:
            raise unavailable(MeshError("Server.Timeout", "gbdfl did not answer", details={"failedAt": "gbdfl"}))
        return self.people.get(iin)

    def add(self, iin: str, *, district: str, alive: bool = True) -> PersonData:
        self.people[iin] = PersonData(iin=iin, surname="Ахметов", name="Ерлан", patronymic="Серикович",
                                      birth_date="1990-01-01", sex="M", region="north-kazakhstan", district=district,
                                      address="г. Мамлютка", alive=alive)
        return self.people[iin]


@dataclass
class World:
    centre: Centre
    sessions: Sessions
    clock: MeshClock
    ca: CertificateAuthority
    registry: Registry
    desks: dict[str, list[Desk]]
    gateway: Keyring  # what opens the payloads ИС ЦОН encrypts to the gateway

    async def person_keys(self, iin: str) -> SignerIdentity:
        signing, _ = await self.ca.issue_person_pair(iin=iin, person=PersonName(surname="Ахметов", name="Ерлан"),
                                                     organisation=None, bin_=None, role=None, email=None,
                                                     signing_key=None, auth_key=None)
        return _identity(self.ca, signing)

    async def outbox(self) -> int:
        async with self.sessions() as session:
            return int((await session.exec(select(func.count()).select_from(OutboxMessage))).one())

    async def visit_row(self, visit_id: str) -> Visit:
        async with self.sessions() as session:
            visit = await session.get(Visit, visit_id)
        assert visit is not None
        return visit

    async def decide(self, visit: Visit, *, status: str = "COMPLETED") -> None:
        """What ИС МИО's final notice leaves behind (``case_tracking.record_notice``): the case decided, the notice
        with its signed document."""
        record = {"documentNumber": "ENB-2026-000042", "applicant": "Ахметов Ерлан Серикович",
                  "applicantIin": visit.applicant_iin, "date": "2026-03-02", "issuer": "ИС МИО"}
        async with self.sessions() as session, session.begin():
            case = await session.get(TrackedCase, visit.correlation_id)
            assert case is not None
            case.status, case.application_number, case.district = status, "MAM-2026-000042", visit.district
            session.add(case)
            session.add(CaseNotice(
                message_id=str(uuid.uuid4()), correlation_id=visit.correlation_id, applicant_iin=visit.applicant_iin,
                application_number="MAM-2026-000042", district=visit.district, service_id=visit.service_id,
                status=status, status_text=status, text="Решение принято", at=self.clock.now().isoformat(),
                received_at=self.clock.now(), document={"content": record, "signature": "MIIB-mio"}))


def _identity(ca: CertificateAuthority, issued: Issued) -> SignerIdentity:
    assert issued.key is not None
    return SignerIdentity(key=issued.key, certificate=issued.certificate, chain=tuple(ca.chain()))


@dataclass
class Nuc:
    """НУЦ for the module (making its CA takes seconds; each test gets a database of its own): the CA on a clock
    that stands still, its OCSP responder in process, ИС ЦОН's and the gateway's system certificates, and two
    operators per branch with their State Corporation certificates."""

    ca: CertificateAuthority
    clock: MeshClock
    verifier: CertificateVerifier
    con: SignerIdentity
    gateway: Issued
    desks: dict[str, list[tuple[OperatorAccount, SignerIdentity, SignerIdentity]]]


async def _operator(ca: CertificateAuthority, clock: MeshClock, *, branch: str,
                    iin: str) -> tuple[OperatorAccount, SignerIdentity, SignerIdentity]:
    signing, auth = await ca.issue_person_pair(
        iin=iin, person=PersonName(surname="Каримов", name="Марат"), organisation=CENTRE["name"], bin_=CENTRE["bin"],
        role=OPERATOR_ROLE, email=None, signing_key=None, auth_key=None)
    account = OperatorAccount(iin=iin, branch=branch, surname="Каримов", name="Марат",
                              password_hash=hash_password(PASSWORD), demo_password=PASSWORD,
                              signing_p12=ca.pkcs12(signing, password="p12-secret"),
                              auth_p12=ca.pkcs12(auth, password="p12-secret"), p12_password="p12-secret",
                              created_at=clock.now())
    return account, _identity(ca, signing), _identity(ca, auth)


@pytest.fixture(scope="module")
async def nuc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Nuc]:
    use_fast_hashing()
    frozen = time.time()
    clock = MeshClock(state=ClockState.real_time(now=frozen), real_time=lambda: frozen)  # stands still
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('nuc') / 'nuc.db'}")
    await create_tables(engine, models=[CaMaterial, IssuedCertificate])
    ca = CertificateAuthority(sessions=make_sessions(engine), clock=clock, settings=NucSettings(
        database_url="sqlite://", public_url="http://nuc.test", holder_keys="ec"))
    await ca.load_or_create()

    async def respond(request: httpx.Request) -> httpx.Response:  # НУЦ's OCSP responder, in process
        body, _error = await ca.ocsp_response(request.content)
        return httpx.Response(200, content=body, headers={"content-type": "application/ocsp-response"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    verifier = CertificateVerifier(trust=TrustStore.from_certificates(ca.chain()), clock=clock, skew_wait_s=0.0,
                                   ocsp=OcspClient(url="http://nuc.test/ocsp", http=http, clock=clock))
    con = await ca.issue_system(member_id="con", organisation=CENTRE["name"], bin_=CENTRE["bin"], public_key=None)
    gateway = await ca.issue_system(member_id="shep", organisation="ШЭП", bin_="040540010011", public_key=None)
    desks = {branch: [await _operator(ca, clock, branch=branch, iin=_iin(index + 1, 9900 + n)) for n in range(2)]
             for index, branch in enumerate(("mamlyut", "almaty-almaly"))}
    yield Nuc(ca=ca, clock=clock, verifier=verifier, con=_identity(ca, con), gateway=gateway, desks=desks)
    await http.aclose()
    await engine.dispose()


@pytest.fixture
async def world(nuc: Nuc, tmp_path: Path) -> AsyncIterator[World]:
    """ИС ЦОН's use cases as the service wires them (``build_centre``), on a database of their own."""
    clock = nuc.clock
    engine = make_engine(f"sqlite:///{tmp_path / 'con.db'}")
    await create_tables(engine, models=[*MODELS, OutboxMessage, InboxMessage])
    sessions = make_sessions(engine)
    bus = MemoryBus(broker=MemoryBroker())
    await bus.connect()
    runtime = MemberRuntime(member_id="con", bus=bus, sessions=sessions, clock=clock,
                            relay=OutboxRelay(sessions=sessions, bus=bus))
    runtime.attach(signer=nuc.con, verifier=nuc.verifier, gateway_certificate=nuc.gateway.certificate)
    regulations = RegulationBook.load(REGULATIONS_DIR)
    branches = BranchBook.load(regulations, BRANCHES_FILE)
    unused = httpx.AsyncClient(base_url="http://unused.test")  # minting (НУЦ over HTTP) is not tested here
    operators = OperatorBook(sessions=sessions, clock=clock, branches=branches,
                             nuc=NucClient(base_url="http://nuc.test", admin_token="admin-token", http=unused),
                             gateway=GatewayControlClient(base_url="http://shep.test", admin_token="admin-token",
                                                          http=unused))
    operators.centre.update(CENTRE)  # what start-up reads from the gateway's registry
    logins = Logins(sessions=sessions, clock=clock, audience="egov-mesh ИС ЦОН", verifier=lambda: nuc.verifier,
                    session_minutes=480, challenge_seconds=300)
    registry = Registry()
    centre = build_centre(settings=ConOperatorSettings(database_url="sqlite://"), sessions=sessions, clock=clock,
                          runtime=runtime, branches=branches, regulations=regulations, logins=logins,
                          operators=operators, person_lookup=registry, admin_token=lambda: "admin-token")
    desks: dict[str, list[Desk]] = {}
    async with sessions() as session, session.begin():
        for branch, accounts in nuc.desks.items():
            for account, signing, auth in accounts:
                row = OperatorAccount.model_validate(account.model_dump())
                session.add(row)
                desks.setdefault(branch, []).append(Desk(account=row, signing=signing, auth=auth))
    yield World(centre=centre, sessions=sessions, clock=clock, ca=nuc.ca, registry=registry, desks=desks,
                gateway=Keyring([(nuc.gateway.certificate, nuc.gateway.key)]))
    await bus.close()
    await unused.aclose()
    await engine.dispose()


async def _code(awaitable: Any) -> str:
    with pytest.raises(MeshError) as refused:
        await awaitable
    return refused.value.code


async def _served(world: World, desk: Desk, service: str, purpose: TicketPurpose = TicketPurpose.APPLY) -> str:
    ticket = await world.centre.queue.take_ticket(branch_id=desk.account.branch, service_id=service, purpose=purpose)
    return (await world.centre.queue.call(desk.account, ticket_id=ticket.id)).id


def _data(iin: str, **fields: Any) -> IntakeData:
    representative = fields.pop("representative", None)
    return IntakeData(iin=iin, service_id=None, fields=fields, representative=representative, scans=[])


async def _filled(world: World, desk: Desk, *, service: str = CERTIFICATE, email: str | None = None,
                  ) -> tuple[str, Visit]:
    iin = _iin(20, 1234)
    world.registry.add(iin, district="mamlyut" if service == CERTIFICATE else "almaty")
    ticket_id = await _served(world, desk, service)
    fields = dict(PERIOD) if service == CERTIFICATE else {}
    if email:
        fields["email"] = email
    return ticket_id, await world.centre.intake(desk.account, ticket_id=ticket_id, data=_data(iin, **fields))


async def _sent(world: World, desk: Desk, **kw: Any) -> tuple[str, Visit]:
    ticket_id, visit = await _filled(world, desk, **kw)
    visit = await world.centre.sign_and_send(desk.account, visit_id=visit.id, signature=sign_json(
        value=visit.form, signer=desk.signing, at=world.clock.now()), signed_by="operator")
    return ticket_id, visit


# ---- the electronic queue ------------------------------------------------------------------------------------
async def test_tickets_are_numbered_per_branch_day_and_purpose_and_called_longest_waiting_first(world: World):
    queue = world.centre.queue
    first = await queue.take_ticket(branch_id="mamlyut", service_id=CERTIFICATE, purpose=TicketPurpose.APPLY)
    second = await queue.take_ticket(branch_id="mamlyut", service_id=CERTIFICATE, purpose=TicketPurpose.APPLY)
    collect = await queue.take_ticket(branch_id="mamlyut", service_id=CERTIFICATE, purpose=TicketPurpose.COLLECT)
    assert (first.code, second.code, collect.code) == ("A001", "A002", "B001")
    desk, colleague = world.desks["mamlyut"]
    assert (await queue.call(desk.account, ticket_id=None)).id == first.id
    assert await _code(queue.call(desk.account, ticket_id=None)) == "OPERATOR_BUSY", "one ticket at a time"
    assert await _code(queue.call(colleague.account, ticket_id=first.id)) == "TICKET_ALREADY_CALLED"
    assert await _code(queue.call(world.desks["almaty-almaly"][0].account, ticket_id=second.id)) == "NOT_YOUR_BRANCH"
    assert await _code(queue.close(colleague.account, ticket_id=first.id, note=None)) == "TICKET_NOT_YOURS"
    assert await _code(queue.close(desk.account, ticket_id=second.id, note=None)) == "TICKET_NOT_CALLED"
    closed = await queue.close(desk.account, ticket_id=first.id, note="served")
    assert (closed.status, closed.closed_at) == ("CLOSED", world.clock.now())
    assert await _code(queue.close(desk.account, ticket_id=first.id, note=None)) == "TICKET_CLOSED"
    assert (await queue.call(colleague.account, ticket_id=None)).id == second.id
    assert (await queue.call(desk.account, ticket_id=None)).id == collect.id
    assert await _code(queue.call(world.desks["almaty-almaly"][0].account, ticket_id=None)) == "QUEUE_EMPTY"


async def test_a_ticket_is_for_a_service_the_branch_takes(world: World):
    queue = world.centre.queue
    assert await _code(queue.take_ticket(branch_id="zhezkazgan", service_id=CERTIFICATE,
                                         purpose=TicketPurpose.APPLY)) == "SERVICE_NOT_OFFERED_AT_CON"
    assert await _code(queue.take_ticket(branch_id="atlantis", service_id=CERTIFICATE,
                                         purpose=TicketPurpose.APPLY)) == "BRANCH_NOT_FOUND"
    assert await queue.tickets(branch_id="zhezkazgan", status=None) == [], "nothing was taken"


# ---- intake --------------------------------------------------------------------------------------------------
TODAY = dt.date(2026, 3, 2)
APPLICANT, AGENT = _iin(3, 1000), _iin(4, 1000)


def _poa(**changes: Any) -> Representation:
    poa = {"number": "ДОВ-0001", "issuedOn": "2026-01-10", "validUntil": "2026-12-31", "principalIin": APPLICANT,
           "attorneyIin": AGENT, "services": [CERTIFICATE]} | changes
    return Representation(iin=AGENT, name="Представитель", power_of_attorney=poa)


@pytest.mark.parametrize(("representation", "code"), [
    (_poa(validUntil="2026-03-01"), "POWER_OF_ATTORNEY_EXPIRED"),
    (_poa(issuedOn="2026-03-03"), "POWER_OF_ATTORNEY_NOT_YET_VALID"),
    (_poa(principalIin=AGENT), "POWER_OF_ATTORNEY_FOREIGN"),
    (_poa(attorneyIin=APPLICANT[:-1] + "0"), "POWER_OF_ATTORNEY_NOT_THIS_REPRESENTATIVE"),
    (_poa(services=[JOB_SEEKER]), "POWER_OF_ATTORNEY_SCOPE"),
    (Representation(iin=APPLICANT, name=None, power_of_attorney=_poa().power_of_attorney),
     "REPRESENTATIVE_IS_APPLICANT"),
    (Representation(iin="123", name=None, power_of_attorney=_poa().power_of_attorney), "IIN_LENGTH"),
])
def test_a_power_of_attorney_covers_this_citizen_this_service_today(representation: Representation, code: str):
    with pytest.raises(MeshError) as refused:
        check_representation(representation, applicant_iin=APPLICANT, service_id=CERTIFICATE, today=TODAY)
    assert refused.value.code == code
    check_representation(_poa(validUntil=TODAY.isoformat()), applicant_iin=APPLICANT, service_id=CERTIFICATE,
                         today=TODAY)  # valid through its last day


async def test_intake_fills_the_form_from_gbd_fl_and_keeps_nothing_when_gbd_fl_cannot_tell(world: World):
    desk = world.desks["mamlyut"][0]
    ticket_id = await _served(world, desk, CERTIFICATE)
    iin = _iin(21, 1234)
    assert await _code(world.centre.intake(desk.account, ticket_id=ticket_id, data=_data(iin, **PERIOD))) == \
        "GBD_FL_NO_DATA"
    world.registry.add(iin, district="mamlyut")
    world.registry.down = True
    with pytest.raises(MeshError) as down:
        await world.centre.intake(desk.account, ticket_id=ticket_id, data=_data(iin, **PERIOD))
    assert (down.value.code, "repeat the intake" in down.value.message) == ("REGISTRY_UNAVAILABLE", True)
    assert await world.centre.visits.find(branch="mamlyut") == [], "nothing kept"
    world.registry.down = False
    visit = await world.centre.intake(desk.account, ticket_id=ticket_id, data=_data(iin, **PERIOD))
    assert (visit.state, visit.form["surname"], visit.form["operatorIin"], visit.revision) == (
        "FILLED", "Ахметов", desk.account.iin, 1), "filled from ГБД ФЛ's answer, by this operator"
    again = await world.centre.intake(desk.account, ticket_id=ticket_id, data=_data(
        iin, **PERIOD, email="citizen@example.kz"))
    assert (again.id, again.revision, again.form["email"]) == (visit.id, 2, "citizen@example.kz"), \
        "a repeat replaces the form and raises its revision"


async def test_intake_refuses_what_is_not_this_operators_to_take(world: World):
    desk, colleague = world.desks["mamlyut"]
    iin = _iin(22, 1234)
    world.registry.add(iin, district="mamlyut")
    ticket_id = await _served(world, desk, CERTIFICATE)
    intake = world.centre.intake
    assert await _code(intake(colleague.account, ticket_id=ticket_id, data=_data(iin))) == "TICKET_NOT_YOURS"
    assert await _code(intake(world.desks["almaty-almaly"][0].account, ticket_id=ticket_id, data=_data(iin))) == \
        "NOT_YOUR_BRANCH"
    collect = await _served(world, colleague, CERTIFICATE, TicketPurpose.COLLECT)
    assert await _code(intake(colleague.account, ticket_id=collect, data=_data(iin))) == "TICKET_NOT_FOR_APPLYING"
    dead = _iin(23, 1234)
    world.registry.add(dead, district="mamlyut", alive=False)
    assert await _code(intake(desk.account, ticket_id=ticket_id, data=_data(dead, **PERIOD))) == "PERSON_DECEASED"
    scan = await world.centre.scans.store(world.desks["almaty-almaly"][0].account, content=b"%PDF-1.4 almaty",
                                          content_type="application/pdf")
    named = IntakeData(iin=iin, service_id=None, fields=dict(PERIOD), representative=None,
                       scans=[{"name": "passport", "sha256": scan.sha256, "kind": "identity-document"}])
    assert await _code(intake(desk.account, ticket_id=ticket_id, data=named)) == "SCAN_NOT_FOUND", \
        "another branch's scan"
    assert world.registry.asked == 1, "ГБД ФЛ is asked only once the desk's own checks pass"
    assert await world.centre.visits.find(branch="mamlyut") == []


async def test_scans_are_kept_once_by_digest_and_within_their_limits(world: World):
    desk = world.desks["mamlyut"][0]
    scans = world.centre.scans
    first = await scans.store(desk.account, content=b"%PDF-1.4 scan", content_type="application/pdf")
    second = await scans.store(desk.account, content=b"%PDF-1.4 scan", content_type="application/pdf")
    assert (first.sha256, first.size) == (second.sha256, second.size)
    assert await _code(scans.store(desk.account, content=b"", content_type="image/png")) == "SCAN_EMPTY"
    assert await _code(scans.store(desk.account, content=b"x" * (scans.max_scan_bytes + 1),
                                   content_type="image/png")) == "SCAN_TOO_LARGE"
    assert await _code(scans.store(desk.account, content=b"MZ", content_type="application/x-dos")) == \
        "SCAN_TYPE_NOT_ALLOWED"
    assert (await scans.get(first.sha256, branch=None)).content == b"%PDF-1.4 scan", "the admin reads any"


# ---- signing and sending -------------------------------------------------------------------------------------
async def test_the_form_goes_out_only_with_the_logged_in_operators_valid_signature_and_in_one_transaction(
        world: World):
    desk, colleague = world.desks["mamlyut"]
    _, visit = await _filled(world, desk)
    send = world.centre.sign_and_send
    citizen = await world.person_keys(visit.applicant_iin)
    refusals = [
        (colleague.signing, "operator", "EDS_IIN_MISMATCH"),
        (desk.auth, "operator", "EDS_WRONG_KEY_USAGE"),
        (citizen, "operator", "EDS_WRONG_HOLDER"),
        (citizen, "applicant", "SIGNER_NOT_ALLOWED"),  # the certificate's regulation: the operator signs
    ]
    for signer, signed_by, code in refusals:
        signature = sign_json(value=visit.form, signer=signer, at=world.clock.now())
        assert await _code(send(desk.account, visit_id=visit.id, signature=signature, signed_by=signed_by)) == code
    assert await _code(send(colleague.account, visit_id=visit.id, signature="MIIB", signed_by="operator")) == \
        "VISIT_NOT_YOURS"
    assert ((await world.visit_row(visit.id)).state, await world.outbox()) == ("FILLED", 0), "nothing sent"
    sent = await send(desk.account, visit_id=visit.id, signature=sign_json(value=visit.form, signer=desk.signing,
                                                                           at=world.clock.now()), signed_by="operator")
    async with world.sessions() as session:
        case = await session.get(TrackedCase, visit.correlation_id)
    assert (sent.state, sent.signed_by, await world.outbox()) == ("SENT", "operator", 1)
    assert case is not None
    assert (case.submitted_by, case.route_id, case.channel) == (desk.account.iin, "mamlyut", "con"), \
        "the case followed from the moment it is queued"
    assert_stapled(await sent_application(world.sessions, world.gateway), desk.signing.certificate)
    assert await _code(send(desk.account, visit_id=visit.id, signature="MIIB", signed_by="operator")) == \
        "VISIT_ALREADY_SENT"


async def test_where_the_regulation_allows_the_citizen_signs_with_their_own_key(world: World):
    desk = world.desks["almaty-almaly"][0]
    _, visit = await _filled(world, desk, service=JOB_SEEKER)
    citizen = await world.person_keys(visit.applicant_iin)
    stranger = await world.person_keys(_iin(24, 1234))
    send = world.centre.sign_and_send
    assert await _code(send(desk.account, visit_id=visit.id, signed_by="applicant", signature=sign_json(
        value=visit.form, signer=stranger, at=world.clock.now()))) == "EDS_IIN_MISMATCH"
    sent = await send(desk.account, visit_id=visit.id, signed_by="applicant", signature=sign_json(
        value=visit.form, signer=citizen, at=world.clock.now()))
    assert (sent.signed_by, await world.outbox()) == ("applicant", 1)


# ---- the result ----------------------------------------------------------------------------------------------
async def test_the_notice_is_drafted_once_for_its_signer_and_formed_only_by_them(world: World):
    desk, colleague = world.desks["almaty-almaly"]
    _, visit = await _sent(world, desk, service=JOB_SEEKER, email="citizen@example.kz")
    results = world.centre.results
    assert await _code(results.draft(desk.account, visit_id=visit.id)) == "RESULT_NOT_READY"
    await world.decide(visit)
    assert await _code(results.form(desk.account, visit_id=visit.id, signature="MIIB")) == "RESULT_NOT_DRAFTED"
    draft = await results.draft(desk.account, visit_id=visit.id)
    assert (draft["issuerBin"], draft["signer"]["iin"], draft["applicant"], draft["documentNumber"]) == (
        CENTRE["bin"], desk.account.iin, "Ахметов Ерлан Серикович", "ALMATY-ALMALY-ENB-2026-000042")
    assert await results.draft(desk.account, visit_id=visit.id) == draft, "kept: the draft signed is the one stored"
    theirs = sign_json(value=draft, signer=colleague.signing, at=world.clock.now())
    assert await _code(results.form(colleague.account, visit_id=visit.id, signature=theirs)) == \
        "RESULT_DRAFTED_FOR_ANOTHER"
    skewed = sign_json(value=draft, signer=desk.signing, at=world.clock.now() + dt.timedelta(hours=1))
    assert await _code(results.form(desk.account, visit_id=visit.id, signature=skewed)) == "SIGNING_TIME_SKEWED"
    assert (await world.visit_row(visit.id)).result_signed_at is None, "refused: nothing formed"
    formed = await results.form(desk.account, visit_id=visit.id, signature=sign_json(
        value=draft, signer=desk.signing, at=world.clock.now()))
    assert (formed.result or {}).get("signerIin") == desk.account.iin
    assert formed.events["result_formed"] == world.clock.now().isoformat()
    assert await _code(results.form(desk.account, visit_id=visit.id, signature="MIIB")) == "RESULT_ALREADY_FORMED"


async def test_a_result_that_is_not_the_centres_to_form_or_a_refusal_is_handed_out_as_it_is(world: World):
    _, certificate = await _sent(world, world.desks["mamlyut"][0])
    await world.decide(certificate)
    assert await _code(world.centre.results.draft(world.desks["mamlyut"][0].account, visit_id=certificate.id)) == \
        "RESULT_NOT_FORMED_HERE"
    desk = world.desks["almaty-almaly"][0]
    _, refused = await _sent(world, desk, service=JOB_SEEKER)
    await world.decide(refused, status="REFUSED")
    assert await _code(world.centre.results.draft(desk.account, visit_id=refused.id)) == "RESULT_REFUSED"


# ---- hand-out ------------------------------------------------------------------------------------------------
async def test_in_person_the_identity_is_checked_and_the_result_is_handed_out_once(world: World):
    desk = world.desks["mamlyut"][0]
    ticket_id, visit = await _sent(world, desk)
    hand_out = world.centre.hand_out
    in_person = HandOutRequest(delivery="in_person", ticket_id=ticket_id, presented_iin=visit.applicant_iin)
    assert await _code(hand_out(desk.account, visit_id=visit.id, request=in_person)) == "RESULT_NOT_READY"
    await world.decide(visit)
    refusals = [
        (HandOutRequest(delivery="in_person", presented_iin=visit.applicant_iin), "TICKET_REQUIRED"),
        (HandOutRequest(delivery="in_person", ticket_id=ticket_id), "IDENTITY_REQUIRED"),
        (HandOutRequest(delivery="in_person", ticket_id=ticket_id, presented_iin=_iin(25, 1234)),
         "IDENTITY_MISMATCH"),
        (HandOutRequest(delivery="email"), "EMAIL_REQUIRED"),
    ]
    for request, code in refusals:
        assert await _code(hand_out(desk.account, visit_id=visit.id, request=request)) == code
    assert (await world.visit_row(visit.id)).state == "SENT", "refused: unchanged"
    handed = await hand_out(desk.account, visit_id=visit.id, request=in_person)
    assert (handed.state, handed.delivery, handed.handed_out_by, handed.hand_out_ticket) == (
        "HANDED_OUT", "in_person", desk.account.iin, ticket_id)
    assert handed.events["handed_out"] == world.clock.now().isoformat()
    assert await world.outbox() == 1, "no mail for a hand-out in person (the one message is the application)"
    assert await _code(hand_out(desk.account, visit_id=visit.id, request=in_person)) == "RESULT_ALREADY_HANDED_OUT"


async def test_by_email_to_the_forms_address_queued_with_the_hand_out_another_only_from_the_citizen_at_the_desk(
        world: World):
    desk = world.desks["almaty-almaly"][0]
    ticket_id, visit = await _sent(world, desk, service=JOB_SEEKER, email="citizen@example.kz")
    await world.decide(visit)
    hand_out = world.centre.hand_out
    assert await _code(hand_out(desk.account, visit_id=visit.id, request=HandOutRequest(delivery="email"))) == \
        "RESULT_NOT_FORMED", "the centre forms this notice first (004 п. 10)"
    draft = await world.centre.results.draft(desk.account, visit_id=visit.id)
    await world.centre.results.form(desk.account, visit_id=visit.id, signature=sign_json(
        value=draft, signer=desk.signing, at=world.clock.now()))
    elsewhere = HandOutRequest(delivery="email", email="other@example.kz")
    assert await _code(hand_out(desk.account, visit_id=visit.id, request=elsewhere)) == "IDENTITY_REQUIRED"
    half = HandOutRequest(delivery="email", email="other@example.kz", ticket_id=ticket_id)
    assert await _code(hand_out(desk.account, visit_id=visit.id, request=half)) == "IDENTITY_REQUIRED"
    assert await world.outbox() == 1, "refused: no mail queued"
    handed = await hand_out(desk.account, visit_id=visit.id, request=HandOutRequest(delivery="email"))
    assert (handed.state, handed.delivered_to, await world.outbox()) == ("HANDED_OUT", "citizen@example.kz", 2), \
        "the mail is queued in the hand-out's own transaction"


def test_a_representative_collects_only_under_a_power_of_attorney_valid_today():
    form = {"representativeIin": AGENT, "powerOfAttorney": _poa(validUntil="2026-03-01").power_of_attorney}
    visit = Visit(id="v", ticket_id="t", branch="mamlyut", operator_iin=_iin(1, 9900), service_id=CERTIFICATE,
                  district="mamlyut", regulation_id="r", applicant_iin=APPLICANT, form=form, correlation_id="c",
                  created_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    check_identity(visit, APPLICANT, today=TODAY)
    check_identity(visit, AGENT, today=dt.date(2026, 3, 1))
    for presented, code in ((AGENT, "POWER_OF_ATTORNEY_EXPIRED"), (_iin(26, 1234), "IDENTITY_MISMATCH")):
        with pytest.raises(MeshError) as refused:
            check_identity(visit, presented, today=TODAY)
        assert refused.value.code == code


def test_each_centre_step_is_measured_against_its_maximum(world: World):
    regulation = world.centre.branches.regulation(world.centre.branches.get("mamlyut"), CERTIFICATE)
    assert regulation.centre is not None
    first = regulation.centre.steps[0]
    assert first.max.minutes is not None
    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    late = (start + dt.timedelta(minutes=first.max.minutes + 1)).isoformat()
    steps = timeline(regulation, {first.start.value: start.isoformat(), first.end.value: late}, now=start)
    assert (steps[0]["overdue"], steps[0]["dueAt"]) == (
        True, (start + dt.timedelta(minutes=first.max.minutes)).isoformat())
    running = timeline(regulation, {first.start.value: start.isoformat()}, now=start)
    assert (running[0]["overdue"], running[0]["finishedAt"], running[1]["overdue"]) == (False, None, None)


# ---- logins --------------------------------------------------------------------------------------------------
async def test_operator_logins_by_password_with_lock_out_and_by_eds_with_the_operators_certificate(world: World):
    desk = world.desks["mamlyut"][0]
    logins = world.centre.logins
    codes = [await _code(logins.with_password(iin=desk.account.iin, password="wrong-Password1!")) for _ in range(6)]
    assert codes == ["PASSWORD_WRONG"] * 5 + ["ACCOUNT_LOCKED"], "the fifth wrong password locks the account"
    assert await _code(logins.with_password(iin=desk.account.iin, password=PASSWORD)) == "ACCOUNT_LOCKED"
    assert await _code(logins.with_password(iin=_iin(27, 1234), password=PASSWORD)) == "PASSWORD_WRONG", \
        "no operator: answered as a wrong password"
    challenge = await logins.challenge()
    citizen = await world.person_keys(_iin(28, 1234))
    assert await _code(logins.with_eds(challenge_id=challenge["challengeId"], signature=sign_json(
        value=challenge, signer=citizen, at=world.clock.now()))) in ("EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE")
    await world.centre.operators.unlock(desk.account.iin)
    challenge = await logins.challenge()
    login = await logins.with_eds(challenge_id=challenge["challengeId"], signature=sign_json(
        value=challenge, signer=desk.auth, at=world.clock.now()))
    assert (login.method, (await logins.operator_of(login.token)).iin) == ("eds", desk.account.iin)
    await logins.end(login.token)
    assert await _code(logins.operator_of(login.token)) == "SESSION_INVALID"
    assert await _code(logins.operator_of(None)) == "SESSION_MISSING"


# ---- the admin's applications --------------------------------------------------------------------------------
async def test_an_admin_application_is_signed_by_a_seeded_operator_and_sent_once_per_key(world: World):
    iin = _iin(29, 1234)
    form = ApplicationForm.model_validate({"serviceId": CERTIFICATE, "applicantIin": iin, "surname": "Ахметов",
                                           "name": "Ерлан", "filledAt": world.clock.now().isoformat(), **PERIOD})
    admin = world.centre.admin

    def application(**changes: Any) -> AdminApplication:
        return AdminApplication(**({"form": form, "form_signature": None, "signed_by": "operator",
                                    "district": "mamlyut", "attachments": []} | changes))

    unknown = ApplicationForm.model_validate(form.model_dump(by_alias=True, exclude_unset=True) | {
        "serviceId": "employment.nothing"})
    assert await _code(admin.send(application(form=unknown), key=None)) == "SERVICE_UNKNOWN"
    assert await _code(admin.send(application(district=None), key=None)) == "SIGNATURE_REQUIRED"
    assert await _code(admin.send(application(signed_by="applicant"), key=None)) == "SIGNATURE_REQUIRED"
    assert await _code(admin.send(application(district="atlantis"), key=None)) == "BRANCH_NOT_FOUND"
    assert await world.outbox() == 0
    by_operator = await admin.send(application(), key=None)
    async with world.sessions() as session:
        case = await session.get(TrackedCase, by_operator.case.correlation_id)
    assert (case is not None, await world.outbox()) == (True, 1)
    citizen = await world.person_keys(iin)
    signed = application(signed_by="applicant", form_signature=sign_json(
        value=form.model_dump(by_alias=True, exclude_unset=True), signer=citizen, at=world.clock.now()))
    first = await admin.send(signed, key="batch-0001")
    again = await admin.send(signed, key="batch-0001")
    assert (again.replayed, again.case.correlation_id, await world.outbox()) == (
        True, first.case.correlation_id, 2), "a repeat with its key gets the first case back, nothing sent again"
