"""The tester's journal and wait-until, in process (issue 20): every HTTP exchange at a service's edge and every
envelope the gateway decides on — its payload as the recipient saw it, the checks and their results — in one journal,
queried by the case's identifiers, counted, its unmatched listed; a wait that answers the matching entries as soon
as they land, or on timeout what it saw instead; every bad query refused with its own code, nothing changed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from shared.mesh.bus import OutgoingMessage
from shared.mesh.journal import Journal, Query
from shared.mesh.topology import INGRESS_EXCHANGE
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply

DISTRICT = "zhezkazgan"
JOB_SEEKER = "employment.job-seeker-registration"


async def _journal(mesh: InProcessMesh, path: str = "", *, at: str = "shep_gateway", **params: Any) -> dict[str, Any]:
    """``at``'s journal route: the gateway's (the whole mesh), by default."""
    async with mesh.client(at) as http:
        reply = await http.get(f"/admin/journal{path}", params=params, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def _completed_case(mesh: InProcessMesh) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A citizen's application through the portal to COMPLETED, waited for with wait-until: the person, what the
    portal answered, and the wait's answer."""
    await mesh.set_mode(DISTRICT, share=0.00001)
    person = await mesh.person(district=DISTRICT)
    sent = await apply(mesh, person, await mesh.citizen_session(person), JOB_SEEKER)
    waited = await _journal(mesh, "/wait", timeoutS=60, correlationId=sent["correlationId"], service="portal",
                            kind="consumed", messageType="NOTIFICATION", **{"payload.status": "COMPLETED"})
    return person, sent, waited


async def test_a_case_is_journalled_at_every_edge_and_hop_and_waited_for_without_sleeping(inproc: InProcessMesh):
    person, sent, waited = await _completed_case(inproc)
    correlation = sent["correlationId"]
    assert waited["matched"] is True, waited
    [notice] = waited["entries"]
    assert (notice["service"], notice["recipient"], notice["payload"]["status"]) == ("portal", "portal", "COMPLETED")
    assert notice["iin"] == person.iin
    assert notice["applicationNumber"]

    hops = (await _journal(inproc, correlationId=correlation))["entries"]
    kinds = {(e["service"], e["kind"], e.get("channel")) for e in hops}
    assert {("portal", "http", "http"), ("shep_gateway", "envelope", "async"), ("mio_workstation", "consumed", "async"),
            ("portal", "consumed", "async"), ("gbd_fl", "consumed", "sync")} <= kinds, kinds
    edge = next(e for e in hops if e["kind"] == "http")
    assert (edge["method"], edge["route"], edge["status"], edge["outcome"]) == (
        "POST", "/citizens/{iin}/applications", 202, "ok")
    assert edge["iin"] == person.iin
    assert edge["payload"]["response"]["correlationId"] == correlation
    application = next(e for e in hops if e["kind"] == "envelope" and e.get("recipient", "").startswith("mio."))
    assert (application["outcome"], application["channel"], application["sender"]) == ("routed", "async", "portal")
    assert application["checks"]["signature"]["ok"] is True
    assert application["checks"]["payload"] == "ok"
    assert application["payload"], "the payload as the gateway opened it"
    assert [e["atTs"] for e in hops] == sorted(e["atTs"] for e in hops), "in the order they happened"
    assert all(e["meshAt"] and e["at"] for e in hops), "wall time and mesh time both"

    by_iin = await _journal(inproc, iin=person.iin, kind="http", service="portal")
    assert any(e["route"] == "/citizens/{iin}/applications" for e in by_iin["entries"])
    number = notice["applicationNumber"]
    counted = await _journal(inproc, "/count", applicationNumber=number, messageType="NOTIFICATION")
    found = await _journal(inproc, applicationNumber=number, messageType="NOTIFICATION")
    assert counted["count"] == found["count"] == len(found["entries"]) >= 3  # RECEIVED … COMPLETED, at the gateway
    assert {s["service"] for s in counted["sources"]} >= {"shep_gateway", "portal", "mio_workstation", "nuc_pki"}
    assert all(s["reachable"] for s in counted["sources"])
    from_mio = await _journal(inproc, "/wait", timeoutS=30, atLeast=3, kind="envelope", sender=f"mio.{DISTRICT}",
                              messageType="NOTIFICATION", correlationId=correlation)
    assert len(from_mio["entries"]) >= 3, "ИС МИО has sent its three notices: RECEIVED, IN_PROGRESS, COMPLETED"
    first, last = hops[0], hops[-1]
    window = await _journal(inproc, "/count", correlationId=correlation, since=first["at"], until=last["at"])
    assert window["count"] == len(hops), "a time range on the wall clock, both ends in"
    later = await _journal(inproc, "/count", correlationId=correlation, meshSince=last["meshAt"])
    assert 1 <= later["count"] < len(hops), "a time range on the mesh clock"
    assert (await _journal(inproc, "/count", correlationId=correlation, since="2999-01-01T00:00:00Z"))["count"] == 0
    own = await _journal(inproc, at="portal", correlationId=correlation)
    assert {e["service"] for e in own["entries"]} == {"portal"}, "a service's own route: its own part"


