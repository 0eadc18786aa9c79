"""Explain a case (issue 20), in process: the hop-by-hop timeline joined from the gateway's signed log, the journal
and ИС МИО's and ИС ЦОН's timelines — as JSON, as Mermaid, and drawn as an SVG that names every hop — found by
correlation id or application number; an overdue step drawn as such; an unknown case refused with its code."""

from __future__ import annotations

from typing import Any

import pytest
from defusedxml import ElementTree

from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, final_case
from tests.usecases.test_centre import open_card, operator, served_fresh, settled

JOB_SEEKER = "employment.job-seeker-registration"
CERTIFICATE = "employment.unemployed-certificate"
PERIOD = {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}
SVG = "{http://www.w3.org/2000/svg}"


async def _explain(mesh: InProcessMesh, ref: str, suffix: str = "") -> Any:
    async with mesh.client("shep_gateway") as gateway:
        reply = await gateway.get(f"/admin/cases/{ref}/explain{suffix}")
    assert reply.status_code == 200, reply.text
    return reply.json() if not suffix else reply.text


def _svg_texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _drawn_hops(explained: dict[str, Any]) -> list[str]:
    """The arrow labels every message of the case (receipts aside) must have in the drawing."""
    return [f"{h['serviceId']} {h['messageType']}" for h in explained["hops"] if h["kind"] == "message"]


async def test_a_portal_case_explained_by_correlation_id_and_by_number(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token, JOB_SEEKER)
    case = await final_case(inproc, person, token, sent["correlationId"])
    assert case["status"] == "COMPLETED"

    explained = await _explain(inproc, sent["correlationId"])
    assert (explained["correlationId"], explained["status"], explained["channel"]) == (
        sent["correlationId"], "COMPLETED", "portal")
    messages = [h for h in explained["hops"] if h["kind"] == "message"]
    assert ("portal", "mio.zhezkazgan", "ROUTED") in {(h["from"], h["to"], h["outcome"]) for h in messages}
    notices = [h["status"] for h in messages if h["from"] == "mio.zhezkazgan" and h["to"] == "portal"]
    assert notices[0] == "RECEIVED"
    assert notices[-1] == "COMPLETED"
    assert all(h["checks"] and h["logSeq"] for h in messages), "each hop with the checks the gateway logged"
    assert any(h["kind"] == "http" and h["route"] == "/citizens/{iin}/applications" and h["status"] == 202
               for h in explained["hops"]), "the citizen's request that began it, from the journal"
    assert any(h["kind"] == "consumed" and h["service"] == "portal" for h in explained["hops"])
    assert explained["steps"], "ИС МИО's steps"
    assert all(s["finishedAt"] and s["overdue"] is False for s in explained["steps"])
    times = [h["meshAt"] for h in explained["hops"] if h["kind"] == "message"]
    assert times == sorted(times), "in mesh-time order"

    by_number = await _explain(inproc, explained["applicationNumber"])
    assert by_number["correlationId"] == sent["correlationId"]

    mermaid = await _explain(inproc, sent["correlationId"], ".mmd")
    assert mermaid.startswith("sequenceDiagram")
    assert "participant mio_zhezkazgan as ИС МИО (zhezkazgan)" in mermaid
    assert "portal->>shep: employment.job-seeker-registration REQUEST" in mermaid

    texts = _svg_texts(await _explain(inproc, sent["correlationId"], ".svg"))
    for hop in _drawn_hops(explained):
        assert any(hop in text for text in texts), hop
    for participant in ("Портал (ПЭП)", "ШЭП", "ИС МИО (zhezkazgan)", "Гражданин"):
        assert participant in texts, participant


