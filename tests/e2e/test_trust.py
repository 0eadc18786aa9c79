"""Trust that does not end at the gateway: each attack found by trying the mesh as an attacker would, run
against real RabbitMQ and the real services.

- A refusal goes only to a sender the gateway has proven; a forgery that names a victim's case changes
  nothing, and is in the dead-letter queue and the message log.
- A member takes only what the gateway sealed: a message put straight on its queue by anyone with broker
  access (even correctly signed by a real member) has no effect and is dead-lettered as unsealed.
- A replayed envelope is refused as ``Client.DuplicateMessage`` to its proven sender, logged and
  dead-lettered — never dropped silently; the first copy's effect stands.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
from sqlmodel import select

from meshkit.load import FORM_FIELDS
from meshkit.sdk import Mesh
from shared.mesh.envelope import MessageType
from shared.mesh.inbox import InboxMessage
from shared.mesh.member import outgoing
from shared.mesh.topology import DELIVERY_EXCHANGE, INGRESS_EXCHANGE, member_queue
from tests.support.members import grant, unique_id
from tests.support.mio import until

pytestmark = pytest.mark.e2e
SERVICE = "employment.job-seeker-registration"
DISTRICT = "zhezkazgan"


@pytest.fixture(scope="module")
def kit(mesh):
    with mesh.kit() as k:
        yield k


async def _log_of_case(mesh, correlation_id: str) -> list[dict]:
    async with mesh.client() as http:
        reply = await http.get(f"{mesh.gateway}/log", params={"correlationId": correlation_id}, headers=mesh.admin)
        return reply.json()["records"]


def _received_case(kit: Mesh):
    """A citizen's application, taken by ИС МИО (in manual mode, so it stays «Поступившие»)."""
    kit.set_mode(DISTRICT, "manual")
    citizen = kit.new_citizen(district=DISTRICT, min_age=25, max_age=50, jobless=True)
    assert citizen.password is not None
    session = kit.login(citizen.iin, citizen.password)
    session.apply(citizen.signed_request(SERVICE, **FORM_FIELDS[SERVICE]))
    apps = until(session.applications, lambda a: bool(a) and a[-1]["status"] == "RECEIVED",
                 what="ИС МИО to take the application")
    return citizen, session, apps[-1]


async def test_a_forged_refusal_in_the_portals_name_changes_nothing(mesh, kit, member_factory, dead_letters):
    _citizen, session, case = await asyncio.to_thread(_received_case, kit)
    forger = await member_factory("forger")
    # The attack as found: sender "portal", the victim's correlationId, a signature that is not one.
    wire = forger.runtime.composer.compose(service_id=SERVICE, message_type=MessageType.REQUEST, data={},
                                           correlation_id=case["correlationId"])
    wire.update(sender="portal", signature="AAAA")
    await forger.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=outgoing(wire))

    dead = await dead_letters.find(wire["messageId"])
    assert dead["code"].startswith("Client.")
    records = [r for r in await _log_of_case(mesh, case["correlationId"]) if r["messageId"] == wire["messageId"]]
    assert [(r["outcome"], r["errorCode"]) for r in records] == [("REFUSED", dead["code"])]
    await asyncio.sleep(1.0)
    now = await asyncio.to_thread(session.applications)
    assert [(a["correlationId"], a["status"]) for a in now if a["correlationId"] == case["correlationId"]] == \
        [(case["correlationId"], "RECEIVED")], "the citizen's case is untouched"


