"""Starting background jobs from the API: digest a prefix, cluster a group, build a ZIP.

Each start writes a :class:`~findme.domain.records.Job` item (``pending``) first, then asks
the :class:`~findme.ports.Orchestrator` (Step Functions in AWS, threads locally) to run the
workflow with ``job_id`` in its payload; the workflow's steps move the job to ``running``
and ``succeeded``/``ready``/``failed``. If the start itself fails the job is marked
``failed`` at once, so a client polling ``GET /jobs/{job_id}`` never waits forever.

Workflows and payloads (see :mod:`findme.local.orchestrator` and ``findme/workflows``):
``digest_prefix`` ``{"group_id", "prefix", "job_id"}``; ``cluster`` ``{"group_id",
"job_id", "eps"?, "min_samples"?}``; ``zip`` ``{"job_id"}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from findme.config import Settings
from findme.domain.keys import KeyScheme
from findme.domain.records import Job, JobStatus, JobType, utcnow
from findme.errors import FindMeError, InvalidInputError, NotFoundError, PermissionDeniedError
from findme.ports import MetadataStore, Orchestrator
from findme.services.auth import Principal
from findme.services.groups import CURATORS, authorize_group

#: Job items expire (DynamoDB TTL) this long after creation; download jobs follow the archive.
JOB_TTL = timedelta(days=30)


def _start(
    metadata: MetadataStore,
    orchestrator: Orchestrator,
    job: Job,
    workflow: str,
    payload: dict[str, Any],
) -> Job:
    metadata.put_job(job)
    try:
        orchestrator.start(workflow, {**payload, "job_id": job.job_id})
    except FindMeError as exc:
        metadata.update_job(
            job.job_id, status=JobStatus.FAILED, error=f"{exc.code}: {exc}", updated_at=utcnow()
        )
        raise
    return job


def _new_job(job_type: JobType, principal: Principal, **fields: Any) -> Job:
    now = utcnow()
    return Job(
        job_id=str(uuid.uuid4()),
        job_type=job_type,
        status=JobStatus.PENDING,
        user_id=principal.user_id,
        created_at=now,
        updated_at=now,
        expires_at=now + JOB_TTL,
        **fields,
    )


def start_digest(
    *,
    metadata: MetadataStore,
    orchestrator: Orchestrator,
    settings: Settings,
    principal: Principal,
    group_id: str,
    s3_bucket: str,
    s3_prefix: str,
) -> Job:
    """Digest every original under a prefix of a group (then cluster); curators only.

    The prefix must lie inside ``originals/{group_id}/`` (empty means all of it), and the
    bucket must be FindMe's: a caller can never make the pipeline read another group's or
    another bucket's objects.

    Raises:
        InvalidInputError: ``wrong_bucket`` or ``prefix_outside_group``.
    """
    authorize_group(metadata, principal, group_id, CURATORS)
    if s3_bucket != settings.bucket:
        raise InvalidInputError(
            f"s3_bucket must be {settings.bucket!r}", code="wrong_bucket", field="s3_bucket"
        )
    group_prefix = KeyScheme.from_settings(settings).group_originals(group_id)
    prefix = s3_prefix or group_prefix
    if not prefix.startswith(group_prefix) or ".." in prefix:
        raise InvalidInputError(
            f"s3_prefix must start with {group_prefix!r}",
            code="prefix_outside_group",
            field="s3_prefix",
        )
    job = _new_job(JobType.DIGEST, principal, group_id=group_id, params={"prefix": prefix})
    return _start(
        metadata, orchestrator, job, "digest_prefix", {"group_id": group_id, "prefix": prefix}
    )


def start_cluster(
    *,
    metadata: MetadataStore,
    orchestrator: Orchestrator,
    principal: Principal,
    group_id: str,
    eps: float | None = None,
    min_samples: int | None = None,
) -> Job:
    """Re-cluster a group's faces into persons (manual assignments kept); curators only."""
    authorize_group(metadata, principal, group_id, CURATORS)
    payload: dict[str, Any] = {"group_id": group_id}
    if eps is not None:
        payload["eps"] = eps
    if min_samples is not None:
        payload["min_samples"] = min_samples
    job = _new_job(JobType.CLUSTER, principal, group_id=group_id, params=dict(payload))
    return _start(metadata, orchestrator, job, "cluster", payload)


def start_download(
    *,
    metadata: MetadataStore,
    orchestrator: Orchestrator,
    settings: Settings,
    principal: Principal,
    image_ids: Sequence[str],
) -> Job:
    """A ZIP of the given images (the caller's visibility is checked by the route first)."""
    ids = list(dict.fromkeys(image_ids))
    job = _new_job(
        JobType.DOWNLOAD,
        principal,
        params={"image_ids": ids},
        total=len(ids),
    )
    job.expires_at = job.created_at + timedelta(days=settings.archive_retention_days)
    return _start(metadata, orchestrator, job, "zip", {})


def job_for(metadata: MetadataStore, principal: Principal, job_id: str) -> Job:
    """A job the caller may read: their own, one of a group they curate, or any for admins.

    Raises:
        NotFoundError: no such job (also for jobs of others, so ids cannot be probed).
    """
    job = metadata.get_job(job_id)
    if principal.is_admin or job.user_id == principal.user_id:
        return job
    if job.group_id:
        try:
            authorize_group(metadata, principal, job.group_id, CURATORS)
        except PermissionDeniedError:
            pass
        else:
            return job
    raise NotFoundError("No such job", code="not_found")