async def test_a_centre_case_explained_with_both_timelines_and_drawn(inproc: InProcessMesh):
    await inproc.set_mode("mamlyut", share=0.00001)
    visitor = await inproc.person(district="mamlyut")
    await open_card(inproc, "mamlyut", visitor.iin, "unemployed")
    desk = await operator(inproc, "mamlyut", index=1)
    serving = await served_fresh(inproc, desk, CERTIFICATE)
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": visitor.iin, **PERIOD})
    assert (await desk.sign_and_send(visit)).status_code == 200
    visit = await settled(inproc, visit["id"])
    assert visit["status"] == "COMPLETED"

    explained = await _explain(inproc, visit["applicationNumber"])
    assert (explained["channel"], explained["status"]) == ("con", "COMPLETED")
    systems = {s["system"] for s in explained["steps"]}
    assert systems == {"mio", "con"}, explained["steps"]
    assert {("con", "mio.mamlyut"), ("mio.mamlyut", "con")} <= {(h["from"], h["to"]) for h in explained["hops"]
                                                                 if h["kind"] == "message"}
    texts = _svg_texts(await _explain(inproc, visit["applicationNumber"], ".svg"))
    assert len(texts) > 10, "not blank"
    for hop in _drawn_hops(explained):
        assert any(hop in text for text in texts), hop
    for step in explained["steps"]:
        assert any(step["step"] in text for text in texts), step
    assert "Оператор ЦОН" in texts
    await desk.ok(f"/tickets/{serving['id']}/close")


async def test_an_overdue_step_is_drawn_as_overdue(inproc: InProcessMesh):
    await inproc.set_mode("kokshetau", mode="manual")
    person = await inproc.person(district="kokshetau")
    sent = await apply(inproc, person, await inproc.citizen_session(person),
                       "employment.active-measures-referral", referralKind="vocational-training")
    for _ in range(200):
        explained = await _explain(inproc, sent["correlationId"])
        if explained["steps"]:
            break
    await inproc.advance_clock(working_days=10)
    try:
        explained = await _explain(inproc, sent["correlationId"])
        assert [s["overdue"] for s in explained["steps"]] == [True], explained["steps"]
        svg = await _explain(inproc, sent["correlationId"], ".svg")
        assert any("OVERDUE" in text for text in _svg_texts(svg))
    finally:  # the session's mesh back on real time: later tests sign on the wall clock
        await inproc.advance_clock(reset=True)
        await inproc.set_mode("kokshetau", mode="auto")


async def test_a_fault_injected_into_a_case_is_in_its_explanation(inproc: InProcessMesh):
    """A delay on the case's RECEIVED notice to the portal (the chaos rules, docs/chaos.md): the fired fault is among
    the case's faults, and drawn as such."""
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    rule = {"where": "gateway", "match": {"recipient": "portal", "messageType": "NOTIFICATION",
                                          "district": "zhezkazgan"},
            "fault": {"kind": "delay", "delayMs": 50}, "times": 1, "seed": 3}
    async with inproc.client("shep_gateway") as gateway:
        made = await gateway.post("/admin/chaos/rules", json=rule)
    assert made.status_code == 201, made.text
    try:
        sent = await apply(inproc, person, token, JOB_SEEKER)
        assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"
    finally:
        async with inproc.client("shep_gateway") as gateway:
            await gateway.delete(f"/admin/chaos/rules/{made.json()['id']}")
    explained = await _explain(inproc, sent["correlationId"])
    assert [(f["fault"], f["ruleId"]) for f in explained["faults"]] == [("delay", made.json()["id"])]
    texts = _svg_texts(await _explain(inproc, sent["correlationId"], ".svg"))
    assert any(text.startswith("⚡ fault delay") for text in texts), texts


@pytest.mark.parametrize(("ref", "status", "code"), [
    ("no-such-correlation", 404, "CASE_NOT_FOUND"),
    ("ZZZ-2026-000001", 404, "CASE_NOT_FOUND"),
    ("bad ref!", 422, "REQUEST_INVALID"),
])
async def test_an_unknown_or_malformed_case_is_refused_with_its_code(inproc: InProcessMesh, ref: str, status: int,
                                                                     code: str):
    async with inproc.client("shep_gateway") as gateway:
        for suffix in ("", ".mmd", ".svg"):
            reply = await gateway.get(f"/admin/cases/{ref}/explain{suffix}")
            assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text


async def test_explain_is_behind_the_admin_token(inproc: InProcessMesh):
    async with inproc.client("shep_gateway") as gateway:
        reply = await gateway.get("/admin/cases/anything/explain", headers={"Authorization": ""})
    assert (reply.status_code, reply.json()["code"]) == (401, "ADMIN_TOKEN_MISSING")
