"""cluster Lambda: a Step Functions task that re-clusters one group's faces into persons.

Event: ``{"group_id": ..., "job_id"?: ..., "eps"?: ..., "min_samples"?: ...,
"preserve_manual"?: true}``. Returns the run's counts (faces_processed, persons_created,
persons_merged, manual_assignments_preserved, processing_time, ...); the job item, when
given, goes ``running -> succeeded | failed``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from findme import wiring
from findme.config import get_settings
from findme.observability import logger, tracer
from findme.services.cluster import ClusterTask, run_cluster_job
from findme.services.events import parse_event


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = parse_event(ClusterTask, event, "cluster task")
    return run_cluster_job(
        task,
        metadata=wiring.metadata_store(),
        vectors=wiring.vector_index(),
        settings=get_settings(),
    )
