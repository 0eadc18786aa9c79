"""Spans recorded in memory (the OpenTelemetry SDK's own test exporter) and a trace printed as a tree."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@contextmanager
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """Every span ended inside the block, in memory. The process gets an SDK tracer provider if it has none yet
    (a provider is set once per process); the exporter stops recording when the block ends."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "another tracer provider was installed first"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        exporter.shutdown()


def service_of(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("mesh.service", "?"))


def trace_of(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


def children(spans: Sequence[ReadableSpan]) -> dict[int | None, list[ReadableSpan]]:
    """Spans by their parent's span id (None: a root), each list in start order."""
    ids = {s.context.span_id for s in spans if s.context is not None}
    out: dict[int | None, list[ReadableSpan]] = {}
    for s in sorted(spans, key=lambda s: s.start_time or 0):
        parent = s.parent.span_id if s.parent is not None and s.parent.span_id in ids else None
        out.setdefault(parent, []).append(s)
    return out


def paths(spans: Sequence[ReadableSpan]) -> list[list[ReadableSpan]]:
    """Every path from a root span down to a leaf."""
    below = children(spans)
    found: list[list[ReadableSpan]] = []

    def walk(span: ReadableSpan, path: list[ReadableSpan]) -> None:
        kids = below.get(span.context.span_id if span.context else None, [])
        if not kids:
            found.append(path)
        for kid in kids:
            walk(kid, [*path, kid])

    for root in below.get(None, []):
        walk(root, [root])
    return found


def tree(spans: Sequence[ReadableSpan]) -> str:
    """The trace as an indented tree: ``service  kind  name`` a line."""
    below = children(spans)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        lines.append(f"{'  ' * depth}{service_of(span)}: {span.name} [{span.kind.name.lower()}]")
        for kid in below.get(span.context.span_id if span.context else None, []):
            walk(kid, depth + 1)

    for root in below.get(None, []):
        walk(root, 0)
    return "\n".join(lines)
