"""The gateway's use cases, each built alone (``services/shep_gateway/usecases/``) on SQLite, the memory broker, a
real НУЦ (the unit ``pki`` fixture: its OCSP answered in process) and the mesh clock — no mesh started. Each rule that
was tested only through the whole mesh has a test here: the ingress checks in their order, the commit of a batch
(log chain, outbox, receipts, duplicates), synchronous deadlines, district lookups, redelivery and NOT_DELIVERED,
dead-lettering, retention, registry administration, broker accounts and the clock authority."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from services.shep_gateway.district_routing import StoredDelivery
from services.shep_gateway.domain import MemberDef, Parked, Refused, Retry, Routed, ServiceDef
from services.shep_gateway.handlers import Gateway
from services.shep_gateway.main import MODELS
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import DeliveryRow, LogRecord, ParkedRequest, SyncCall
from services.shep_gateway.usecases import ledger as ledger_module
from services.shep_gateway.usecases import redelivery as redelivery_module
from services.shep_gateway.usecases import registry_admin
from services.shep_gateway.usecases.broker_accounts import BrokerAccounts
from services.shep_gateway.usecases.clock_authority import ClockAuthority
from services.shep_gateway.usecases.ingress_decision import IngressDecision
from services.shep_gateway.usecases.message_log import MessageLog
from services.shep_gateway.usecases.routing import Routing
from shared.clock import MeshClock
from shared.db import Sessions, create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.contracts import DUPLICATE_MESSAGE
from shared.mesh.envelope import MessageType, parse_envelope
from shared.mesh.member import Composer
from shared.mesh.outbox import OutboxMessage, OutboxRelay
from shared.mesh.payload_crypto import NOT_ENCRYPTED, Keyring, is_encrypted, open_wire, read_wire, seal_wire
from shared.mesh.receipts import NOT_DELIVERED, RECEIPT_SERVICE
from shared.mesh.topology import (
    CLOCK_EXCHANGE,
    DEAD_QUEUE,
    GATEWAY_ID,
    H_REFUSAL_CODE,
    declare_gateway,
    declare_member,
    member_queue,
    member_sync_queue,
)
from shared.pki.signing import SignerIdentity, certificate_pem
from shared.telemetry import TRACEPARENT, trace_id_of
from tests.unit.conftest import Pki, running_pki

BIN = "040540010011"
MEMBERS = ("portal", "gbdfl", "mio.almaty")
SEED = {
    "members": [{"id": "shep", "name": "ШЭП", "kind": "gateway", "organisation": "АО «НИТ»", "bin": BIN},
                {"id": "portal", "name": "portal", "kind": "portal", "organisation": "АО «НИТ»", "bin": BIN},
                {"id": "gbdfl", "name": "ГБД ФЛ", "kind": "registry", "organisation": "АО «НИТ»", "bin": BIN},
                {"id": "mio.almaty", "name": "ИС МИО", "kind": "mio", "organisation": "АО «НИТ»", "bin": BIN,
                 "district": "almaty"},
                {"id": "test.asleep", "name": "asleep", "organisation": "АО «НИТ»", "bin": BIN, "active": False}],
    "services": [{"id": "gbdfl.person-by-iin", "title": "person", "channel": "sync", "providers": ["gbdfl"],
                  "callers": ["portal", "shep"]},
                 {"id": "test.notice", "title": "notice", "channel": "async", "providers": ["gbdfl"],
                  "callers": ["portal"], "notify": ["portal"]},
                 {"id": "test.district", "title": "by district", "channel": "async", "providers": ["mio.almaty"],
                  "routeBy": "district", "callers": ["portal"]}]}
IIN = "850701300007"
REPLIES = "portal.replies.test"


async def _system(pki, member_id: str) -> SignerIdentity:
    key = ec.generate_private_key(ec.SECP256R1())
    issued = await pki.ca.issue_system(member_id=member_id, organisation="АО «НИТ»", bin_=BIN,
                                       public_key=key.public_key())
    return SignerIdentity(key=key, certificate=issued.certificate, chain=tuple(pki.ca.chain()))


@dataclass
class Env:
    settings: GatewaySettings
    sessions: Sessions
    bus: MemoryBus
    clock: MeshClock
    book: RegistryBook
    gateway: Gateway
    own: SignerIdentity
    composers: dict[str, Composer]

    def delivery(self, sender: str, *, service_id: str, message_type: MessageType = MessageType.REQUEST,
                 data: dict[str, Any] | None = None, encrypted: bool = True, **fields: Any) -> StoredDelivery:
        """A message from ``sender`` as the ingress queue hands it over: signed, encrypted to the gateway."""
        reply_to, message_id = fields.pop("reply_to", None), fields.pop("message_id", None)
        wire = self.composers[sender].compose(service_id=service_id, message_type=message_type, data=data or {},
                                              **fields)
        if encrypted:
            wire = seal_wire(wire, recipient=self.own.certificate)
        return StoredDelivery(body=orjson.dumps(wire), message_id=message_id or wire["messageId"],
                              correlation_id=wire["correlationId"], reply_to=reply_to)

    async def through(self, *deliveries: StoredDelivery) -> list:
        """Examined and committed as one ingress batch."""
        examined = [await self.gateway.examine(d) for d in deliveries]
        await self.gateway.commit(examined)
        return examined

    def opened(self, member_id: str, delivery: Any) -> dict[str, Any]:
        """The data of what the gateway delivered to ``member_id``, opened with that member's key."""
        signer = self.composers[member_id].signer
        assert signer is not None
        return open_wire(read_wire(delivery.body), Keyring([(signer.certificate, signer.key)])).envelope.data

    async def records(self) -> list[LogRecord]:
        async with self.sessions() as session:
            return list((await session.exec(select(LogRecord).order_by(col(LogRecord.seq)))).all())

    async def taken(self, queue: str) -> list[Any]:
        """Every envelope waiting on ``queue``, opened with the recipient's key where it was encrypted."""
        found = []
        while (delivery := await self.bus.get(queue=queue)) is not None:
            await delivery.ack()
            found.append(delivery)
        return found


