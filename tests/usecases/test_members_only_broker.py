"""A broker only members use (issue 17, item 5), in process: the in-memory broker holds its administrator to
nothing less than RabbitMQ does — a connection without a login may bind a queue to any exchange and read any
queue — so what the administrator can see and take is shown here; tests/e2e/test_members_only_broker.py shows it
again on RabbitMQ with the administrator's login.

- Capturing every delivery (a queue of its own bound to the gateway's exchanges) and the dead letters, the
  administrator reads no IIN, no name and no document: only the residue — ids, service, sender and recipient,
  route, message type and date, the gateway's seal.
- A delivery taken from a member's queue by a competing consumer is noticed (no receipt), delivered again, and
  the case completes; one that is taken every time ends NOT_DELIVERED — logged, dead-lettered, the case FAILED.

The mesh here is a private one whose gateway waits 0.5 s for a receipt and gives up after 3 attempts.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from meshkit.load import Person
from shared.mesh.bus import Delivery, OutgoingMessage
from shared.mesh.bus_memory import MemoryBus
from shared.mesh.envelope import MessageType
from shared.mesh.member import outgoing
from shared.mesh.payload_crypto import NOT_ENCRYPTED, is_encrypted
from shared.mesh.receipts import NOT_DELIVERED
from shared.mesh.topology import (
    DEAD_QUEUE,
    DELIVERY_EXCHANGE,
    INGRESS_EXCHANGE,
    RETRY_TIERS_S,
    SYNC_INGRESS_KEY,
    member_queue,
    retry_queue,
    sync_routing_key,
)
from tests.support.inprocess import InProcessMesh, start_inprocess_mesh, until
from tests.support.members import member_factory_for
from tests.usecases.helpers import apply, final_case, final_cases

RECEIPT_TIMEOUT_S, ATTEMPTS = 0.5, 3
DISTRICT = "kyzylorda"


@pytest.fixture(scope="module")
async def inproc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("members-only"), overrides={
        "shep_gateway": {"receipt_timeout_s": RECEIPT_TIMEOUT_S, "delivery_attempts": ATTEMPTS}})
    await mesh.set_mode(DISTRICT, share=0.00001)
    yield mesh
    await mesh.close()


class Spy:
    """The broker's administrator at work: a queue of its own bound to every route of the gateway's exchanges."""

    def __init__(self, mesh: InProcessMesh) -> None:
        self.bus = MemoryBus(broker=mesh.broker)  # no login: the administrator
        self.captured: list[Delivery] = []

    async def start(self, members: list[str]) -> None:
        await self.bus.connect()
        queue = await self.bus.declare_queue(name="spy", exclusive=True, auto_delete=True, durable=False)
        for lane in ("", SYNC_INGRESS_KEY):
            await self.bus.bind_queue(queue=queue, exchange=INGRESS_EXCHANGE, routing_key=lane)
        for member in members:
            await self.bus.bind_queue(queue=queue, exchange=DELIVERY_EXCHANGE, routing_key=member)
            await self.bus.bind_queue(queue=queue, exchange=DELIVERY_EXCHANGE, routing_key=sync_routing_key(member))

        async def keep(delivery: Delivery) -> None:
            self.captured.append(delivery)
            await delivery.ack()

        await self.bus.consume(queue=queue, handler=keep)

    async def dead_letters(self) -> list[Delivery]:
        taken = []
        while (delivery := await self.bus.get(queue=DEAD_QUEUE)) is not None:
            taken.append(delivery)
            await delivery.ack()
        return taken


def _everything(deliveries: list[Delivery]) -> bytes:
    """Every byte the administrator got: bodies and headers."""
    return b"\n".join(d.body + orjson.dumps(d.headers, default=str) for d in deliveries)


def _personal(person: Person, request: dict[str, Any]) -> dict[str, bytes]:
    copy = base64.b64decode(request["attachments"][0]["contentBase64"])
    return {"IIN": person.iin.encode(), "surname": person.surname.encode(), "name": person.name.encode(),
            "document (base64)": request["attachments"][0]["contentBase64"][:64].encode(),
            "document (bytes)": copy[:64]}


async def _members(mesh: InProcessMesh) -> list[str]:
    async with mesh.client("shep_gateway") as gateway:
        return [m["id"] for m in (await gateway.get("/members")).json()["members"]]


async def test_a_broker_administrator_capturing_deliveries_and_dead_letters_reads_no_iin_name_or_document(
        inproc: InProcessMesh, tmp_path):
    await inproc.dead_letters()  # start from an empty dead-letter queue
    spy = Spy(inproc)
    await spy.start(await _members(inproc))
    person = await inproc.person(district=DISTRICT)
    token = await inproc.citizen_session(person)
    request = person.request("employment.job-seeker-registration")
    async with inproc.client("portal") as portal:
        sent = (await portal.post(f"/citizens/{person.iin}/applications", json=request,
                                  headers={"Authorization": f"Bearer {token}"})).json()
    assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"

    async with member_factory_for(inproc, db_dir=tmp_path) as make:  # two refusals that reach the dead letters
        member = await make("leaky")
        refused = await member.send(service_id="test.no-such-service", message_type=MessageType.REQUEST,
                                    data={"iin": person.iin, "name": person.name}, correlation_id=sent["correlationId"])
        plain = member.runtime.composer.compose(service_id="test.no-such-service", message_type=MessageType.REQUEST,
                                                data={"iin": person.iin, "surname": person.surname})
        await member.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=outgoing(plain))
        dead: list[Delivery] = []
        for _ in range(300):  # both refused: their dead letters come with the log records
            dead += await spy.dead_letters()
            if {refused["messageId"], plain["messageId"]} <= {d.message_id for d in dead}:
                break
            await asyncio.sleep(0.05)
    codes = {d.message_id: d.headers["x-refusal-code"] for d in dead}
    assert codes[refused["messageId"]] == "Client.UnknownService"
    assert codes[plain["messageId"]] == NOT_ENCRYPTED

    # The one envelope the test itself sent in clear crossed the ingress readable (that is why it was refused);
    # everything else the administrator captured, and every dead letter, including that one's, is looked through.
    seen = _everything([d for d in spy.captured if d.message_id != plain["messageId"]]) + _everything(dead)
    case = [d for d in spy.captured if d.correlation_id == sent["correlationId"]]
    assert {d.exchange for d in case} == {INGRESS_EXCHANGE, DELIVERY_EXCHANGE}, "both hops were captured"
    assert any(d.routing_key == SYNC_INGRESS_KEY for d in case), "ИС МИО's ГБД ФЛ calls, on the fast lane, too"
    leaked = [what for what, value in _personal(person, request).items() if value in seen]
    assert leaked == [], f"the broker's administrator read the applicant's {leaked}"
    # What it does see: the header of each envelope and the gateway's seal.
    application = orjson.loads(next(d.body for d in case if d.exchange == DELIVERY_EXCHANGE
                                    and d.routing_key == f"mio.{DISTRICT}"))
    assert "encrypted" in application
    assert set(application) <= {"messageId", "correlationId", "serviceId", "messageType", "messageDate", "sender",
                                "recipient", "routeId", "inReplyTo", "encrypted"}, "no data, no signature"
    assert application["sender"] == "portal"


async def _thief(mesh: InProcessMesh, queue: str, stolen: list[str]) -> Any:
    """A competing consumer on a member's queue under the administrator's login: it takes and acknowledges."""
    bus = MemoryBus(broker=mesh.broker)
    await bus.connect()

    async def take(delivery: Delivery) -> None:
        stolen.append(delivery.message_id or "")
        await delivery.ack()

    return bus, await bus.consume(queue=queue, handler=take, prefetch=1)


async def _deliveries(mesh: InProcessMesh, correlation_id: str) -> list[dict[str, Any]]:
    async with mesh.client("shep_gateway") as gateway:
        return (await gateway.get("/deliveries", params={"correlationId": correlation_id})).json()["deliveries"]


async def test_deliveries_stolen_by_a_competing_consumer_are_delivered_again_and_every_case_completes(
        inproc: InProcessMesh):
    people = await asyncio.gather(*(inproc.person(district=DISTRICT) for _ in range(4)))
    tokens = await asyncio.gather(*(inproc.citizen_session(p) for p in people))
    stolen: list[str] = []
    bus, thief = await _thief(inproc, member_queue(f"mio.{DISTRICT}"), stolen)
    try:
        sent = await asyncio.gather(*(apply(inproc, p, t) for p, t in zip(people, tokens, strict=True)))
        await until(lambda: bool(stolen), what="the thief to take a delivery")
    finally:
        await thief.cancel()
        await bus.close()
    finals = await final_cases(inproc, [s["correlationId"] for s in sent], timeout_s=60)
    assert {c["status"] for c in finals.values()} == {"COMPLETED"}, finals
    redelivered = [d for s in sent for d in await _deliveries(inproc, s["correlationId"])
                   if d["messageId"] in stolen]
    assert redelivered, "what the thief took was the gateway's delivery"
    assert all(d["state"] == "DELIVERED" and d["attempts"] >= 2 for d in redelivered), redelivered


async def test_a_delivery_taken_every_time_ends_not_delivered_logged_dead_lettered_and_the_case_failed(
        inproc: InProcessMesh):
    await inproc.dead_letters()
    person = await inproc.person(district=DISTRICT)
    token = await inproc.citizen_session(person)
    stolen: list[str] = []
    await inproc.stop("mio_workstation")  # the thief is the only consumer left on the district's queue
    bus, thief = await _thief(inproc, member_queue(f"mio.{DISTRICT}"), stolen)
    try:
        sent = await apply(inproc, person, token)
        failed = await final_case(inproc, person, token, sent["correlationId"], timeout_s=30)
    finally:
        await thief.cancel()
        await bus.close()
        await inproc.start("mio_workstation")
    assert (failed["status"], failed["refusalCode"]) == ("FAILED", NOT_DELIVERED)
    [delivery] = [d for d in await _deliveries(inproc, sent["correlationId"]) if d["recipient"] == f"mio.{DISTRICT}"]
    assert (delivery["state"], delivery["attempts"]) == ("NOT_DELIVERED", ATTEMPTS)
    assert stolen.count(delivery["messageId"]) == ATTEMPTS, "each attempt was taken, none acknowledged"
    async with inproc.client("shep_gateway") as gateway:
        records = (await gateway.get("/log", params={"correlationId": sent["correlationId"]})).json()["records"]
    assert [(r["outcome"], r["errorCode"]) for r in records if r["checks"].get("notDelivered")] == \
        [("NOT_DELIVERED", NOT_DELIVERED)]
    dead = [d for d in await inproc.dead_letters() if d["messageId"] == delivery["messageId"]]
    assert [d["code"] for d in dead] == [NOT_DELIVERED]
    assert dead[0]["headers"]["x-origin-queue"] == member_queue(f"mio.{DISTRICT}")


async def test_a_member_that_is_down_is_waited_for_and_its_case_completes_when_it_is_back(inproc: InProcessMesh):
    """No receipt because nobody consumes (the member is down, its queue holds the delivery) is not a delivery
    taken: the gateway counts no attempt however many receipt timeouts pass, says what it waits for, and the case
    completes once the member is back — an outage of a member still loses nothing and fails nothing."""
    person = await inproc.person(district=DISTRICT)
    token = await inproc.citizen_session(person)
    async with inproc.outage("mio_workstation"):
        sent = await apply(inproc, person, token)

        for _ in range(600):  # each sweep is a receipt timeout (0.5 s) apart: past every attempt within seconds
            rows = [d for d in await _deliveries(inproc, sent["correlationId"]) if d["recipient"] == f"mio.{DISTRICT}"]
            if rows and rows[0]["waits"] > ATTEMPTS:
                break
            await asyncio.sleep(0.05)
        [delivery] = rows
        assert (delivery["state"], delivery["attempts"]) == ("ON_DELIVERY", 1), delivery
        assert "no consumer" in delivery["waitingFor"], delivery
    done = await final_case(inproc, person, token, sent["correlationId"], timeout_s=60)
    assert done["status"] == "COMPLETED", done
    [delivery] = [d for d in await _deliveries(inproc, sent["correlationId"]) if d["recipient"] == f"mio.{DISTRICT}"]
    assert delivery["state"] == "DELIVERED", delivery


async def test_a_member_holding_deliveries_in_its_retry_tiers_is_behind_not_robbed(inproc: InProcessMesh):
    """A member riding out an outage of its own (OCSP, its database) parks what it took in its queue's retry tiers
    (``shared.mesh.failures``): the delivery is the member's, only not recorded yet. The gateway counts no attempt while
    anything waits there, as while anything waits in the queue itself or nobody consumes it."""
    gateway = inproc.app("shep_gateway").state.gateway
    queue = member_queue(f"mio.{DISTRICT}")
    assert await gateway.redelivery.member_absent(queue) is None, "up, and nothing waiting: an attempt counts"
    admin = MemoryBus(broker=inproc.broker)
    await admin.connect()
    try:
        await admin.publish(exchange="", routing_key=retry_queue(queue, RETRY_TIERS_S[-1]),
                            message=OutgoingMessage(body=b"{}", message_id="parked-by-the-member"))
        assert "retry tiers" in (await gateway.redelivery.member_absent(queue) or "")
        parked = await admin.get(queue=retry_queue(queue, RETRY_TIERS_S[-1]))
        assert parked is not None
        await parked.ack()
    finally:
        await admin.close()
    assert await gateway.redelivery.member_absent(queue) is None


async def test_a_plain_envelope_is_refused_and_its_dead_letter_is_encrypted_to_the_gateway(inproc: InProcessMesh,
                                                                                             tmp_path):
    async with member_factory_for(inproc, db_dir=tmp_path) as make:
        member = await make("plain")
        wire = member.runtime.composer.compose(service_id="test.anything", message_type=MessageType.REQUEST,
                                               data={"secret": "900101300123"})
        await member.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=OutgoingMessage(
            body=orjson.dumps(wire), message_id=wire["messageId"]))
        error = await member.wait_for(lambda i: i.envelope.message_type is MessageType.ERROR)
    assert error.envelope.data["code"] == NOT_ENCRYPTED, "its proven sender is told"
    dead = [d for d in await inproc.dead_letters() if d["messageId"] == wire["messageId"]]
    assert is_encrypted(dead[0]["body"]), "the gateway's key opens it; the broker's administrator cannot"
    assert b"900101300123" not in dead[0]["body"]
    await _publish_raw(inproc, b'{"messageId": "not-even-an-envelope", "iin": "900101300123"}')
    for _ in range(300):
        unparsable = [d for d in await inproc.dead_letters() if d["messageId"] == "not-even-an-envelope"]
        if unparsable:
            break
        await asyncio.sleep(0.05)
    assert orjson.loads(unparsable[0]["body"])["bodyWithheld"] is True, "what cannot be encrypted is kept as a digest"


async def _publish_raw(mesh: InProcessMesh, body: bytes) -> None:
    bus = MemoryBus(broker=mesh.broker)
    await bus.connect()
    await bus.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=OutgoingMessage(
        body=body, message_id="not-even-an-envelope"))
    await bus.close()
