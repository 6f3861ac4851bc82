"""Jobs: starting digest/cluster runs, a job's state, curation jobs' 202 answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from findme.domain.records import Job, JobStatus
from findme.web.schemas.common import example

_UUID = "0b7f6f1e-9a54-4c1b-8d0e-3f1d2a9c7e55"


class JobStarted(BaseModel):
    """202 body of ``/digest``, ``/cluster-faces`` and ``/download``."""

    model_config = example(job_id=_UUID, status="started", message="Digest started.")
    job_id: str
    status: str
    message: str


class JobOut(BaseModel):
    """A job's state; digest/cluster: pending|running|succeeded|failed; download: ...|ready."""

    model_config = example(
        job_id=_UUID,
        job_type="digest",
        status="running",
        group_id=_UUID,
        total=64,
        done=40,
        failed=1,
        result={},
        error=None,
        created_at="2026-11-22T10:00:00Z",
        updated_at="2026-11-22T10:00:09Z",
    )
    job_id: str
    job_type: str
    status: JobStatus
    group_id: str | None = None
    total: int = 0
    done: int = 0
    failed: int = 0
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created_at: datetime
    updated_at: datetime


def job_out(job: Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


class DigestRequest(BaseModel):
    model_config = example(
        s3_bucket="findme-media", s3_prefix=f"originals/{_UUID}/", group_id=_UUID
    )
    s3_bucket: str
    s3_prefix: str = ""
    group_id: str


class ClusterRequest(BaseModel):
    model_config = example(group_id=_UUID)
    group_id: str
    eps: float | None = Field(default=None, gt=0.0, lt=2.0)
    min_samples: int | None = Field(default=None, ge=1, le=100)


class JobAccepted(JobStarted):
    """202 answer of a curation job; poll ``status_url`` (``GET /jobs/{job_id}``), whose
    ``result`` holds the job's counts when it ends."""

    model_config = example(
        job_id="3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21",
        status="pending",
        message="Clustering started.",
        status_url="/jobs/3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21",
        total=0,
    )

    status_url: str = Field(examples=["/jobs/3f1c9a52-6c0e-4a55-9b1e-0d3c3a5e7f21"])
    total: int = Field(default=0, description="Items the job will process.")


def job_accepted(job: Job, message: str) -> JobAccepted:
    return JobAccepted(
        job_id=job.job_id,
        status=str(job.status),
        message=message,
        status_url=f"/jobs/{job.job_id}",
        total=job.total,
    )