async def test_a_notice_put_straight_on_the_portals_queue_has_no_effect(mesh, kit, member_factory, dead_letters):
    """Broker access with the old shared credentials, and a real member's valid signature: still nothing,
    because the gateway did not seal it (it never passed the gateway's checks or its log)."""
    citizen, session, case = await asyncio.to_thread(_received_case, kit)
    forger = await member_factory("forger")
    notice = {"applicationNumber": case["applicationNumber"], "district": DISTRICT, "applicantIin": citizen.iin,
              "status": "COMPLETED", "statusText": "Исполнено", "at": "2026-01-01T00:00:00+05:00",
              "text": "Услуга оказана (подделка)"}
    wire = forger.runtime.composer.compose(service_id=SERVICE, message_type=MessageType.NOTIFICATION,
                                           data=notice, correlation_id=case["correlationId"], recipient="portal")
    bus = mesh.new_bus("forger-with-the-shared-login")
    await bus.connect()
    try:
        await bus.publish(exchange=DELIVERY_EXCHANGE, routing_key="portal", message=outgoing(wire))
    finally:
        await bus.close()

    dead = await dead_letters.find(wire["messageId"])
    assert dead["code"] == "Client.NotSealed"
    assert dead["headers"]["x-origin-queue"] == "member.portal"
    await asyncio.sleep(1.0)
    assert not [n for n in await asyncio.to_thread(session.notifications) if "подделка" in n["text"]]
    now = [a for a in await asyncio.to_thread(session.applications) if a["correlationId"] == case["correlationId"]]
    assert now[0]["status"] == "RECEIVED"


async def test_a_replayed_envelope_is_refused_to_its_sender_logged_and_dead_lettered(mesh, member_factory,
                                                                                     dead_letters):
    sender, provider = await member_factory("sender"), await member_factory("provider")
    service = unique_id("test.replay")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id],
                callers=[sender.member_id])
    wire = await sender.send(service_id=service, message_type=MessageType.REQUEST, data={"n": 1},
                             correlation_id=str(uuid.uuid4()))
    await provider.wait_for(lambda i: str(i.envelope.message_id) == wire["messageId"])

    await sender.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="",  # the replay
                             message=outgoing(sender.runtime.to_gateway(wire)))

    error = await sender.wait_for(lambda i: i.envelope.message_type is MessageType.ERROR
                                  and i.envelope.data.get("refusedMessageId") == wire["messageId"])
    assert error.envelope.data["code"] == "Client.DuplicateMessage"
    assert error.seal is not None, "the refusal itself is sealed by the gateway"
    dead = await dead_letters.find(wire["messageId"])
    assert dead["code"] == "Client.DuplicateMessage"
    records = await _log_of_case(mesh, wire["correlationId"])
    assert [(r["outcome"], r["errorCode"]) for r in records] == \
        [("ROUTED", None), ("REFUSED", "Client.DuplicateMessage")]
    assert records[1]["checks"]["replayOf"] == wire["messageId"]
    await asyncio.sleep(0.5)
    assert await provider.applied() == [wire["messageId"]], "delivered once"
    async with provider.runtime.sessions() as session:  # the recipient recorded the seal: which record routed it
        inbox = (await session.exec(select(InboxMessage).where(InboxMessage.message_id == wire["messageId"]))).one()
    assert inbox.log_seq == records[0]["seq"]


async def _hundred_wrong_passwords(url: str, iin: str) -> Counter:
    async with httpx.AsyncClient(timeout=60) as http:
        replies = await asyncio.gather(*(http.post(url, json={"iin": iin, "password": f"Wrong-{i}-Pass!"})
                                         for i in range(100)))
    return Counter((r.status_code, r.json()["code"]) for r in replies)


async def test_a_hundred_wrong_passwords_at_once_check_exactly_five_then_lock(mesh, kit):
    """For a citizen on the portal and for ИС МИО staff: the failure counter is reserved in one statement
    before a password is checked, so however many guesses arrive together only five are ever checked."""
    citizen = await asyncio.to_thread(kit.new_citizen, district="almaty", min_age=25, max_age=50)
    staff = await asyncio.to_thread(kit.staff, "almaty", role="centre_specialist")  # unlocked again at the end
    try:
        for url, iin, password in ((f"{mesh.url('portal')}/auth/login", citizen.iin, citizen.password),
                                   (f"{mesh.url('mio_workstation')}/staff/login", staff.iin, staff.password)):
            codes = await _hundred_wrong_passwords(url, iin)
            assert codes == Counter({(401, "PASSWORD_WRONG"): 5, (423, "ACCOUNT_LOCKED"): 95}), (url, codes)
            async with httpx.AsyncClient(timeout=30) as http:
                right = await http.post(url, json={"iin": iin, "password": password})
            assert (right.status_code, right.json()["code"]) == (423, "ACCOUNT_LOCKED"), "locked means locked"
    finally:
        async with httpx.AsyncClient(timeout=30, headers=mesh.admin) as http:
            (await http.post(f"{mesh.url('mio_workstation')}/admin/staff/{staff.iin}/unlock")).raise_for_status()