@pytest.fixture(scope="module")
async def pki(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pki]:
    """One НУЦ for the module (making a CA's RSA keys is most of a test's time); each test issues its own systems'
    certificates and has a database and a broker of its own."""
    async with running_pki(tmp_path_factory.mktemp("nuc") / "nuc.db") as made:
        yield made


@pytest.fixture
async def env(pki: Pki, tmp_path: Path) -> AsyncIterator[Env]:
    seed = tmp_path / "registry.yaml"
    seed.write_text(yaml.safe_dump(SEED, allow_unicode=True))
    settings = GatewaySettings(database_url=f"sqlite:///{tmp_path / 'shep.db'}", registry_file=seed,
                               delivery_attempts=2, receipt_timeout_s=60.0)
    engine = make_engine(settings.database_url)
    await create_tables(engine, models=MODELS)
    sessions = make_sessions(engine)
    bus = MemoryBus(broker=MemoryBroker())
    await bus.connect()
    await declare_gateway(bus)
    for member_id in MEMBERS:
        await declare_member(bus, member_id=member_id)
    await bus.declare_queue(name=REPLIES)
    book = RegistryBook(settings=settings, sessions=sessions, bus=bus, clock=pki.clock)
    await book.seed_registry()
    await book.load_registry()
    book.verifier = pki.verifier()
    own = await _system(pki, "shep")
    composer = Composer(member_id="shep", clock=pki.clock)
    composer.signer = own
    await book.pin_own(member_id="shep", certificate=own.certificate)
    composers = {}
    for member_id in MEMBERS:
        identity = await _system(pki, member_id)
        await book.register_certificate(member_id=member_id, pem=certificate_pem(identity.certificate))
        composers[member_id] = Composer(member_id=member_id, clock=pki.clock)
        composers[member_id].signer = identity
    relay = OutboxRelay(sessions=sessions, bus=bus, min_age=dt.timedelta(seconds=5),
                        keep_sent=dt.timedelta(seconds=60))
    gateway = Gateway(settings=settings, sessions=sessions, bus=bus, clock=pki.clock, composer=composer,
                      relay=relay, book=book, accounts_enforced=False)
    gateway.keyring = Keyring([(own.certificate, own.key)])
    yield Env(settings=settings, sessions=sessions, bus=bus, clock=pki.clock, book=book, gateway=gateway, own=own,
              composers=composers)
    gateway.cancel_timers()
    await bus.close()
    await engine.dispose()


