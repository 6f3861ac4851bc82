"""Starting a background job: write its item, then start its workflow.

The one job lifecycle for every job the API or a curator starts (digest, cluster, download,
reprocess, delete-group): a :class:`~findme.domain.records.Job` item is written ``pending``
first, then the :class:`~findme.ports.Orchestrator` (Step Functions in AWS, threads locally)
runs the workflow with ``job_id`` in its payload; the workflow's steps move the job on. If
the start itself fails the job is marked ``failed`` at once, so a client polling
``GET /jobs/{job_id}`` never waits forever.

A job whose input grows with a group (``reprocess``) passes its ids as ``items``: they are
written to ``jobs/{job_id}/items.json`` (:class:`~findme.services.job_files.JobFiles`) and
the workflow input carries only their key, ``items_key`` (Step Functions caps an execution's
input at 256 KiB).

No auth here (callers check access first), so worker images can import it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from findme.domain.keys import KeyScheme
from findme.domain.records import Job, JobStatus, JobType, utcnow
from findme.errors import FindMeError
from findme.ports import JobRepository, ObjectStore, Orchestrator
from findme.services.job_files import JobFiles

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
