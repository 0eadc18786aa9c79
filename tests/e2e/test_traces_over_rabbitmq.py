"""Traces and metrics on real processes and RabbitMQ: a message's ``traceparent`` travels in its AMQP headers
(aio-pika) to the gateway's process — which records nothing (no OTLP endpoint set) yet passes the trace on and
keeps its id in the signed log — and on to the recipient, whose consumer continues it; the gateway's /metrics
counts what it routed. A citizen's application is one trace from the request to the notices of its end, the
simulated staff's steps done on the mesh clock included."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.shep_gateway.domain import record_hash
from shared.mesh.envelope import MessageType
from shared.telemetry import span
from tests.support.members import grant, unique_id
from tests.support.mesh import MeshHandle
from tests.support.tracing import recorded_spans

pytestmark = pytest.mark.e2e


async def test_a_trace_crosses_rabbitmq_and_the_gateway_process(mesh, member_factory):
    caller, provider = await member_factory("tracer"), await member_factory("traced")
    service = unique_id("test.traced")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=[caller.member_id])
    with recorded_spans() as spans:
        with span("e2e caller") as started:
            sent = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={})
        await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])
        trace_id = started.get_span_context().trace_id
        deadline = asyncio.get_running_loop().time() + 15
        while not [s for s in spans.get_finished_spans() if s.name == f"receive member.{provider.member_id}"
                   and s.context.trace_id == trace_id]:
            assert asyncio.get_running_loop().time() < deadline, [s.name for s in spans.get_finished_spans()]
            await asyncio.sleep(0.05)
    async with mesh.client() as http:
        record = (await http.get(f"{mesh.gateway}/log/{sent['messageId']}", headers=mesh.admin)).json()
        exposition = (await http.get(f"{mesh.gateway}/metrics")).text
    assert record["traceId"] == f"{trace_id:032x}", record
    assert record_hash(record) == record["recordHash"], "the trace id is in what the gateway chained and signed"
    routed = [s.value for family in text_string_to_metric_families(exposition) for s in family.samples
              if s.name == "mesh_messages_in_total" and s.labels == {"service": "shep_gateway", "outcome": "routed"}]
    assert routed, exposition[:2000]
    assert routed[0] >= 1


def test_a_citizens_application_is_one_trace_to_its_end(mesh: MeshHandle) -> None:
    """The request to the portal carries a ``traceparent`` (as a caller's own tracing would); every message of the
    case the gateway logged — to ИС МИО, its look-ups, «Поступившие», «В работе», the result — keeps its trace id,
    though the steps after the first are done by simulated staff when the mesh clock is moved (``settle``)."""
    trace_id = secrets.token_hex(16)
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district="kyzylorda", jobless=True)
        session = kit.login_eds(citizen)
        kit.http.headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        try:
            case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
        finally:
            del kit.http.headers["traceparent"]
        number = kit.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=60)["applicationNumber"]
        kit.settle(number)
        assert kit.wait_for_status(case["correlationId"], "COMPLETED", timeout_s=60)["status"] == "COMPLETED"
        records = kit.http.get(f"{mesh.gateway}/log", params={"correlationId": case["correlationId"]},
                               headers=mesh.admin).json()["records"]
    assert len(records) >= 4, records  # the request and its notices at least
    assert {r["traceId"] for r in records} == {trace_id}, [(r["sender"], r["recipient"], r["traceId"])
                                                         for r in records]
