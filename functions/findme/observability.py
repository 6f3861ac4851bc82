"""Powertools Logger, Tracer and Metrics, created once per execution environment and imported."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from findme.config import get_settings

_settings = get_settings()

logger = Logger(service=_settings.service_name)
tracer = Tracer(service=_settings.service_name, disabled=_settings.stage in ("local", "test"))
metrics = Metrics(namespace="FindMe", service=_settings.service_name)
