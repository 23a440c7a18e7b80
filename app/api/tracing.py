"""OpenTelemetry tracing: off unless ``SEED_AUTHORITY_TRACING`` says where spans go.

``otlp`` exports to an OpenTelemetry collector over OTLP/HTTP, configured by the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers); ``console`` prints spans to stdout.
It needs the optional extra: ``pip install 'seed-authority[tracing]'``. One server span per
request (named by method and route template), with the request id as
``seed_authority.request_id``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api.observability import REQUEST_ID_HEADER, request_id_from

SERVICE_NAME = "seed-authority"


def install(app: FastAPI, mode: str, processor: Any = None) -> Any:
    """Instrument ``app`` unless ``mode`` is ``off``; return the tracer provider (or None).
    ``processor`` replaces the exporter's span processor (tests)."""
    if mode == "off":
        return None
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError as exc:
        raise RuntimeError(
            f"SEED_AUTHORITY_TRACING={mode} needs the tracing extra: "
            "pip install 'seed-authority[tracing]'") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if processor is None:
        exporter: SpanExporter
        if mode == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            exporter = OTLPSpanExporter()
        else:
            exporter = ConsoleSpanExporter()
        processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)

    def on_request(span: Any, scope: dict[str, Any]) -> None:
        """The id the request middleware will use: the caller's, or one made here and
        handed on as if the caller had sent it."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        given = next((v.decode("latin-1") for k, v in headers if k == b"x-request-id"), None)
        rid = request_id_from(given)
        if rid != given:
            scope["headers"] = [*[(k, v) for k, v in headers if k != b"x-request-id"],
                                (REQUEST_ID_HEADER.lower().encode(), rid.encode())]
        if span is not None and span.is_recording():
            span.set_attribute("seed_authority.request_id", rid)

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider,
                                       server_request_hook=on_request,
                                       excluded_urls="/healthz,/readyz,/metrics")
    return provider
