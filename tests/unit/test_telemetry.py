"""Metrics and traces (shared/telemetry.py): the trace context rides in AMQP headers outside the signed envelope, a
consumer continues it as its own service, the gateway's log chain keeps a trace id without changing old records,
and each service's /metrics counts its own requests by route template — never by a path that holds an IIN."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi.testclient import TestClient
from opentelemetry import trace
from prometheus_client.parser import text_string_to_metric_families

from services.shep_gateway.domain import record_hash
from shared.mesh.bus import OutgoingMessage
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.readiness import Readiness
from shared.telemetry import TRACEPARENT, current_service, metrics, serving, span, trace_id_of
from shared.web.http_app import build_app
from tests.support.tracing import recorded_spans

IIN = "900101300123"


def test_a_message_made_in_a_span_carries_its_trace_and_keeps_one_it_has():
    with recorded_spans(), span("send") as current:
        made = OutgoingMessage(body=b'{"signed": "bytes"}', headers={"x-other": 1})
        copied = OutgoingMessage(body=b"x", headers={TRACEPARENT: "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"})
    assert made.body == b'{"signed": "bytes"}', "the body (the signed envelope) is never touched"
    assert made.headers["x-other"] == 1
    assert trace_id_of(made.headers) == format(current.get_span_context().trace_id, "032x")
    assert trace_id_of(copied.headers) == "ab" * 16, "a copy keeps the trace it was made in"
    assert TRACEPARENT not in OutgoingMessage(body=b"x").headers, "no span, no trace context"


async def test_a_consumer_continues_the_publishers_trace_as_its_own_service():
    broker = MemoryBroker()
    publisher, consumer = MemoryBus(broker=broker), MemoryBus(broker=broker)
    await publisher.connect()
    await consumer.connect()
    await publisher.declare_queue(name="work")
    seen: list[tuple[str, int, str]] = []
    done = asyncio.Event()

    async def handle(delivery):
        context = trace.get_current_span().get_span_context()
        seen.append((current_service(), context.trace_id, OutgoingMessage(body=b"reply").headers[TRACEPARENT]))
        await delivery.ack()
        done.set()

    with recorded_spans() as spans:
        with serving("consumer-service"):
            await consumer.consume(queue="work", handler=handle)
        with serving("publisher-service"), span("publish") as sent:
            await publisher.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"m"))
        await asyncio.wait_for(done.wait(), 5)
    service, trace_id, reply_parent = seen[0]
    assert service == "consumer-service", "a delivery runs as its consumer's service, not the publisher's"
    assert trace_id == sent.get_span_context().trace_id
    received = next(s for s in spans.get_finished_spans() if s.name == "receive work")
    assert received.parent is not None
    assert received.parent.span_id == sent.get_span_context().span_id
    assert (received.attributes or {})["mesh.service"] == "consumer-service"
    assert format(received.context.span_id, "016x") in reply_parent, "what it sends continues from its span"
    await publisher.close()
    await consumer.close()


def test_the_log_chain_covers_a_trace_id_and_records_without_one_hash_as_before():
    fields = dict.fromkeys(("messageId", "correlationId", "serviceId", "messageType", "sender", "recipient",
                            "routeId", "inReplyTo", "messageDate", "errorCode", "errorReason", "payloadDigest"))
    fields.update(seq=1, receivedAt="t", outcome="ROUTED", envelopeDigest="d", checks={}, prevHash="0" * 64)
    old = record_hash(fields)
    assert record_hash({**fields, "traceId": None}) == old, "a record written before traces still verifies"
    assert record_hash({**fields, "traceId": "ab" * 16}) != old, "the trace id is chained and signed"
    assert record_hash({**fields, "traceId": "ab" * 16}) != record_hash({**fields, "traceId": "cd" * 16})


def _app(service: str):
    @asynccontextmanager
    async def lifespan(_app):
        yield

    app = build_app(service=service, title="t", summary="s", description="d", readiness=Readiness(steps=[]),
                    lifespan=lifespan)

    @app.get("/people/{iin}")
    async def person(iin: str) -> dict[str, str]:
        return {"iin": iin}

    return app


def _samples(text: str, name: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def test_each_service_serves_its_own_metrics_by_route_template_and_traces_requests():
    first, second = _app("unit-first"), _app("unit-second")
    with recorded_spans() as spans, TestClient(first) as one, TestClient(second) as two:
        parent = "00-" + "12" * 16 + "-" + "34" * 8 + "-01"
        assert one.get(f"/people/{IIN}", headers={TRACEPARENT: parent}).status_code == 200
        assert one.get("/nowhere").status_code == 404
        text = one.get("/metrics").text
        other = two.get("/metrics").text
    counts = {(s.labels["route"], s.labels["status"]): s.value
              for s in _samples(text, "http_request_duration_seconds_count")}
    assert counts == {("/people/{iin}", "200"): 1.0, ("unmatched", "404"): 1.0}
    assert IIN not in text, "no path (with an IIN) in a label"
    assert not _samples(other, "http_request_duration_seconds_count"), "another service's registry is its own"
    served = [s for s in spans.get_finished_spans() if (s.attributes or {}).get("mesh.service") == "unit-first"]
    request = next(s for s in served if s.name == "GET /people/{iin}")
    assert format(request.context.trace_id, "032x") == "12" * 16, "the caller's traceparent is continued"
    every = spans.get_finished_spans()
    assert len(every) == len(served), "one instrumentation: the framework's own is off"
    assert all(IIN not in str(v) for s in every for v in [s.name, *(s.attributes or {}).values()]), \
        "no path (with an IIN) on a span"


async def test_gauges_are_read_when_scraped_and_a_failing_reader_keeps_the_scrape():
    counted = metrics("unit-gauges")

    async def depth(m):
        m.queue_depth.labels(m.service, "member.x").set(7)

    async def broken(_m):
        raise ConnectionError("broker down")

    counted.on_scrape("depth", depth)
    counted.on_scrape("broken", broken)
    text = (await counted.exposition()).decode()
    assert [s.value for s in _samples(text, "mesh_queue_depth")] == [7.0]


async def test_a_service_called_over_http_continues_the_callers_trace():
    import httpx

    from shared.telemetry import propagate_trace

    app = _app("unit-called")
    with recorded_spans() as spans:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://called",
                                     event_hooks={"request": [propagate_trace]}) as http:
            with serving("unit-caller"), span("calling") as calling:
                assert (await http.get(f"/people/{IIN}")).status_code == 200
    served = next(s for s in spans.get_finished_spans() if s.name == "GET /people/{iin}")
    assert served.parent is not None
    assert served.parent.span_id == calling.get_span_context().span_id
    assert (served.attributes or {})["mesh.service"] == "unit-called"