def _refusal(item) -> str:
    assert isinstance(item.decision, Refused), item.decision
    return item.decision.refusal.code


# ---- the ingress decision, step by step -----------------------------------------------------------------------
async def test_bytes_that_are_no_envelope_are_refused_and_nobody_is_told(env: Env):
    item = await env.gateway.examine(StoredDelivery(body=b"not json", message_id="m-1"))
    assert _refusal(item).startswith("Client.")
    assert (item.checks, item.proven) == ({"envelope": "unparsable"}, False)


async def test_a_transport_id_other_than_the_envelope_s_is_refused(env: Env):
    item = await env.gateway.examine(env.delivery("portal", service_id="test.notice", message_id="other"))
    assert _refusal(item) == "Client.MessageIdMismatch"


async def test_an_unknown_or_suspended_sender_is_refused_before_its_signature_is_looked_at(env: Env):
    stranger = env.delivery("portal", service_id="test.notice")
    wire = orjson.loads(stranger.body)
    wire["sender"] = "test.nobody"
    unknown = await env.gateway.examine(StoredDelivery(body=orjson.dumps(wire), message_id=wire["messageId"]))
    wire["sender"] = "test.asleep"
    asleep = await env.gateway.examine(StoredDelivery(body=orjson.dumps(wire), message_id=wire["messageId"]))
    assert (_refusal(unknown), unknown.checks["sender"]) == ("Client.UnknownMember", "unknown")
    assert (_refusal(asleep), asleep.checks["sender"]) == ("Client.MemberSuspended", "suspended")
    assert "signature" not in unknown.checks


async def test_a_message_published_under_another_login_is_refused_when_accounts_are_on(env: Env):
    decision = IngressDecision(book=env.book, routing=Routing(book=env.book, sessions=env.sessions,
                                                              settings=env.settings),
                               clock=env.clock, policy=env.gateway.policy, bus=env.bus, accounts_enforced=True,
                               scenarios=env.gateway.scenarios)
    decision.keyring = env.gateway.keyring
    delivery = env.delivery("portal", service_id="test.notice", recipient=None)
    delivery.user_id = "gbdfl"
    item = await decision.examine(delivery)
    assert (_refusal(item), item.checks["publisher"]) == ("Client.PublisherMismatch", "gbdfl")
    delivery.user_id = "portal"
    assert isinstance((await decision.examine(delivery)).decision, Routed)


async def test_a_payload_in_clear_is_refused_and_its_dead_letter_is_encrypted_to_the_gateway(env: Env):
    [item] = await env.through(env.delivery("portal", service_id="test.notice", encrypted=False,
                                            data={"secret": "900101300123"}))
    assert _refusal(item) == NOT_ENCRYPTED
    [dead] = await env.taken(DEAD_QUEUE)
    assert is_encrypted(dead.body)
    assert b"900101300123" not in dead.body
    assert open_wire(read_wire(dead.body), env.gateway.keyring).envelope.data == {"secret": "900101300123"}


async def test_a_certificate_not_pinned_to_the_sender_is_refused(env: Env, pki):
    env.composers["portal"].signer = await _system(pki, "portal")  # certified by НУЦ, never registered
    item = await env.gateway.examine(env.delivery("portal", service_id="test.notice"))
    assert _refusal(item) == "Client.CertificateNotRegistered"
    assert item.checks["signature"]["pinned"] is False
    assert not item.proven


