"""Outages a simulator exists to rehearse: the broker, ГБД ФЛ, НУЦ or the gateway down — readiness says so,
nothing is lost, the work completes when the member returns, and every failure names the hop that failed."""

from __future__ import annotations

import asyncio
import json

from tests.support.inprocess import SERVICES, InProcessMesh
from tests.usecases.helpers import apply, bearer, every_notice, final_case, ready, ready_becomes, until_status


async def test_readiness_follows_the_broker_and_no_status_is_lost(inproc: InProcessMesh):
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    await inproc.set_mode("zhezkazgan", share=0.00001)
    inproc.broker.go_down()
    try:
        for name in SERVICES:
            body = await ready_becomes(inproc, name, 503, timeout_s=2)
            assert body["checks"]["broker"].startswith("down: "), (name, body["checks"])
        # Applying while the broker is gone: the portal takes it (the outbox keeps it), nothing is lost.
        sent = await apply(inproc, person, token)
    finally:
        inproc.broker.come_back()
    for name in SERVICES:
        await ready_becomes(inproc, name, 200, timeout_s=2)
    done = await final_case(inproc, person, token, sent["correlationId"])
    assert done["status"] == "COMPLETED"
    statuses = [n["status"] for n in await every_notice(inproc, person, token, done["applicationNumber"], count=3)]
    assert statuses == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]


async def test_a_request_routed_by_address_waits_for_gbd_fl_and_is_routed_when_it_returns(inproc: InProcessMesh):
    await inproc.dead_letters()
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    await inproc.set_mode("zhezkazgan", share=0.00001)
    async with inproc.outage("gbd_fl"):
        sent = await apply(inproc, person, token)  # no district: the gateway must ask ГБД ФЛ where they live
        await asyncio.sleep(1.6)  # past a lookup time-out (1 s here): asked again, still parked
        parked = await inproc.sql("shep_gateway", "SELECT state, attempts FROM parked_request WHERE message_id IN "
                            "(SELECT message_id FROM message_log WHERE correlation_id = ? UNION "
                            "SELECT message_id FROM parked_request)", sent["correlationId"])
        assert any(state == "PARKED" and attempts >= 2 for state, attempts in parked), parked
    done = await final_case(inproc, person, token, sent["correlationId"], timeout_s=30)
    assert (done["status"], done["district"]) == ("COMPLETED", "zhezkazgan")
    dead = await inproc.dead_letters()
    assert dead, "the lookups ГБД ФЛ found past their deadline went to the dead-letter queue"
    assert all(d["code"] and d["reason"] for d in dead), "every dead letter says why"
    assert {d["code"] for d in dead} <= {"Server.DeadlinePassed"}


async def test_while_nuc_is_down_work_in_flight_completes_and_the_gateway_keeps_taking_messages(
        inproc: InProcessMesh):
    people = await asyncio.gather(*(inproc.person(district="zhezkazgan") for _ in range(2)))
    tokens = await asyncio.gather(*(inproc.citizen_session(p) for p in people))
    await inproc.set_mode("zhezkazgan", mode="manual")
    in_flight = await apply(inproc, people[0], tokens[0])
    number = (await until_status(inproc, people[0], tokens[0], in_flight["correlationId"], "RECEIVED"))[
        "applicationNumber"]
    await inproc.set_mode("zhezkazgan", share=0.00001)
    async with inproc.outage("nuc_pki"):
        await inproc.advance_clock(seconds=120)  # every cached OCSP answer is now stale: НУЦ must be asked
        async with inproc.client("mio_workstation") as mio:  # the staff go on working while НУЦ is down
            (await mio.put(f"/admin/applications/{number}/mode", json={"mode": "auto", "autoShare": 0.00001})
             ).raise_for_status()
        async with inproc.client("portal") as portal:
            during = await portal.post(f"/citizens/{people[1].iin}/applications", headers=bearer(tokens[1]),
                                       json=people[1].request("employment.job-seeker-registration"))
            profile = await portal.get(f"/citizens/{people[1].iin}/profile", headers=bearer(tokens[1]))
        assert (during.status_code, during.json()["code"]) == (503, "EDS_OCSP_UNREACHABLE")
        assert (profile.status_code, profile.json()["code"]) == (503, "NUC_UNAVAILABLE"), profile.text
        assert profile.json()["details"]["failedAt"] == "nuc"
        assert (await ready(inproc, "shep_gateway"))[0] == 200, "the gateway is not stuck: it retries"
    done = await final_case(inproc, people[0], tokens[0], in_flight["correlationId"])
    assert done["status"] == "COMPLETED"
    seen = await every_notice(inproc, people[0], tokens[0], done["applicationNumber"], count=3)
    assert [n["status"] for n in seen] == ["RECEIVED", "IN_PROGRESS", "COMPLETED"], "once each, in order of time"
    after = await apply(inproc, people[1], tokens[1])
    assert (await final_case(inproc, people[1], tokens[1], after["correlationId"]))["status"] == "COMPLETED"


