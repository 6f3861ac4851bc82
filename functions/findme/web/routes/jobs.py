"""Background jobs: digest a prefix (``/digest``), cluster a group (``/cluster-faces``), and
``GET /jobs/{job_id}``. Both starts answer 202 at once; poll the job."""

from __future__ import annotations

from fastapi import APIRouter, status

from findme.services import processing
from findme.web import deps
from findme.web.errors import error_responses
from findme.web.schemas.jobs import ClusterRequest, DigestRequest, JobOut, JobStarted, job_out

router = APIRouter(tags=["jobs"])


@router.post(
    "/digest",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobStarted,
    summary="Digest every photo under an S3 prefix of a group, then cluster",
    responses=error_responses(400, 401, 403, 404, 422),
)
def digest(
    body: DigestRequest,
    principal: deps.CurrentUser,
    settings: deps.SettingsDep,
    metadata: deps.Metadata,
    objects: deps.Objects,
    jobs: deps.Jobs,
) -> JobStarted:
    """UPLOAD in the group (photographer, owner, admin). ``s3_bucket`` must be FindMe's
    bucket and ``s3_prefix`` inside ``originals/{group_id}/`` (empty: the whole group), else
    400. Uploads are
    digested automatically; this re-runs a whole prefix (e.g. after a model update). The
    job's ``total`` is the prefix's object count (capped at 100,000) from the start."""
    job = processing.start_digest(
        metadata=metadata,
        objects=objects,
        orchestrator=jobs,
        settings=settings,
        principal=principal,
        group_id=body.group_id,
        s3_bucket=body.s3_bucket,
        s3_prefix=body.s3_prefix,
    )
    return JobStarted(job_id=job.job_id, status="started", message="Digest started.")


@router.post(
    "/cluster-faces",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobStarted,
    summary="Cluster a group's faces into persons",
    responses=error_responses(401, 403, 404, 422),
)
def cluster_faces(
    body: ClusterRequest, principal: deps.CurrentUser, metadata: deps.Metadata, jobs: deps.Jobs
) -> JobStarted:
    """CURATE (owner, admin). Clusters the group's embeddings (the configured method;
    ``eps``/``min_samples`` for DBSCAN default to the settings); person ids, names and manual
    placements are kept across runs. Follow it with ``GET /groups/{group_id}/cluster-status``
    or the job."""
    job = processing.start_cluster(
        metadata=metadata,
        orchestrator=jobs,
        principal=principal,
        group_id=body.group_id,
        eps=body.eps,
        min_samples=body.min_samples,
    )
    return JobStarted(job_id=job.job_id, status="started", message="Clustering started.")


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="A job's status, progress, result and error",
    responses=error_responses(401, 404),
)
def get_job(job_id: str, policy: deps.Rights, metadata: deps.Metadata) -> JobOut:
    """``status``: digest/cluster ``pending|running|succeeded|failed``; download jobs
    ``pending|running|ready|failed``. Yours, those of groups where you upload, or any
    (admin); others are 404."""
    return job_out(processing.job_for(metadata, policy, job_id))
