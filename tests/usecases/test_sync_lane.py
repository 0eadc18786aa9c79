"""A synchronous call is not held up by the asynchronous backlog a burst leaves at the gateway.

Before: requests and answers shared shep.ingress with everything else, so a call waited behind the backlog twice
(its request, then its answer). A CI run of the 400-application batch on a loaded machine had 16 of ГБД ФЛ's
answers arrive after their 10 s deadline — refused Server.LateResponse, their callers told Server.Timeout while
the registry had answered. Now they take shep.ingress.sync, which the gateway fills its batches from first.
"""

from __future__ import annotations

import asyncio
import time

from meshkit.members import grant, unique_id
from shared.mesh.bus import OutgoingMessage
from shared.mesh.envelope import MessageType
from shared.mesh.member import outgoing
from shared.mesh.topology import INGRESS_EXCHANGE, INGRESS_QUEUE, INGRESS_SYNC_QUEUE, SYNC_INGRESS_KEY
from tests.support.inprocess import InProcessMesh

LOOKUP = "gbdfl.person-by-iin"
BACKLOG = 5000  # refused unread, each a log record and a dead letter: seconds of the gateway's work in process


async def test_a_call_overtakes_the_asynchronous_backlog(inproc: InProcessMesh, member_factory):
    me = await member_factory("caller")
    await grant(inproc, service_id=LOOKUP, channel="sync", providers=["gbdfl"], callers=[me.member_id])
    await inproc.dead_letters()  # what earlier tests left there is theirs
    admin = inproc.new_bus("backlog")
    await admin.connect()
    try:
        await asyncio.gather(*(  # the asynchronous lane, as a burst of outboxes fills it: all at once
            admin.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=OutgoingMessage(
                body=b"not an envelope", message_id=f"backlog-{n}")) for n in range(BACKLOG)))
        answer = await me.runtime.request(service_id=LOOKUP, data={"iin": "850701300007"}, timeout_s=30)
        left = (await admin.queue_status(queue=INGRESS_QUEUE)).ready
        assert (await admin.queue_status(queue=INGRESS_SYNC_QUEUE)).ready == 0
    finally:
        await admin.close()
    assert answer.envelope.data["found"] is False
    # On one queue the answer could only come after the whole backlog (left 0, as measured before the lane); now it
    # waits for the batches in work (256 each) and its own, while thousands still wait.
    assert left > BACKLOG // 4, f"the answer came when only {left} of {BACKLOG} were still waiting"
    refused, deadline = 0, time.monotonic() + 120  # the backlog through before the next test's turn
    while refused < BACKLOG:
        assert time.monotonic() < deadline, f"{refused} of {BACKLOG} refused"
        refused += sum(1 for d in await inproc.dead_letters() if d["code"] == "Client.InvalidEnvelope")
        await asyncio.sleep(0.1)


async def test_an_asynchronous_request_on_the_fast_lane_is_refused_saying_which_lane_is_its(inproc: InProcessMesh,
                                                                                           member_factory):
    """The lane is a schedule, not a privilege: a member that put its asynchronous traffic on it would jump every
    other member's queue. Refused (logged, dead-lettered, the sender told), never delivered; sent the right way,
    the same kind of message goes through."""
    sender, provider = await member_factory("lane-jumper"), await member_factory("lane-provider")
    service = unique_id("test.lane")
    await grant(inproc, service_id=service, channel="async", providers=[provider.member_id],
                callers=[sender.member_id])
    await inproc.dead_letters()
    jumped = sender.runtime.composer.compose(service_id=service, message_type=MessageType.REQUEST,
                                             data={"note": "in a hurry"})
    await sender.bus.publish(exchange=INGRESS_EXCHANGE, routing_key=SYNC_INGRESS_KEY,
                             message=outgoing(sender.runtime.to_gateway(jumped)))
    told = await sender.wait_for(lambda i: i.envelope.message_type is MessageType.ERROR
                                 and str(i.envelope.in_reply_to) == jumped["messageId"])
    assert told.envelope.data["code"] == "Client.WrongLane"
    async with inproc.client("shep_gateway") as gateway:
        record = (await gateway.get(f"/log/{jumped['messageId']}", headers=inproc.admin)).json()
    assert (record["outcome"], record["errorCode"]) == ("REFUSED", "Client.WrongLane")
    assert (record["checks"]["lane"], record["checks"]["route"]) == ("sync", "wrong lane")
    assert "Client.WrongLane" in {d["code"] for d in await inproc.dead_letters()}

    sent = await sender.send(service_id=service, message_type=MessageType.REQUEST, data={"note": "in turn"})
    await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])
    assert not provider.got(jumped["messageId"])
