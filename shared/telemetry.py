"""Metrics and traces: a Prometheus registry per service, and OpenTelemetry traces in W3C trace context.

**Metrics.** Each service has its own registry (``metrics(service)``), served on its ``GET /metrics``
(``shared.web.http_app``). Code below the services does not know which service runs it, so it asks for the
*current* service's metrics (``metrics()``): the one bound to the running task (``serving``: an HTTP request, a
service's start-up and every task it starts) or else the process's own (``use_service``: one service a process, as
deployed). Gauges that need I/O — queue depths, the outbox's lag — are read when scraped (``on_scrape``). No label
ever holds personal data: codes, step ids, route templates and queue names only.

**Traces.** Spans go to whatever tracer provider the process has: none (the API's no-op) unless OTLP is configured
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``: ``configure_tracing``) or a test installs
one. The trace context still travels when nothing is recorded: an HTTP request's ``traceparent`` is continued, and
every message made while a span is current carries it in its AMQP headers (``with_trace``) — outside the envelope,
whose signed bytes never change. Span attributes hold ids, codes and names of systems, never an IIN or a name.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNKNOWN = "unknown"

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("egov-mesh")
_service: contextvars.ContextVar[str | None] = contextvars.ContextVar("mesh_service", default=None)
_process_service: list[str] = []

# Mesh-time durations of staff and ЦОН steps: minutes to weeks.
_STEP_BUCKETS = (60, 300, 900, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400, 15 * 86400, 30 * 86400)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SYNC_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)

Scraper = Callable[["ServiceMetrics"], Awaitable[None]]


class ServiceMetrics:
    """One service's registry and what it counts."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages_in = Counter("mesh_messages_in", "Messages taken from the broker, by what became of them",
                                   ["service", "outcome"], registry=r)
        self.messages_out = Counter("mesh_messages_out", "Messages handed to the broker, by what became of them",
                                    ["service", "outcome"], registry=r)
        self.refusals = Counter("mesh_refusals", "Messages refused (by the gateway, or dead-lettered by a member), "
                                "by error code", ["service", "code"], registry=r)
        self.queue_depth = Gauge("mesh_queue_depth", "Messages waiting in a queue this service consumes",
                                 ["service", "queue"], registry=r)
        self.outbox_pending = Gauge("mesh_outbox_pending", "Outbox rows not yet published", ["service"], registry=r)
        self.outbox_lag = Gauge("mesh_outbox_lag_seconds", "Age of the oldest unpublished outbox row (0: none)",
                                ["service"], registry=r)
        self.ocsp_cache = Counter("mesh_ocsp_cache", "OCSP answers taken from the cache (hit) or asked of НУЦ (miss)",
                                  ["service", "result"], registry=r)
        self.step_duration = Histogram("mesh_step_duration_seconds", "Mesh-time duration of a finished step (ИС МИО "
                                       "staff, ИС ЦОН)", ["service", "step"], buckets=_STEP_BUCKETS, registry=r)
        self.steps_overdue = Counter("mesh_steps_overdue", "Steps finished past their maximum", ["service", "step"],
                                     registry=r)
        self.sync_calls = Histogram("mesh_sync_call_seconds", "Synchronous calls this member made through the "
                                    "gateway, from publish to answer (real time), by service and outcome: answered, "
                                    "error, timeout (the gateway's Server.Timeout), no word, not sent, failed",
                                    ["service", "service_id", "outcome"], buckets=_SYNC_BUCKETS, registry=r)
        self.http_latency = Histogram("http_request_duration_seconds", "HTTP requests by route template and status",
                                      ["service", "method", "route", "status"], buckets=_HTTP_BUCKETS, registry=r)
        self._scrapers: dict[str, Scraper] = {}

    def message_in(self, outcome: str) -> None:
        self.messages_in.labels(self.service, outcome).inc()

    def message_out(self, outcome: str, count: int = 1) -> None:
        if count:
            self.messages_out.labels(self.service, outcome).inc(count)

    def refused(self, code: str) -> None:
        self.refusals.labels(self.service, code).inc()

    def step_finished(self, step: str, *, seconds: float, overdue: bool) -> None:
        self.step_duration.labels(self.service, step).observe(max(seconds, 0.0))
        if overdue:
            self.steps_overdue.labels(self.service, step).inc()

    def sync_call(self, service_id: str, *, outcome: str, seconds: float) -> None:
        self.sync_calls.labels(self.service, service_id, outcome).observe(seconds)

    def on_scrape(self, name: str, scraper: Scraper) -> None:
        """``scraper`` sets gauges before each scrape; a service started again replaces its own by ``name``."""
        self._scrapers[name] = scraper

    async def exposition(self) -> bytes:
        """The registry in Prometheus' text format, its gauges read first (one that cannot be read keeps its
        last value: a scrape never fails because the broker or the database is down)."""
        for scraper in list(self._scrapers.values()):
            with contextlib.suppress(Exception):
                await scraper(self)
        return generate_latest(self.registry)