async def test_a_revoked_certificate_is_refused_and_an_unreachable_nuc_is_tried_again_later(env: Env, pki):
    env.book.verifier = pki.verifier()  # nothing cached from the registration
    pki.responder_up = False
    try:
        later = await env.gateway.examine(env.delivery("portal", service_id="test.notice"))
    finally:
        pki.responder_up = True
    assert isinstance(later.decision, Retry)
    assert later.decision.delay_s > 0
    serial = format(env.composers["portal"].signer.certificate.serial_number, "x")
    await pki.ca.revoke(serial=serial, reason="keyCompromise")
    env.book.verifier = pki.verifier()
    revoked = await env.gateway.examine(env.delivery("portal", service_id="test.notice"))
    assert _refusal(revoked) == "Client.CertificateRevoked"


async def test_a_payload_that_breaks_its_contract_is_refused(env: Env):
    item = await env.gateway.examine(env.delivery("portal", service_id="gbdfl.person-by-iin", data={"iin": "1"},
                                                  reply_to=REPLIES))
    assert (_refusal(item), item.checks["payload"]) == ("Client.InvalidPayload", "invalid")


async def test_routing_refuses_what_the_registry_does_not_grant(env: Env):
    denied = await env.gateway.examine(env.delivery("gbdfl", service_id="test.district"))
    no_reply_queue = await env.gateway.examine(env.delivery("portal", service_id="gbdfl.person-by-iin",
                                                            data={"iin": IIN}))
    receipt_elsewhere = await env.gateway.examine(env.delivery(
        "portal", service_id=RECEIPT_SERVICE, message_type=MessageType.NOTIFICATION, recipient="gbdfl",
        data={"messageId": str(uuid.uuid4())}))
    assert _refusal(denied) == "Client.AccessDenied"
    assert _refusal(no_reply_queue) == "Client.ReplyToRequired"
    assert _refusal(receipt_elsewhere) == "Client.InvalidReceipt"


# ---- a batch committed ---------------------------------------------------------------------------------------
async def test_a_routed_message_is_logged_delivered_sealed_and_on_delivery_until_its_receipt(env: Env):
    [item] = await env.through(env.delivery("portal", service_id="test.notice", data={"n": 1}))
    assert isinstance(item.decision, Routed)
    assert item.proven
    [record] = await env.records()
    assert (record.outcome, record.recipient, record.prev_hash) == ("ROUTED", "gbdfl", "0" * 64)
    [delivered] = await env.taken(member_queue("gbdfl"))
    assert is_encrypted(delivered.body), "encrypted again, to the recipient's key"
    async with env.sessions() as session:
        row = await session.get(DeliveryRow, item.message_id)
    assert row is not None
    assert row.state == "ON_DELIVERY"
    stranger, own = (env.delivery(sender, service_id=RECEIPT_SERVICE, message_type=MessageType.NOTIFICATION,
                                  data={"messageId": item.message_id}) for sender in ("portal", "gbdfl"))
    examined = await env.through(stranger, own)
    assert [e.checks["receipt"] for e in examined] == ["not the recipient's", "DELIVERED"]
    async with env.sessions() as session:
        row = await session.get(DeliveryRow, item.message_id)
    assert row is not None
    assert (row.state, row.body) == ("DELIVERED", b"")


async def test_a_second_copy_is_refused_as_a_duplicate_and_its_proven_sender_told(env: Env):
    delivery = env.delivery("portal", service_id="test.notice")
    first, _second = await env.through(delivery, delivery)
    assert isinstance(first.decision, Routed)
    records = await env.records()
    assert [r.outcome for r in records] == ["ROUTED", "REFUSED"]
    assert (records[1].error_code, records[1].checks["replayOf"]) == (DUPLICATE_MESSAGE, first.message_id)
    [error] = await env.taken(member_queue("portal"))
    assert env.opened("portal", error)["code"] == DUPLICATE_MESSAGE
    assert len(await env.taken(member_queue("gbdfl"))) == 1, "delivered once"


