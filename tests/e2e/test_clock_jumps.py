"""30 changes of the mesh clock — jumps of seconds and of working days, speed changes, a reset — interleaved with
100 applications over every regulation (portal, ИС ЦОН and the МИО offices), on real processes and RabbitMQ.

Before: right after a jump, a service whose clock had not heard it yet asked OCSP, got "response is from the
future", took it for "unknown certificate" and dead-lettered status notices; cases completed by jumps had every
step overdue. Here: no dead letter, every application final, and every status heard exactly once, in order, at
ИС ЦОН (which hears all of them) and at the portal (for its own).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from meshkit.load import Applicant, HttpClients, follow, lanes, portal_session, prepare, submit
from services.mio_workstation.regulations import RegulationBook
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
