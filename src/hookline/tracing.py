"""Optional OpenTelemetry traces: one trace from publish to every delivery attempt.

Off unless ``HOOKLINE_TRACES`` is set (``otlp``: the OTLP/HTTP exporter, configured
by the standard ``OTEL_EXPORTER_OTLP_*`` variables; ``file:<path>``: spans as JSON
lines, for a look without a collector). The packages are the ``otel`` extra
(``pip install 'hookline[otel]'``); without them, or when off, every call here
is a no-op that costs a function call.

The publish span's context is stored with the message (W3C ``traceparent``), so
each attempt's span, made by whichever worker process sends it, joins the same
trace; the attempt's ``traceparent`` header is sent to the receiver, so its own
spans can join too.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

_tracer: Any = None


def setup(traces: str, service_name: str = "hookline") -> None:
    """Start exporting spans as ``traces`` says ("" leaves tracing off)."""
    global _tracer  # noqa: PLW0603 - one tracer per process, set once at start
    if not traces:
        return
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    except ImportError as missing:
        raise RuntimeError(
            "HOOKLINE_TRACES needs the otel extra: pip install 'hookline[otel]'"
        ) from missing
    exporter: SpanExporter
    if traces == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif traces.startswith("file:"):
        exporter = _json_lines_exporter(Path(traces.removeprefix("file:")))
    else:
        raise ValueError(f"HOOKLINE_TRACES is 'otlp' or 'file:<path>', not {traces!r}")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("hookline")


def shutdown() -> None:
    """Flush the spans still buffered (at process exit)."""
    if _tracer is not None:
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()


@contextlib.contextmanager
def publish_span(attributes: Mapping[str, Any]) -> Iterator[str | None]:
    """A span around a publish; yields the ``traceparent`` to store with the message."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    with _tracer.start_as_current_span("hookline publish", attributes=dict(attributes)):
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        yield carrier.get("traceparent")


def annotate(attributes: Mapping[str, Any]) -> None:
    """Add ``attributes`` to the current span (learnt after it started), if tracing is on."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(dict(attributes))


@contextlib.contextmanager
def attempt_span(
    trace_parent: str | None, attributes: Mapping[str, Any]
) -> Iterator[tuple[dict[str, str], Any]]:
    """A span around one attempt, child of the message's publish span.

    Yields the headers to send (``traceparent``) and the span (or None), on which
    the caller records the outcome with ``record_outcome``.
    """
    if _tracer is None:
        yield {}, None
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    parent = propagator.extract({"traceparent": trace_parent} if trace_parent else {})
    with _tracer.start_as_current_span(
        "hookline attempt", context=parent, attributes=dict(attributes), kind=_client_kind()
    ) as span:
        headers: dict[str, str] = {}
        propagator.inject(headers)
        yield headers, span


def record_outcome(span: Any, status_code: int, error_class: str | None) -> None:
    """Put an attempt's result on its span."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.response.status_code", status_code)
    if error_class is not None or not 200 <= status_code < 300:
        span.set_attribute("error.type", error_class or str(status_code))
        span.set_status(Status(StatusCode.ERROR))


def _client_kind() -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.CLIENT


def _json_lines_exporter(path: Path) -> Any:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class JsonLinesExporter(SpanExporter):
        """Appends each span as one JSON line."""

        def __init__(self) -> None:
            self._lock = threading.Lock()

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            lines = "".join(json.dumps(json.loads(s.to_json())) + "\n" for s in spans)
            with self._lock, path.open("a") as out:
                out.write(lines)
            return SpanExportResult.SUCCESS

    return JsonLinesExporter()
