"""The API's name and version; the health check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

import findme

#: The name ``GET /`` and the OpenAPI document give.
API_NAME = "FindMe API"


class VersionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": API_NAME, "version": findme.__version__}]}
    )

    name: str
    version: str = Field(description="The FindMe release serving this API.")


class DependencyCheck(BaseModel):
    ok: bool
    latency_ms: float | None = None
    error: str | None = None


class HealthOut(BaseModel):
    """``status`` ``ok`` (200) or ``degraded`` (503), and each store's check."""

    status: str
    checks: dict[str, DependencyCheck]
