"""30 changes of the mesh clock — jumps of seconds and of working days, speed changes, a reset — interleaved with
100 applications over every regulation (portal, ИС ЦОН and the МИО offices), on real processes and RabbitMQ.

Before: right after a jump, a service whose clock had not heard it yet asked OCSP, got "response is from the
future", took it for "unknown certificate" and dead-lettered status notices; cases completed by jumps had every
step overdue. Here: no dead letter, every application final, and every status heard exactly once, in order, at
ИС ЦОН (which hears all of them) and at the portal (for its own).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from meshkit.load import Applicant, HttpClients, follow, lanes, portal_session, prepare, submit
from shared.employment.regulations import RegulationBook
from tests.support.mesh import MeshHandle, drain_dead_letters, private_mesh

pytestmark = pytest.mark.e2e
PORTAL, CON, OFFICE = 50, 25, 25
ORDER = ["RECEIVED", "IN_PROGRESS"]

# Six clock changes after each of five waves of twenty applications: 30 in all, the reset in the middle.
CHANGES: list[list[dict[str, Any]]] = [
    [{"advanceSeconds": 300}, {"speed": 60}, {"advanceSeconds": 90}, {"speed": 1}, {"advanceWorkingDays": 1},
     {"advanceSeconds": 1800}],
    [{"speed": 600}, {"advanceSeconds": 60}, {"speed": 1}, {"advanceSeconds": 7200}, {"advanceWorkingDays": 2},
     {"advanceSeconds": 5}],
    [{"advanceSeconds": 600}, {"reset": True}, {"advanceSeconds": 120}, {"speed": 120}, {"speed": 1},
     {"advanceWorkingDays": 1}],
    [{"advanceSeconds": 3600}, {"speed": 3000}, {"advanceSeconds": 30}, {"speed": 1}, {"advanceSeconds": 45},
     {"advanceWorkingDays": 3}],
    [{"advanceSeconds": 900}, {"speed": 10}, {"advanceSeconds": 1}, {"speed": 1}, {"advanceSeconds": 86400},
     {"advanceWorkingDays": 1}],
]


@pytest.fixture(scope="module")
def jump_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHandle]:
    with private_mesh(tmp_path_factory, name="clock-jumps") as handle:
        yield handle


async def _change_clock(clients: HttpClients, change: dict[str, Any]) -> None:
    async with clients("shep_gateway") as gateway:
        reply = await gateway.post("/admin/clock", json=change)
    assert reply.status_code == 200, reply.text


async def _relogin(clients: HttpClients, wave: list[Applicant]) -> None:
    """Portal logins last minutes of mesh time; the clock has moved days since the batch was prepared."""
    for applicant in wave:
        if applicant.lane.channel == "portal":
            applicant.token = await portal_session(clients, applicant.person)


def _statuses_once_in_order(heard: list[str], final: str) -> bool:
    expected = ["RECEIVED", final] if final == "NOT_ACCEPTED" else [*ORDER, final]
    return heard == expected


async def test_statuses_survive_thirty_clock_changes_among_a_hundred_applications(jump_mesh: MeshHandle):
    clients = HttpClients({name: jump_mesh.url(name) for name in jump_mesh.runner.services},
                          admin_token=jump_mesh.admin_token)
    try:
        applicants = await prepare(clients, portal=PORTAL, con=CON, office=OFFICE, share=0.5)
        waves = [applicants[i::5] for i in range(5)]
        for wave, changes in zip(waves, CHANGES, strict=True):
            await _relogin(clients, wave)
            await submit(clients, wave)
            for change in changes:
                await asyncio.sleep(0.3)  # messages in flight while the clock moves
                await _change_clock(clients, change)
        with jump_mesh.kit() as kit:
            settled = await asyncio.to_thread(kit.settle, timeout_s=300)
        report = await follow(clients, applicants, timeout_s=120, dead_letters=lambda: drain_dead_letters(jump_mesh))
        print(json.dumps(report.summary() | {"settleJumps": settled["jumps"]}))

        assert report.dead_letters == [], report.dead_letters[:5]
        assert report.lost == [], f"{len(report.lost)} applications never reached their final status"
        assert report.duplicated == {}
        assert set(report.statuses) <= {"COMPLETED", "REFUSED", "NOT_ACCEPTED"}, report.statuses
        assert report.statuses.get("COMPLETED", 0) >= 95, report.statuses
        assert {a.lane.regulation for a in applicants} == {lane.regulation for lane in
                                                          lanes(channels=("portal", "con", "office"))}

        async with clients("con_operator") as con:
            notices = (await con.get("/admin/notices")).json()["notices"]
        heard: dict[str, list[str]] = defaultdict(list)
        for notice in notices:
            heard[notice["applicationNumber"]].append(notice["status"])
        centre_hears = {r.id for r in RegulationBook.load().all.values() if r.centre_hears}
        for applicant in applicants:
            number, final = applicant.final["applicationNumber"], applicant.final["status"]
            if applicant.lane.regulation in centre_hears:
                assert _statuses_once_in_order(heard[number], final), (number, heard[number])
            else:  # the seed routes nothing of it to ИС ЦОН
                assert heard[number] == [], (number, heard[number])
        for applicant in (a for a in applicants if a.lane.channel == "portal"):
            token = await portal_session(clients, applicant.person)
            async with clients("portal") as portal:
                seen = (await portal.get(f"/citizens/{applicant.person.iin}/notifications",
                                         headers={"Authorization": f"Bearer {token}"})).json()["notifications"]
            statuses = [n["status"] for n in seen if n["applicationNumber"] == applicant.final["applicationNumber"]]
            assert _statuses_once_in_order(statuses, applicant.final["status"]), (applicant.person.iin, statuses)
    finally:
        await clients.aclose()


def test_one_new_person_through_the_chain_of_services(jump_mesh: MeshHandle):
    """Issue 12's chain, for one new person, ИС МИО in auto mode: registration as a job seeker (Almaty, through
    the portal); registration as unemployed at the Almaty office across its 3-working-day term — one clock jump,
    the SMS of 004 п. 5 read back; a referral of each kind Kyzylorda's regulation offers (the register is one:
    Almaty's card is read there); a Mamlyut certificate whose 003 appendix 5 fields list the referrals taken."""
    book = RegulationBook.load()
    unemployed = book.all["almaty.unemployed-registration.office"]
    kinds = list(book.all["kyzylorda.active-measures-referral.portal"].referral_kinds or ())
    assert unemployed.term is not None
    with jump_mesh.kit() as kit:
        for district in ("almaty", "kyzylorda", "mamlyut"):
            kit.set_mode(district, "auto", auto_share=0.00001)
        citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True)
        portal = kit.login(citizen.iin, citizen.password or "")
        registered = portal.apply(citizen.signed_request("employment.job-seeker-registration"))
        kit.wait_for_status(registered["correlationId"], "COMPLETED", timeout_s=60)

        kit.set_mode("almaty", "auto", auto_share=0.5)  # half of each step's maximum: days, not seconds
        clerk = kit.staff_login(kit.staff("almaty", role=unemployed.steps[0].role))
        number = clerk.enter(citizen.signed_request("employment.unemployed-registration"))["number"]
        time.sleep(1.5)
        assert kit.mio_application(number)["status"] in ("RECEIVED", "IN_PROGRESS"), "not decided without the jump"
        kit.advance_clock(working_days=unemployed.term.working_days)
        decided = kit.wait_for_status(number, "COMPLETED", timeout_s=90)
        application = kit.mio_application(number)
        assert application["completedAt"] <= application["termDue"], application
        registered_on = application["document"]["content"]["registeredOn"]
        [sms] = kit.wait_for_mail(kind="sms", application_number=number)
        assert registered_on in sms["text"], sms
        assert decided["status"] == "COMPLETED"

        kit.set_mode("almaty", "auto", auto_share=0.00001)
        portal = kit.login(citizen.iin, citizen.password or "")  # the jump outlived the morning's login
        referrals = [portal.apply(citizen.signed_request("employment.active-measures-referral", referralKind=kind),
                                  district="kyzylorda") for kind in kinds]
        for sent in referrals:
            kit.wait_for_status(sent["correlationId"], "COMPLETED", timeout_s=60)
        today = dt.datetime.fromisoformat(kit.clock()["now"]).astimezone(dt.timezone(dt.timedelta(hours=5))).date()
        period = {"periodFrom": (today - dt.timedelta(days=30)).isoformat(),
                  "periodTo": (today + dt.timedelta(days=1)).isoformat()}
        certificate = portal.apply(citizen.signed_request("employment.unemployed-certificate", **period),
                                   district="mamlyut")
        kit.wait_for_status(certificate["correlationId"], "COMPLETED", timeout_s=60)
        content = portal.document(certificate["correlationId"])["content"]
        history = portal.applications()

    assert content["registeredUnemployedSince"] == registered_on
    taken = {m["referralKind"] for m in content["publicWorks"] + content["training"]}
    assert taken == {"public-works", "social-jobs", "youth-practice"} & set(kinds) | (
        {"vocational-training"} & set(kinds)), content
    assert len(history) == 3 + len(kinds), [(c["serviceId"], c["channel"]) for c in history]
    assert {c["channel"] for c in history} == {"portal", "office"}
    assert all(c["status"] == "COMPLETED" for c in history), history