async def test_a_wait_that_times_out_answers_the_nearest_misses(inproc: InProcessMesh):
    _person, sent, _waited = await _completed_case(inproc)
    waited = await _journal(inproc, "/wait", timeoutS=0.2, correlationId=sent["correlationId"], service="portal",
                            kind="consumed", **{"payload.status": "REFUSED"})
    assert (waited["matched"], waited["entries"]) == (False, [])
    nearest = waited["nearestMisses"]
    assert nearest, waited
    assert nearest[0]["missed"] == ["payload.status"], nearest
    assert {m["payload"]["status"] for m in nearest if m["missed"] == ["payload.status"]} <= {
        "RECEIVED", "IN_PROGRESS", "COMPLETED"}


async def test_a_wait_started_first_answers_the_entry_that_lands_after_it(inproc: InProcessMesh):
    """The wait is sent before the request it waits for, and answers that request's entry whenever it lands."""
    marker = f"{uuid.uuid4().int % 10**12:012d}"
    waiting = asyncio.ensure_future(_journal(inproc, "/wait", timeoutS=30, service="gbd_fl",
                                             route="/admin/people/{iin}", **{"payload.path.iin": marker}))
    async with inproc.client("gbd_fl") as gbd:
        refused = await gbd.get(f"/admin/people/{marker}")
    waited = await waiting
    assert waited["matched"] is True, waited
    [entry] = waited["entries"]
    assert (entry["status"], entry["code"], entry["outcome"]) == (
        refused.status_code, refused.json()["code"], "refused")


async def test_an_http_refusal_is_journalled_with_its_code_route_and_the_request(inproc: InProcessMesh):
    bad_iin = "850701900007"  # digit 7 is 9: no century
    async with inproc.client("portal") as portal:
        reply = await portal.post("/auth/register", json={"iin": bad_iin, "password": "Kz-2026-secure"},
                                  headers={"X-Correlation-Id": f"journal-{uuid.uuid4()}"})
    assert reply.json()["code"] == "IIN_BAD_CENTURY_DIGIT"
    waited = await _journal(inproc, "/wait", timeoutS=10, service="portal", code="IIN_BAD_CENTURY_DIGIT",
                            correlationId=reply.request.headers["X-Correlation-Id"])
    [entry] = waited["entries"]
    assert (entry["route"], entry["status"], entry["outcome"], entry["iin"]) == (
        "/auth/register", 422, "refused", bad_iin)
    assert entry["payload"]["request"] == {"iin": bad_iin, "password": "[secret]"}, "never a password"


async def test_unmatched_lists_a_dead_letter_and_not_a_settled_case(inproc: InProcessMesh):
    message_id = f"journal-garbage-{uuid.uuid4()}"
    bus = inproc.new_bus("tests-journal-garbage")
    await bus.connect()
    await bus.publish(exchange=INGRESS_EXCHANGE, routing_key="",
                      message=OutgoingMessage(body=b"not an envelope", message_id=message_id))
    await bus.close()
    refused = await _journal(inproc, "/wait", timeoutS=30, messageId=message_id, outcome="refused")
    assert refused["matched"] is True, refused
    assert refused["entries"][0]["checks"] == {"envelope": "unparsable"}
    [dead] = (await _journal(inproc, "/unmatched", messageId=message_id))["entries"]
    assert (dead["unmatched"], dead["code"]) == ("dead letter", refused["entries"][0]["code"])

    _person, sent, _waited = await _completed_case(inproc)
    receipted = await _journal(inproc, "/wait", timeoutS=30, kind="envelope", serviceId="shep.delivery-receipt",
                               inReplyTo=_waited["entries"][0]["messageId"])
    assert receipted["matched"] is True, "the portal's receipt of the COMPLETED notice reached the gateway"
    left = await _journal(inproc, "/unmatched", correlationId=sent["correlationId"])
    assert left["entries"] == [], left


