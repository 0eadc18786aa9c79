"""Settle runs in the mesh (``POST /admin/settle`` on the gateway): until nothing is in flight — no message in a
queue or a handler, no step due, no outbox row unsent — jumping the clock to each scheduled step of the case.

Before: settle was a client loop over ИС МИО's schedule. Straight after `apply` nothing had reached ИС МИО yet, so
nothing was scheduled and it returned at once (2 of 6 runs timed out waiting for COMPLETED); a case final at ИС МИО
was not yet heard at the portal; a case left by an earlier test made a later settle jump 36 hours.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply


async def _settle(mesh: InProcessMesh, **body: Any) -> tuple[int, dict[str, Any]]:
    async with mesh.client("shep_gateway", timeout=120) as gateway:
        reply = await gateway.post("/admin/settle", json=body)
    return reply.status_code, reply.json()


async def _portal_case(mesh: InProcessMesh, correlation_id: str) -> dict[str, Any]:
    async with mesh.client("portal") as portal:
        return (await portal.get("/admin/cases", params={"correlationId": correlation_id})).json()["applications"][0]


async def _clock_version(mesh: InProcessMesh) -> int:
    async with mesh.client("shep_gateway") as gateway:
        return int((await gateway.get("/clock")).json()["state"]["version"])


async def test_apply_then_settle_straight_away_completes_and_the_portal_has_heard_it(inproc: InProcessMesh):
    """No waiting for RECEIVED first: the settle waits for the application on its way, then jumps its steps."""
    await inproc.set_mode("zhezkazgan", share=0.5)  # steps of minutes: the clock must jump
    person = await inproc.person(district="zhezkazgan")
    sent = await apply(inproc, person, await inproc.citizen_session(person))

    status, settled = await _settle(inproc, case=sent["correlationId"], timeoutSeconds=60)

    assert status == 200, settled
    assert settled["outcome"] == "settled", (settled["inFlight"], settled["cases"])
    assert settled["jumps"] >= 1
    assert dt.datetime.fromisoformat(settled["clockTo"]) > dt.datetime.fromisoformat(settled["clockFrom"])
    seen = {(c["service"], c["role"]): c["status"] for c in settled["cases"]}
    assert seen == {("portal", "origin"): "COMPLETED", ("mio_workstation", "provider"): "COMPLETED"}, settled
    assert (await _portal_case(inproc, sent["correlationId"]))["status"] == "COMPLETED", "heard, not just decided"
    assert settled["inFlight"] == []


async def test_a_scoped_settle_does_not_jump_for_other_cases(inproc: InProcessMesh):
    """A case left waiting with steps of half an hour does not drive the clock of a settle for another case."""
    await inproc.set_mode("kyzylorda", share=1.0)  # 20-30 minute steps
    await inproc.set_mode("zhezkazgan", share=0.0001)  # steps of a fraction of a second
    left = await inproc.person(district="kyzylorda")
    other = await apply(inproc, left, await inproc.citizen_session(left))
    await _settle(inproc, case=other["correlationId"], timeoutSeconds=60, maxJumps=0)  # there, nothing jumped
    person = await inproc.person(district="zhezkazgan")
    mine = await apply(inproc, person, await inproc.citizen_session(person))

    status, settled = await _settle(inproc, case=mine["correlationId"], timeoutSeconds=60)

    assert (status, settled["outcome"]) == (200, "settled"), settled
    moved = dt.datetime.fromisoformat(settled["clockTo"]) - dt.datetime.fromisoformat(settled["clockFrom"])
    assert moved < dt.timedelta(minutes=5), f"jumped {moved} for a case whose steps take a fraction of a second"
    assert (await _portal_case(inproc, other["correlationId"]))["status"] in ("RECEIVED", "IN_PROGRESS")
    _, left_alone = await _settle(inproc, case=other["correlationId"], timeoutSeconds=60, maxJumps=0)
    assert left_alone["outcome"] == "max_jumps"
    assert dt.datetime.fromisoformat(left_alone["nextDue"]) > dt.datetime.fromisoformat(settled["clockTo"])
    await inproc.set_mode("kyzylorda", share=0.5)


async def test_a_settle_that_times_out_says_what_is_still_in_flight(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.0001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    async with inproc.outage("mio_workstation"):
        sent = await apply(inproc, person, token)
        status, settled = await _settle(inproc, case=sent["correlationId"], timeoutSeconds=1)
    assert (status, settled["outcome"]) == (200, "timed_out"), settled
    assert any(line.startswith("mio_workstation: not answering") for line in settled["inFlight"]), settled
    assert settled["jumps"] == 0

    status, settled = await _settle(inproc, case=sent["correlationId"], timeoutSeconds=60)  # back: it goes through
    assert (status, settled["outcome"]) == (200, "settled"), settled


async def test_bad_settle_requests_are_refused_with_their_codes_and_change_nothing(inproc: InProcessMesh):
    version = await _clock_version(inproc)
    for body, code in [({}, "SETTLE_TIMEOUT_REQUIRED"), ({"timeoutSeconds": 601}, "SETTLE_TIMEOUT_OUT_OF_RANGE"),
                       ({"timeoutSeconds": 0}, "SETTLE_TIMEOUT_OUT_OF_RANGE"),
                       ({"timeoutSeconds": 5, "maxJumps": -1}, "SETTLE_JUMPS_OUT_OF_RANGE"),
                       ({"timeoutSeconds": 5, "maxJumps": 10_001}, "SETTLE_JUMPS_OUT_OF_RANGE"),
                       ({"timeoutSeconds": 5, "case": "ZHZ-2026-999999"}, "SETTLE_CASE_UNKNOWN"),
                       ({"timeoutSeconds": 5, "case": "no-such-correlation-id"}, "SETTLE_CASE_UNKNOWN")]:
        status, answer = await _settle(inproc, **body)
        assert (status, answer["code"]) == ((404 if code == "SETTLE_CASE_UNKNOWN" else 422), code), (body, answer)
    async with inproc.client("shep_gateway") as gateway:
        anonymous = await gateway.post("/admin/settle", json={"timeoutSeconds": 5}, headers={"Authorization": ""})
    assert anonymous.json()["code"] == "ADMIN_TOKEN_MISSING"
    assert await _clock_version(inproc) == version, "no jump, no clock change"
