"""Powertools Logger, Tracer and Metrics, created once per execution environment and imported."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from findme.config import get_settings

_settings = get_settings()

#: CloudWatch namespace of every FindMe metric (``infra`` alarms read it from here).
METRICS_NAMESPACE = "FindMe"

#: Libraries X-Ray instruments from the start: botocore carries every AWS call (PynamoDB's
#: DynamoDB calls too), httplib plain HTTP. httpx is instrumented when a fetch first needs it
#: (:func:`trace_httpx`): instrumenting it means importing it, ~0.1 s of the api's cold start.
TRACED_AT_START = ("botocore", "httplib")

logger = Logger(service=_settings.service_name)
tracer = Tracer(
    service=_settings.service_name,
    disabled=_settings.stage in ("local", "test"),
    patch_modules=TRACED_AT_START,
)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=_settings.service_name)


def emit_count(name: str, value: float = 1.0) -> None:
    """Publish one ``Count`` metric now, with the dimension ``service`` (e.g. ``findme-api``).

    Written at once as a CloudWatch Embedded Metric Format line on stdout: in Lambda the log
    becomes the metric (no ``@metrics.log_metrics`` flush needed, so it also works from the
    api function, which serves many routes); locally the line is the record.
    """
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": _settings.service_name},
    ):
        pass


def trace_httpx() -> None:
    """Instrument httpx for X-Ray before the first outbound fetch (idempotent; no-op locally)."""
    tracer.patch(["httpx"])