async def _refused_by_the_broker(mesh, member, attempt) -> str:
    """Run ``attempt(bus)`` on a fresh connection under ``member``'s own broker login; the broker's refusal."""
    bus = mesh.new_bus("attempt").sibling(connection_name=f"{member.member_id}-attempt", login=member.enrolled.login)
    await bus.connect()
    try:
        with pytest.raises(Exception) as refused:  # noqa: PT011 - BusError or the client library's channel error
            await attempt(bus)
        return str(refused.value)
    finally:
        await bus.close()


async def test_a_members_own_broker_login_cannot_reach_past_the_gateway(mesh, member_factory):
    """Publish to another member's delivery route, to its queue by name, read its queue, or bind a queue of
    one's own to its route: each refused by the broker itself (ACCESS_REFUSED)."""
    intruder, victim = await member_factory("intruder"), await member_factory("victim")
    wire = intruder.runtime.composer.compose(service_id="test.intrusion", message_type=MessageType.REQUEST, data={},
                                             recipient=victim.member_id)

    async def deliver(bus):
        await bus.publish(exchange=DELIVERY_EXCHANGE, routing_key=victim.member_id, message=outgoing(wire))

    async def by_queue_name(bus):
        await bus.publish(exchange="", routing_key=member_queue(victim.member_id), message=outgoing(wire))

    async def read_its_queue(bus):
        await bus.consume(queue=member_queue(victim.member_id), handler=lambda _d: asyncio.sleep(0))

    async def bind_a_spy_queue(bus):
        spy = await bus.declare_queue(name=f"{intruder.member_id}.replies.spy", exclusive=True, auto_delete=True,
                                      durable=False)  # a queue it may make (its own reply queue)
        await bus.bind_queue(queue=spy, exchange=DELIVERY_EXCHANGE, routing_key=victim.member_id)

    for attempt in (deliver, by_queue_name, read_its_queue, bind_a_spy_queue):
        assert "ACCESS_REFUSED" in await _refused_by_the_broker(mesh, intruder, attempt), attempt.__name__
    await asyncio.sleep(getattr(mesh, "settle_s", 0.5))
    assert not victim.got(wire["messageId"])


async def test_the_dead_letter_queue_is_bounded_on_the_broker_and_keeps_large_bodies_by_digest(mesh, member_factory,
                                                                                              dead_letters):
    admin = mesh.rabbit.admin  # the broker's one administrator (there is no guest)
    async with httpx.AsyncClient(timeout=30, auth=(admin.user, admin.password)) as management:
        queue = (await management.get(f"{mesh.rabbit.management_url}/api/queues/%2F/mesh.dead-letters")).json()
    assert queue["effective_policy_definition"] == {"max-length": 10_000, "max-length-bytes": 256 * 1024 * 1024,
                                                    "overflow": "drop-head"}
    sender = await member_factory("bulky")
    wire = sender.runtime.composer.compose(service_id="test.no-such-service", message_type=MessageType.REQUEST,
                                           data={"blob": "x" * 200_000})
    await sender.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="",
                             message=outgoing(sender.runtime.to_gateway(wire)))
    dead = await dead_letters.find(wire["messageId"])
    assert dead["code"] == "Client.UnknownService"
    assert dead["headers"]["x-body-size"] > 200_000
    assert len(dead["body"]) < 200, "kept as its digest and size"