_registries: dict[str, ServiceMetrics] = {}


def metrics(service: str | None = None) -> ServiceMetrics:
    """``service``'s metrics, or the current service's."""
    name = service or current_service()
    found = _registries.get(name)
    if found is None:
        found = _registries[name] = ServiceMetrics(name)
    return found


def current_service() -> str:
    return _service.get() or (_process_service[-1] if _process_service else UNKNOWN)


def use_service(service: str) -> None:
    """This process runs ``service`` (the last one named, when a test runs several in one process)."""
    _process_service.append(service)


@contextlib.contextmanager
def serving(service: str) -> Iterator[None]:
    """Code run inside — and every task it starts — counts as ``service``'s."""
    token = _service.set(service)
    try:
        yield
    finally:
        _service.reset(token)


# ---- traces ---------------------------------------------------------------------------------------------------
def configure_tracing(service: str) -> bool:
    """Export this process's spans by OTLP over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its traces variant) is
    set and no tracer provider is installed yet; the exporter reads the rest of ``OTEL_*`` itself. True if set up."""
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service, "service.namespace": "egov-mesh"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def _text(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def extract(headers: Mapping[str, Any] | None) -> Context:
    """The trace context ``headers`` carry (W3C ``traceparent``/``tracestate``; an AMQP value may come as bytes)."""
    return _propagator.extract(trace_carrier(headers))


def trace_carrier(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Just the W3C trace context ``headers`` carry, as text: what a message made on behalf of another (the
    gateway's own look-up for a request it holds) takes along, so that it stays in the request's trace."""
    return {key: text for key in (TRACEPARENT, TRACESTATE) if (text := _text((headers or {}).get(key))) is not None}


def trace_id_of(headers: Mapping[str, Any] | None) -> str | None:
    """The trace id (32 hex digits) of the context ``headers`` carry, if they carry a valid one."""
    context = trace.get_current_span(extract(headers)).get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def with_trace(headers: dict[str, Any]) -> dict[str, Any]:
    """``headers`` with the current trace context added — unless they carry one already (a copy, a retry, a row
    staged earlier keeps the trace it was made in)."""
    if TRACEPARENT in headers or not trace.get_current_span().get_span_context().is_valid:
        return headers
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {**headers, **carrier}


async def propagate_trace(request: Any) -> None:
    """An httpx request hook: the current trace context in the request's headers (calls to НУЦ, the gateway's
    control API), so the service called continues the trace."""
    for key, value in with_trace({}).items():
        request.headers.setdefault(key, value)


def current_traceparent() -> str | None:
    """The current span's W3C ``traceparent``, to keep with what outlives the span: an application whose later
    steps are done on the mesh clock, hours of mesh time after the message that opened it, continues its trace."""
    value = with_trace({}).get(TRACEPARENT)
    return str(value) if value is not None else None


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


@contextlib.contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, parent: Mapping[str, Any] | None = None,
         attributes: Mapping[str, str | int | bool] | None = None) -> Iterator[Span]:
    """A span of the current service, current inside the block; ``parent``: headers whose trace it continues
    (a message's, a request's) instead of the current one. An exception escaping the block marks it failed."""
    context = extract(parent) if parent is not None else None
    attrs = {"mesh.service": current_service(), **(attributes or {})}
    with _tracer.start_as_current_span(name, context=context, kind=kind, attributes=attrs) as current:
        yield current
