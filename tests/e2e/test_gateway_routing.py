"""A signed message travels member → gateway → member over real RabbitMQ, and the log proves it.

The member-level tests here run again in process, on the in-memory broker (tests/usecases/test_gateway.py):
the same test against the fake and the real broker."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import uuid

import pytest

from meshkit.sdk import KitError
from shared.errors import MeshError
from shared.ids import make_iin
from shared.mesh.envelope import MessageType
from tests.support.members import grant, unique_id
from tests.support.mio import until

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
                callers=[caller.member_id])
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
    assert caught.value.details == {"where": "gateway", "failedAt": provider.member_id}  # the hop that failed
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
    async with mesh.client() as http:  # the provider's receipt is in: nothing more of this case is on its way
        for _ in range(100):
            states = [d["state"] for d in (await http.get(f"{mesh.gateway}/deliveries", headers=mesh.admin, params={
                "correlationId": sent["correlationId"]})).json()["deliveries"]]
            if states == ["DELIVERED"]:
                break
            await asyncio.sleep(0.1)
    assert states == ["DELIVERED"]

    database = mesh.database("shep_gateway")
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


# ---- district routing: a request that names no district goes where the applicant is registered -------------
def _case(view, correlation_id: str, *, done) -> dict:
    return until(lambda: next(c for c in view() if c["correlationId"] == correlation_id), done,
                 what=f"case {correlation_id}")


def test_a_request_naming_no_district_goes_to_the_applicants_district(mesh):
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district="kyzylorda", min_age=25, max_age=50)
        session = kit.login(citizen.iin, citizen.password)
        sent = session.apply(citizen.signed_request("employment.job-seeker-registration"))
        case = _case(lambda: kit.login(citizen.iin, citizen.password).applications(), sent["correlationId"],
                     done=lambda c: c["applicationNumber"] is not None)
        records = kit.http.get(f"{kit.info.gateway}/log", params={"correlationId": sent["correlationId"]},
                               headers=kit._admin).json()["records"]
        verified = kit.http.get(f"{kit.info.gateway}/log/verify", headers=kit._admin).json()
    assert case["district"] == "kyzylorda"
    route = [(r["messageType"], r["serviceId"], r["sender"], r["recipient"], r["outcome"]) for r in records[:3]]
    assert route == [("REQUEST", "gbdfl.person-by-iin", "shep", "gbdfl", "ROUTED"),
                     ("RESPONSE", "gbdfl.person-by-iin", "gbdfl", "shep", "ROUTED"),
                     ("REQUEST", "employment.job-seeker-registration", "portal", "mio.kyzylorda", "ROUTED")]
    assert records[2]["routeId"] is None
    assert records[2]["checks"]["route"] == {"lookup": records[0]["messageId"], "district": "kyzylorda",
                                             "recipient": "mio.kyzylorda"}
    assert verified["ok"] is True


@pytest.mark.parametrize(("district", "route_id", "portal_code", "code", "says"), [
    ("kokshetau", None, "CHANNEL_NOT_OFFERED", "Client.UnknownRoute", "registered in 'kokshetau'"),
    ("almaty", "atlantis", "DISTRICT_UNKNOWN", "Client.UnknownRoute", "no district 'atlantis'"),
])
def test_a_request_no_district_provides_is_refused_with_the_reason(mesh, district, route_id, portal_code, code, says):
    """The portal refuses it at once (it knows the catalogue); a member that sends it anyway — here ИС ЦОН's
    test-support intake, which does not look — is refused by the gateway with the reason."""
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district=district, min_age=25, max_age=50)
        session = kit.login(citizen.iin, citizen.password)
        with pytest.raises(KitError) as at_portal:
            session.apply(citizen.signed_request("employment.job-seeker-registration"), district=route_id)
        assert (at_portal.value.status, at_portal.value.code) == (422, portal_code)
        sent = kit.con_submit(citizen.signed_request("employment.job-seeker-registration"), district=route_id,
                              signed_by="applicant")
        case = _case(lambda: kit.con_cases(citizen.iin), sent["correlationId"],
                     done=lambda c: c["status"] == "FAILED")
    assert case["refusalCode"] == code
    assert says in case["refusalReason"]


def _unknown_iin(kit) -> str:
    for serial in range(8000, 8100):
        iin = make_iin(birth_date=dt.date(1988, 2, 29), sex="F", serial=serial)
        if iin and kit.http.get(f"{kit.info.gbd_fl}/admin/people/{iin}", headers=kit._admin).status_code == 404:
            return iin
    raise AssertionError("every candidate IIN is in ГБД ФЛ")


def test_an_applicant_unknown_to_gbdfl_cannot_be_routed(mesh):
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, register=False)
        stranger = _unknown_iin(kit)
        form = citizen.application_form("employment.job-seeker-registration") | {"applicantIin": stranger}
        sent = kit.con_submit({"form": form, "formSignature": citizen.sign(form)}, signed_by="applicant")
        case = _case(lambda: kit.con_cases(stranger), sent["correlationId"], done=lambda c: c["status"] == "FAILED")
    assert case["refusalCode"] == "Client.RouteUnresolved"
    assert "ГБД ФЛ has no person" in case["refusalReason"]
