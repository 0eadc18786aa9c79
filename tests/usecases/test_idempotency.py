"""A submit cut off half-way is sent again with the same Idempotency-Key and gets the same case back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import bearer, final_case

SERVICE = "employment.job-seeker-registration"


async def _portal_cases(mesh: InProcessMesh, iin: str) -> list[dict]:
    async with mesh.client("portal") as portal:
        return (await portal.get("/admin/cases", params={"iin": iin})).json()["applications"]


async def test_a_repeated_submit_returns_the_same_case_and_makes_no_second_application(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    body, key = person.request(SERVICE), str(uuid.uuid4())
    async with inproc.client("portal") as portal:
        first = await portal.post(f"/citizens/{person.iin}/applications", json=body,
                                  headers=bearer(token) | {"Idempotency-Key": key})
        again = await portal.post(f"/citizens/{person.iin}/applications", json=body,
                                  headers=bearer(token) | {"Idempotency-Key": key})
        other = await portal.post(f"/citizens/{person.iin}/applications", json=person.request(SERVICE),
                                  headers=bearer(token) | {"Idempotency-Key": key})
        bad = await portal.post(f"/citizens/{person.iin}/applications", json=body,
                                headers=bearer(token) | {"Idempotency-Key": "spaces are not allowed"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["correlationId"] == first.json()["correlationId"]
    assert (first.headers.get("Idempotent-Replayed"), again.headers.get("Idempotent-Replayed")) == (None, "true")
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert (bad.status_code, bad.json()["code"]) == (400, "IDEMPOTENCY_KEY_INVALID")
    await final_case(inproc, person, token, first.json()["correlationId"])
    assert len(await _portal_cases(inproc, person.iin)) == 1
    at_mio = await inproc.sql("mio_workstation", "SELECT count(*) FROM application WHERE applicant_iin = ?", person.iin)
    assert at_mio == [(1,)]


async def test_a_call_cut_off_mid_way_then_repeated_yields_exactly_one_case(inproc: InProcessMesh):
    """The first call dies at a random point (its connection cut: the handler is cancelled wherever it is);
    repeats with the same key — some at the same time — all answer with one case."""
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    body, key = person.request(SERVICE), str(uuid.uuid4())
    async with inproc.client("portal") as hasty:
        with contextlib.suppress(TimeoutError):  # cut off: the client cannot tell whether the case was taken
            await asyncio.wait_for(hasty.post(f"/citizens/{person.iin}/applications", json=body,
                                              headers=bearer(token) | {"Idempotency-Key": key}), timeout=0.02)
    async with inproc.client("portal") as portal:
        repeats = await asyncio.gather(*(portal.post(f"/citizens/{person.iin}/applications", json=body,
                                                     headers=bearer(token) | {"Idempotency-Key": key})
                                         for _ in range(4)))
    assert {r.status_code for r in repeats} == {202}
    assert len({r.json()["correlationId"] for r in repeats}) == 1
    await final_case(inproc, person, token, repeats[0].json()["correlationId"])
    assert len(await _portal_cases(inproc, person.iin)) == 1


async def test_con_intake_and_the_office_take_an_idempotency_key_too(inproc: InProcessMesh):
    applicant = await inproc.person(district="almaty")
    body, key = applicant.request(SERVICE) | {"signedBy": "applicant"}, str(uuid.uuid4())
    async with inproc.client("con_operator") as con:
        replies = [await con.post("/admin/applications", json=body, headers={"Idempotency-Key": key})
                   for _ in range(2)]
    assert replies[0].json()["correlationId"] == replies[1].json()["correlationId"]
    assert replies[1].headers["Idempotent-Replayed"] == "true"

    walk_in = await inproc.person(district="zhezkazgan")
    async with inproc.client("mio_workstation") as mio:
        clerk = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                     if s["district"] == "zhezkazgan" and s["role"] == "clerk")
        login = (await mio.post("/staff/login", json={"iin": clerk["iin"], "password": clerk["password"]})).json()
        entered = []
        office_body = walk_in.request(SERVICE) | {"signedBy": "applicant"}
        for _ in range(2):
            entered.append(await mio.post("/districts/zhezkazgan/applications", json=office_body,
                                          headers=bearer(login["token"]) | {"Idempotency-Key": key}))
    assert [e.status_code for e in entered] == [201, 201], entered[0].text
    assert entered[0].json()["number"] == entered[1].json()["number"]
    assert entered[1].headers["Idempotent-Replayed"] == "true"
    assert await inproc.sql("mio_workstation", "SELECT count(*) FROM application WHERE applicant_iin = ?",
                      walk_in.iin) == [(1,)]
