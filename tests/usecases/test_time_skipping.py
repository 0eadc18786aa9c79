"""Moving the mesh clock skips time like a test server: simulated staff do every step whose scheduled time
falls inside the skipped interval, in order, each at its own scheduled mesh time.

Before: a jump of 4 working days finished one step, at the jump instant, overdue; the next step started at the
jump; the case stayed «Поступившие». Every case completed by jumps ended with every step overdue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, bearer, every_notice, final_cases
from tests.usecases.test_observability import scrape, total

JOB_SEEKER = "employment.job-seeker-registration"


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def _application(mesh: InProcessMesh, correlation_id: str) -> dict[str, Any]:
    number = await mesh.sql("mio_workstation", "SELECT number FROM application WHERE correlation_id = ?",
                            correlation_id)
    async with mesh.client("mio_workstation") as mio:
        return (await mio.get(f"/applications/{number[0][0]}")).json()


async def _con_notices(mesh: InProcessMesh, number: str, *, count: int) -> list[dict[str, Any]]:
    """What ИС ЦОН heard about an application, once ``count`` notices have come."""
    async with mesh.client("con_operator") as con:
        for _ in range(200):
            notices = (await con.get("/admin/notices", params={"applicationNumber": number})).json()["notices"]
            if len(notices) >= count:
                return notices
            await asyncio.sleep(0.05)
    return notices


async def _received(mesh: InProcessMesh, correlation_id: str) -> None:
    for _ in range(200):
        if await mesh.sql("mio_workstation", "SELECT 1 FROM application WHERE correlation_id = ?", correlation_id):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("ИС МИО never received it")


def _assert_on_schedule(application: dict[str, Any]) -> None:
    """Each step finished at its scheduled time; the next one started then; none overdue."""
    previous_end = _at(application["receivedAt"])
    for step in application["timeline"]:
        assert _at(step["startedAt"]) == previous_end, step
        assert step["finishedAt"] == step["autoAt"], step
        assert (step["actor"], step["overdue"]) == ("auto", False), step
        previous_end = _at(step["finishedAt"])
    assert application["completedAt"] == application["timeline"][-1]["finishedAt"]


async def test_one_jump_over_the_whole_schedule_brings_a_case_to_its_end_on_schedule(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.5)  # a 2-minute step takes 1 minute of mesh time
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token)
    await _received(inproc, sent["correlationId"])
    await inproc.advance_clock(seconds=3600)  # one jump, an hour: the whole schedule is inside it
    await final_cases(inproc, [sent["correlationId"]])
    application = await _application(inproc, sent["correlationId"])
    assert application["status"] == "COMPLETED"
    _assert_on_schedule(application)
    token = await inproc.citizen_session(person)  # the first login expired in the hour jumped over
    notices = await every_notice(inproc, person, token, application["number"], count=3)  # the portal's «Уведомления»
    decide = next(s for s in application["timeline"] if "decide" in s["done"])
    assert [(n["status"], n["at"]) for n in notices] == [
        ("RECEIVED", application["receivedAt"]), ("IN_PROGRESS", decide["startedAt"]),
        ("COMPLETED", application["completedAt"])], "each status stamped when it happened, in order"


async def test_working_day_steps_are_skipped_on_the_kazakh_calendar(inproc: InProcessMesh):
    """Mamlyut's certificate through ЦОН decides within 3 working days (acceptance day not counted): one jump of
    10 working days does it at its scheduled moment, across whatever weekend or holiday lies between."""
    await inproc.set_mode("mamlyut", share=0.5)
    person = await inproc.person(district="mamlyut")
    async with inproc.client("mio_workstation") as mio:
        (await mio.post("/admin/districts/mamlyut/register/cards", json={"iin": person.iin, "kind": "unemployed"})
         ).raise_for_status()
    async with inproc.client("con_operator") as con:
        form = person.request("employment.unemployed-certificate", periodFrom="2026-01-01", periodTo="2026-06-30")
        sent = (await con.post("/admin/applications", json={  # signed by a seeded Mamlyut operator (seed 003 п. 7)
            "form": form["form"], "attachments": form["attachments"], "signedBy": "operator",
            "district": "mamlyut"})).json()
    await _received(inproc, sent["correlationId"])
    await inproc.advance_clock(working_days=10)
    await final_cases(inproc, [sent["correlationId"]], service="con_operator")
    application = await _application(inproc, sent["correlationId"])
    assert application["status"] == "COMPLETED"
    _assert_on_schedule(application)
    decide = next(s for s in application["timeline"] if "decide" in s["done"])
    assert decide["max"].startswith("3 working day")
    assert _at(decide["finishedAt"]) - _at(decide["startedAt"]) > dt.timedelta(days=1), "half of ≥3 working days"


async def test_manual_staff_left_behind_by_a_jump_are_overdue_and_counted(inproc: InProcessMesh):
    await inproc.set_mode("kyzylorda", mode="manual")
    person = await inproc.person(district="kyzylorda")
    sent = await apply(inproc, person, await inproc.citizen_session(person))
    await _received(inproc, sent["correlationId"])
    await inproc.advance_clock(working_days=10)
    application = await _application(inproc, sent["correlationId"])
    assert application["status"] == "RECEIVED"
    assert [s["overdue"] for s in application["timeline"]] == [True], "the clerk's step waits, past its maximum"
    async with inproc.client("mio_workstation") as mio:
        inbox = (await mio.get("/districts/kyzylorda/applications", params={"status": "OVERDUE"})).json()
    assert application["number"] in [a["number"] for a in inbox["applications"]]
    assert inbox["overdueSteps"][application["timeline"][0]["step"]] >= 1


async def test_staff_slower_than_the_regulation_are_overdue_even_when_time_is_skipped(inproc: InProcessMesh):
    """…and ИС МИО's /metrics counts each overdue step by its step id (mesh_steps_overdue_total)."""
    await inproc.set_mode("almaty", share=1.2)  # simulated staff take 120 % of each step's maximum
    before = (await scrape(inproc))["mio_workstation"]
    person = await inproc.person(district="almaty")
    sent = await apply(inproc, person, await inproc.citizen_session(person))
    await _received(inproc, sent["correlationId"])
    await inproc.advance_clock(seconds=4 * 3600)
    await final_cases(inproc, [sent["correlationId"]])
    application = await _application(inproc, sent["correlationId"])
    assert [s["overdue"] for s in application["timeline"]] == [True] * len(application["timeline"])
    assert all(s["finishedAt"] == s["autoAt"] for s in application["timeline"])
    after = (await scrape(inproc))["mio_workstation"]
    for step in {s["step"] for s in application["timeline"]}:
        counted = total(after, "mesh_steps_overdue_total", step=step) - total(before, "mesh_steps_overdue_total",
                                                                               step=step)
        assert counted >= sum(s["step"] == step for s in application["timeline"]), (step, counted)


