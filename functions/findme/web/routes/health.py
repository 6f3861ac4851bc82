"""``GET /``: which API and version; ``GET /health``: is the API up, and can it reach
DynamoDB, S3 and Qdrant?"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

import findme
from findme.errors import NotFoundError
from findme.observability import logger
from findme.web import deps
from findme.web.errors import ERROR_SCHEMA_REF
from findme.web.schemas.health import API_NAME, HealthOut, VersionOut

router = APIRouter(tags=["health"])


HEALTH_EXAMPLE = {
    "status": "ok",
    "checks": {
        "dynamodb": {"ok": True, "latency_ms": 4.1},
        "s3": {"ok": True, "latency_ms": 2.7},
        "qdrant": {"ok": True, "latency_ms": 0.8},
    },
}


@router.get("/", response_model=VersionOut, summary="The API's name and version")
def version() -> VersionOut:
    """No token, no store: ``{"name", "version"}``; ``/health`` checks the dependencies."""
    return VersionOut(name=API_NAME, version=findme.__version__)


def _check(probe: Callable[[], object]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        probe()
    except NotFoundError:
        pass  # reaching the store and being told "not found" is healthy
    except Exception as exc:  # a health check reports every failure, whatever its type
        logger.warning("health check failed", extra={"error": type(exc).__name__})
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - start) * 1000, 1)}


@router.get(
    "/health",
    summary="Liveness and dependency checks",
    response_model=HealthOut,
    responses={
        200: {"content": {"application/json": {"example": HEALTH_EXAMPLE}}},
        503: {
            "description": "A dependency is unreachable: the same body with status "
            "`degraded`, or `dependency_unavailable` when a store cannot even be built.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/HealthOut"},
                            {"$ref": ERROR_SCHEMA_REF},
                        ]
                    }
                }
            },
        },
    },
)
def health(metadata: deps.Metadata, objects: deps.Objects, vectors: deps.Vectors) -> JSONResponse:
    """200 ``{"status": "ok", "checks": {...}}`` when DynamoDB, S3 and Qdrant answer, else 503.

    A store that cannot even be built (bad endpoint) fails the request with 503
    ``dependency_unavailable`` in the shared error shape.
    """
    checks = {
        "dynamodb": _check(lambda: metadata.get_group("health-check")),
        "s3": _check(lambda: objects.head("health-check")),
        "qdrant": _check(lambda: vectors.count()),
    }
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )
