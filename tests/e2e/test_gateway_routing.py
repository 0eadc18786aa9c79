"""A signed message travels member → gateway → member over real RabbitMQ, and the log proves it."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from shared.envelope import MessageType
from shared.errors import MeshError
from tests.support.members import grant, unique_id

pytestmark = pytest.mark.e2e


async def test_sync_request_reaches_provider_and_answer_returns(mesh, member_factory):
    caller, provider = await member_factory("caller"), await member_factory("provider")
    service = unique_id("test.echo")
    await grant(mesh, service_id=service, channel="sync", providers=[provider.member_id], callers=[caller.member_id])

    async def echo(incoming):
        return {"echo": incoming.envelope.data, "servedBy": provider.member_id}

    provider.runtime.serve(service_id=service, handler=echo)
    case = str(uuid.uuid4())
    answer = await caller.runtime.request(service_id=service, data={"ping": 1}, correlation_id=case, timeout_s=10)

    assert answer.envelope.message_type is MessageType.RESPONSE
    assert answer.envelope.data == {"echo": {"ping": 1}, "servedBy": provider.member_id}
    assert answer.envelope.sender == provider.member_id
    async with mesh.client() as http:
        records = (await http.get(f"{mesh.gateway}/log", params={"correlationId": case}, headers=mesh.admin)).json()
        verified = (await http.get(f"{mesh.gateway}/log/verify", headers=mesh.admin)).json()
    kinds = [(r["messageType"], r["sender"], r["recipient"], r["outcome"]) for r in records["records"]]
    assert kinds == [("REQUEST", caller.member_id, provider.member_id, "ROUTED"),
                     ("RESPONSE", provider.member_id, caller.member_id, "ROUTED")]
    assert records["records"][1]["inReplyTo"] == records["records"][0]["messageId"]
    assert verified["ok"] is True
    assert verified["checked"] >= 2


async def test_async_request_is_delivered_and_answered(mesh, member_factory):
    caller, provider = await member_factory("caller"), await member_factory("provider")
    service = unique_id("test.async")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=[caller.member_id])
    sent = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"n": 7})

    request = await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])
    assert request.envelope.data == {"n": 7}
    reply = await provider.send(service_id=service, message_type=MessageType.RESPONSE, data={"doubled": 14},
                                correlation_id=request.envelope.correlation_id, recipient=caller.member_id,
                                in_reply_to=request.envelope.message_id)
    answer = await caller.wait_for(lambda i: str(i.envelope.message_id) == reply["messageId"])
    assert answer.envelope.data == {"doubled": 14}
    assert answer.envelope.correlation_id == sent["correlationId"]


async def test_real_service_gbdfl_answers_no_data_for_unknown_person(mesh, member_factory):
    caller = await member_factory("caller")
    await grant(mesh, service_id="gbdfl.person-by-iin", channel="sync", providers=["gbdfl"],
                callers=["portal", "con", "mio.*", caller.member_id])
    answer = await caller.runtime.request(service_id="gbdfl.person-by-iin", data={"iin": "850701300007"},
                                          timeout_s=10)
    assert answer.envelope.sender == "gbdfl"
    assert answer.envelope.data["found"] is False
    assert "отсутствуют" in answer.envelope.data["message"]


async def test_sync_timeout_is_reported_by_the_gateway(mesh, member_factory):
    caller, provider = await member_factory("caller"), await member_factory("sleeper")
    service = unique_id("test.slow")
    await grant(mesh, service_id=service, channel="sync", providers=[provider.member_id], callers=[caller.member_id])
    released = __import__("asyncio").Event()

    async def never_in_time(_incoming):
        await released.wait()
        return {"late": True}

    provider.runtime.serve(service_id=service, handler=never_in_time)
    case = str(uuid.uuid4())
    with pytest.raises(MeshError) as caught:
        await caller.runtime.request(service_id=service, data={}, correlation_id=case, timeout_s=1.5)
    released.set()
    assert caught.value.code == "Server.Timeout"
    assert caught.value.details == {"where": "gateway"}
    async with mesh.client() as http:
        records = (await http.get(f"{mesh.gateway}/log", params={"correlationId": case}, headers=mesh.admin)).json()
    outcomes = [r["outcome"] for r in records["records"]]
    assert outcomes[:2] == ["ROUTED", "TIMEOUT"]
    # The provider's late answer arrives after the deadline and is refused, not delivered.
    assert await _eventually_outcomes(mesh, case, 3) == ["ROUTED", "TIMEOUT", "REFUSED"]


async def _eventually_outcomes(mesh, case: str, count: int) -> list[str]:
    import asyncio

    async with mesh.client() as http:
        for _ in range(100):
            records = (await http.get(f"{mesh.gateway}/log", params={"correlationId": case},
                                      headers=mesh.admin)).json()["records"]
            if len(records) >= count:
                return [r["outcome"] for r in records]
            await asyncio.sleep(0.1)
    return [r["outcome"] for r in records]


async def test_tampering_with_a_log_record_is_detected_and_named(mesh, member_factory):
    caller, provider = await member_factory("caller"), await member_factory("provider")
    service = unique_id("test.async")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=[caller.member_id])
    sent = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"amount": 100})
    await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])

    database = mesh.config.var_dir / "shep_gateway" / "shep_gateway.db"
    with sqlite3.connect(database) as db:
        seq, original = db.execute("SELECT seq, recipient FROM message_log WHERE message_id = ?",
                                   (sent["messageId"],)).fetchone()
        db.execute("UPDATE message_log SET recipient = 'someone-else' WHERE seq = ?", (seq,))
    try:
        async with mesh.client() as http:
            verdict = (await http.get(f"{mesh.gateway}/log/verify", headers=mesh.admin)).json()
        assert verdict["ok"] is False
        assert verdict["brokenAt"]["seq"] == seq
        assert verdict["brokenAt"]["messageId"] == sent["messageId"]
        assert "altered" in verdict["brokenAt"]["problem"]
    finally:
        with sqlite3.connect(database) as db:
            db.execute("UPDATE message_log SET recipient = ? WHERE seq = ?", (original, seq))
    async with mesh.client() as http:
        assert (await http.get(f"{mesh.gateway}/log/verify", headers=mesh.admin)).json()["ok"] is True
