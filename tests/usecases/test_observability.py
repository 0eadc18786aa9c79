"""Metrics and traces across the mesh, in process (issue 19): one portal application is one trace — HTTP into the
portal, AMQP through the gateway to ИС МИО and back to the portal and, where the seed has ИС ЦОН hear of it, to ИС
ЦОН — kept by the gateway's signed log; and every service's /metrics moves as the mesh works."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from shared.mesh.bus import OutgoingMessage
from shared.mesh.topology import INGRESS_EXCHANGE
from tests.support.inprocess import InProcessMesh
from tests.support.tracing import paths, recorded_spans, service_of, trace_of, tree
from tests.usecases.helpers import apply, final_case
from tests.usecases.test_centre import CERTIFICATE, PERIOD, open_card, operator, served_fresh, settled

APPLY_ROUTE = "POST /citizens/{iin}/applications"


def _collapsed(path: list) -> list[str]:
    """The services a path of spans passes through, a service once for each stay."""
    out: list[str] = []
    for span in path:
        if not out or out[-1] != service_of(span):
            out.append(service_of(span))
    return out


def _contains(sequence: list[str], wanted: list[str]) -> bool:
    """``wanted`` in ``sequence`` in order, one after another."""
    return any(sequence[i:i + len(wanted)] == wanted for i in range(len(sequence)))


async def test_one_portal_application_is_one_trace_portal_gateway_mio_gateway_portal_and_centre(
        inproc: InProcessMesh):
    """mamlyut's unemployed certificate on the portal: its seed has ИС ЦОН hear of the case too (notifyCentre)."""
    await inproc.set_mode("mamlyut", share=0.00001)
    person = await inproc.person(district="mamlyut")
    await open_card(inproc, "mamlyut", person.iin, "unemployed")  # registered unemployed: the certificate is issued
    token = await inproc.citizen_session(person)
    with recorded_spans() as exporter:
        sent = await apply(inproc, person, token, CERTIFICATE, **PERIOD)
        root = next(s for s in exporter.get_finished_spans() if s.name == APPLY_ROUTE)
        trace_id = root.context.trace_id
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            spans = trace_of(exporter.get_finished_spans(), trace_id)
            journeys = [_collapsed(p) for p in paths(spans)]
            if any(_contains(j, ["mio_workstation", "shep_gateway", "portal"]) for j in journeys) and \
                    any(_contains(j, ["mio_workstation", "shep_gateway", "con_operator"]) for j in journeys):
                break
            assert asyncio.get_running_loop().time() < deadline, tree(spans)
            await asyncio.sleep(0.1)
        # Simulated staff's later steps — done by the staff runner on the mesh clock, not in the message's
        # handling — continue the same trace: the case's end is in it too.
        assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"
        spans = trace_of(exporter.get_finished_spans(), trace_id)
        journeys = [_collapsed(p) for p in paths(spans)]
    print(f"\ntrace {trace_id:032x}\n{tree(spans)}")
    assert [s for s in spans if s.parent is None or s.parent.span_id not in
            {x.context.span_id for x in spans}] == [root], "one root: the citizen's request"
    assert any(_contains(j, ["portal", "shep_gateway", "mio_workstation", "shep_gateway", "portal"])
               for j in journeys), journeys
    assert any(_contains(j, ["portal", "shep_gateway", "mio_workstation", "shep_gateway", "con_operator"])
               for j in journeys), journeys
    personal = (person.iin, person.surname, person.name)
    shown = [str(v) for s in spans for v in (s.name, *(s.attributes or {}).values())]
    assert not [v for v in shown if any(p in v for p in personal)], "no IIN or name in a span"

    # Every message of the case, COMPLETED's notices included, carries the trace id in the gateway's log.
    async with inproc.client("shep_gateway") as gateway:
        records = (await gateway.get("/log", params={"correlationId": sent["correlationId"]})).json()["records"]
    traced = {(r["sender"], r["recipient"]) for r in records if r["traceId"] == f"{trace_id:032x}"}
    assert {("portal", "mio.mamlyut"), ("mio.mamlyut", "portal"), ("mio.mamlyut", "con")} <= traced, records
    assert {r["traceId"] for r in records} == {f"{trace_id:032x}"}, [(r["sender"], r["recipient"], r["traceId"])
                                                                     for r in records]
    async with inproc.client("shep_gateway") as gateway:
        assert (await gateway.get("/log/verify")).json()["ok"] is True, "the chain, trace ids included, verifies"


