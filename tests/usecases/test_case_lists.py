"""The portal's and ИС ЦОН's case lists since a moment (``updatedSince``): a follower of thousands of cases asks
each round for what changed, not for every case again.

Before: ``GET /admin/cases`` always answered every case; the load driver asked for all of them twice a second,
so the portal's CPU per application grew with the number of cases a run had made (`make bench`'s steady run)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, final_cases


async def _listed(mesh: InProcessMesh, service: str, path: str, since: dt.datetime | None) -> list[dict[str, Any]]:
    async with mesh.client(service) as http:
        reply = await http.get(path, params={"updatedSince": since.isoformat()} if since else None)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["applications"])


async def test_a_case_list_since_a_moment_holds_the_cases_changed_at_or_after_it(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.0001)
    person = await inproc.person(district="zhezkazgan")
    sent = await apply(inproc, person, await inproc.citizen_session(person))
    await inproc.set_mode("mamlyut", share=0.0001)
    other = await inproc.person(district="mamlyut")
    async with inproc.client("mio_workstation") as mio:
        (await mio.post("/admin/districts/mamlyut/register/cards", json={"iin": other.iin, "kind": "unemployed"})
         ).raise_for_status()
    async with inproc.client("con_operator") as con:
        form = other.request("employment.unemployed-certificate", periodFrom="2026-01-01", periodTo="2026-06-30")
        at_con = (await con.post("/admin/applications", json={
            "form": form["form"], "attachments": form["attachments"], "signedBy": "operator",
            "district": "mamlyut"})).json()
    for case_id in (sent["correlationId"], at_con["correlationId"]):  # the clock jumped over their steps
        async with inproc.client("shep_gateway", timeout=120) as gateway:
            settled = (await gateway.post("/admin/settle", json={"case": case_id, "timeoutSeconds": 60})).json()
        assert settled["outcome"] == "settled", settled
    final = (await final_cases(inproc, [sent["correlationId"]]))[sent["correlationId"]]
    final_at_con = (await final_cases(inproc, [at_con["correlationId"]], service="con_operator"))[
        at_con["correlationId"]]

    for service, path, case in (("portal", "/admin/cases", final), ("con_operator", "/admin/cases", final_at_con)):
        changed = dt.datetime.fromisoformat(case["updatedAt"])
        every = await _listed(inproc, service, path, None)
        assert case["correlationId"] in {c["correlationId"] for c in every}
        since_its_change = await _listed(inproc, service, path, changed)
        assert case["correlationId"] in {c["correlationId"] for c in since_its_change}
        assert {c["correlationId"] for c in since_its_change} <= {c["correlationId"] for c in every}
        after_it = await _listed(inproc, service, path, changed + dt.timedelta(microseconds=1))
        assert case["correlationId"] not in {c["correlationId"] for c in after_it}, service


async def test_a_moment_without_its_zone_is_refused(inproc: InProcessMesh):
    async with inproc.client("portal") as portal:
        reply = await portal.get("/admin/cases", params={"updatedSince": "2026-03-02T09:15:00"})
    assert reply.status_code == 422, reply.text
