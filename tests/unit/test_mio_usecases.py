"""ИС МИО's use cases built alone — no mesh, no broker process: a SQLite file, the memory bus, a real НУЦ
(made once for the file) for the district member's and the gateway's system certificates, and a clock that does
not move. Each rule that used to be reachable only through the whole mesh is held here in milliseconds: who may do
which action (``roles``), opening an application and what it tells whom (``opening``), each staff action through
``StepActions`` (accept, assign, issue), the decision's guards, the modes and simulated staff's schedule, the
register's keepers, the inbox, and the registries' facts."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import select

from services.mio_workstation.domain import Circumstances, Status
from services.mio_workstation.main import MODELS
from services.mio_workstation.store import Application, LabourCard, StaffAccount, StepRecord
from services.mio_workstation.usecases.act import StepActions
from services.mio_workstation.usecases.actions import ActionBody, ActionRequest, Facilities
from services.mio_workstation.usecases.actions.decide import staff_decision
from services.mio_workstation.usecases.automatic import SimulatedStaff
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.modes import Modes
from services.mio_workstation.usecases.opening import NewApplication, Opening
from services.mio_workstation.usecases.reads import Reads
from services.mio_workstation.usecases.receiving import Receiving, channel_of
from services.mio_workstation.usecases.register import LabourRegister
from services.mio_workstation.usecases.registries import Registries, circumstances_of
from services.mio_workstation.usecases.roles import check_named_signer, check_register_keeper, same_district
from services.mio_workstation.usecases.staff_directory import StaffDirectory
from services.mio_workstation.usecases.steps import Steps
from services.nuc_pki.handlers import CertificateAuthority
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial, IssuedCertificate
from shared.clock import MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.errors import MeshError
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.contracts import ApplicationRequest
from shared.mesh.inbox import InboxMessage
from shared.mesh.member import MemberRuntime
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.payload_crypto import Keyring, open_wire, read_wire
from shared.pki.cert_check import CertificateVerifier, TrustStore
from shared.pki.ocsp_client import OcspClient
from shared.pki.signing import SignerIdentity
from shared.working_calendar import WorkingCalendar

BOOK = RegulationBook.load(REGULATIONS_DIR)
OFFICE = BOOK.all["kyzylorda.job-seeker-registration.office"]  # clerk → head (assign) → executor → head → clerk
PORTAL = BOOK.all["kyzylorda.job-seeker-registration.portal"]
NOON = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 12:00 in Kazakhstan
BIN = "040540010011"
APPLICANT = "900101300126"


@dataclass
class Mio:
    """The use cases over one district member, ``mio.kyzylorda``, as ``wiring.assemble`` fits them together."""

    sessions: Sessions
    clock: MeshClock
    districts: Districts
    staff: StaffDirectory
    register: LabourRegister
    reads: Reads
    opening: Opening
    actions: StepActions
    modes: Modes
    simulated: SimulatedStaff
    gateway: Keyring  # opens what the member sends to the gateway

    async def add_staff(self, role: str, *, district: str = "kyzylorda", iin: str | None = None) -> StaffAccount:
        account = StaffAccount(iin=iin or f"8001{len(self.staff.organisations)}{uuid.uuid4().int % 10**7:07d}",
                               district=district, role=role, surname="Ахметов", name="Ерлан", password_hash="-",
                               demo_password=None, signing_p12=b"-", auth_p12=b"-", p12_password="-")
        async with self.sessions() as session, session.begin():
            session.add(account)
        return account

    async def open(self, regulation=OFFICE, *, refusal: str | None = None, form: dict[str, Any] | None = None,
                   origin: str | None = None) -> str:
        new = NewApplication(
            district="kyzylorda", regulation=regulation, service_id=regulation.service, channel=regulation.channel,
            form=form or _form(regulation.service), signature="-", signed_by="applicant", origin=origin,
            correlation_id=str(uuid.uuid4()), request_message_id=None, refusal=refusal, copies=[])
        async with self.sessions() as session, session.begin():
            return await self.opening.open(session, new)

    async def sent(self) -> list[tuple[str | None, dict[str, Any]]]:
        """What the member queued for the gateway, opened: (recipient, data), in order."""
        async with self.sessions() as session:
            rows = (await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        opened = [open_wire(read_wire(row.body), self.gateway).envelope for row in rows]
        return [(env.recipient, env.data) for env in opened]

    async def step(self, number: str) -> StepRecord:
        async with self.sessions() as session:
            return (await session.exec(select(StepRecord).where(StepRecord.application_number == number,
                                                                StepRecord.finished_at == None))).one()  # noqa: E711


def _form(service: str, **extra: Any) -> dict[str, Any]:
    return {"serviceId": service, "applicantIin": APPLICANT, "surname": "Ахметов", "name": "Ерлан",
            "filledAt": "2026-03-02T07:00:00+00:00"} | extra


async def _system(ca: CertificateAuthority, member_id: str) -> SignerIdentity:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = await ca.issue_system(member_id=member_id, organisation="АО «НИТ»", bin_=BIN,
                                   public_key=key.public_key())
    return SignerIdentity(key=key, certificate=issued.certificate, chain=tuple(ca.chain()))


@dataclass(frozen=True)
class Certified:
    member: SignerIdentity
    gateway: SignerIdentity
    verifier: CertificateVerifier


@pytest.fixture(scope="module")
async def certified(tmp_path_factory: pytest.TempPathFactory):
    """A real НУЦ made once for the file (its keys take seconds): the district member's and the gateway's system
    certificates, and a verifier that trusts it (OCSP is never asked: nothing here checks a signature's status)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('nuc') / 'nuc.db'}")
    await create_tables(engine, models=[CaMaterial, IssuedCertificate])
    clock = MeshClock()
    ca = CertificateAuthority(sessions=make_sessions(engine), clock=clock,
                              settings=NucSettings(database_url="sqlite://", public_url="http://nuc.test"))
    await ca.load_or_create()
    async with httpx.AsyncClient() as http:
        yield Certified(member=await _system(ca, "mio.kyzylorda"), gateway=await _system(ca, "shep"),
                        verifier=CertificateVerifier(trust=TrustStore.from_certificates(ca.chain()), clock=clock,
                                                     ocsp=OcspClient(url="http://nuc.test/ocsp", http=http,
                                                                     clock=clock, max_age_s=60)))
    await engine.dispose()


@pytest.fixture
async def mio(certified: Certified, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mio.db'}")
    await create_tables(engine, models=[*MODELS, OutboxMessage, InboxMessage])
    sessions, bus = make_sessions(engine), MemoryBus(broker=MemoryBroker())
    clock = MeshClock(real_time=lambda: NOON)  # stands still: every time in a test is this one
    runtime = MemberRuntime(member_id="mio.kyzylorda", bus=bus, sessions=sessions, clock=clock,
                            relay=OutboxRelay(sessions=sessions, bus=bus))
    gateway = certified.gateway
    runtime.attach(signer=certified.member, verifier=certified.verifier, gateway_certificate=gateway.certificate)
    districts = Districts({"mio.kyzylorda": runtime})
    staff = StaffDirectory(sessions=sessions)
    staff.organisations["kyzylorda"] = {"name": "ГУ «Отдел занятости» (симулятор)", "bin": BIN}
    register = LabourRegister(sessions=sessions, clock=clock, keepers=BOOK.register_keepers)
    calendar = WorkingCalendar()
    steps = Steps(clock=clock, calendar=calendar, districts=districts)
    actions = StepActions(sessions=sessions, book=BOOK, steps=steps, districts=districts, register=register,
                          facilities=Facilities(staff=staff, register=register, districts=districts,
                                                registries=Registries(districts=districts, register=register)))
    yield Mio(sessions=sessions, clock=clock, districts=districts, staff=staff, register=register,
              reads=Reads(sessions=sessions, clock=clock),
              opening=Opening(clock=clock, calendar=calendar, districts=districts, steps=steps,
                              default_mode="manual", default_share=0.5),
              actions=actions,
              modes=Modes(sessions=sessions, book=BOOK, districts=districts, default_mode="manual",
                          default_share=0.5),
              simulated=SimulatedStaff(sessions=sessions, clock=clock, book=BOOK, actions=actions),
              gateway=Keyring([(gateway.certificate, gateway.key)]))
    await bus.close()
    await engine.dispose()


def _code(excinfo: pytest.ExceptionInfo[MeshError]) -> str:
    return excinfo.value.code


# ---- opening an application -------------------------------------------------------------------------------------
async def test_an_application_opens_numbered_with_its_first_step_and_tells_received_to_who_follows_it(mio: Mio):
    number = await mio.open(PORTAL, origin="portal")
    view = await mio.reads.application(number)
    assert number == "KZO-2026-000001"
    assert (view.app.status, view.app.mode) == (Status.RECEIVED, "manual")
    assert [(r.step_id, r.role, r.auto_at) for r in view.timeline] == [("register", "clerk", None)]
    sent = await mio.sent()
    assert [recipient for recipient, _ in sent] == ["portal"]  # the origin and the portal are one here
    assert sent[0][1]["statusText"] == "Поступившие"
    assert await mio.open(PORTAL) == "KZO-2026-000002"


async def test_an_application_refused_at_intake_is_not_accepted_with_the_reason_and_has_no_step(mio: Mio):
    number = await mio.open(refusal="Форма заявления составлена для другой услуги")
    view = await mio.reads.application(number)
    assert (view.app.status, view.app.reason, view.timeline) == (
        Status.NOT_ACCEPTED, "Форма заявления составлена для другой услуги", [])
    (_, notice), = await mio.sent()
    assert (notice["status"], notice["reason"]) == ("NOT_ACCEPTED", "Форма заявления составлена для другой услуги")


def test_what_is_wrong_with_an_application_whatever_its_eds():
    request = ApplicationRequest.model_validate({"form": _form(PORTAL.service), "formSignature": "-",
                                                 "signedBy": "operator"})
    assert channel_of("portal") == "portal"
    assert channel_of("con") == "con"
    assert channel_of("mail") == "office"
    assert (channel_of("portal.my-soap"), channel_of("con.replica")) == ("portal", "con")  # stand-ins (docs/soap.md)
    assert channel_of("portalx") == "office"
    assert "через канал «office»" in Receiving._form_refusal(None, channel="office", service_id=PORTAL.service,
                                                              form=_form(PORTAL.service), request=request)
    assert "составлена для другой услуги" in Receiving._form_refusal(
        PORTAL, channel="portal", service_id="employment.unemployed-registration", form=_form(PORTAL.service),
        request=request)
    assert "а не operator" in Receiving._form_refusal(PORTAL, channel="portal", service_id=PORTAL.service,
                                                       form=_form(PORTAL.service), request=request)


# ---- staff actions ----------------------------------------------------------------------------------------------
async def test_the_clerk_accepts_and_the_head_s_step_starts_another_role_and_district_are_refused(mio: Mio):
    number = await mio.open()
    clerk, head = await mio.add_staff("clerk"), await mio.add_staff("head")
    stranger = await mio.add_staff("clerk", district="zhezkazgan")
    with pytest.raises(MeshError) as wrong:
        await mio.actions.act(number=number, action="accept", actor=head, body=ActionBody())
    with pytest.raises(MeshError) as elsewhere:
        await mio.actions.act(number=number, action="accept", actor=stranger, body=ActionBody())
    with pytest.raises(MeshError) as early:
        await mio.actions.act(number=number, action="assign", actor=head, body=ActionBody())
    assert (_code(wrong), _code(elsewhere), _code(early)) == ("WRONG_ROLE", "NOT_YOUR_DISTRICT", "ACTION_NOT_DUE")
    app = await mio.actions.act(number=number, action="accept", actor=clerk, body=ActionBody())
    assert app.status == Status.RECEIVED
    assert (await mio.step(number)).role == "head"
    with pytest.raises(MeshError) as again:
        await mio.actions.act(number=number, action="accept", actor=clerk, body=ActionBody())
    assert _code(again) == "STEP_ALREADY_DONE"
    assert again.value.details == {"due": "assign", "role": "head"}


async def test_refusing_acceptance_needs_a_reason_and_a_regulation_that_allows_it(mio: Mio):
    clerk = await mio.add_staff("clerk")
    office, portal = await mio.open(OFFICE), await mio.open(PORTAL)
    with pytest.raises(MeshError) as no_reason:
        await mio.actions.act(number=office, action="accept", actor=clerk, body=ActionBody(accept=False))
    with pytest.raises(MeshError) as not_allowed:
        await mio.actions.act(number=portal, action="accept", actor=clerk, body=ActionBody(accept=False, reason="x"))
    assert (_code(no_reason), _code(not_allowed)) == ("REASON_REQUIRED", "REFUSAL_NOT_PROVIDED")
    app = await mio.actions.act(number=office, action="accept", actor=clerk,
                                body=ActionBody(accept=False, reason="Неполный пакет документов"))
    assert (app.status, app.reason) == (Status.NOT_ACCEPTED, "Неполный пакет документов")
    notices = [data for _, data in await mio.sent() if data["applicationNumber"] == office]
    assert [n["status"] for n in notices] == ["RECEIVED", "NOT_ACCEPTED"]


async def test_the_head_assigns_an_executor_of_the_district_and_the_decision_is_theirs_alone(mio: Mio):
    number = await mio.open()
    clerk, head = await mio.add_staff("clerk"), await mio.add_staff("head")
    executor, other = await mio.add_staff("executor"), await mio.add_staff("executor")
    foreign = await mio.add_staff("executor", district="zhezkazgan")
    await mio.actions.act(number=number, action="accept", actor=clerk, body=ActionBody())
    for named, code in ((foreign.iin, "EXECUTOR_NOT_IN_DISTRICT"), ("000000000000", "EXECUTOR_NOT_IN_DISTRICT"),
                        (clerk.iin, "NOT_AN_EXECUTOR")):
        with pytest.raises(MeshError) as refused:
            await mio.actions.act(number=number, action="assign", actor=head,
                                  body=ActionBody(executor_iin=named))
        assert _code(refused) == code
    app = await mio.actions.act(number=number, action="assign", actor=head,
                                body=ActionBody(executor_iin=executor.iin))
    assert app.executor_iin == executor.iin
    assert app.status == Status.IN_PROGRESS  # the deciding step started: «В работе», told
    assert [d["statusText"] for _, d in await mio.sent()][-1] == "В работе"
    with pytest.raises(MeshError) as not_theirs:
        await mio.actions.act(number=number, action="decide", actor=other, body=ActionBody(decision="approve"))
    with pytest.raises(MeshError) as undecided:
        await mio.actions.act(number=number, action="decide", actor=executor, body=ActionBody())
    with pytest.raises(MeshError) as unreasoned:
        await mio.actions.act(number=number, action="decide", actor=executor, body=ActionBody(decision="refuse"))
    assert (_code(not_theirs), _code(undecided), _code(unreasoned)) == (
        "NOT_THE_ASSIGNED_EXECUTOR", "DECISION_REQUIRED", "REASON_REQUIRED")


def test_staff_cannot_approve_what_the_registries_contradict():
    facts = Circumstances(age=30, alive=True, employed=False, full_time_student=False, pensioner=False,
                          job_seeker_card=False, unemployed_card=False, has_representative=False)
    card_needed = OFFICE.model_copy(update={"requires": "job_seeker_card"})

    def request(decision: str, regulation=OFFICE) -> ActionRequest:
        return ActionRequest(app=Application(number="KZO-2026-000001"), regulation=regulation,
                             step=regulation.steps[2], actor=None, body=ActionBody(decision=decision, reason="r"),
                             at=dt.datetime.now(dt.UTC))

    with pytest.raises(MeshError) as misnamed:
        staff_decision(request("approve"), Circumstances(**{**facts.__dict__, "identity": "не тот"}))
    with pytest.raises(MeshError) as no_card:
        staff_decision(request("approve", card_needed), facts)
    assert (_code(misnamed), _code(no_card)) == ("APPLICANT_NOT_CONFIRMED", "CARD_REQUIRED")
    assert staff_decision(request("refuse", card_needed), facts) == (False, "r")  # a refusal needs no card
    assert staff_decision(request("approve"), facts) == (True, "r")


async def _at_issue(mio: Mio, regulation, *, form: dict[str, Any], origin: str | None = None) -> str:
    """An application decided (approved) and signed, its issue step open: as the earlier actions leave it."""
    number = await mio.open(regulation, form=form, origin=origin)
    async with mio.sessions() as session, session.begin():
        app = await session.get(Application, number)
        record = (await session.exec(select(StepRecord).where(StepRecord.application_number == number))).one()
        app.decision, app.draft, app.document_signature = "approve", {"documentNumber": "KZO-D-2026-000001"}, "MII="
        last = len(regulation.steps) - 1
        step = regulation.steps[last]
        record.position, record.step_id, record.role = last, step.id, step.role
        record.done = [a.value for a in step.does if a != "issue"]  # a step that signs and sends: signed
        session.add_all([app, record])
    return number


async def test_the_clerk_issues_by_e_mail_once_the_result_is_signed_and_the_register_is_written(mio: Mio):
    clerk = await mio.add_staff("clerk")
    number = await _at_issue(mio, OFFICE, form=_form(OFFICE.service, email="a@example.kz"))
    with pytest.raises(MeshError) as without:
        await mio.actions.act(number=number, action="issue", actor=clerk, body=ActionBody(email="a@example.kz"))
    with pytest.raises(MeshError) as bad:
        await mio.actions.act(number=number, action="issue", actor=clerk,
                              body=ActionBody(delivery="email", email="not-an-address"))
    assert (_code(without), _code(bad)) == ("EMAIL_WITHOUT_DELIVERY", "EMAIL_INVALID")
    app = await mio.actions.act(number=number, action="issue", actor=clerk, body=ActionBody(delivery="email"))
    assert (app.status, app.delivery, app.delivered_to) == (Status.COMPLETED, "email", "a@example.kz")
    mail, notice = [data for _, data in await mio.sent()][-2:]  # the e-mail with the issue, then «Исполнено»
    assert (mail["kind"], mail["to"], notice["status"]) == ("email", "a@example.kz", "COMPLETED")
    (card, history), = await mio.register.cards(district="kyzylorda", iin=APPLICANT)
    assert (card.kind, [e.kind for e in history]) == ("job_seeker", ["opened"])
    assert history[0].detail["documentNumber"] == "KZO-D-2026-000001"


async def test_a_portal_application_is_handed_out_on_the_portal_not_by_the_mio(mio: Mio):
    number = await _at_issue(mio, PORTAL, form=_form(PORTAL.service), origin="portal")
    head = await mio.add_staff("head")  # the portal file's last step is the head's: sign and send
    with pytest.raises(MeshError) as refused:
        await mio.actions.act(number=number, action="issue", actor=head, body=ActionBody(delivery="in_person"))
    assert _code(refused) == "DELIVERY_NOT_OFFICE"
    app = await mio.actions.act(number=number, action="issue", actor=head, body=ActionBody())
    assert (app.status, app.delivery) == (Status.COMPLETED, None)


# ---- modes and simulated staff ----------------------------------------------------------------------------------
async def test_auto_mode_schedules_the_open_step_and_simulated_staff_find_it_due_at_its_share(mio: Mio):
    number = await mio.open()
    assert await mio.simulated.due() == ([], None)  # manual: nobody's schedule
    await mio.modes.set_application(number=number, mode="auto", share=0.5)
    record = await mio.step(number)
    assert record.auto_at == record.started_at + (record.due_at - record.started_at) * 0.5
    assert await mio.simulated.due() == ([], record.auto_at)
    with pytest.raises(MeshError) as missing:
        await mio.modes.set_application(number="KZO-2026-999999", mode="auto", share=None)
    with pytest.raises(MeshError) as unknown:
        await mio.modes.set_district(district="atlantis", mode="auto", share=None)
    assert (_code(missing), _code(unknown)) == ("APPLICATION_NOT_FOUND", "DISTRICT_UNKNOWN")


# ---- the register, the reads, the registries' facts ---------------------------------------------------------------
async def test_only_the_register_s_keepers_of_the_card_s_district_close_a_card_once(mio: Mio):
    card = await mio.register.open_directly(district="kyzylorda", iin=APPLICANT, kind="job_seeker")
    clerk, executor = await mio.add_staff("clerk"), await mio.add_staff("executor")
    foreign = await mio.add_staff("executor", district="zhezkazgan")
    with pytest.raises(MeshError) as not_keeper:
        await mio.register.close(card_id=card.id, reason="трудоустроен", actor=clerk)
    with pytest.raises(MeshError) as elsewhere:
        await mio.register.close(card_id=card.id, reason="трудоустроен", actor=foreign)
    assert (_code(not_keeper), not_keeper.value.details) == ("NOT_THE_REGISTER_KEEPER", {"roles": ["executor"]})
    assert _code(elsewhere) == "NOT_YOUR_DISTRICT"
    closed = await mio.register.close(card_id=card.id, reason="трудоустроен", actor=executor)
    assert (closed.status, closed.close_reason) == ("closed", "трудоустроен")
    with pytest.raises(MeshError) as twice:
        await mio.register.close(card_id=card.id, reason="ещё раз", actor=executor)
    assert _code(twice) == "CARD_CLOSED"
    with pytest.raises(MeshError) as keeperless:
        check_register_keeper(actor=clerk, card=LabourCard(id="c", district="kyzylorda", iin=APPLICANT,
                                                           kind="job_seeker", opened_at=closed.opened_at),
                              keepers=[])
    assert "close no card" in keeperless.value.message


async def test_the_inbox_filters_by_status_and_done(mio: Mio):
    received = await mio.open()
    refused = await mio.open(refusal="нет")
    by = {status: [a.number for a in (await mio.reads.inbox(district="kyzylorda", status=status))[0]]
          for status in (None, "RECEIVED", "DONE", "NOT_ACCEPTED", "OVERDUE")}
    assert by == {None: [received, refused], "RECEIVED": [received], "DONE": [refused], "NOT_ACCEPTED": [refused],
                  "OVERDUE": []}


def test_who_reads_and_signs():
    clerk = StaffAccount(iin="800101300001", district="kyzylorda", role="clerk", surname="А", name="Б",
                         password_hash="-", signing_p12=b"-", auth_p12=b"-", p12_password="-")
    same_district(None, "almaty")  # the admin reads everything
    same_district(clerk, "kyzylorda")
    with pytest.raises(MeshError) as elsewhere:
        same_district(clerk, "almaty")
    app = Application(number="KZO-2026-000001", draft={"signer": {"iin": "800101300002"}})
    check_named_signer(app=app, actor=None)  # simulated staff sign as the named official
    with pytest.raises(MeshError) as not_named:
        check_named_signer(app=app, actor=clerk)
    assert (_code(elsewhere), _code(not_named)) == ("NOT_YOUR_DISTRICT", "NOT_THE_NAMED_SIGNER")


def test_the_registries_answers_become_the_executor_s_facts():
    app = Application(number="KZO-2026-000001", applicant_iin=APPLICANT, form=_form(OFFICE.service),
                      received_at=dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC))
    person = {"found": True, "person": {"iin": APPLICANT, "surname": "Ахметов", "name": "Ерлан",
                                        "birthDate": "2010-03-03", "alive": True}}
    status = {"found": True, "employment": {"employed": True}, "pension": {"pensioner": False}}
    facts = circumstances_of(app, person=person, status=status, card=None, on=dt.date(2026, 3, 2))
    assert (facts.age, facts.employed, facts.identity, facts.job_seeker_card) == (15, True, None, False)
    assert facts.named is not None
    assert facts.named.full_name == "Ахметов Ерлан"
    nobody = circumstances_of(app, person={"found": False}, status={"found": False}, card=None,
                              on=dt.date(2026, 3, 2))
    assert (nobody.alive, nobody.named, nobody.identity is not None) == (False, None, True)