async def test_the_log_is_a_signed_chain_that_breaks_where_a_record_is_altered(env: Env):
    await env.through(*(env.delivery("portal", service_id="test.notice", data={"n": n}) for n in range(3)))
    message_log = MessageLog(sessions=env.sessions, book=env.book, own_id="shep")
    verdict = await message_log.verify_chain()
    assert verdict["ok"]
    assert verdict["checked"] == 3
    async with env.sessions() as session, session.begin():
        await session.exec(update(LogRecord).where(col(LogRecord.seq) == 2).values(recipient="portal"))
    broken = await message_log.verify_chain()
    assert not broken["ok"]
    assert broken["brokenAt"]["seq"] == 2
    with pytest.raises(MeshError) as missing:
        await message_log.log_record(message_id="no-such-message")
    assert missing.value.code == "LOG_RECORD_NOT_FOUND"


async def test_retention_purges_a_prefix_and_leaves_an_anchor_the_rest_verifies_from(env: Env):
    await env.through(env.delivery("portal", service_id="test.notice"))
    assert await env.gateway.purge_log(older_than=dt.timedelta(seconds=0)) == 1
    await env.through(env.delivery("portal", service_id="test.notice"))
    verdict = await MessageLog(sessions=env.sessions, book=env.book, own_id="shep").verify_chain()
    assert verdict["ok"]
    assert verdict["checked"] == 1
    assert verdict["anchor"]["seq"] == 1


# ---- synchronous calls ----------------------------------------------------------------------------------------
async def test_a_sync_call_timed_out_stays_in_its_callers_trace(env: Env):
    """The gateway's Server.Timeout is logged, and told to the caller, in the trace of the request it ends: a case
    whose look-up timed out is still one trace to its end (issue 19)."""
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    asked = env.delivery("portal", service_id="gbdfl.person-by-iin", data={"iin": IIN}, reply_to=REPLIES)
    asked.headers[TRACEPARENT] = traceparent
    [request] = await env.through(asked)
    await env.gateway.timeouts.fire(request.message_id)
    [told] = await env.taken(REPLIES)
    assert trace_id_of(told.headers) == "0af7651916cd43dd8448eb211c80319c"
    assert [(r.outcome, r.trace_id) for r in await env.records()] == [
        ("ROUTED", "0af7651916cd43dd8448eb211c80319c"), ("TIMEOUT", "0af7651916cd43dd8448eb211c80319c")]


async def test_a_sync_call_past_its_deadline_tells_the_caller_and_refuses_the_late_answer(env: Env):
    [request] = await env.through(env.delivery("portal", service_id="gbdfl.person-by-iin", data={"iin": IIN},
                                               reply_to=REPLIES))
    assert isinstance(request.decision, Routed)
    assert request.decision.deadline is not None
    assert len(await env.taken(member_sync_queue("gbdfl"))) == 1
    await env.gateway.timeouts.fire(request.message_id)  # what its timer does at the deadline
    async with env.sessions() as session:
        call = await session.get(SyncCall, request.message_id)
    assert call is not None
    assert call.state == "TIMED_OUT"
    [told] = await env.taken(REPLIES)
    assert env.opened("portal", told)["code"] == "Server.Timeout"
    [late] = await env.through(env.delivery(
        "gbdfl", service_id="gbdfl.person-by-iin", message_type=MessageType.RESPONSE, recipient="portal",
        in_reply_to=uuid.UUID(request.message_id), data={"found": False}))
    assert _refusal(late) == "Server.LateResponse"
    assert [r.outcome for r in await env.records()] == ["ROUTED", "TIMEOUT", "REFUSED"]


async def test_the_first_answer_in_time_goes_to_the_caller_and_a_second_is_refused(env: Env):
    [request] = await env.through(env.delivery("portal", service_id="gbdfl.person-by-iin", data={"iin": IIN},
                                               reply_to=REPLIES))
    answers = [env.delivery("gbdfl", service_id="gbdfl.person-by-iin", message_type=MessageType.RESPONSE,
                            in_reply_to=uuid.UUID(request.message_id), data={"found": False}) for _ in range(2)]
    first, second = await env.through(*answers)
    assert isinstance(first.decision, Routed)
    outcomes = {r.message_id: (r.outcome, r.error_code) for r in await env.records()}
    assert outcomes[first.message_id] == ("ROUTED", None)
    assert outcomes[second.message_id] == ("REFUSED", "Client.DuplicateResponse")
    assert len(await env.taken(REPLIES)) == 1, "the caller gets the first answer only"
    [error] = await env.taken(member_queue("gbdfl"))
    assert env.opened("gbdfl", error)["code"] == "Client.DuplicateResponse", "its sender is told, on its own queue"