async def test_the_journal_is_bounded_by_its_ring_and_each_payload_by_its_size():
    journal = Journal(service="test", ring=3, payload_bytes=256)
    for n in range(5):
        journal.record("http", payload={"n": n, "copy": "x" * 2000, "iin": "850701300007"}, outcome="ok")
    kept = journal.entries()
    assert [e["payload"]["n"] for e in kept] == [2, 3, 4], "the oldest go first"
    assert journal.stats() | {"payloadBytes": 256} == {"service": "test", "entries": 3, "ring": 3, "head": 5,
                                                       "dropped": 2, "payloadBytes": 256}
    assert kept[0]["payload"]["copy"] == "[2002 bytes]", "a large field replaced by its size"
    assert kept[0]["iin"] == "850701300007", "the identifiers stay queryable"
    assert await journal.find(Query({"iin": "850701300007", "kind": "http"})) == kept
    nested: dict = {}
    for _ in range(600):
        nested = {"a": nested}
    deep = journal.record("http", payload=nested, outcome="refused")
    assert deep["payload"].startswith("[not kept: "), "what JSON cannot hold is said, the request not failed"


@pytest.mark.parametrize(("params", "code"), [
    ({"correlationID": "x"}, "JOURNAL_FILTER_UNKNOWN"),
    ({"colour": "red", "kind": "http"}, "JOURNAL_FILTER_UNKNOWN"),
    ({"since": "yesterday"}, "JOURNAL_FILTER_INVALID"),
    ({"afterSeq": "ten"}, "JOURNAL_FILTER_INVALID"),
])
async def test_a_bad_query_is_refused_with_its_own_code(inproc: InProcessMesh, params, code):
    for service in ("shep_gateway", "portal"):
        async with inproc.client(service) as http:
            reply = await http.get("/admin/journal", params=params)
        assert (reply.status_code, reply.json()["code"]) == (400, code), reply.text


@pytest.mark.parametrize(("params", "code"), [
    ({"kind": "http"}, "JOURNAL_WAIT_TIMEOUT_MISSING"),
    ({"kind": "http", "timeoutS": "301"}, "JOURNAL_WAIT_TIMEOUT_TOO_LONG"),
    ({"kind": "http", "timeoutS": "1", "colour": "red"}, "JOURNAL_FILTER_UNKNOWN"),
])
async def test_a_bad_wait_is_refused_with_its_own_code(inproc: InProcessMesh, params, code):
    async with inproc.client("shep_gateway") as http:
        reply = await http.get("/admin/journal/wait", params=params)
    assert (reply.status_code, reply.json()["code"]) == (400, code), reply.text


async def test_the_journal_is_behind_the_admin_token(inproc: InProcessMesh):
    async with inproc.client("portal") as http:
        reply = await http.get("/admin/journal", headers={"Authorization": ""})
    assert (reply.status_code, reply.json()["code"]) == (401, "ADMIN_TOKEN_MISSING")


async def test_a_service_that_is_down_is_a_source_that_did_not_answer_not_a_failed_query(inproc: InProcessMesh):
    async with inproc.outage("con_operator"):
        page = await _journal(inproc, kind="http", limit=1)
        waited = await _journal(inproc, "/wait", timeoutS=0, kind="http", service="con_operator")
    [down] = [s for s in page["sources"] if s["service"] == "con_operator"]
    assert down["reachable"] is False
    assert "ConnectError" in down["error"]
    assert all(s["reachable"] for s in page["sources"] if s["service"] != "con_operator")
    assert waited["matched"] is False, "the wait ends at its timeout, answered"
