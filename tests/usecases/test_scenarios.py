"""Scenarios per flow (issue 20, docs/scenarios.md), on the in-process mesh: each rule forces its outcome for the flow
that names its scenario and for no other — the same person, the same district, at the same time — and what is
wrong (an unknown rule, an id never registered, one expired or removed) is refused with its code, changing nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from meshkit.members import grant
from services.mio_workstation.domain import FORCED_GROUNDS, IDENTITY_NOT_CONFIRMED
from shared.errors import MeshError
from shared.mesh.scenarios import FlowScenario, using
from shared.pki.signing import sign_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import bearer, final_cases
from tests.usecases.test_centre import operator, served, settled

LOOKUP = "gbdfl.person-by-iin"
JOB_SEEKER = "employment.job-seeker-registration"
NEVER_REGISTERED = "scn-AAAAAAAAAAAAAAAAAAAAAA"


async def register(mesh: InProcessMesh, *rules: str, ttl_s: int = 600) -> str:
    async with mesh.client("shep_gateway") as gateway:
        reply = await gateway.post("/admin/scenarios", json={"rules": list(rules), "ttlSeconds": ttl_s})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["scenarioId"])


async def live_ids(mesh: InProcessMesh) -> list[str]:
    async with mesh.client("shep_gateway") as gateway:
        return [s["scenarioId"] for s in (await gateway.get("/admin/scenarios")).json()["scenarios"]]


async def test_a_scenario_is_registered_read_and_removed_by_the_admin_and_bad_rules_register_nothing(
        inproc: InProcessMesh):
    before = await live_ids(inproc)
    async with inproc.client("shep_gateway") as gateway:
        refused = {str(rules): await gateway.post("/admin/scenarios", json={"rules": rules}) for rules in (
            ["gbdfl:maybe"], ["mio:refuse:because"], ["mio:overdue:Not A Step"], ["nuc:revoked:now"],
            ["gbdfl:no-data", "gbdfl:timeout"], ["mio:refuse:employed", "mio:refuse:student"])}
        empty = await gateway.post("/admin/scenarios", json={"rules": []})
        anonymous = await gateway.post(f"{inproc.gateway}/admin/scenarios", json={"rules": ["gbdfl:no-data"]},
                                       headers={"Authorization": ""})
    assert {k: (r.status_code, r.json()["code"]) for k, r in refused.items()} == dict.fromkeys(
        refused, (422, "SCENARIO_RULE_UNKNOWN"))
    assert (empty.status_code, empty.json()["code"]) == (422, "REQUEST_INVALID")
    assert anonymous.status_code == 401, "no one but the admin forces an outcome"
    assert await live_ids(inproc) == before, "nothing registered"

    scenario_id = await register(inproc, "mio:refuse:employed", "gbdfl:no-data", ttl_s=60)
    async with inproc.client("shep_gateway") as gateway:
        read = (await gateway.get(f"/admin/scenarios/{scenario_id}")).json()
        removed = await gateway.delete(f"/admin/scenarios/{scenario_id}")
        again = await gateway.get(f"/admin/scenarios/{scenario_id}")
        twice = await gateway.delete(f"/admin/scenarios/{scenario_id}")
        never = await gateway.get(f"/admin/scenarios/{NEVER_REGISTERED}")
    assert read["rules"] == ["mio:refuse:employed", "gbdfl:no-data"]
    assert dt.datetime.fromisoformat(read["expiresAt"]) - dt.datetime.fromisoformat(read["createdAt"]) == \
        dt.timedelta(seconds=60)
    assert removed.status_code == 200
    assert [(r.status_code, r.json()["code"]) for r in (again, twice, never)] == [
        (410, "SCENARIO_EXPIRED"), (410, "SCENARIO_EXPIRED"), (404, "SCENARIO_UNKNOWN")]
    assert scenario_id not in await live_ids(inproc)


async def test_gbdfl_answers_as_the_scenario_says_for_its_flow_only(inproc: InProcessMesh, member_factory):
    """The same person asked in three flows at once: «нет данных» in the one whose scenario says so, no answer
    (Server.Timeout from the gateway) in the one whose scenario says time out, the record in the plain one."""
    me = await member_factory("scenarios")
    await grant(inproc, service_id=LOOKUP, channel="sync", providers=["gbdfl"], callers=[me.member_id])
    person = await inproc.person(district="kyzylorda")
    no_data, timeout = await register(inproc, "gbdfl:no-data"), await register(inproc, "gbdfl:timeout")

    async def ask(scenario_id: str | None) -> dict[str, Any] | str:
        # the flow whose scenario withholds the answer waits one second for it; the others as long as a loaded
        # machine may need (they are answered at once, so they never wait it out)
        patience = 1.0 if scenario_id == timeout else 30.0
        with using(FlowScenario(id=scenario_id) if scenario_id else None):
            try:
                answer = await me.runtime.request(service_id=LOOKUP, data={"iin": person.iin}, timeout_s=patience)
            except MeshError as exc:
                return exc.code
        return dict(answer.envelope.data)

    forced, withheld, plain = await asyncio.gather(ask(no_data), ask(timeout), ask(None))
    assert isinstance(forced, dict)
    assert (forced["found"], forced["message"]) == (False, "Сведения по указанному ИИН отсутствуют в ГБД ФЛ")
    assert withheld == "Server.Timeout"
    assert isinstance(plain, dict)
    assert plain["person"]["iin"] == person.iin
    assert await ask(NEVER_REGISTERED) == "Client.ScenarioUnknown", "a forged id is refused, never run as normal"
    async with inproc.client("shep_gateway") as gateway:
        assert (await gateway.delete(f"/admin/scenarios/{no_data}")).status_code == 200
    ended = await ask(no_data)
    assert isinstance(ended, dict)
    assert ended["found"] is True, "an ended scenario is dropped: the flow goes on plain"


async def test_a_submission_naming_an_unknown_or_ended_scenario_is_refused_and_sends_nothing(inproc: InProcessMesh):
    person = await inproc.person(district="kyzylorda")
    token = await inproc.citizen_session(person)
    removed = await register(inproc, "gbdfl:no-data")
    async with inproc.client("shep_gateway") as gateway:
        await gateway.delete(f"/admin/scenarios/{removed}")
    async with inproc.client("portal") as portal:
        answers = [await portal.post(f"/citizens/{person.iin}/applications", json=person.request(JOB_SEEKER),
                                     headers=bearer(token) | {"X-Mesh-Scenario": named})
                   for named in (NEVER_REGISTERED, "not-an-id", removed)]
        cases = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (404, "SCENARIO_UNKNOWN"), (404, "SCENARIO_UNKNOWN"), (410, "SCENARIO_EXPIRED")]
    assert cases["applications"] == [], "no case made, nothing sent"


async def _apply(mesh: InProcessMesh, district: str, scenario_id: str | None, *, named: bool = True) -> tuple[str, str]:
    """An application of a new citizen of ``district`` (``named``: the district given, else the gateway looks it up
    in ГБД ФЛ — its own look-up, never in the flow's scenario)."""
    person = await mesh.person(district=district)
    token = await mesh.citizen_session(person)
    async with mesh.client("portal") as portal:
        reply = await portal.post(f"/citizens/{person.iin}/applications",
                                  json=person.request(JOB_SEEKER) | ({"district": district} if named else {}),
                                  headers=bearer(token) | ({"X-Mesh-Scenario": scenario_id} if scenario_id else {}))
    assert reply.status_code == 202, reply.text
    return str(reply.json()["correlationId"]), person.iin


async def _mio_application(mesh: InProcessMesh, correlation_id: str) -> dict[str, Any]:
    number = await mesh.sql("mio_workstation", "SELECT number FROM application WHERE correlation_id = ?",
                            correlation_id)
    async with mesh.client("mio_workstation") as mio:
        return dict((await mio.get(f"/applications/{number[0][0]}")).json())


async def test_flows_on_one_district_at_once_each_get_their_own_scenarios_outcome(inproc: InProcessMesh):
    """Three citizens of one district apply at the same moment: ГБД ФЛ «нет данных» for the first flow (ИС МИО
    refuses: the applicant is not confirmed), a refusal on the named ground for the second, nothing forced for
    the third (COMPLETED) — each flow sees its own scenario and nobody else's."""
    district = "kyzylorda"
    await inproc.set_mode(district)
    no_data, employed = await register(inproc, "gbdfl:no-data"), await register(inproc, "mio:refuse:employed")
    sent = await asyncio.gather(_apply(inproc, district, no_data, named=False), _apply(inproc, district, employed),
                                _apply(inproc, district, None))
    final = await final_cases(inproc, [c for c, _ in sent])
    outcome = [(final[c]["status"], final[c]["refusalReason"]) for c, _ in sent]
    assert outcome[0] == ("REFUSED", IDENTITY_NOT_CONFIRMED), outcome
    assert outcome[1] == ("REFUSED", "По данным ЕСУТД лицо состоит в трудовых отношениях"), outcome
    assert outcome[2] == ("COMPLETED", None), outcome
    kept = [(await _mio_application(inproc, c)) for c, _ in sent]
    assert [a["status"] for a in kept] == ["REFUSED", "REFUSED", "COMPLETED"]


async def test_a_scenario_makes_its_flows_named_step_overdue_and_no_other(inproc: InProcessMesh):
    district = "kyzylorda"
    await inproc.set_mode(district)
    late = await register(inproc, "mio:overdue:register")
    (overdue, _), (plain, _) = await asyncio.gather(_apply(inproc, district, late), _apply(inproc, district, None))
    await final_cases(inproc, [plain])
    await inproc.advance_clock(working_days=3)  # past the step's maximum: simulated staff finish it late
    final = await final_cases(inproc, [overdue])
    assert final[overdue]["status"] == "COMPLETED", "late, not refused: the case goes on to its end"
    late_case, plain_case = await _mio_application(inproc, overdue), await _mio_application(inproc, plain)
    assert {s["step"]: s["overdue"] for s in late_case["timeline"]} == {
        s["step"]: s["step"] == "register" for s in late_case["timeline"]}
    assert not any(s["overdue"] for s in plain_case["timeline"])


async def test_at_the_centre_the_intake_and_the_sending_each_run_in_the_scenario_they_name(inproc: InProcessMesh):
    """ИС ЦОН's desk: the intake's ГБД ФЛ look-up in a «нет данных» scenario is refused as for an unknown IIN, the
    same person's intake without it is filled; the form sent naming a refusal scenario is refused on its ground."""
    desk = await operator(inproc, "almaty-almaly", 1)
    serving = await served(inproc, desk, JOB_SEEKER)
    person = await inproc.person(district="almaty")
    no_data, student = await register(inproc, "gbdfl:no-data"), await register(inproc, "mio:refuse:student")
    await inproc.set_mode("almaty")

    async def at_desk(path: str, body: dict[str, Any], scenario_id: str) -> httpx.Response:
        async with inproc.client("con_operator") as con:
            if path.endswith("/intake"):
                body = body | {"scans": [await desk._identity_scan(con, person.iin)]}
            return await con.post(path, json=body, headers=bearer(desk.token) | {"X-Mesh-Scenario": scenario_id})

    refused = await at_desk(f"/tickets/{serving['id']}/intake", {"iin": person.iin}, no_data)
    assert (refused.status_code, refused.json()["code"]) == (422, "GBD_FL_NO_DATA"), refused.text
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin})
    assert visit["form"]["surname"] == person.surname, "the person is there for a flow without the scenario"
    signature = sign_json(value=visit["form"], signer=desk.signer)
    sent = await at_desk(f"/visits/{visit['id']}/sign", {"signature": signature, "signedBy": "operator"}, student)
    assert sent.status_code == 200, sent.text
    ended = await settled(inproc, visit["id"])
    assert (ended["status"], ended["statuses"][-1]["reason"]) == ("REFUSED", FORCED_GROUNDS["student"]), ended
    await desk.ok(f"/tickets/{serving['id']}/close")


