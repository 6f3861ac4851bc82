"""API Gateway proxy events as API Gateway sends them to the api Lambda: HTTP API (payload
format 2.0) and REST API (v1). Shared by the unit tests (Mangum over the test app) and the
integration tests (``functions/api/handler.py`` on the local stack)."""

from __future__ import annotations

import base64
import uuid
from typing import Any


def v2_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    query: str = "",
    source_ip: str = "203.0.113.7",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) proxy event from ``source_ip``."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_312_800_000,
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def v1_event(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: str | None = None
) -> dict[str, Any]:
    """An API Gateway REST API (v1) proxy event."""
    all_headers = {"Host": "api.example.com", **(headers or {})}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.8", "userAgent": "pytest"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "body": body,
        "isBase64Encoded": False,
    }
