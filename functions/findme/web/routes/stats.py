"""Statistics and the DynamoDB <-> Qdrant consistency check.

Paths::

    GET  /groups/{group_id}/stats          one group (UPLOAD)
    GET  /stats                            every group where the caller has UPLOAD (admins: all)
    GET  /groups/{group_id}/consistency    compare face items with vectors and counts (UPLOAD)
    POST /groups/{group_id}/consistency    the same, then repair the drift (CURATE)
"""

from __future__ import annotations

from findme.services import stats as svc
from findme.web import deps
from findme.web.ratelimit import LimitedRouter
from findme.web.routes.curation_common import AUTH_ERRORS, LIMIT_HEAVY
from findme.web.schemas.stats import (
    ConsistencyOut,
    GlobalStatsOut,
    GroupStatsOut,
    consistency_out,
    stats_out,
)

router = LimitedRouter(tags=["stats"], responses=AUTH_ERRORS, per_minute=LIMIT_HEAVY)


@router.get(
    "/groups/{group_id}/stats",
    summary="A group's statistics",
)
def group_stats(group: deps.GroupUploader, metadata: deps.Metadata) -> GroupStatsOut:
    """UPLOAD (photographers, owners, admins)."""
    stats = svc.group_stats(metadata, group.group.group_id)
    return GroupStatsOut(group_id=group.group.group_id, **stats_out(stats).model_dump())


@router.get(
    "/stats",
    summary="Statistics over the groups where the caller uploads (admins: all)",
)
def global_stats(policy: deps.Rights, metadata: deps.Metadata) -> GlobalStatsOut:
    """Groups where the caller has UPLOAD; none gives zeros over no group."""
    result = svc.global_stats(metadata, policy)
    return GlobalStatsOut(
        groups=result.groups,
        totals=stats_out(result.totals),
        per_group={gid: stats_out(s) for gid, s in result.per_group.items()},
    )


@router.get(
    "/groups/{group_id}/consistency",
    summary="Compare DynamoDB and Qdrant for a group",
)
def check(
    group: deps.GroupUploader, metadata: deps.Metadata, vectors: deps.Vectors
) -> ConsistencyOut:
    """UPLOAD."""
    return consistency_out(svc.check_consistency(metadata, vectors, group.group.group_id))


@router.post(
    "/groups/{group_id}/consistency",
    summary="Compare DynamoDB and Qdrant for a group and repair the drift",
)
def repair(
    group: deps.GroupCurator, metadata: deps.Metadata, vectors: deps.Vectors
) -> ConsistencyOut:
    """CURATE. Deletes orphan vectors, rewrites person payloads from the items, unassigns faces of
    deleted persons and recounts persons. Missing vectors need a reprocess job
    (``reprocess_image_ids``)."""
    return consistency_out(
        svc.check_consistency(metadata, vectors, group.group.group_id, repair=True)
    )