async def scrape(mesh: InProcessMesh) -> dict[str, dict[tuple[str, tuple], float]]:
    out = {}
    for service in ("portal", "shep_gateway", "mio_workstation", "con_operator"):
        async with mesh.client(service) as http:
            reply = await http.get("/metrics")
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/plain")
        out[service] = {(s.name, tuple(sorted(s.labels.items()))): s.value
                        for family in text_string_to_metric_families(reply.text) for s in family.samples}
    return out


def total(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return sum(value for (sample, have), value in samples.items()
               if sample == name and all((k, v) in have for k, v in labels.items()))


def _moved(before: dict, after: dict, service: str, name: str, **labels: str) -> float:
    return total(after[service], name, **labels) - total(before[service], name, **labels)


async def test_metrics_move_as_cases_go_through(inproc: InProcessMesh):
    before = await scrape(inproc)
    await inproc.set_mode("mamlyut", share=0.00001)
    person = await inproc.person(district="mamlyut")
    await open_card(inproc, "mamlyut", person.iin, "unemployed")  # registered unemployed: the certificate is issued
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token, CERTIFICATE, **PERIOD)
    assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"

    visitor = await inproc.person(district="mamlyut")  # a ЦОН visit, handed out at the desk
    await open_card(inproc, "mamlyut", visitor.iin, "unemployed")
    desk = await operator(inproc, "mamlyut")
    serving = await served_fresh(inproc, desk, CERTIFICATE)
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": visitor.iin, **PERIOD})
    assert (await desk.sign_and_send(visit)).status_code == 200
    assert (await settled(inproc, visit["id"]))["status"] == "COMPLETED"
    await desk.ok(f"/visits/{visit['id']}/hand-out", {"delivery": "in_person", "ticketId": serving["id"],
                                                       "presentedIin": visitor.iin})
    await desk.ok(f"/tickets/{serving['id']}/close")

    bus = inproc.new_bus("tests-garbage")  # a message the gateway refuses
    await bus.connect()
    await bus.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=OutgoingMessage(body=b"not an envelope",
                                                                                         message_id="garbage-1"))
    await bus.close()
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        after = await scrape(inproc)
        if _moved(before, after, "shep_gateway", "mesh_refusals_total"):
            break
        assert asyncio.get_running_loop().time() < deadline, "the refusal was not counted"
        await asyncio.sleep(0.1)

    moved: dict[str, Any] = {
        "portal POST applications": _moved(before, after, "portal", "http_request_duration_seconds_count",
                                           method="POST", route="/citizens/{iin}/applications", status="202"),
        "portal out": _moved(before, after, "portal", "mesh_messages_out_total", outcome="published"),
        "portal in": _moved(before, after, "portal", "mesh_messages_in_total", outcome="processed"),
        "gateway routed": _moved(before, after, "shep_gateway", "mesh_messages_in_total", outcome="routed"),
        "gateway refused": _moved(before, after, "shep_gateway", "mesh_refusals_total"),
        "gateway OCSP": _moved(before, after, "shep_gateway", "mesh_ocsp_cache_total"),
        "mio steps": _moved(before, after, "mio_workstation", "mesh_step_duration_seconds_count"),
        "centre steps": _moved(before, after, "con_operator", "mesh_step_duration_seconds_count"),
        "mio calls answered": _moved(before, after, "mio_workstation", "mesh_sync_call_seconds_count",
                                     service_id="gbdfl.person-by-iin", outcome="answered"),
        "centre calls answered": _moved(before, after, "con_operator", "mesh_sync_call_seconds_count",
                                        service_id="gbdfl.person-by-iin", outcome="answered"),
    }
    print("\nmoved:", moved)
    assert all(value > 0 for value in moved.values()), moved
    assert any(dict(labels).get("step", "").startswith("centre.") for (name, labels) in after["con_operator"]
               if name == "mesh_step_duration_seconds_count")
    for service in ("portal", "shep_gateway", "mio_workstation", "con_operator"):
        names = {name for name, _ in after[service]}
        assert {"mesh_outbox_lag_seconds", "mesh_outbox_pending", "mesh_queue_depth"} <= names, (service, names)
    assert total(after["shep_gateway"], "mesh_queue_depth", queue="shep.ingress") >= 0
    assert ("mesh_queue_depth", (("queue", "member.portal"), ("service", "portal"))) in after["portal"]
    everything = "".join(str(after))
    assert person.iin not in everything, "no IIN in a metric"
    assert visitor.iin not in everything