# ---- district routing -----------------------------------------------------------------------------------------
async def test_a_request_naming_no_district_is_parked_and_routed_on_gbdfl_s_answer(env: Env):
    [request] = await env.through(env.delivery("portal", service_id="test.district",
                                               data={"form": {"applicantIin": IIN}}))
    assert isinstance(request.decision, Parked)
    assert request.message_id not in {r.message_id for r in await env.records()}, "logged once routed or refused"
    async with env.sessions() as session:
        parked = (await session.exec(select(ParkedRequest))).one()
    [lookup] = await env.taken(member_sync_queue("gbdfl"))
    assert lookup.message_id == parked.lookup_id
    person = {"iin": IIN, "surname": "Тестов", "name": "Тест", "birthDate": "1985-07-01", "sex": "M",
              "region": "almaty", "district": "almaty", "address": "Алматы"}
    await env.through(env.delivery("gbdfl", service_id="gbdfl.person-by-iin", message_type=MessageType.RESPONSE,
                                   recipient="shep", in_reply_to=uuid.UUID(parked.lookup_id),
                                   data={"found": True, "person": person}))
    records = await env.records()
    assert [(r.message_id, r.outcome, r.recipient) for r in records][-1] == (request.message_id, "ROUTED",
                                                                             "mio.almaty")
    assert len(await env.taken(member_queue("mio.almaty"))) == 1


# ---- redelivery, NOT_DELIVERED, dead-lettering ---------------------------------------------------------------------
async def _due_now(env: Env) -> None:
    """The receipt timeout passed (without waiting for it)."""
    async with env.sessions() as session, session.begin():
        await session.exec(update(DeliveryRow).values(next_attempt_at=0.0))


async def test_a_delivery_without_receipt_waits_for_a_member_that_is_down_then_is_not_delivered(env: Env):
    [item] = await env.through(env.delivery("portal", service_id="test.notice"))
    await env.taken(member_queue("gbdfl"))
    await _due_now(env)
    await env.gateway.redeliver_due()
    async with env.sessions() as session:
        row = await session.get(DeliveryRow, item.message_id)
    assert row is not None
    assert (row.attempts, row.waits) == (1, 1)
    assert "no consumer" in (row.waiting_for or "")
    taken: list = []

    async def hold(delivery) -> None:  # a consumer that takes it and never acknowledges through a receipt
        taken.append(delivery)
        await delivery.ack()

    await env.bus.consume(queue=member_queue("gbdfl"), handler=hold)
    await _due_now(env)
    await env.gateway.redeliver_due()
    await _due_now(env)
    await env.gateway.redeliver_due()
    async with env.sessions() as session:
        row = await session.get(DeliveryRow, item.message_id)
    assert row is not None
    assert (row.state, row.attempts) == ("NOT_DELIVERED", 2)
    assert len(taken) == 1, "delivered once more, the same bytes"
    assert [r.outcome for r in await env.records()] == ["ROUTED", "NOT_DELIVERED"]
    [dead] = await env.taken(DEAD_QUEUE)
    assert dead.headers[H_REFUSAL_CODE] == NOT_DELIVERED


async def test_deliveries_to_a_member_that_is_down_are_put_off_a_chunk_at_a_time_every_one_of_them(
        env: Env, monkeypatch: pytest.MonkeyPatch):
    """Thousands waiting for a member that is down are put off a statement per chunk, the event loop free between:
    none is left due and none is put off twice in one sweep."""
    monkeypatch.setattr(redelivery_module, "WAIT_CHUNK", 2)
    items = await env.through(*(env.delivery("portal", service_id="test.notice") for _ in range(5)))
    await _due_now(env)
    await env.gateway.redeliver_due()
    async with env.sessions() as session:
        rows = (await session.exec(select(DeliveryRow))).all()
    assert sorted(r.message_id for r in rows) == sorted(i.message_id for i in items)
    assert {(r.attempts, r.waits, r.next_attempt_at > 0.0) for r in rows} == {(1, 1, True)}