async def test_a_faster_clock_runs_the_schedule_as_it_comes(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.5)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token)
    await _received(inproc, sent["correlationId"])
    await inproc.advance_clock(speed=600)  # ten mesh minutes a real second: five minutes of schedule in 0.5 s
    try:
        await final_cases(inproc, [sent["correlationId"]], timeout_s=10)
    finally:
        await inproc.advance_clock(speed=1)
    _assert_on_schedule(await _application(inproc, sent["correlationId"]))


async def test_the_schedule_says_when_simulated_staff_act_next(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.5)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token)
    await _received(inproc, sent["correlationId"])
    application = await _application(inproc, sent["correlationId"])
    async with inproc.client("mio_workstation") as mio:
        schedule = (await mio.get("/admin/schedule", params={"number": application["number"]})).json()
    assert schedule["next"] == application["timeline"][0]["autoAt"]
    assert schedule["dueNow"] == 0
    async with inproc.client("portal") as portal:  # a login from before a jump is still checked on the mesh clock
        token = await inproc.citizen_session(person)
        assert (await portal.get("/me", headers=bearer(token))).status_code == 200


async def test_moving_the_clock_back_leaves_no_certificate_not_yet_valid(inproc: InProcessMesh):
    """Before: ``reset`` left every certificate issued while the clock was ahead "not yet valid" (98 measured, issue
    20); now НУЦ makes what it issues ahead valid from real time, so a reset breaks none (the answer's warning stays
    for certificates an older НУЦ issued)."""
    async with inproc.client("nuc_pki") as nuc:
        async def not_yet_valid(at: str) -> dict[str, Any]:
            return (await nuc.get("/admin/certificates/not-yet-valid", params={"at": at})).json()

        real_now = dt.datetime.now(dt.UTC).isoformat()
        before = await not_yet_valid(real_now)
        assert (await inproc.advance_clock(seconds=30 * 86400))["warnings"] == [], "going forward costs nothing"
        ahead = await inproc.person(district="zhezkazgan")  # signing and authentication, issued a month ahead
        answer = await inproc.advance_clock(reset=True)
        assert (await not_yet_valid(answer["now"]))["count"] == before["count"]
        assert answer["warnings"] == []
        malformed = await nuc.get("/admin/certificates/not-yet-valid", params={"at": "2026-01-01T00:00:00"})
        assert (malformed.status_code, malformed.json()["code"]) == (422, "TIME_WITHOUT_OFFSET")
    assert await inproc.citizen_session(ahead), "issued a month ahead, valid at real time"


async def test_after_a_reset_behind_a_case_its_history_still_runs_forward(inproc: InProcessMesh):
    """A case received while the clock was ahead, then the clock reset to real time, then the clerk accepts: the
    step does not finish before it started, and the notices keep their order."""
    await inproc.set_mode("kyzylorda", mode="manual")
    await inproc.advance_clock(seconds=2 * 86400)
    async with inproc.client("mio_workstation") as mio:
        staff = (await mio.get("/admin/staff")).json()["staff"]
        clerk = next(s for s in staff if (s["district"], s["role"]) == ("kyzylorda", "clerk"))
        token = (await mio.post("/staff/login", json={"iin": clerk["iin"], "password": clerk["password"]})).json()
        person = await inproc.person(district="kyzylorda")
        entered = (await mio.post("/districts/kyzylorda/applications", headers=bearer(token["token"]),
                                  json=person.request(JOB_SEEKER) | {"signedBy": "applicant"})).json()
        await inproc.advance_clock(reset=True)
        accepted = await mio.post(f"/applications/{entered['number']}/actions/accept", json={},
                                  headers=bearer(token["token"]))
    assert accepted.status_code == 200, accepted.text
    first, second = accepted.json()["timeline"][:2]
    assert first["finishedAt"] == first["startedAt"] == entered["receivedAt"], "not before it started"
    assert second["startedAt"] == first["finishedAt"]
