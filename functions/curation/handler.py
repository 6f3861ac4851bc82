"""curation worker Lambda: the steps of the ``reprocess`` and ``delete_group`` workflows.

Events (Step Functions task input; the local orchestrator sends the same), parsed by
:func:`findme.services.curation_jobs.parse_curation_task`:

- a Distributed Map item batch ``{"Items": [image ids], "BatchInput": {"workflow", "job_id",
  "group_id"}}``: reprocess the photos (needs the face engine, so this handler ships in the
  digest container image) or delete them;
- ``{"workflow", "step": "plan" | "finish", "job_id", "group_id"}``: delete_group's first
  step (vectors, the photo id list), either workflow's last (sum the batches, end the job);
- ``{"workflow": "reprocess", "job_id", "image_ids"}`` / ``{"workflow": "delete_group",
  "job_id", "group_id"}``: a whole job in one call.

Returns the step's output (a batch summary, the plan's ``items_key``, the job result).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from findme import wiring
from findme.observability import logger, tracer
from findme.services.curation_jobs import parse_curation_task, run_curation_task
from findme.services.digest import DigestDeps


def deps() -> DigestDeps:
    """Ports and settings, built once per execution environment (models load lazily)."""
    return wiring.digest_deps()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_curation_task(parse_curation_task(event), deps())