async def test_the_redelivery_sweep_searches_one_index_however_many_deliveries_wait(env: Env, tmp_path: Path):
    """Every few seconds the sweep asks when the next delivery is due, whose are due and which: with an index per
    column SQLite searched by state and read every row ON_DELIVERY (62 ms a sweep for 11,200 waiting, in the
    service's event loop — the gateway's paced p99 in ``make bench`` grew with the deliveries earlier rounds left).
    Each of its look-ups must be a search of ``ix_delivery_due`` (state, next attempt, recipient)."""
    await env.through(*(env.delivery("portal", service_id="test.notice") for _ in range(3)))
    await _due_now(env)
    statements: list[tuple[str, Any]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT") and " delivery" in statement:
            statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        await env.gateway.redeliver_due()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(statements) >= 3, statements
    with sqlite3.connect(tmp_path / "shep.db") as db:
        for statement, parameters in statements:
            plan = " / ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "SEARCH delivery USING" in plan, (statement, plan)
            assert "INDEX ix_delivery_due" in plan, (statement, plan)


async def test_a_message_that_failed_every_attempt_is_refused_logged_and_dead_lettered(env: Env):
    delivery = env.delivery("portal", service_id="test.notice")
    await env.gateway.refuse_failed(delivery, code="Server.ProcessingFailed", reason="it failed every attempt")
    [record] = await env.records()
    assert (record.outcome, record.error_code, record.checks["processing"]) == ("REFUSED", "Server.ProcessingFailed",
                                                                                 "failed")
    assert len(await env.taken(DEAD_QUEUE)) == 1
    await env.gateway.refuse_failed(delivery, code="Server.ProcessingFailed", reason="again")
    assert len(await env.records()) == 1, "logged once"


# ---- registry administration, broker accounts, the clock ------------------------------------------------------
async def test_registry_administration_refuses_a_path_and_body_that_disagree_and_changes_nothing(env: Env):
    member = MemberDef(id="test.new", name="new", organisation="org", bin=BIN)
    with pytest.raises(MeshError) as mismatch:
        await registry_admin.put_member(env.book, member_id="test.other", member=member)
    assert mismatch.value.code == "ID_MISMATCH"
    assert "test.other" not in env.book.registry.members
    service = ServiceDef(id="test.more", title="t", channel="async", providers=("test.nobody",))
    with pytest.raises(MeshError) as unknown:
        await registry_admin.put_service(env.book, service_id="test.more", service=service)
    assert unknown.value.code == "MEMBER_NOT_FOUND"
    assert "test.more" not in env.book.registry.services
    with pytest.raises(MeshError) as caller:
        registry_admin.services_for(env.book, caller="test.nobody")
    assert caller.value.code == "MEMBER_NOT_FOUND"
    assert [s.id for s in registry_admin.services_for(env.book, caller="portal")] == [
        "gbdfl.person-by-iin", "test.notice", "test.district"]
    await registry_admin.put_member(env.book, member_id="test.new", member=member)
    members = {m["id"]: m for m in await registry_admin.members_with_pins(env.book)}
    assert members["test.new"]["certificates"] == []
    assert len(members["portal"]["certificates"]) == 1


async def test_broker_accounts_are_made_for_members_only(env: Env):
    accounts = BrokerAccounts(admin=env.bus.accounts(), secret="s3cret-for-tests", book=env.book, bus=env.bus)
    for account, code in ((GATEWAY_ID, "ACCOUNT_RESERVED"), ("test.nobody", "MEMBER_NOT_FOUND")):
        with pytest.raises(MeshError) as refused:
            await accounts.login_for(account)
        assert refused.value.code == code
    login, permissions = await accounts.login_for("portal")
    assert login.user == "portal"
    assert "shep\\.ingress" in permissions.write
    assert (await accounts.login_for("portal"))[0] == login, "the same password at every call"
    with pytest.raises(MeshError) as off:
        await BrokerAccounts(admin=None, secret="x", book=env.book, bus=env.bus).login_for("portal")
    assert off.value.code == "BROKER_ACCOUNTS_OFF"


async def test_an_account_asked_for_before_the_gateway_reaches_the_broker_is_not_ready_not_an_internal_error(env: Env):
    """``make run`` starts the gateway beside the broker: НУЦ (a listener) and the members ask for their accounts
    while the gateway's connection is not up yet. Today: the declaration's BusError reached the client as a 500
    (НУЦ's log: «broker account of nuc: Internal Server Error»). A 503 GATEWAY_NOT_READY is what start-up retries;
    no account is made meanwhile."""
    broker = env.bus.accounts()
    accounts = BrokerAccounts(admin=broker, secret="s3cret-for-tests", book=env.book, bus=env.bus)
    await env.bus.close()
    for account in ("nuc", "portal"):
        with pytest.raises(MeshError) as refused:
            await accounts.login_for(account)
        assert (refused.value.code, refused.value.status) == ("GATEWAY_NOT_READY", 503)
        assert account not in broker.users
    await env.bus.connect()
    assert (await accounts.login_for("nuc"))[0].user == "nuc"


async def test_the_clock_authority_moves_the_mesh_clock_by_working_days_and_broadcasts_it(env: Env):
    clock = MeshClock()
    authority = ClockAuthority(sessions=env.sessions, bus=env.bus, clock=clock, composer=env.gateway.composer)
    heard = await env.bus.declare_queue(name="clock.listener")
    await env.bus.bind_queue(queue=heard, exchange=CLOCK_EXCHANGE)
    before = clock.local_now()
    changed = await authority.change(advance_s=None, advance_working_days=1, speed=None, reset=False)
    assert (clock.local_now() - before) >= dt.timedelta(days=1)
    assert changed.warnings == []
    [broadcast] = await env.taken("clock.listener")
    assert parse_envelope(broadcast.body).envelope.data["version"] == changed.state.version
    restarted = MeshClock()
    await ClockAuthority(sessions=env.sessions, bus=env.bus, clock=restarted, composer=env.gateway.composer).load()
    assert restarted.state == changed.state


# ---- recording what was published ------------------------------------------------------------------------------
async def _unsent(env: Env) -> int:
    async with env.sessions() as session:
        return len((await session.exec(select(OutboxMessage.id).where(col(OutboxMessage.sent_at).is_(None)))).all())


async def test_what_a_batch_published_is_recorded_by_the_next_batch_not_by_a_transaction_of_its_own(
        env: Env, monkeypatch: pytest.MonkeyPatch):
    """Before: every batch that emptied the inbox paid a second write transaction to record its publishing — at a
    steady trickle, two transactions a message."""
    monkeypatch.setattr(ledger_module, "RECORD_IDLE_S", 3600.0)  # no quiet moment comes during the test
    await env.through(env.delivery("portal", service_id="test.notice", data={"n": 1}))
    first = await _unsent(env)
    assert first > 0, "published, not yet recorded: no transaction was spent on it"
    await env.through(env.delivery("portal", service_id="test.notice", data={"n": 2}))
    assert await _unsent(env) == first, "the second batch recorded the first's rows and left its own"
    await env.gateway.ledger.stop()
    assert await _unsent(env) == 0, "on stop, everything published is recorded"


async def test_a_record_of_publishing_in_a_transaction_rolled_back_is_kept_for_the_next(
        env: Env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ledger_module, "RECORD_IDLE_S", 3600.0)
    await env.through(env.delivery("portal", service_id="test.notice", data={"n": 1}))
    ledger = env.gateway.ledger

    async def failing_batch() -> None:
        async with env.sessions() as session, session.begin():
            await ledger._mark_published(session)
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    assert await _unsent(env) > 0
    await ledger.stop()
    assert await _unsent(env) == 0, "the rolled-back record was not forgotten"
