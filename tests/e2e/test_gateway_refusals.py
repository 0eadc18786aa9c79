"""Every refusal names its reason, goes to the dead-letter queue, is written in the message log, and never
reaches the recipient; it goes back as a typed error only to a sender the gateway could authenticate — a
message anyone could have forged (altered content, another member's certificate, a revoked key) answers
nobody, so a forgery cannot make the gateway tell a victim its request failed.

Each test here runs again in process, on the in-memory broker (tests/usecases/test_gateway.py)."""

from __future__ import annotations

import asyncio
import copy
import uuid

import orjson
import pytest

from shared.mesh.bus import OutgoingMessage
from shared.mesh.envelope import MessageType
from shared.mesh.member import outgoing
from shared.mesh.topology import INGRESS_EXCHANGE
from tests.support.members import grant, unique_id

pytestmark = pytest.mark.e2e


def _settle(mesh) -> float:
    """How long a message that should not arrive is given to arrive: in process the mesh is one event loop away."""
    return getattr(mesh, "settle_s", 0.3)


async def _service(mesh, *, provider, callers) -> str:
    service = unique_id("test.refuse")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=callers)
    return service


async def _publish(member, wire) -> None:
    """Straight onto the ingress, as a member sends (data and signature encrypted to the gateway's certificate)."""
    await member.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="",
                             message=outgoing(member.runtime.to_gateway(wire)))


async def _log_record(mesh, message_id: str) -> dict:
    async with mesh.client() as http:
        for _ in range(100):
            reply = await http.get(f"{mesh.gateway}/log/{message_id}", headers=mesh.admin)
            if reply.status_code == 200:
                return reply.json()
            await asyncio.sleep(0.1)
    raise AssertionError(f"{message_id} is not in the gateway's log")


async def _assert_refused(mesh, dead_letters, *, sender, provider, message_id: str, code: str) -> None:
    dead = await dead_letters.find(message_id)
    assert dead["code"] == code
    assert dead["headers"]["x-refusal-reason"]
    record = await _log_record(mesh, message_id)
    assert (record["outcome"], record["errorCode"]) == ("REFUSED", code)
    if sender is not None:
        error = await sender.wait_for(lambda i: i.envelope.message_type is MessageType.ERROR
                                      and i.envelope.data.get("refusedMessageId") == message_id)
        assert error.envelope.sender == "shep"
        assert error.envelope.data["code"] == code
        assert error.envelope.data["where"] == "gateway"
        assert error.envelope.data["message"]
    await asyncio.sleep(_settle(mesh))  # the decision was final when it was logged; a wrong delivery would show now
    assert not provider.got(message_id)


async def test_payload_altered_after_signing(mesh, member_factory, dead_letters):
    """Published by the caller itself, under its own broker login: the broker vouches for who sent it, so the
    caller is told why. The same altered envelope put on the ingress by anyone else is refused as a publisher
    mismatch before its signature is even looked at, and nobody is told."""
    caller, provider = await member_factory("caller"), await member_factory("provider")
    forger = await member_factory("forger")
    service = await _service(mesh, provider=provider, callers=[caller.member_id])
    wire = caller.runtime.composer.compose(service_id=service, message_type=MessageType.REQUEST, data={"sum": 10})
    tampered = copy.deepcopy(wire)
    tampered["data"]["sum"] = 1_000_000
    await _publish(caller, tampered)
    await _assert_refused(mesh, dead_letters, sender=caller, provider=provider, message_id=wire["messageId"],
                          code="Client.SignatureContentMismatch")

    again = caller.runtime.composer.compose(service_id=service, message_type=MessageType.REQUEST, data={"sum": 10})
    again["data"]["sum"] = 1_000_000
    await _publish(forger, again)
    await _assert_refused(mesh, dead_letters, sender=None, provider=provider, message_id=again["messageId"],
                          code="Client.PublisherMismatch")
    await asyncio.sleep(_settle(mesh))
    assert not any(i.envelope.message_type is MessageType.ERROR and i.envelope.data.get("refusedMessageId") ==
                   again["messageId"] for i in caller.received + forger.received), \
        "nobody is told: the claimed sender did not publish it, and the publisher is not who it claims to be"