async def test_a_failed_registry_lookup_names_the_hop_that_failed(inproc: InProcessMesh):
    person = await inproc.person(district="almaty")
    token = await inproc.citizen_session(person)

    async def profile() -> tuple[int, dict]:
        async with inproc.client("portal") as portal:
            reply = await portal.get(f"/citizens/{person.iin}/profile", headers=bearer(token))
        return reply.status_code, reply.json()

    async with inproc.outage("shep_gateway"):
        status, body = await profile()
    assert (status, body["code"], body["details"]["failedAt"]) == (503, "GATEWAY_UNAVAILABLE", "gateway")
    async with inproc.outage("gbd_fl"):
        status, body = await profile()
    assert (status, body["code"], body["details"]["failedAt"]) == (503, "REGISTRY_UNAVAILABLE", "gbdfl")
    inproc.broker.go_down()
    try:
        status, body = await profile()
    finally:
        inproc.broker.come_back()
    assert (status, body["code"], body["details"]["failedAt"]) == (503, "BROKER_UNAVAILABLE", "broker")
    status, body = await profile()
    assert status == 200


async def test_an_ingress_that_cannot_commit_makes_the_gateway_unready_until_it_can(inproc: InProcessMesh):
    """The gateway's database refuses its writes (its log table is gone, as if a DBA renamed it): the ingress
    waits — the messages stay queued, nothing is dead-lettered — and /ready says why until it goes through."""
    await inproc.dead_letters()
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    await inproc.sql("shep_gateway", "ALTER TABLE message_log RENAME TO message_log_away")
    try:
        sent = await apply(inproc, person, token)
        body = await ready_becomes(inproc, "shep_gateway", 503, timeout_s=5)
        assert body["checks"]["ingress"].startswith("down: ingress waiting: Server.DatabaseUnavailable"), body
    finally:
        await inproc.sql("shep_gateway", "ALTER TABLE message_log_away RENAME TO message_log")
    await ready_becomes(inproc, "shep_gateway", 200, timeout_s=15)
    assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"
    # the application is not among them; the portal's own look-up of the applicant's district (to refuse an
    # unoffered channel at once) timed out while the gateway could not commit, and is dead-lettered saying so
    dead = await inproc.dead_letters()
    assert [d for d in dead if json.loads(d["body"]).get("serviceId") != "gbdfl.person-by-iin"] == [], dead
    assert all(d["code"] == "Server.Timeout" for d in dead), dead


async def test_a_restarted_member_takes_no_message_before_the_data_its_handlers_need(inproc: InProcessMesh):
    """The load test killed ИС МИО under a batch: started again, it took ЦОН applications before it had loaded the
    State Corporation's BIN (a form's operator signature is checked against it): «KeyError: 'bin'» until the
    retries ran out. ГБД ФЛ likewise took questions before its population was seeded. Now those steps come
    before the members' consumers: whenever a restarting service's consumers are up, what they need is there."""
    assert inproc.app("mio_workstation").state.mio.staff.centre_bin()
    for name in ("mio_workstation", "gbd_fl"):
        await inproc.stop(name)
        await inproc.start(name, wait=False)
    early: list[str] = []  # what a consumer could have met before it was there
    deadline = asyncio.get_running_loop().time() + 60
    while not all(inproc.app(name).state.node.readiness.started for name in ("mio_workstation", "gbd_fl")):
        mio_app, gbd_app = inproc.app("mio_workstation"), inproc.app("gbd_fl")
        if mio_app.state.node.readiness.report()["consumers"] == "ok" and not mio_app.state.mio.staff.centre:
            early.append("ИС МИО: the State Corporation's BIN")
        gbd = gbd_app.state.node.readiness.report()
        if gbd["consumers"] == "ok" and gbd["population"] != "ok":
            early.append("ГБД ФЛ: the seeded population")
        assert asyncio.get_running_loop().time() < deadline, "not started within 60 s"
        await asyncio.sleep(0)
    assert early == []
    for name in ("mio_workstation", "gbd_fl"):
        await inproc.wait_ready(name)
