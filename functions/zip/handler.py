"""zip Lambda: a Step Functions task that streams a download job's originals into one ZIP.

Event: ``{"job_id": "<download job id>"}``. Returns the archive summary (key, presigned
URL, expiry, files, bytes, missing image ids); the job item ends ``ready`` (or ``failed``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from findme import wiring
from findme.config import get_settings
from findme.errors import InvalidInputError
from findme.observability import logger, tracer
from findme.services.archive import build_archive


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInputError("zip event needs a job_id")
    result = build_archive(
        job_id,
        store=wiring.object_store(),
        metadata=wiring.metadata_store(),
        settings=get_settings(),
    )
    return result.as_dict()