async def test_certificate_revoked_through_the_api(mesh, member_factory, dead_letters):
    caller, provider = await member_factory("revokee"), await member_factory("provider")
    service = await _service(mesh, provider=provider, callers=[caller.member_id])
    first = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"before": True})
    await provider.wait_for(lambda i: str(i.envelope.message_id) == first["messageId"])

    serial = format(caller.enrolled.identity.certificate.serial_number, "x")
    async with mesh.client() as http:
        reply = await http.post(f"{mesh.nuc}/certificates/{serial}/revoke", headers=mesh.admin,
                                json={"reason": "keyCompromise"})
    assert reply.status_code == 200
    assert reply.json()["status"] == "REVOKED"
    await asyncio.sleep(getattr(mesh, "ocsp_max_age_s", 1.0) + _settle(mesh))  # the gateway's OCSP answers age
    wire = caller.runtime.composer.compose(service_id=service, message_type=MessageType.REQUEST, data={"after": 1})
    await _publish(caller, wire)
    await _assert_refused(mesh, dead_letters, sender=None, provider=provider, message_id=wire["messageId"],
                          code="Client.CertificateRevoked")
    record = await _log_record(mesh, wire["messageId"])
    assert record["checks"]["signature"]["revocation"] == "REVOKED"


async def test_unknown_member(mesh, member_factory, dead_letters):
    provider = await member_factory("provider")
    rogue = await member_factory("rogue", register=False)  # a genuine НУЦ certificate, but not in the registry
    service = await _service(mesh, provider=provider, callers=["*"])
    wire = rogue.runtime.composer.compose(service_id=service, message_type=MessageType.REQUEST, data={})
    await _publish(rogue, wire)
    await _assert_refused(mesh, dead_letters, sender=None, provider=provider, message_id=wire["messageId"],
                          code="Client.UnknownMember")


async def test_service_the_sender_may_not_call(mesh, member_factory, dead_letters):
    caller, other, provider = (await member_factory("caller"), await member_factory("granted"),
                               await member_factory("provider"))
    service = await _service(mesh, provider=provider, callers=[other.member_id])
    wire = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={})
    await _assert_refused(mesh, dead_letters, sender=caller, provider=provider, message_id=wire["messageId"],
                          code="Client.AccessDenied")


async def test_unknown_service(mesh, member_factory, dead_letters):
    caller, provider = await member_factory("caller"), await member_factory("provider")
    wire = await caller.send(service_id="test.no-such-service", message_type=MessageType.REQUEST, data={})
    await _assert_refused(mesh, dead_letters, sender=caller, provider=provider, message_id=wire["messageId"],
                          code="Client.UnknownService")


async def test_signed_with_another_members_certificate(mesh, member_factory, dead_letters):
    caller, impostor, provider = (await member_factory("caller"), await member_factory("impostor"),
                                  await member_factory("provider"))
    service = await _service(mesh, provider=provider, callers=[caller.member_id])
    # The impostor signs an envelope that claims to come from the caller.
    impostor.runtime.composer.member_id = caller.member_id
    wire = impostor.runtime.composer.compose(service_id=service, message_type=MessageType.REQUEST, data={})
    await _publish(impostor, wire)  # under its own broker login: the broker says who really published it
    await _assert_refused(mesh, dead_letters, sender=None, provider=provider, message_id=wire["messageId"],
                          code="Client.PublisherMismatch")
    await asyncio.sleep(_settle(mesh))
    assert not any(i.envelope.message_type is MessageType.ERROR for i in caller.received), \
        "the member the impostor claimed to be is not told its (never sent) request failed"


async def test_unparsable_envelope(mesh, member_factory, dead_letters):
    caller = await member_factory("caller")
    message_id = str(uuid.uuid4())
    body = orjson.dumps({"messageId": message_id, "serviceId": "x", "data": "not an object"})
    await caller.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="",
                             message=OutgoingMessage(body=body, message_id=message_id))
    dead = await dead_letters.find(message_id)
    assert dead["code"] == "Client.InvalidEnvelope"
    record = await _log_record(mesh, message_id)
    assert record["outcome"] == "REFUSED"
    assert "correlationId" in record["errorReason"] or "serviceId" in record["errorReason"]
