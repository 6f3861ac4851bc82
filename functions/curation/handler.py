"""curation worker Lambda: the ``reprocess`` and ``delete_group`` workflow tasks.

Events (Step Functions task input; the local orchestrator sends the same):

- ``{"workflow": "reprocess", "job_id", "image_ids": [...]}`` — re-digest each photo keeping
  manual assignments (:func:`findme.services.reprocess.run_reprocess_job`); needs the face
  engine, so this handler ships in the digest container image.
- ``{"workflow": "delete_group", "job_id", "group_id"}`` — cascade-delete a group
  (:func:`findme.services.face_deletion.run_delete_group_job`).

Returns the job result counts; the job item goes ``running -> succeeded | failed``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from findme import wiring
from findme.config import get_settings
from findme.domain.keys import KeyScheme
from findme.errors import InvalidInputError
from findme.observability import logger, tracer
from findme.services.digest import DigestDeps
from findme.services.face_deletion import run_delete_group_job
from findme.services.reprocess import run_reprocess_job


def deps() -> DigestDeps:
    """Ports and settings, built once per execution environment (models load lazily)."""
    return wiring.digest_deps()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    workflow = event.get("workflow")
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInputError("curation event needs a job_id")
    if workflow == "reprocess":
        image_ids = event.get("image_ids")
        if not isinstance(image_ids, list) or not all(isinstance(i, str) for i in image_ids):
            raise InvalidInputError("reprocess event needs image_ids (a list of ids)")
        return run_reprocess_job(job_id, image_ids, deps())
    if workflow == "delete_group":
        group_id = event.get("group_id")
        if not isinstance(group_id, str) or not group_id:
            raise InvalidInputError("delete_group event needs a group_id")
        return run_delete_group_job(
            job_id,
            group_id,
            metadata=wiring.metadata_store(),
            vectors=wiring.vector_index(),
            store=wiring.object_store(),
            keys=KeyScheme.from_settings(get_settings()),
        )
    raise InvalidInputError(f"unknown curation workflow {workflow!r}")