async def test_nuc_says_revoked_for_the_flow_that_names_it_and_good_before_and_after(inproc: InProcessMesh):
    """The same citizen's EDS: good for a plain submission (and cached so), revoked in the one naming a
    ``nuc:revoked`` scenario — refused, nothing sent — and good again for the next plain one: the flow's answer is
    neither taken from the cache nor left in it, and nothing is revoked at НУЦ."""
    person = await inproc.person(district="kyzylorda")
    token = await inproc.citizen_session(person)
    revoked = await register(inproc, "nuc:revoked")

    async def submit(scenario_id: str | None) -> httpx.Response:
        async with inproc.client("portal") as portal:
            return await portal.post(f"/citizens/{person.iin}/applications",
                                     json=person.request(JOB_SEEKER) | {"district": "kyzylorda"},
                                     headers=bearer(token) | ({"X-Mesh-Scenario": scenario_id} if scenario_id else {}))

    before = await submit(None)
    during = await submit(revoked)
    after = await submit(None)
    assert [before.status_code, after.status_code] == [202, 202], (before.text, after.text)
    assert (during.status_code, during.json()["code"]) == (401, "EDS_CERTIFICATE_REVOKED"), during.text
    async with inproc.client("portal") as portal:
        cases = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
    assert sorted(c["correlationId"] for c in cases["applications"]) == sorted(
        r.json()["correlationId"] for r in (before, after)), "the refused one made no case"
