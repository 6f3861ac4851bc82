"""Background jobs: the one job lifecycle, and starting digest, cluster and download jobs.

Every job the API or a curator starts (digest, cluster, download, reprocess, delete-group)
goes through :func:`start_job`: a :class:`~findme.domain.records.Job` item is written
``pending`` first, then the :class:`~findme.ports.Orchestrator` (Step Functions in AWS,
threads locally) runs the workflow with ``job_id`` in its payload; the workflow's steps move
the job to ``running`` and ``succeeded``/``ready``/``failed``. If the start itself fails the
job is marked ``failed`` at once, so a client polling ``GET /jobs/{job_id}`` never waits
forever.

A job whose input grows with a group (``reprocess``) passes its ids as ``items``: they are
written to ``jobs/{job_id}/items.json`` (:class:`~findme.services.job_files.JobFiles`) and
the workflow input carries only their key, ``items_key`` (Step Functions caps an execution's
input at 256 KiB).

``start_digest``, ``start_cluster`` and ``start_download`` check access first (the caller's
:class:`~findme.services.policy.Policy`); :func:`start_job` itself checks none.

Workflows and payloads (see :mod:`findme.local.orchestrator` and ``findme/workflows``):
``digest_prefix`` ``{"group_id", "prefix", "job_id"}``; ``cluster`` ``{"group_id",
"job_id", "eps"?, "min_samples"?}``; ``zip`` ``{"job_id"}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from findme.config import Settings
from findme.domain.keys import KeyScheme
from findme.domain.records import Job, JobStatus, JobType, utcnow
from findme.errors import FindMeError, InvalidInputError, NotFoundError
from findme.ports import GroupRepository, JobRepository, ObjectStore, Orchestrator
from findme.services.auth import Principal
from findme.services.job_files import JobFiles
from findme.services.policy import Need, Policy, authorize

#: Job items expire (DynamoDB TTL) this long after creation; download jobs follow the archive.
JOB_TTL = timedelta(days=30)


def start_job(
    metadata: JobRepository,
    orchestrator: Orchestrator,
    *,
    job_type: JobType,
    workflow: str,
    user_id: str,
    payload: Mapping[str, Any],
    group_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    total: int = 0,
    ttl: timedelta = JOB_TTL,
    items: Sequence[str] | None = None,
    objects: ObjectStore | None = None,
    keys: KeyScheme | None = None,
) -> Job:
    """Write a ``pending`` job item, then start ``workflow`` with ``job_id`` in the payload.

    Args:
        metadata: the metadata store (jobs table).
        orchestrator: starts the workflow.
        job_type: the job's type.
        workflow: workflow name (``findme/workflows/<name>.asl.json``).
        user_id: who started it.
        payload: the workflow input (``job_id`` is added).
        group_id: the group, if any.
        params: what the job item records; default the payload without ``image_ids``
            (which may be long; a job item stays well under DynamoDB's 400 KB).
        total: items the job will process (progress shows ``done + failed`` of it).
        ttl: the item's lifetime (DynamoDB TTL ``expires_at``).
        items: ids for the workflow's Distributed Map: written to ``jobs/{job_id}/items.json``
            in ``objects`` (the payload gets ``items_key``), never put in the payload.
        objects: the object store (needed with ``items``).
        keys: the key scheme (default prefixes when ``None``).

    Returns:
        The job as written (``pending``).

    Raises:
        FindMeError: the ids could not be written or the workflow could not start (the job
            is then ``failed``).
        ValueError: ``items`` without ``objects`` (a programming error).
    """
    if items is not None and objects is None:
        raise ValueError("start_job: items need an object store")
    now = utcnow()
    job = Job(
        job_id=str(uuid.uuid4()),
        job_type=job_type,
        status=JobStatus.PENDING,
        group_id=group_id,
        user_id=user_id,
        params=dict(params)
        if params is not None
        else {k: v for k, v in payload.items() if k != "image_ids"},
        total=total,
        created_at=now,
        updated_at=now,
        expires_at=now + ttl,
    )
    metadata.put_job(job)
    start = {**payload, "job_id": job.job_id}
    try:
        if items is not None and objects is not None:
            files = JobFiles(objects, keys or KeyScheme(), job.job_id)
            start["items_key"] = files.write_items(items)
        orchestrator.start(workflow, start)
    except FindMeError as exc:
        metadata.update_job(
            job.job_id, status=JobStatus.FAILED, error=f"{exc.code}: {exc}", updated_at=utcnow()
        )
        raise
    return job


class StartDigestStore(GroupRepository, JobRepository, Protocol):
    """The metadata repositories :func:`start_digest`, :func:`start_cluster` use."""


#: Stop counting a digest prefix here: at most 100 ListObjectsV2 calls (1,000 keys each)
#: before the API answers. A larger prefix shows this as its total while it runs (the job's
#: ``params["total_capped"]`` is then true); the workflow sets the exact total at the end.
DIGEST_COUNT_CAP = 100_000


def count_objects(objects: ObjectStore, prefix: str, *, cap: int = DIGEST_COUNT_CAP) -> int:
    """Objects under ``prefix``, counting at most ``cap`` (``ObjectStore.list``, paginated).

    Counts every key, as the digest workflow's Distributed Map lists every key (keys that
    are not originals are skipped by digest and counted ``done``).

    Returns:
        ``min(number of objects, cap)``.
    """
    count = 0
    for _ in objects.list(prefix):
        count += 1
        if count >= cap:
            break
    return count


def start_digest(
    *,
    metadata: StartDigestStore,
    objects: ObjectStore,
    orchestrator: Orchestrator,
    settings: Settings,
    principal: Principal,
    group_id: str,
    s3_bucket: str,
    s3_prefix: str,
) -> Job:
    """Digest every original under a prefix of a group (then cluster); UPLOAD.

    The prefix must lie inside ``originals/{group_id}/`` (empty means all of it), and the
    bucket must be FindMe's: a caller can never make the pipeline read another group's or
    another bucket's objects. The job's ``total`` is the number of objects under the prefix
    (counted up to :data:`DIGEST_COUNT_CAP`) so progress shows while the workflow runs.

    Raises:
        InvalidInputError: ``wrong_bucket`` or ``prefix_outside_group``.
    """
    authorize(metadata, principal, group_id, Need.UPLOAD)
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
    total = count_objects(objects, prefix, cap=DIGEST_COUNT_CAP)
    params: dict[str, Any] = {"prefix": prefix}
    if total >= DIGEST_COUNT_CAP:
        params["total_capped"] = True
    return start_job(
        metadata,
        orchestrator,
        job_type=JobType.DIGEST,
        workflow="digest_prefix",
        user_id=principal.user_id,
        group_id=group_id,
        payload={"group_id": group_id, "prefix": prefix},
        params=params,
        total=total,
    )


def start_cluster(
    *,
    metadata: StartDigestStore,
    orchestrator: Orchestrator,
    principal: Principal,
    group_id: str,
    eps: float | None = None,
    min_samples: int | None = None,
    preserve_manual: bool | None = None,
) -> Job:
    """Re-cluster a group's faces into persons (CURATE); the job becomes the group's latest
    cluster run (``GET /groups/{group_id}/cluster-status``).

    ``None`` options are left out of the workflow input (the cluster worker's defaults:
    settings' eps/min_samples, manual placements preserved).
    """
    authorize(metadata, principal, group_id, Need.CURATE)
    payload: dict[str, Any] = {"group_id": group_id}
    if eps is not None:
        payload["eps"] = eps
    if min_samples is not None:
        payload["min_samples"] = min_samples
    if preserve_manual is not None:
        payload["preserve_manual"] = preserve_manual
    job = start_job(
        metadata,
        orchestrator,
        job_type=JobType.CLUSTER,
        workflow="cluster",
        user_id=principal.user_id,
        group_id=group_id,
        payload=payload,
    )
    metadata.set_group_cluster_job(group_id, job.job_id)
    return job


def start_download(
    *,
    metadata: JobRepository,
    orchestrator: Orchestrator,
    settings: Settings,
    principal: Principal,
    image_ids: Sequence[str],
) -> Job:
    """A ZIP of the given images (the caller's visibility is checked by the route first)."""
    ids = list(dict.fromkeys(image_ids))
    return start_job(
        metadata,
        orchestrator,
        job_type=JobType.DOWNLOAD,
        workflow="zip",
        user_id=principal.user_id,
        payload={},
        params={"image_ids": ids},
        total=len(ids),
        ttl=timedelta(days=settings.archive_retention_days),
    )


def job_for(metadata: JobRepository, policy: Policy, job_id: str) -> Job:
    """A job the caller may read: their own, one of a group where they see everything
    (UPLOAD), or any for admins.

    Raises:
        NotFoundError: no such job (also for jobs of others, so ids cannot be probed).
    """
    job = metadata.get_job(job_id)
    if job.user_id == policy.user_id or (
        policy.is_admin or (job.group_id is not None and policy.allows(job.group_id, Need.UPLOAD))
    ):
        return job
    raise NotFoundError("No such job", code="not_found")
